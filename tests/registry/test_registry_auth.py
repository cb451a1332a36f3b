"""Basic, Bearer-token and TLS access to real local registries."""

from __future__ import annotations

import pytest

from crscan.registry import (
    AuthError,
    ByteCounter,
    ClientPool,
    Credentials,
    RegistryClient,
    RegistryUnavailable,
    open_source,
)
from crscan.registry.reference import parse_reference
from crscan.registry.sources import RegistryImageSource
from tests.support.registry import TokenServer, skopeo_copy, start_registry

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def basic_image(auth_registry, built_images) -> str:
    creds = f"{auth_registry.username}:{auth_registry.password}"
    skopeo_copy(built_images["arm64"].oci_ref, f"docker://{auth_registry.host}/private/app:1", creds=creds)
    return f"{auth_registry.host}/private/app:1"


@pytest.fixture(scope="module")
def token_images(token_registry, built_images) -> list[str]:
    creds = f"{token_registry.username}:{token_registry.password}"
    refs = []
    for repository in ("team/one", "team/two"):
        skopeo_copy(built_images["arm64"].oci_ref, f"docker://{token_registry.host}/{repository}:1", creds=creds)
        refs.append(f"{token_registry.host}/{repository}:1")
    return refs


def read_all_layers(source) -> int:
    total = 0
    for layer in source.layers:
        with source.open_layer(layer) as stream:
            total += len(stream.read())
    return total


def test_basic_auth_with_the_right_password_pulls(auth_registry, basic_image, built_images):
    credentials = Credentials(auth_registry.username, auth_registry.password)
    with open_source(basic_image, credentials=credentials, platform="linux/arm64") as source:
        assert [layer.ref for layer in source.layers] == list(built_images["arm64"].layers)
        assert read_all_layers(source) == sum(layer.size for layer in source.layers)


def test_basic_auth_wrong_password_is_an_auth_error_naming_the_user(auth_registry, basic_image):
    with pytest.raises(AuthError, match="rejected the credentials of user 'crscan'"):
        open_source(basic_image, credentials=Credentials(auth_registry.username, "wrong"))


def test_basic_auth_without_credentials_says_they_are_required(basic_image):
    with pytest.raises(AuthError, match="requires credentials"):
        open_source(basic_image)


def test_token_flow_fetches_one_token_per_repository_and_reuses_it(token_registry, token_images, built_images):
    server = token_registry.token_server
    credentials = Credentials(token_registry.username, token_registry.password)
    before = len(server.requests)
    with RegistryClient(token_registry.host, credentials=credentials) as client:
        for ref in token_images * 2:  # the second round must be served from the token cache
            with RegistryImageSource(client, parse_reference(ref), platform="linux/arm64") as source:
                assert [layer.ref for layer in source.layers] == list(built_images["arm64"].layers)
                read_all_layers(source)
    asked = [r["scope"] for r in server.requests[before:]]
    assert asked == [["repository:team/one:pull"], ["repository:team/two:pull"]]
    assert all(r["account"] == ["crscan"] and r["service"] == ["crscan-test-registry"]
               for r in server.requests[before:])


def test_pulls_through_a_pool_share_the_token_and_count_their_bytes_apart(token_registry, token_images):
    server = token_registry.token_server
    credentials = Credentials(token_registry.username, token_registry.password)
    pool = ClientPool()
    try:
        before = len(server.requests)
        counters, layers = [ByteCounter(), ByteCounter()], []
        for counter in counters:  # two scans of one image, each with its own byte counter
            with open_source(token_images[0], credentials=credentials, platform="linux/arm64", counter=counter,
                             pool=pool) as source:
                layers.append(read_all_layers(source))
        # the second pull used the challenge and token the first one learned: one token request in all
        assert [r["scope"] for r in server.requests[before:]] == [["repository:team/one:pull"]]
        assert counters[0].total == counters[1].total > layers[0] == layers[1] > 0  # + manifest and config
        # the source did not close the pooled client: it pulls the next image
        client = pool.client(token_registry.host, credentials=credentials)
        with RegistryImageSource(client, parse_reference(token_images[1]), platform="linux/arm64") as source:
            assert read_all_layers(source) == layers[0]
        assert pool.client(token_registry.host, credentials=credentials) is client
        # changed credentials never ride on the old client's connections and tokens
        assert pool.client(token_registry.host, credentials=Credentials(token_registry.username, "new")) is not client
    finally:
        pool.close()


