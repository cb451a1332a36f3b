"""The generated localhost CA + server certificate, and configured cert/key pairs."""

from __future__ import annotations

import datetime
import ipaddress
import stat

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from yandex.cloud.endpoint.api_endpoint_service_pb2 import ListApiEndpointsRequest
from yandex.cloud.endpoint.api_endpoint_service_pb2_grpc import ApiEndpointServiceStub

from crscan.api import tls
from crscan.api.auth import AllowAll
from crscan.api.server import ApiServer
from crscan.api.tls import TlsError, ensure_self_signed, load_pair
from crscan.config import Settings


def test_self_signed_certificate_is_for_localhost_and_signed_by_the_ca(tmp_path):
    material = ensure_self_signed(tmp_path / "tls")

    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    server = x509.load_pem_x509_certificates(material.cert_chain)[0]
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((tmp_path / "tls" / "server.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["ca.pem", "server.key", "server.pem"]


def test_self_signed_material_is_reused_and_replaced_when_damaged(tmp_path):
    first = ensure_self_signed(tmp_path)
    first_ca = first.ca_file.read_bytes()
    assert ensure_self_signed(tmp_path) == first

    (tmp_path / "server.key").write_bytes(b"not a key")
    replaced = ensure_self_signed(tmp_path)

    assert replaced.ca_file.read_bytes() != first_ca
    load_pair(tmp_path / "server.pem", tmp_path / "server.key")


def test_expiring_material_is_renewed(tmp_path, monkeypatch):
    first_ca = ensure_self_signed(tmp_path).ca_file.read_bytes()
    monkeypatch.setattr(tls, "RENEW_BEFORE", tls.VALIDITY + datetime.timedelta(days=1))
    assert ensure_self_signed(tmp_path).ca_file.read_bytes() != first_ca


def test_load_pair_names_the_problem(tmp_path):
    good = ensure_self_signed(tmp_path / "a")
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert, key, garbage = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "garbage.pem"
    cert.write_bytes(good.cert_chain)
    key.write_bytes(other_key)
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")

    with pytest.raises(TlsError, match="is not the private key"):
        load_pair(cert, key)
    with pytest.raises(TlsError, match="not a PEM certificate"):
        load_pair(garbage, key)
    with pytest.raises(TlsError, match="not an unencrypted PEM private key"):
        load_pair(cert, garbage)


def test_configured_certificate_is_served_instead_of_a_generated_one(tmp_path):
    issued = ensure_self_signed(tmp_path / "elsewhere")
    settings = Settings.resolve(
        {
            "data_dir": tmp_path / "data",
            "http_port": 0,
            "grpc_port": 0,
            "auth_enabled": False,
            "tls_cert": tmp_path / "elsewhere" / "server.pem",
            "tls_key": tmp_path / "elsewhere" / "server.key",
        },
        environ={},
    )
    with ApiServer(settings, [], AllowAll()) as server:
        assert server.tls.ca_file is None
        assert not (tmp_path / "data" / "tls").exists()
        credentials = grpc.ssl_channel_credentials(issued.ca_file.read_bytes())
        with grpc.secure_channel(server.public_address, credentials) as channel:
            listed = ApiEndpointServiceStub(channel).List(ListApiEndpointsRequest(), timeout=10)
    assert {e.address for e in listed.endpoints} == {server.public_address}


def test_rest_can_be_served_over_https(tmp_path):
    """With http_tls_cert/key set, REST speaks HTTPS with that certificate."""
    issued = ensure_self_signed(tmp_path / "web")
    settings = Settings.resolve(
        {
            "data_dir": tmp_path / "data",
            "http_port": 0,
            "grpc_port": 0,
            "auth_enabled": False,
            "http_tls_cert": tmp_path / "web" / "server.pem",
            "http_tls_key": tmp_path / "web" / "server.key",
        },
        environ={},
    )
    with ApiServer(settings, [], AllowAll()) as server:
        assert server.http_url.startswith("https://localhost:")
        response = httpx.get(server.http_url + "/healthz", verify=str(issued.ca_file))
    assert response.json() == {"status": "ok"}

