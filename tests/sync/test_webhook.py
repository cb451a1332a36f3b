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
    assert response.json()["code"] == 16 and "webhook secret" in response.json()["message"]
    assert SECRET not in response.text


def test_without_any_secret_the_hook_refuses_everyone(sqlite_store, box):
    routes = webhook_routes(sqlite_store, box, "")
    app = Router([Route(path, handler, methods=["POST"]) for path, handler in routes.items()])
    sqlite_store.registries.add("public", "https://registry.example.com", folder_id="default")
    with TestClient(app) as client:
        response = client.post(WEBHOOK_PATH, content=b'{"events": []}', headers={"Authorization": "Bearer "})
    assert response.status_code == 401


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"{not json", EVENTS_MEDIA_TYPE, 400, "not valid JSON"),
    (b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", EVENTS_MEDIA_TYPE, 400, "nests more than 32 levels"),
    (b'{"events": [], "n": ' + b"7" * 5000 + b"}", EVENTS_MEDIA_TYPE, 400, "integer of 5000 digits"),
    (b'{"events": ["\xff"]}', EVENTS_MEDIA_TYPE, 400, "not valid UTF-8: byte 13"),
    (b'"events"', EVENTS_MEDIA_TYPE, 400, "not a notification envelope"),
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
    assert response.json()["code"] == 3 and message in response.json()["message"]


def test_a_push_upserts_the_image_and_a_later_push_moves_the_tag(client, sqlite_store, box, scratch_registry,
                                                                 pusher, reactions):
    row = attach(sqlite_store, scratch_registry)
    first = pusher.image("hooked/app", "latest", "first")
    response = post(client, [push_event(scratch_registry.host, "hooked/app", first["digest"], "latest")])
    assert response.status_code == 200
    assert response.json() == {"received": 1, "upserted": 1, "ignored": 0, "failed": 0}
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
    assert post(client, events).json() == {"received": 3, "upserted": 1, "ignored": 2, "failed": 0}
    stored = snapshot(sqlite_store, row.id)[("hooked/multi", multi["digest"])]
    assert stored["config_digest"] == multi["amd64"]["config"]["digest"]


def test_pulls_blobs_and_missing_manifests_are_counted_not_applied(
        client, sqlite_store, scratch_registry, pusher, reactions):
    row = attach(sqlite_store, scratch_registry)
    pushed = pusher.image("hooked/other", "1", "x")
    missing = "sha256:" + "0" * 64
    events = [
        push_event(scratch_registry.host, "hooked/other", pushed["digest"], "1", action="pull"),
        push_event(scratch_registry.host, "hooked/other", pushed["layers"][0]["digest"], None,
                   media_type="application/vnd.oci.image.layer.v1.tar+gzip"),
        push_event(scratch_registry.host, "hooked/other", missing, "2"),
        {"action": "push", "target": "not an object"},
    ]
    assert post(client, events).json() == {"received": 4, "upserted": 0, "ignored": 3, "failed": 1}
    assert snapshot(sqlite_store, row.id) == {} and reactions == []


@pytest.mark.parametrize("url, request_host, matched", [
    ("https://registry.example.com:443/v2/app/manifests/x", "", True),
    ("https://REGISTRY.example.com/v2/app/manifests/x", "", True),
    ("http://[bad/v2/app/manifests/x", "registry.example.com", True),  # unparsable URL: the request host decides
    ("https://registry.example.com:5000/v2/app/manifests/x", "", False),
    ("https://other.example.com/v2/app/manifests/x", "other.example.com", False),
])
def test_the_registry_is_matched_by_host_with_or_without_its_default_port(sqlite_store, url, request_host, matched):
    from crscan.sync.webhook import UnknownRegistry, parse_envelope, registry_of

    row = sqlite_store.registries.add("public", "https://registry.example.com", folder_id="default", insecure=False)
    event = push_event("x", "app", "sha256:" + "a" * 64, "1")
    event["target"]["url"], event["request"]["host"] = url, request_host
    if not request_host:
        del event["request"]["host"]
    if "[bad" in url:
        del event["target"]["url"]  # an unparsable URL is a malformed event (tested below); the host decides
    (push,) = parse_envelope({"events": [event]}).pushes
    if matched:
        assert registry_of(push, sqlite_store.registries.all()).id == row.id
    else:
        with pytest.raises(UnknownRegistry, match="no attached registry at"):
            registry_of(push, sqlite_store.registries.all())


HOSTILE_TARGETS = [
    ({"digest": "../../../../admin/secret?q="}, "malformed digest"),
    ({"digest": "sha256:" + "a" * 64 + "\n"}, "malformed digest"),
    ({"digest": True}, "malformed digest bool"),  # found by bench/fuzz_long.py: TypeError
    ({"tag": "v1\nforged log line"}, "invalid tag"),
    ({"tag": "\x1b[31mred"}, "invalid tag"),
    ({"tag": "t" * 10_240}, "invalid tag"),
    ({"tag": "é"}, "invalid tag"),
    ({"tag": 7}, "invalid tag int"),
    ({"repository": "../../etc"}, "invalid repository name"),
    ({"repository": "app\n"}, "invalid repository name"),
    ({"url": "http://[bad/v2/x"}, "target.url's host"),
]


@pytest.mark.parametrize("change, message", HOSTILE_TARGETS)
def test_hostile_push_fields_are_rejected_before_anything_is_fetched_or_stored(
        client, sqlite_store, scratch_registry, pusher, reactions, change, message):
    row = attach(sqlite_store, scratch_registry)
    pushed = pusher.image("hooked/safe", "1", "x")
    good = push_event(scratch_registry.host, "hooked/safe", pushed["digest"], "1")
    bad = push_event(scratch_registry.host, "hooked/safe", pushed["digest"], "2")
    bad["target"].update(change)
    response = post(client, [good, bad])
    assert response.status_code == 400
    assert response.json()["code"] == 3 and response.json()["message"].startswith("events[1]: ")
    assert message in response.json()["message"]
    assert len(response.text) < 1000  # a 10 KB tag is not echoed back
    assert snapshot(sqlite_store, row.id) == {} and reactions == []  # not even the good event was applied


def _app(store, box, fallback=""):
    routes = webhook_routes(store, box, fallback)
    return Router([Route(path, handler, methods=["POST"]) for path, handler in routes.items()])


def test_each_registry_has_its_own_secret_and_the_fallback_covers_only_the_others(
        sqlite_store, box, scratch_registry, pusher):
    from crscan.secrets import hash_secret

    own_secret = "own-secret-of-scratch-0123456789"
    row = sqlite_store.registries.add("scratch", scratch_registry.url, folder_id="default", insecure=True,
                                      webhook_secret_hash=hash_secret(own_secret))
    other = sqlite_store.registries.add("other", "https://other.example:5000", folder_id="default",
                                        webhook_secret_hash=hash_secret("secret-of-the-other-registry"))
    legacy = sqlite_store.registries.add("legacy", "https://legacy.example", folder_id="default")
    pushed = pusher.image("hooked/own", "1", "x")
    event = push_event(scratch_registry.host, "hooked/own", pushed["digest"], "1")
    with TestClient(_app(sqlite_store, box, SECRET)) as client:
        def send(secret, events):
            return post(client, events, {"Authorization": f"Bearer {secret}", "Content-Type": EVENTS_MEDIA_TYPE})

        # the global secret no longer covers a registry that has its own
        refused = send(SECRET, [event])
        assert refused.status_code == 404 and refused.json()["code"] == 5
        assert f"no attached registry at {scratch_registry.host}" in refused.json()["message"]
        # nor does another registry's secret
        assert send("secret-of-the-other-registry", [event]).status_code == 404
        assert snapshot(sqlite_store, row.id) == {}
        accepted = send(own_secret, [event])
        assert accepted.status_code == 200 and accepted.json()["upserted"] == 1
        assert snapshot(sqlite_store, row.id)[("hooked/own", pushed["digest"])]["tags"] == ["1"]
        # a host no registry has: 404, whichever secret
        stranger = push_event("stranger.example", "hooked/own", pushed["digest"], "1")
        assert send(own_secret, [stranger]).status_code == 404
        assert send(SECRET, [stranger]).status_code == 404
        assert send("not-a-secret-of-anyone", [event]).status_code == 401
    assert other.id and legacy.id


def test_a_second_registry_with_the_same_host_is_refused(sqlite_store):
    from crscan.store import StoreError

    sqlite_store.registries.add("first", "https://registry.example.com", folder_id="default")
    for url in ("https://registry.example.com", "http://REGISTRY.example.com:443", "https://registry.example.com:443"):
        with pytest.raises(StoreError, match="registry 'first' already has the host registry.example.com"):
            sqlite_store.registries.add("second", url, folder_id="other")
    sqlite_store.registries.add("second", "https://registry.example.com:5000", folder_id="default")


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
