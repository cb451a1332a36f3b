"""The push webhook handler over HTTP (Starlette's test client) with a real store and a real registry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from crscan.api.webhook import EVENTS_MEDIA_TYPE, WEBHOOK_PATH, webhook_routes
from tests.sync.conftest import attach, snapshot
from tests.sync.tiny_images import OCI_INDEX

SECRET = "webhook-secret-value"
AUTH = {"Authorization": f"Bearer {SECRET}", "Content-Type": EVENTS_MEDIA_TYPE}


@pytest.fixture
def reactions():
    return []


@pytest.fixture
def client(sqlite_store, box, reactions):
    routes = webhook_routes(sqlite_store, box, SECRET, on_images=reactions.append)
    app = Router([Route(path, handler, methods=["POST"]) for path, handler in routes.items()])
    with TestClient(app) as client:
        yield client


def push_event(registry_host: str, repository: str, digest: str, tag: str | None,
               media_type: str = "application/vnd.oci.image.manifest.v1+json", action: str = "push") -> dict:
    target = {"mediaType": media_type, "digest": digest, "repository": repository, "size": 500,
              "url": f"http://{registry_host}/v2/{repository}/manifests/{digest}"}
    if tag is not None:
        target["tag"] = tag
    return {"id": "e1", "action": action, "target": target, "request": {"host": registry_host, "method": "PUT"}}


def post(client, events: list[dict], headers=AUTH):
    return client.post(WEBHOOK_PATH, content=json.dumps({"events": events}), headers=headers)


@pytest.mark.parametrize("headers", [
    {"Content-Type": EVENTS_MEDIA_TYPE},
    {"Authorization": "Bearer wrong", "Content-Type": EVENTS_MEDIA_TYPE},
    {"Authorization": SECRET, "Content-Type": EVENTS_MEDIA_TYPE},
    {"Authorization": f"Basic {SECRET}", "Content-Type": EVENTS_MEDIA_TYPE},
])
def test_a_missing_or_wrong_secret_is_401(client, headers):
    response = post(client, [], headers)
    assert response.status_code == 401
    assert "webhook secret" in response.json()["error"]
    assert SECRET not in response.text


def test_without_a_configured_secret_the_hook_is_off(sqlite_store, box):
    routes = webhook_routes(sqlite_store, box, "")
    app = Router([Route(path, handler, methods=["POST"]) for path, handler in routes.items()])
    with TestClient(app) as client:
        response = client.post(WEBHOOK_PATH, content=b'{"events": []}', headers={"Authorization": "Bearer "})
    assert response.status_code == 404 and "disabled" in response.json()["error"]


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"{not json", EVENTS_MEDIA_TYPE, 400, "not JSON"),
    (b'{"events": {}}', EVENTS_MEDIA_TYPE, 400, "not a notification envelope"),
    (b"[]", EVENTS_MEDIA_TYPE, 400, "not a notification envelope"),
    (b'{"events": [1]}', EVENTS_MEDIA_TYPE, 400, "must be an object"),
    (b'{"events": []}', "text/plain", 415, "is not application/vnd.docker.distribution.events.v1+json"),
    (b'{"events": [' + b'{},' * 600_000 + b'{}]}', EVENTS_MEDIA_TYPE, 413, "larger than"),
])
def test_bad_envelopes_get_a_clear_error(client, body, content_type, status, message):
    response = client.post(WEBHOOK_PATH, content=body,
                           headers={"Authorization": f"Bearer {SECRET}", "Content-Type": content_type})
    assert response.status_code == status
    assert message in response.json()["error"]


def test_a_push_upserts_the_image_and_a_later_push_moves_the_tag(client, sqlite_store, box, scratch_registry,
                                                                 pusher, reactions):
    row = attach(sqlite_store, scratch_registry)
    first = pusher.image("hooked/app", "latest", "first")
    response = post(client, [push_event(scratch_registry.host, "hooked/app", first["digest"], "latest")])
    assert response.status_code == 200
    assert response.json() == {"received": 1, "upserted": 1, "ignored": 0, "unknownRegistry": 0, "failed": 0}
    images = snapshot(sqlite_store, row.id)
    stored = images[("hooked/app", first["digest"])]
    assert stored["tags"] == ["latest"]
    # blobs come from the registry, not the event
    assert stored["layers"] == [(layer["digest"], layer["size"], layer["mediaType"]) for layer in first["layers"]]
    assert stored["config_digest"] == first["config"]["digest"]
    assert reactions == [[stored["id"]]]

    again = post(client, [push_event(scratch_registry.host, "hooked/app", first["digest"], "latest")])
    assert again.json()["upserted"] == 1 and reactions == [[stored["id"]]]  # no change, no reaction

    second = pusher.image("hooked/app", "latest", "second")
    post(client, [push_event(scratch_registry.host, "hooked/app", second["digest"], "latest")])
    images = snapshot(sqlite_store, row.id)
    assert images[("hooked/app", second["digest"])]["tags"] == ["latest"]
    assert images[("hooked/app", first["digest"])]["tags"] == []  # still in the registry by digest
    assert reactions[-1] == [images[("hooked/app", second["digest"])]["id"]]


def test_a_multi_arch_push_records_the_index_digest(client, sqlite_store, box, scratch_registry, pusher):
    row = attach(sqlite_store, scratch_registry)
    multi = pusher.index("hooked/multi", "1", "m")
    events = [
        push_event(scratch_registry.host, "hooked/multi", multi["arm64"]["digest"], None),  # children: by digest
        push_event(scratch_registry.host, "hooked/multi", multi["amd64"]["digest"], None),
        push_event(scratch_registry.host, "hooked/multi", multi["digest"], "1", OCI_INDEX),
    ]
    assert post(client, events).json() == {"received": 3, "upserted": 1, "ignored": 2, "unknownRegistry": 0,
                                           "failed": 0}
    stored = snapshot(sqlite_store, row.id)[("hooked/multi", multi["digest"])]
    assert stored["config_digest"] == multi["amd64"]["config"]["digest"]


def test_pulls_blobs_unknown_registries_and_missing_manifests_are_counted_not_applied(
        client, sqlite_store, scratch_registry, pusher, reactions):
    row = attach(sqlite_store, scratch_registry)
    pushed = pusher.image("hooked/other", "1", "x")
    missing = "sha256:" + "0" * 64
    events = [
        push_event(scratch_registry.host, "hooked/other", pushed["digest"], "1", action="pull"),
        push_event(scratch_registry.host, "hooked/other", pushed["layers"][0]["digest"], None,
                   media_type="application/vnd.oci.image.layer.v1.tar+gzip"),
        push_event("elsewhere.example:5000", "hooked/other", pushed["digest"], "1"),
        push_event(scratch_registry.host, "hooked/other", missing, "2"),
        push_event(scratch_registry.host, "../../etc", pushed["digest"], "1"),
        {"action": "push", "target": "not an object"},
    ]
    assert post(client, events).json() == {"received": 6, "upserted": 0, "ignored": 3, "unknownRegistry": 1,
                                           "failed": 2}
    assert snapshot(sqlite_store, row.id) == {} and reactions == []



@pytest.mark.parametrize("url, request_host, matched", [
    ("https://registry.example.com:443/v2/app/manifests/x", "", True),
    ("https://REGISTRY.example.com/v2/app/manifests/x", "", True),
    ("http://[bad/v2/app/manifests/x", "registry.example.com", True),  # unparsable URL: the request host decides
    ("https://registry.example.com:5000/v2/app/manifests/x", "", False),
    ("https://other.example.com/v2/app/manifests/x", "other.example.com", False),
])
def test_the_registry_is_matched_by_host_with_or_without_its_default_port(sqlite_store, url, request_host, matched):
    from crscan.sync.webhook import _by_host, _registry_of

    row = sqlite_store.registries.add("public", "https://registry.example.com", folder_id="default", insecure=False)
    event = {"target": {"url": url}, "request": {"host": request_host}}
    found = _registry_of(event, event["target"], _by_host(sqlite_store.registries.all()))
    assert (found.id if found else None) == (row.id if matched else None)


def test_a_pushed_image_is_created_at_the_push_events_time(client, sqlite_store, box, scratch_registry, pusher):
    row = attach(sqlite_store, scratch_registry)
    pushed = pusher.image("hooked/dated", "1", "d", created="2020-01-01T00:00:00Z")  # built long before the push
    event = push_event(scratch_registry.host, "hooked/dated", pushed["digest"], "1")
    event["timestamp"] = "2026-03-04T05:06:07.890123456+01:00"  # distribution's Go RFC 3339, nanoseconds
    assert post(client, [event]).json()["upserted"] == 1

    stored = snapshot(sqlite_store, row.id)[("hooked/dated", pushed["digest"])]
    assert sqlite_store.images.get(stored["id"]).created_at == dt.datetime(2026, 3, 4, 4, 6, 7, 890123)


def test_without_an_event_time_the_configs_created_is_used(client, sqlite_store, box, scratch_registry, pusher):
    row = attach(sqlite_store, scratch_registry)
    pushed = pusher.image("hooked/built", "1", "e", created="2025-11-30T23:59:59Z")
    event = push_event(scratch_registry.host, "hooked/built", pushed["digest"], "1")
    event["timestamp"] = "yesterday"  # not a time: ignored
    assert post(client, [event]).json()["upserted"] == 1

    stored = snapshot(sqlite_store, row.id)[("hooked/built", pushed["digest"])]
    assert sqlite_store.images.get(stored["id"]).created_at == dt.datetime(2025, 11, 30, 23, 59, 59)
