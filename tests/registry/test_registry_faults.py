"""Misbehaving registries: tampered storage, 429/5xx, hostile responses, hangs."""

from __future__ import annotations

import json
import socket
import time

import pytest

from crscan.registry import (
    AuthError,
    DigestMismatch,
    InvalidManifest,
    ManifestUnknown,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    open_source,
)
from tests.support.registry import CannedResponse, Fault, skopeo_copy

pytestmark = pytest.mark.registry


def flip_a_byte(path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def on(method: str, fragment: str):
    return lambda m, path: m == method and fragment in path


@pytest.fixture
def tamperable(scratch_registry, built_images):
    """The small arm64 image alone in a fresh registry, so tampering its blobs affects no other test."""
    image = built_images["arm64"]
    skopeo_copy(image.oci_ref, f"docker://{scratch_registry.host}/tamper/app:1")
    return scratch_registry, image, f"{scratch_registry.host}/tamper/app"


def test_tampered_layer_blob_fails_at_eof_naming_the_digest(tamperable):
    registry, image, ref = tamperable
    layer = image.layers[0]
    flip_a_byte(registry.blob_file(layer.digest))
    with (
        open_source(f"{ref}:1") as source,  # manifest and config are intact
        source.open_layer(source.layers[0]) as stream,
        pytest.raises(DigestMismatch) as error,
    ):
        stream.read()
    assert error.value.expected == layer.digest
    assert layer.digest in str(error.value)


def test_tampered_config_blob_is_refused(tamperable):
    registry, image, ref = tamperable
    manifest = json.loads((image.layout / "blobs/sha256" / image.manifest_digest[7:]).read_bytes())
    config_digest = manifest["config"]["digest"]
    flip_a_byte(registry.blob_file(config_digest), offset=-3)
    with pytest.raises(DigestMismatch, match=config_digest):
        open_source(f"{ref}:1")


def test_tampered_manifest_is_refused_by_tag_and_by_digest(tamperable):
    registry, image, ref = tamperable
    path = registry.blob_file(image.manifest_digest)
    path.write_bytes(path.read_bytes().replace(b", ", b",\t", 1))  # still valid JSON, different bytes
    with pytest.raises(DigestMismatch, match=image.manifest_digest):
        open_source(f"{ref}:1")
    with pytest.raises(DigestMismatch, match=image.manifest_digest):
        open_source(f"{ref}@{image.manifest_digest}")


def test_429_with_retry_after_is_waited_out(fault_proxy, test_images):
    fault = fault_proxy.add(Fault(on("GET", "/manifests/1"), CannedResponse(429, {"Retry-After": "1"})))
    started = time.monotonic()
    with open_source(f"{fault_proxy.host}/test/arm64:1", platform="linux/arm64") as source:
        assert source.digest == test_images["arm64"].pushed_digest
    assert fault.hits == 1
    refused, retried = [entry for entry in fault_proxy.log if "/manifests/1" in entry[2]][:2]
    assert (refused[3], retried[3]) == (429, 200)
    assert 0.95 <= retried[0] - refused[0] < 3  # Retry-After, not the 0.5 s first backoff step
    assert time.monotonic() - started < 8


def test_5xx_is_retried_with_backoff_then_succeeds(fault_proxy, test_images):
    fault_proxy.add(Fault(on("GET", "/blobs/"), CannedResponse(503), times=2))
    client = RegistryClient(fault_proxy.host, backoff=0.01)
    with client:
        blob = test_images["arm64"].layers[0].digest
        with client.open_blob("test/arm64", blob) as stream:
            assert len(stream.read()) > 0
    assert [status for _, _, path, status in fault_proxy.log if "/blobs/" in path] == [503, 503, 200]


def test_persistent_5xx_gives_up_after_the_configured_retries(fault_proxy):
    fault_proxy.add(Fault(on("GET", "/manifests/"), CannedResponse(502), times=0))
    waits: list[float] = []
    with RegistryClient(fault_proxy.host, max_retries=3, backoff=0.2, sleep=waits.append) as client, \
            pytest.raises(RegistryUnavailable, match="HTTP 502 after 3 retries"):
        client.get_manifest("test/arm64", "1")
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]  # exponential


def test_each_retry_is_announced_before_its_wait(fault_proxy):
    fault_proxy.add(Fault(on("GET", "/manifests/"), CannedResponse(503), times=0))
    events: list[object] = []
    with RegistryClient(fault_proxy.host, max_retries=2, backoff=0.2, sleep=events.append,
                        on_retry=events.append) as client, pytest.raises(RegistryUnavailable):
        client.get_manifest("test/arm64", "1")
    notices, waits = events[0::2], events[1::2]
    assert [(n.attempt, n.attempts, n.reason) for n in notices] == [
        (2, 3, f"HTTP 503 from {fault_proxy.host}"), (3, 3, f"HTTP 503 from {fault_proxy.host}")]
    assert [n.wait for n in notices] == waits  # announced, then waited: the same time
    assert str(notices[0]) == f"retrying in {waits[0]:.1f}s: HTTP 503 from {fault_proxy.host} (attempt 2/3)"


