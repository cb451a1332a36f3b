"""Policy rules at work: push rules pick which pushed images are scanned (through the real webhook handler
and the real registry), scheduled rules rescan by re-matching, and disabled rules or policies do nothing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from cryptography.fernet import Fernet
from google.protobuf import duration_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from yandex.cloud.containerregistry.v1 import scan_policy_pb2, scanner_pb2

from crscan.jobs import EmbeddedQueue, ScanRunner
from crscan.policies import Scheduler, due_for_rescan, scan_on_push, selects
from crscan.policies.rules import PREFIX, rules_to_json
from crscan.registry import ByteCounter
from crscan.secrets import SecretBox
from crscan.store import Layer, schema
from crscan.store.schema import utcnow
from crscan.sync.webhook import WebhookHandler, parse_envelope
from tests.jobs.conftest import register

READY = scanner_pb2.ScanResult.READY
SEGMENT = st.from_regex(r"[a-z0-9]+([._-][a-z0-9]+)?", fullmatch=True)


def test_prefixes_select_the_repository_and_its_children_only():
    assert selects(["*"], "crp1", "anything/at/all")
    assert selects(["team"], "crp1", "team") and selects(["team"], "crp1", "team/app/db")
    assert not selects(["team"], "crp1", "teamwork") and not selects(["team/app"], "crp1", "team")
    assert selects(["crp1/team"], "crp1", "team/app")  # as the API shows repositories
    assert not selects([], "crp1", "team")


@settings(max_examples=200)
@given(prefix=st.lists(SEGMENT, min_size=1, max_size=3), child=st.lists(SEGMENT, max_size=2),
       other=SEGMENT)
def test_a_prefix_selects_every_child_and_no_sibling(prefix, child, other):
    path = "/".join(prefix)
    assert PREFIX.fullmatch(path)
    assert selects([path], "crp1", "/".join(prefix + child))
    sibling = "/".join(prefix[:-1] + [prefix[-1] + other])
    assert not selects([path], "crp1", sibling)


def add_policy(store, registry_id, *, push=None, push_disabled=False, schedule=None, schedule_disabled=False,
               disabled=False):
    rules = scan_policy_pb2.ScanRules()
    if push is not None:
        rules.push_rule.CopyFrom(scan_policy_pb2.PushRule(repository_prefixes=push, disabled=push_disabled))
    if schedule is not None:
        prefixes, seconds = schedule
        rules.schedule_rules.append(scan_policy_pb2.ScheduledRule(
            repository_prefixes=prefixes, rescan_period=duration_pb2.Duration(seconds=seconds),
            disabled=schedule_disabled))
    with store.sessions.begin() as session:
        session.add(schema.ScanPolicy(id=f"crs{registry_id}", registry_id=registry_id, name="p", description="",
                                      rules=rules_to_json(rules), disabled=disabled, created_at=utcnow()))


def images_in(store, *repositories):
    name = f"r{time.monotonic_ns()}"
    registry = store.registries.add(name, f"https://{name}.example", folder_id="f")  # one registry per host
    images = {}
    for n, name in enumerate(repositories):
        repository = store.repositories.add(registry.id, name)
        images[name] = store.images.add(repository.id, f"sha256:{n:064x}", layers=[Layer(f"sha256:{'a' * 64}", 1)])
    return registry.id, images


@pytest.mark.parametrize(
    "policy, expected",
    [
        ({"push": ["team"]}, {"team/app", "team/app/db"}),
        ({"push": ["*"]}, {"team/app", "team/app/db", "teamwork"}),
        ({"push": ["team/app/db", "teamwork"]}, {"team/app/db", "teamwork"}),
        ({"push": ["*"], "push_disabled": True}, set()),
        ({"push": ["*"], "disabled": True}, set()),
        ({"schedule": (["*"], 60)}, set()),  # no push rule: nothing on push
        (None, set()),
    ],
)
def test_scan_on_push_follows_the_push_rule(store, policy, expected):
    registry_id, images = images_in(store, "team/app", "team/app/db", "teamwork")
    if policy is not None:
        add_policy(store, registry_id, **policy)
    woken = []
    queued = scan_on_push(store, [i.id for i in images.values()], wake=lambda: woken.append(1))
    assert {name for name, image in images.items() if image.id in queued} == expected
    for name, image in images.items():
        assert len(_results(store, image.id)) == (1 if name in expected else 0)
    assert woken == ([1] if expected else [])


def test_a_pushed_image_is_scanned_through_the_webhook(store, local_registry, test_images, feed_db_path):
    """The registry's push notification → the webhook handler records the image → the push rule queues it →
    a worker scans it from the registry to READY."""
    image = test_images["bookworm"]
    registry = store.registries.add("local", f"http://{local_registry.host}", folder_id="f")
    add_policy(store, registry.id, push=["test"])
    box = SecretBox(Fernet.generate_key(), "test")
    handler = WebhookHandler(store, box, on_images=lambda ids: scan_on_push(store, ids))
    target = {"mediaType": image.pushed_media_type, "digest": image.pushed_digest, "repository": image.repository,
              "tag": "1", "url": f"http://{local_registry.host}/v2/{image.repository}/manifests/{image.pushed_digest}"}
    envelope = parse_envelope({"events": [{"action": "push", "target": target,
                                           "request": {"host": local_registry.host}}]})
    result = handler.handle(envelope, [registry])
    assert result.upserted == 1 and len(result.changed_image_ids) == 1
    image_id = result.changed_image_ids[0]

    queue = EmbeddedQueue(store, ScanRunner(store, feed_db_path).run, poll_interval=0.1)
    queue.start()
    try:
        deadline = time.monotonic() + 120
        while store.scans.last_finished(image_id) is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        queue.stop()
    assert store.scans.last_finished(image_id).status == READY


def test_scheduled_rules_select_images_whose_last_scan_is_older_than_the_period(store):
    registry_id, images = images_in(store, "team/app", "other/app", "never/scanned")
    add_policy(store, registry_id, schedule=(["team", "never"], 3600))
    for image in images.values():
        if image.repository.name != "never/scanned":
            store.scans.finish(store.scans.enqueue(image.id).resource_id, [], {}, "b", [])
    now = utcnow()
    assert set(due_for_rescan(store, now)) == {images["never/scanned"].id}
    later = now + dt.timedelta(hours=2)
    assert set(due_for_rescan(store, later)) == {images["team/app"].id, images["never/scanned"].id}
    running = store.scans.enqueue(images["never/scanned"].id)  # a running scan is not queued twice
    assert set(due_for_rescan(store, later)) == {images["team/app"].id}
    store.scans.fail(running.resource_id, "test")


@pytest.mark.parametrize("disabled", [{"schedule_disabled": True}, {"disabled": True}])
def test_a_disabled_schedule_rescans_nothing(store, disabled):
    registry_id, images = images_in(store, "team/app")
    add_policy(store, registry_id, schedule=(["*"], 1), **disabled)
    assert due_for_rescan(store, utcnow() + dt.timedelta(days=1)) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_short_scheduled_rule_rematches_without_pulling(store, local_registry, test_images, feed_db_path):
    image = register(store, local_registry, test_images["bookworm"])
    registry_id = store.repositories.get(image.repository_id).registry_id
    counter = ByteCounter()
    runner = ScanRunner(store, feed_db_path, counter=counter)
    queue = EmbeddedQueue(store, runner.run, poll_interval=0.1)
    queue.start()
    scheduler = Scheduler(store, interval=0.2, wake=queue.wake)
    try:
        first = store.scans.enqueue(image.id)
        deadline = time.monotonic() + 120
        while store.scans.get(first.resource_id).status != READY and time.monotonic() < deadline:
            time.sleep(0.1)
        pulled = counter.total
        add_policy(store, registry_id, schedule=(["test"], 1))
        scheduler.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            finished = [r for r in _results(store, image.id) if r.status == READY]
            if len(finished) >= 3:
                break
            time.sleep(0.1)
    finally:
        scheduler.stop()
        queue.stop()
    finished = [r for r in _results(store, image.id) if r.status == READY]
    assert len(finished) >= 3  # the first scan and at least two scheduled rescans
    assert counter.total == pulled  # re-matched from the stored inventory
    counts = {(r.critical, r.high, r.medium, r.low, r.negligible, r.undefined) for r in finished}
    assert len(counts) == 1


def _results(store, image_id):
    with store.sessions() as session:
        return list(session.query(schema.ScanResult).filter_by(image_id=image_id))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_scans_a_push_its_policy_selects_and_ignores_one_it_does_not(store, database_url, local_registry,
                                                                          test_images, feed_db_path, tmp_path):
    """All of it in `crscan serve`: the policy created over the API, push notifications POSTed to the webhook,
    the selected image scanned to READY by the embedded workers, the other one left alone."""
    import json
    import signal

    import httpx
    import yandexcloud
    from yandex.cloud.containerregistry.v1 import scan_policy_service_pb2 as sps
    from yandex.cloud.containerregistry.v1.scan_policy_service_pb2_grpc import ScanPolicyServiceStub

    from crscan.api.webhook import EVENTS_MEDIA_TYPE, WEBHOOK_PATH
    from tests.api.test_serve_cli import serve

    registry = store.registries.add("local", f"http://{local_registry.host}", folder_id="f")
    served = serve("--data-dir", str(tmp_path / "data"), "--database-url", database_url, "--feed-db",
                   str(feed_db_path), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   env={"CRSCAN_WEBHOOK_SECRET": "hook-secret"})
    try:
        sdk = yandexcloud.SDK(endpoint=served.grpc_address, iam_token="t1.x",
                              root_certificates=served.ca_file.read_bytes())
        sdk.client(ScanPolicyServiceStub).Create(sps.CreateScanPolicyRequest(
            registry_id=registry.id, rules=scan_policy_pb2.ScanRules(
                push_rule=scan_policy_pb2.PushRule(repository_prefixes=["test/bookworm"]))))
        events = []
        for name in ("bookworm", "bullseye"):
            image = test_images[name]
            events.append({"action": "push", "request": {"host": local_registry.host}, "target": {
                "mediaType": image.pushed_media_type, "digest": image.pushed_digest, "repository": image.repository,
                "tag": "1", "url": f"http://{local_registry.host}/v2/{image.repository}/manifests/x"}})
        answer = httpx.post(served.rest_url + WEBHOOK_PATH, content=json.dumps({"events": events}),
                            headers={"Authorization": "Bearer hook-secret", "Content-Type": EVENTS_MEDIA_TYPE})
        assert answer.status_code == 200, answer.text

        def image_of(name):
            repository = store.repositories.find(registry.id, test_images[name].repository)
            return _images_of(store, repository.id)[0]

        deadline = time.monotonic() + 120
        while store.scans.last_finished(image_of("bookworm").id) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.scans.last_finished(image_of("bookworm").id).status == READY
        assert _results(store, image_of("bullseye").id) == []  # recorded, but not selected: not scanned
    finally:
        assert served.stop(signal.SIGTERM)[0] == 0


def _images_of(store, repository_id):
    with store.sessions() as session:
        return list(session.query(schema.Image).filter_by(repository_id=repository_id))
