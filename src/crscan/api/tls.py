"""TLS material for the gRPC server: the configured cert/key, or a self-signed CA + localhost cert in the data dir.

The generated CA signs exactly one server certificate and its key is thrown away, so the CA file clients are
told to trust cannot vouch for anything else. The pair is regenerated when missing, unreadable or expiring.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
VALIDITY = datetime.timedelta(days=3650)
RENEW_BEFORE = datetime.timedelta(days=30)


class TlsError(ValueError):
    """Certificate or key material is missing, malformed or does not match."""


@dataclass(frozen=True)
class ServerTls:
    cert_chain: bytes  # PEM
    private_key: bytes  # PEM
    ca_file: Path | None  # the CA clients should trust, when crscan generated it


def load_pair(cert_path: Path, key_path: Path) -> ServerTls:
    """Read a configured certificate chain and key, checking both parse and belong together."""
    cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError as e:
        raise TlsError(f"{cert_path}: not a PEM certificate ({e})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise TlsError(f"{key_path}: not an unencrypted PEM private key ({e})") from None
    if key.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(*_SPKI):
        raise TlsError(f"{key_path} is not the private key of the certificate in {cert_path}")
    return ServerTls(cert_chain=cert_pem, private_key=key_pem, ca_file=None)


def ensure_self_signed(directory: Path) -> ServerTls:
    """The generated localhost certificate in `directory`, created (or renewed) when needed."""
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    if not _still_good(ca_file, cert_file, key_file):
        directory.mkdir(parents=True, exist_ok=True)
        ca_pem, cert_pem, key_pem = _generate()
        _write(key_file, key_pem, mode=0o600)
        _write(cert_file, cert_pem + ca_pem, mode=0o644)
        _write(ca_file, ca_pem, mode=0o644)
    return ServerTls(cert_chain=cert_file.read_bytes(), private_key=key_file.read_bytes(), ca_file=ca_file)


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _still_good(ca_file: Path, cert_file: Path, key_file: Path) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
        load_pair(cert_file, key_file)
        cert = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
        cert.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    soon = datetime.datetime.now(datetime.UTC) + RENEW_BEFORE
    return min(ca.not_valid_after_utc, cert.not_valid_after_utc) > soon


def _generate() -> tuple[bytes, bytes, bytes]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"crscan local CA {now:%Y-%m-%d %H:%M:%S}")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address(i)) for i in SERVER_IPS]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        ca.public_bytes(pem),
        server.public_bytes(pem),
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file + rename so a concurrent reader never sees half a key."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
