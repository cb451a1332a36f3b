"""`sync_registry` against real registries: what it stores equals what the registry serves, and follows changes."""

from __future__ import annotations

import datetime as dt
import json
import ssl

import httpx
import pytest

from crscan.sync import SyncError, sync_registry
from tests.sync.conftest import attach, repositories, snapshot, view_of
from tests.support.registry import CannedResponse, Fault, FaultProxy, start_registry
from tests.sync.tiny_images import OCI_MANIFEST, Pusher

OCI_ACCEPT = ", ".join((
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
))


def run_sync(store, row, box, page_size: int = 100):
    view = view_of(row, box, page_size)
    try:
        return sync_registry(store, row, view)
    finally:
        view.close()


def retag(pusher, repository: str, tag: str, pushed: dict) -> None:
    """Put `tag` on the already pushed image (the same manifest bytes, so the same digest)."""
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": pushed["config"], "layers": pushed["layers"]}
    assert pusher.manifest(repository, tag, document, OCI_MANIFEST) == pushed["digest"]


def expected_image(pushed: dict, tags: list[str]) -> dict:
    return {
        "tags": sorted(tags), "config_digest": pushed["config"]["digest"], "config_size": pushed["config"]["size"],
        "compressed_size": sum(layer["size"] for layer in pushed["layers"]),
        "layers": [(layer["digest"], layer["size"], layer["mediaType"]) for layer in pushed["layers"]],
    }


def without_id(images: dict) -> dict:
    return {key: {k: v for k, v in fields.items() if k != "id"} for key, fields in images.items()}


def test_sync_mirrors_every_repository_tag_and_blob_across_pages(store, box, scratch_registry, pusher):
    one = pusher.image("team/app", "1", "one")
    retag(pusher, "team/app", "stable", one)
    two = pusher.image("team/app", "2", "two")
    three = pusher.image("team/app", "3", "three")
    multi = pusher.index("team/multi", "latest", "multi")
    other = pusher.image("other", "v1", "other")
    row = attach(store, scratch_registry)

    summary = run_sync(store, row, box, page_size=2)  # 3 repositories and 4 tags: both listings span pages

    assert repositories(store, row.id) == {"team/app", "team/multi", "other"}
    assert without_id(snapshot(store, row.id)) == {
        ("team/app", one["digest"]): expected_image(one, ["1", "stable"]),
        ("team/app", two["digest"]): expected_image(two, ["2"]),
        ("team/app", three["digest"]): expected_image(three, ["3"]),
        # a multi-arch tag is the index digest, with the blobs of its linux/amd64 image
        ("team/multi", multi["digest"]): expected_image(multi["amd64"], ["latest"]),
        ("other", other["digest"]): expected_image(other, ["v1"]),
    }
    assert (summary.added, summary.updated, summary.removed, summary.repositories_added) == (5, 0, 0, 3)
    assert sorted(summary.changed_image_ids) == sorted(v["id"] for v in snapshot(store, row.id).values())

    before = snapshot(store, row.id)
    again = run_sync(store, row, box, page_size=2)
    assert (again.added, again.updated, again.removed, again.changed_image_ids) == (0, 0, 0, [])
    assert snapshot(store, row.id) == before  # same ids: nothing was recreated


def test_sync_follows_new_moved_and_deleted_tags_and_manifests(sqlite_store, box, scratch_registry, pusher):
    store = sqlite_store
    first = pusher.image("app", "latest", "first")
    gone = pusher.image("short-lived", "1", "gone")
    row = attach(store, scratch_registry)
    run_sync(store, row, box)
    first_id = snapshot(store, row.id)[("app", first["digest"])]["id"]

    second = pusher.image("app", "v2", "second")  # a new tag on a new image
    summary = run_sync(store, row, box)
    assert (summary.added, summary.updated, summary.removed) == (1, 0, 0)
    second_id = snapshot(store, row.id)[("app", second["digest"])]["id"]
    assert summary.changed_image_ids == [second_id]

    retag(pusher, "app", "latest", second)  # "latest" moves to the second image
    summary = run_sync(store, row, box)
    images = snapshot(store, row.id)
    assert images[("app", second["digest"])]["tags"] == ["latest", "v2"]
    # the first image lost its tag but is still pullable by digest, so it stays, untagged
    assert images[("app", first["digest"])] == {**images[("app", first["digest"])], "id": first_id, "tags": []}
    assert (summary.added, summary.updated, summary.removed) == (0, 2, 0)
    assert summary.changed_image_ids == [second_id]

    pusher.delete_manifest("app", first["digest"])
    pusher.delete_manifest("short-lived", gone["digest"])  # its only image: the repository goes too
    summary = run_sync(store, row, box)
    assert set(snapshot(store, row.id)) == {("app", second["digest"])}
    assert repositories(store, row.id) == {"app"}
    assert (summary.removed, summary.repositories_removed) == (2, 1)


def test_sync_of_the_pushed_test_images_matches_the_registry(store, box, local_registry, test_images):
    row = attach(store, local_registry, "local")
    summary = run_sync(store, row, box)
    assert not [s for s in summary.skipped if s.startswith("test/")]
    images = snapshot(store, row.id)
    for name, image in test_images.items():
        tag = image.tag_ref.rsplit(":", 1)[1]
        stored = images[(image.repository, image.pushed_digest)]
        assert tag in stored["tags"], name
        assert stored == {**stored, **served_image(local_registry.url, image.repository, image.pushed_digest)}, name