def test_retry_after_is_capped(fault_proxy, test_images):
    fault_proxy.add(Fault(on("GET", "/manifests/"), CannedResponse(429, {"Retry-After": "86400"})))
    waits: list[float] = []
    with RegistryClient(fault_proxy.host, max_retry_wait=0.5, sleep=waits.append) as client:
        client.get_manifest("test/arm64", "1")
    assert waits == [0.5]


def test_served_digest_header_must_match_the_body(fault_proxy, test_images):
    body = (test_images["arm64"].layout / "blobs/sha256" / test_images["arm64"].manifest_digest[7:]).read_bytes()
    lying = "sha256:" + "1" * 64
    fault_proxy.add(Fault(on("GET", "/manifests/1"), CannedResponse(
        200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json", "Docker-Content-Digest": lying}, body)))
    with pytest.raises(DigestMismatch, match=lying):
        open_source(f"{fault_proxy.host}/test/arm64:1")


@pytest.mark.parametrize("body, error", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}', "no 'layers' list"),
    (b" " * (5 << 20), "more than the 4194304"),
])
def test_hostile_manifest_bodies_are_clear_errors(fault_proxy, body, error):
    fault_proxy.add(Fault(on("GET", "/manifests/1"), CannedResponse(
        200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, body)))
    with pytest.raises(InvalidManifest, match=error):
        open_source(f"{fault_proxy.host}/test/arm64:1")


def test_blob_longer_than_its_descriptor_is_cut_off(fault_proxy, test_images):
    layer = test_images["arm64"].layers[0]
    fault_proxy.add(Fault(on("GET", "/blobs/"), CannedResponse(200, {}, b"x" * 100_000)))
    with RegistryClient(fault_proxy.host) as client:
        stream = client.open_blob("test/arm64", layer.digest, size=1000)
        with stream, pytest.raises(DigestMismatch, match="more than the 1000 bytes"):
            stream.read()


def test_401_without_a_challenge_is_an_auth_error(fault_proxy):
    fault_proxy.add(Fault(on("GET", "/manifests/"), CannedResponse(401)))
    with pytest.raises(AuthError, match="without a WWW-Authenticate"):
        open_source(f"{fault_proxy.host}/test/arm64:1")


def test_catalog_pagination_loop_is_detected(fault_proxy):
    looping = CannedResponse(200, {"Link": '</v2/_catalog?n=1>; rel="next"', "Content-Type": "application/json"},
                             b'{"repositories": ["a"]}')
    fault_proxy.add(Fault(on("GET", "/v2/_catalog"), looping, times=0))
    with RegistryClient(fault_proxy.host) as client, pytest.raises(Exception, match="pagination loops"):
        list(client.list_repositories(page_size=1))


def test_a_registry_that_never_answers_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections queue up but nobody ever answers
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with RegistryClient(host, timeout=0.3, max_retries=1, backoff=0.01) as client, \
                pytest.raises(RegistryUnavailable, match=r"timed out.*after 2 attempts"):
            client.get_manifest("test/app", "1")
        assert time.monotonic() - started < 3


def test_connection_refused_is_registry_unavailable():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with RegistryClient(f"127.0.0.1:{port}", max_retries=1, backoff=0.01) as client, \
            pytest.raises(RegistryUnavailable, match="connection failed"):
        client.get_manifest("test/app", "1")


def test_error_statuses_map_to_errors_with_the_registry_message(fault_proxy):
    denied = b'{"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}'
    fault_proxy.add(Fault(on("GET", "/manifests/denied"), CannedResponse(403, {}, denied)))
    fault_proxy.add(Fault(on("GET", "/manifests/huge"), CannedResponse(404, {}, b"x" * (8 << 20))))
    fault_proxy.add(Fault(on("GET", "/manifests/teapot"), CannedResponse(418, {}, b"short and stout")))
    with RegistryClient(fault_proxy.host) as client:
        with pytest.raises(AuthError, match=r"access denied to anonymous access .*DENIED requested access"):
            client.get_manifest("test/arm64", "denied")
        with pytest.raises(ManifestUnknown, match=r"test/arm64:huge not found \(HTTP 404\)"):
            client.get_manifest("test/arm64", "huge")
        with pytest.raises(RegistryError, match="answered HTTP 418"):
            client.get_manifest("test/arm64", "teapot")