def test_anonymous_token_for_a_public_registry(token_registry, token_images, monkeypatch):
    server = token_registry.token_server
    before = len(server.requests)
    with pytest.raises(AuthError, match="refused anonymous access for repository:team/one:pull"):
        open_source(token_images[0])
    monkeypatch.setattr(server, "anonymous", True)
    with open_source(token_images[0], platform="linux/arm64") as source:
        assert read_all_layers(source) > 0
    assert [r.get("account") for r in server.requests[before:]] == [None, None]


def test_token_registry_catalog_uses_the_catalog_scope(token_registry, token_images):
    server = token_registry.token_server
    credentials = Credentials(token_registry.username, token_registry.password)
    with RegistryClient(token_registry.host, credentials=credentials) as client:
        assert {"team/one", "team/two"} <= set(client.list_repositories())
        assert list(client.list_tags("team/one")) == ["1"]
    assert ["registry:catalog:*"] in [r["scope"] for r in server.requests]


def test_token_service_refusing_the_password_is_an_auth_error(token_registry, token_images):
    with pytest.raises(AuthError, match=r"token service .*/token refused user 'crscan' for repository:team/one:pull"):
        open_source(token_images[0], credentials=Credentials(token_registry.username, "wrong"))


def test_registry_rejects_a_token_it_cannot_verify(token_registry, token_images, monkeypatch):
    # a token signed by some other key: the registry answers 401 again, which must not loop
    impostor = TokenServer({"crscan": "x"})
    monkeypatch.setattr(token_registry.token_server, "issue", impostor.issue)
    with pytest.raises(AuthError, match="rejected"):
        open_source(token_images[1], credentials=Credentials(token_registry.username, token_registry.password))


@pytest.fixture(scope="module")
def tls_registry(built_images):
    registry = start_registry(tls=True)
    skopeo_copy(built_images["arm64"].oci_ref, f"docker://{registry.host}/tls/app:1")
    yield registry
    registry.stop()


def test_https_with_a_custom_ca_pulls(tls_registry, built_images):
    ref = f"{tls_registry.host}/tls/app:1"
    with open_source(ref, insecure=False, ca_file=str(tls_registry.ca_file), platform="linux/arm64") as source:
        assert source.digest == built_images["arm64"].manifest_digest


def test_https_without_the_ca_fails_fast_with_a_tls_error(tls_registry):
    client = RegistryClient(tls_registry.host, insecure=False, sleep=pytest.fail)  # no retry on a bad certificate
    with client, pytest.raises(RegistryUnavailable, match=r"TLS handshake .* failed.*CERTIFICATE_VERIFY_FAILED"):
        client.get_manifest("tls/app", "1")


def test_loopback_defaults_to_plain_http_and_other_hosts_to_https():
    assert RegistryClient("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert RegistryClient("localhost:5000").base_url == "http://localhost:5000"
    assert RegistryClient("[::1]:5000").base_url == "http://[::1]:5000"
    assert RegistryClient("cr.yandex").base_url == "https://cr.yandex"
    assert RegistryClient("10.0.0.5:5000").base_url == "https://10.0.0.5:5000"
    assert RegistryClient("10.0.0.5:5000", insecure=True).base_url == "http://10.0.0.5:5000"
    assert RegistryClient("127.0.0.1:5000", insecure=False).base_url == "https://127.0.0.1:5000"