def served_image(base_url: str, repository: str, digest: str) -> dict:
    """The blobs the registry itself lists for `digest` (its linux/amd64 image when it is an index)."""
    manifest = httpx.get(f"{base_url}/v2/{repository}/manifests/{digest}", headers={"Accept": OCI_ACCEPT}).json()
    if "manifests" in manifest:
        entry = next(m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") == "amd64")
        manifest = httpx.get(f"{base_url}/v2/{repository}/manifests/{entry['digest']}",
                             headers={"Accept": OCI_ACCEPT}).json()
    for layer in manifest["layers"]:  # every recorded blob is really served, at the recorded size
        head = httpx.head(f"{base_url}/v2/{repository}/blobs/{layer['digest']}")
        assert int(head.headers["Content-Length"]) == layer["size"]
    return {
        "config_digest": manifest["config"]["digest"], "config_size": manifest["config"]["size"],
        "compressed_size": sum(layer["size"] for layer in manifest["layers"]),
        "layers": [(layer["digest"], layer["size"], layer["mediaType"]) for layer in manifest["layers"]],
    }


def test_sync_of_a_basic_auth_registry_needs_its_credentials(sqlite_store, box, auth_registry):
    pusher = Pusher(auth_registry.url, (auth_registry.username, auth_registry.password))
    try:
        pushed = pusher.image("sync/basic", "1", "basic")
    finally:
        pusher.close()
    row = attach(sqlite_store, auth_registry, "basic", box)
    run_sync(sqlite_store, row, box)
    assert snapshot(sqlite_store, row.id)[("sync/basic", pushed["digest"])]["tags"] == ["1"]

    sqlite_store.registries.remove(row.id)  # one registry per host
    anonymous = sqlite_store.registries.add("anon", auth_registry.url, folder_id="default", insecure=True)
    with pytest.raises(SyncError, match="sync of registry 'anon' failed: .*"):
        run_sync(sqlite_store, anonymous, box)


def test_sync_skips_tags_that_are_not_images_and_reports_them(sqlite_store, box, scratch_registry, pusher):
    pusher.image("mixed", "good", "good")
    pusher.manifest("mixed", "index-of-nothing", {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []},
        "application/vnd.oci.image.index.v1+json")
    row = attach(sqlite_store, scratch_registry)
    summary = run_sync(sqlite_store, row, box)
    assert [tags["tags"] for tags in snapshot(sqlite_store, row.id).values()] == [["good"]]
    assert len(summary.skipped) == 1 and summary.skipped[0].startswith("mixed:index-of-nothing: ")
    assert "platform" in summary.skipped[0]


def test_sync_over_https_checks_the_certificate_against_the_ca_file(sqlite_store, box):
    registry = start_registry(tls=True)
    try:
        pusher = Pusher(registry.url, verify=ssl.create_default_context(cafile=str(registry.ca_file)))
        try:
            pushed = pusher.image("tls/app", "1", "tls")
        finally:
            pusher.close()
        trusted = sqlite_store.registries.add("tls", registry.url, folder_id="default", insecure=False,
                                  ca_file=str(registry.ca_file))
        run_sync(sqlite_store, trusted, box)
        assert snapshot(sqlite_store, trusted.id)[("tls/app", pushed["digest"])]["tags"] == ["1"]

        sqlite_store.registries.remove(trusted.id)  # one registry per host
        untrusted = sqlite_store.registries.add("no-ca", registry.url, folder_id="default", insecure=False)
        with pytest.raises(SyncError, match="sync of registry 'no-ca' failed: .*(certificate|TLS)"):
            run_sync(sqlite_store, untrusted, box)
    finally:
        registry.stop()


def test_a_hostile_catalog_and_tag_list_are_skipped_by_name(sqlite_store, box, scratch_registry, pusher):
    good = pusher.image("good", "1", "good")
    proxy = FaultProxy(scratch_registry.url).start()
    try:
        def answer(path_prefix: str, body: dict | None, status: int = 200):
            proxy.add(Fault(lambda method, path: path.startswith(path_prefix),
                            CannedResponse(status, {"Content-Type": "application/json"},
                                           json.dumps(body or {"errors": [{"code": "NAME_UNKNOWN"}]}).encode()),
                            times=0))

        answer("/v2/_catalog", {"repositories": ["good", "../evil", "gone"]})
        answer("/v2/good/tags/list", {"tags": ["1", "../../x", "also bad"]})
        answer("/v2/gone/tags/list", None, 404)  # deleted after the catalog listed it
        row = sqlite_store.registries.add("hostile", f"http://{proxy.host}", folder_id="default", insecure=True)
        summary = run_sync(sqlite_store, row, box)
    finally:
        proxy.stop()
    assert set(snapshot(sqlite_store, row.id)) == {("good", good["digest"])}
    assert repositories(sqlite_store, row.id) == {"good"}
    assert len(summary.skipped) == 3
    assert "good:'../../x': not a valid tag name" in summary.skipped
    assert "good:'also bad': not a valid tag name" in summary.skipped
    evil = next(s for s in summary.skipped if s.startswith("'../evil': "))
    assert "invalid" in evil.lower()


def test_an_image_is_created_when_its_config_says_not_when_it_was_synced(sqlite_store, box, scratch_registry,
                                                                         pusher):
    row = attach(sqlite_store, scratch_registry)
    built = pusher.image("dated/app", "built", "a", created="2024-05-01T12:20:30.123456789+02:00")
    zero = pusher.image("dated/app", "zero", "b", created="0001-01-01T00:00:00Z")  # reproducible builds
    undated = pusher.image("dated/app", "undated", "c")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_sync(sqlite_store, row, box)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    created = {digest: sqlite_store.images.get(fields["id"]).created_at
               for (_, digest), fields in snapshot(sqlite_store, row.id).items()}
    assert created[built["digest"]] == dt.datetime(2024, 5, 1, 10, 20, 30, 123456)  # UTC, to the microsecond
    for unknown in (zero, undated):  # no usable `created`: the time crscan first saw it stands in
        assert before <= created[unknown["digest"]] <= after
