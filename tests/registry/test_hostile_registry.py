"""Where a hostile registry can send crscan's credentials and requests (issue 13, items 6 and 7), against real
HTTP(S) servers on loopback: the registry on 127.0.0.1, "another host" on 127.0.0.2.

Credentials go to a Bearer realm only on the registry's own host or an operator-listed host, and over plain http
only for a plain-http loopback registry; otherwise the token is asked for anonymously. Blob downloads may follow
redirects anywhere, without credentials; manifest and token requests never leave their host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crscan.registry import AuthError, Credentials, RegistryClient, RegistryError
from crscan.registry.auth import RealmPolicy, validate_realm_hosts
from tests.support.hostile import (
    OTHER_HOST,
    HostileRegistry,
    RecordingServer,
    digest,
    redirect_to,
    serve_bytes,
    token_service,
)

CREDENTIALS = Credentials("crscan", "registry-password")
USERS = {CREDENTIALS.username: CREDENTIALS.password}


@pytest.fixture
def other_host() -> Iterator[RecordingServer]:
    server = RecordingServer(OTHER_HOST).start()
    yield server
    server.stop()


def start(registry: HostileRegistry) -> HostileRegistry:
    registry.start()
    return registry


def client_for(registry: HostileRegistry, **options) -> RegistryClient:
    if registry.tls_dir is not None:
        options.update(ca_file=registry.ca_file, insecure=False)
    return RegistryClient(registry.netloc, credentials=CREDENTIALS, max_retries=0, **options)


def test_an_https_registry_never_sends_its_password_to_a_plain_http_realm_on_another_host(other_host):
    token_service(other_host, USERS, anonymous=True)
    registry = start(HostileRegistry(realm=f"{other_host.url}/token", tls=True))
    try:
        for listed in ((), (OTHER_HOST,)):  # listing the host does not make plain http acceptable
            other_host.seen.clear()
            with client_for(registry, auth_realm_hosts=listed) as client:
                fetched = client.get_manifest("app", "1")
            assert fetched.digest == digest(registry.image.manifest)
            asked = [seen for seen in other_host.seen if seen.path == "/token"]
            assert asked and all(seen.authorization is None and "account" not in seen.query for seen in asked)
    finally:
        registry.stop()


def test_a_realm_on_another_host_gets_credentials_only_when_the_operator_lists_it(other_host):
    token_service(other_host, USERS, anonymous=False)
    registry = start(HostileRegistry(realm=f"{other_host.url}/token"))
    try:
        with client_for(registry) as client, pytest.raises(AuthError) as refused:
            client.get_manifest("app", "1")
        message = str(refused.value)
        assert f"--auth-realm-host {OTHER_HOST}" in message and "anonymous" in message
        assert [seen.authorization for seen in other_host.seen] == [None]

        other_host.seen.clear()
        with client_for(registry, auth_realm_hosts=[OTHER_HOST]) as client:
            assert client.get_manifest("app", "1").content == registry.image.manifest
        assert [seen.authorization is not None for seen in other_host.seen] == [True]
        assert other_host.seen[0].query["account"] == [CREDENTIALS.username]
    finally:
        registry.stop()


def test_a_realm_on_the_registrys_own_host_gets_credentials():
    token_host = token_service(RecordingServer("127.0.0.1"), USERS, anonymous=False).start()
    registry = start(HostileRegistry(realm=f"{token_host.url}/token"))  # same host name, another port
    try:
        with client_for(registry) as client:
            assert client.get_manifest("app", "1").content == registry.image.manifest
        assert token_host.seen[0].authorization is not None
    finally:
        registry.stop()
        token_host.stop()


def test_a_manifest_redirected_to_another_host_is_refused_naming_it(other_host):
    other_host.routes["/latest/meta-data/"] = serve_bytes(b"{}")
    registry = start(HostileRegistry())
    registry.routes["/v2/app/manifests/1"] = redirect_to(f"{other_host.url}/latest/meta-data/")
    try:
        with client_for(registry) as client, pytest.raises(RegistryError) as refused:
            client.get_manifest("app", "1")
        assert OTHER_HOST in str(refused.value) and "redirected" in str(refused.value)
        assert other_host.seen == []
    finally:
        registry.stop()


def test_a_manifest_redirected_to_plain_http_on_the_same_host_is_refused():
    registry = start(HostileRegistry(tls=True))
    registry.routes["/v2/app/manifests/1"] = redirect_to(f"http://{registry.netloc}/v2/app/manifests/1")
    try:
        with client_for(registry) as client, pytest.raises(RegistryError, match=f"http://{registry.netloc}"):
            client.get_manifest("app", "1")
        assert [seen.path for seen in registry.seen] == ["/v2/app/manifests/1"]
    finally:
        registry.stop()


def test_a_token_request_redirected_within_the_realm_is_followed_with_the_credentials():
    token_host = token_service(RecordingServer("127.0.0.1"), USERS, anonymous=False).start()
    token_host.routes["/old-token"] = redirect_to("/token", 307)
    registry = start(HostileRegistry(realm=f"{token_host.url}/old-token"))
    try:
        with client_for(registry) as client:
            assert client.get_manifest("app", "1").content == registry.image.manifest
        assert [(seen.path, seen.authorization is not None) for seen in token_host.seen] == [
            ("/old-token", True), ("/token", True)]
    finally:
        registry.stop()
        token_host.stop()


def test_a_manifest_redirected_within_the_registry_is_followed():
    registry = start(HostileRegistry())
    registry.routes["/v2/app/manifests/1"] = redirect_to(
        f"{registry.url}/v2/app/manifests/{digest(registry.image.manifest)}", 307)
    try:
        with client_for(registry) as client:
            assert client.get_manifest("app", "1").digest == digest(registry.image.manifest)
    finally:
        registry.stop()


def test_a_blob_redirected_to_another_host_is_downloaded_without_credentials(other_host):
    token_service(other_host, USERS, anonymous=False)
    registry = start(HostileRegistry(realm=f"{other_host.url}/token"))
    layer = digest(registry.image.layer)
    other_host.routes[f"/cdn/{layer}"] = serve_bytes(registry.image.layer)
    registry.routes[f"/v2/app/blobs/{layer}"] = lambda seen: (
        (302, {"Location": f"{other_host.url}/cdn/{layer}?signature=x"}, b"")
        if seen.authorization else (401, {"WWW-Authenticate": f'Bearer realm="{other_host.url}/token"'}, b""))
    try:
        with client_for(registry, auth_realm_hosts=[OTHER_HOST]) as client, \
                client.open_blob("app", layer, size=len(registry.image.layer)) as stream:
            assert stream.read() == registry.image.layer
        downloads = [seen for seen in other_host.seen if seen.path.startswith("/cdn/")]
        assert len(downloads) == 1 and downloads[0].authorization is None
    finally:
        registry.stop()


def test_a_blob_host_asking_for_credentials_gets_none_and_a_clear_error(other_host):
    other_host.routes["/cdn/"] = lambda seen: (401, {"WWW-Authenticate": 'Basic realm="steal"'}, b"")
    registry = start(HostileRegistry())
    layer = digest(registry.image.layer)
    registry.routes[f"/v2/app/blobs/{layer}"] = redirect_to(f"{other_host.url}/cdn/{layer}")
    try:
        with client_for(registry) as client, pytest.raises(AuthError) as refused:
            client.open_blob("app", layer)
        assert OTHER_HOST in str(refused.value)
        assert [seen.authorization for seen in other_host.seen] == [None]
    finally:
        registry.stop()


def test_a_token_request_redirected_to_another_host_is_refused_naming_it(other_host):
    token_host = RecordingServer("127.0.0.1").start()
    token_host.routes["/token"] = redirect_to(f"{other_host.url}/token")
    token_service(other_host, USERS, anonymous=True)
    registry = start(HostileRegistry(realm=f"{token_host.url}/token"))
    try:
        with client_for(registry) as client, pytest.raises(RegistryError) as refused:
            client.get_manifest("app", "1")
        assert OTHER_HOST in str(refused.value) and "token" in str(refused.value)
        assert other_host.seen == []
    finally:
        registry.stop()
        token_host.stop()


@pytest.mark.parametrize(("registry", "plain_http", "listed", "realm", "allowed"), [
    ("reg.example", False, (), "https://reg.example/token", True),
    ("reg.example:5000", False, (), "https://REG.example:5001/token", True),
    ("reg.example", False, (), "https://auth.example/token", False),
    ("reg.example", False, ("auth.example",), "https://auth.example:8443/token", True),
    ("reg.example", False, ("auth.example:443",), "https://auth.example/token", True),
    ("reg.example", False, ("auth.example:8443",), "https://auth.example/token", False),
    ("reg.example", False, (), "http://reg.example/token", False),
    ("10.0.0.5:5000", True, (), "http://10.0.0.5/token", False),  # insecure but not loopback
    ("127.0.0.1:5000", True, (), "http://127.0.0.1:5001/token", True),
    ("[::1]:5000", True, (), "http://[::1]:5001/token", True),
])
def test_realm_policy(registry, plain_http, listed, realm, allowed):
    refusal = RealmPolicy(registry, plain_http, validate_realm_hosts(listed)).refusal(realm)
    assert (refusal == "") is allowed, refusal


def test_a_malformed_realm_host_is_named():
    with pytest.raises(RegistryError, match="--auth-realm-host 'https://x'"):
        validate_realm_hosts(["https://x"])
