"""Fuzz targets for the parsers no other test fuzzes (see README.md for the ones that are fuzzed elsewhere).

A target is a Hypothesis strategy plus a call that must either return or raise the parser's documented
base error. `tests/fuzz/test_targets.py` runs each with a small CI budget; `bench/fuzz_long.py` runs the
same targets with a large one.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from crscan.catalog.golang.parse_buildinfo import BUILDINFO_MAGIC, parse_buildinfo
from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.parse_header import parse_header
from crscan.registry.interface import RegistryError
from crscan.registry.manifest import Descriptor, parse_config, pair_layers
from crscan.vulndb import namespaces
from crscan.vulndb.alpine import parse_secdb
from crscan.vulndb.debian import parse_tracker_json
from crscan.vulndb.interface import Advisory, FeedError, Tally
from crscan.vulndb.osv import MalformedRecord, parse_all_zip, parse_record

TESTS = Path(__file__).resolve().parent.parent
RPM_SQLITE = TESTS / "catalog/rpm/testdata/var/lib/rpm/rpmdb.sqlite"
GO_SOURCE = TESTS / "catalog/golang/testdata/src/hello"


@dataclass(frozen=True)
class Target:
    name: str
    strategy: st.SearchStrategy
    run: Callable[[Any], object]
    documented_error: type[BaseException]


# ---- shared strategies -------------------------------------------------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats(allow_nan=False) | st.text(max_size=12)


def json_values(keys: st.SearchStrategy[str], max_leaves: int = 20) -> st.SearchStrategy:
    """Any JSON value, with object keys mostly drawn from `keys` so the parser's own fields turn up."""
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys | st.text(max_size=6), inner, max_size=5),
        max_leaves=max_leaves,
    )


def mostly(good: st.SearchStrategy, junk: st.SearchStrategy) -> st.SearchStrategy:
    """Usually `good`, sometimes `junk`: inputs must get past the first checks to reach the deeper code."""
    return st.integers(0, 3).flatmap(lambda pick: junk if pick == 0 else good)


def mutated(seed: bytes, regions: tuple[tuple[int, int], ...] = ()) -> st.SearchStrategy[bytes]:
    """`seed` with a few byte overwrites (inside `regions` when given, else anywhere) and an optional cut."""
    regions = regions or ((0, len(seed)),)
    edit = st.tuples(st.sampled_from(regions), st.integers(0, 1 << 20), st.integers(0, 255))

    def apply(edits: list, cut: int | None) -> bytes:
        buffer = bytearray(seed)
        for (start, length), position, value in edits:
            buffer[(start + position % max(length, 1)) % len(buffer)] = value
        return bytes(buffer if cut is None else buffer[:cut])

    return st.builds(apply, st.lists(edit, min_size=1, max_size=8), st.none() | st.integers(0, len(seed)))


def check_rows(rows: list[Advisory]) -> None:
    """Rows go into the feed DB as compact JSON: every record must serialise."""
    for row in rows:
        assert isinstance(row, Advisory) and row.package and row.advisory_id
        row.record.columns()


# ---- OSV ---------------------------------------------------------------------------------------------------

OSV_KEYS = st.sampled_from([
    "id", "aliases", "withdrawn", "affected", "package", "ecosystem", "name", "ranges", "type", "events",
    "introduced", "fixed", "last_affected", "limit", "versions", "severity", "score", "database_specific",
    "upstream",
])
OSV_WORDS = st.sampled_from([
    "GHSA-xxxx", "CVE-2024-1234", "DEBIAN-CVE-2023-1", "PyPI", "npm", "Debian:12", "Alpine:v3.18", "Go",
    "ECOSYSTEM", "SEMVER", "GIT", "0", "1.0.0", "CVSS_V3", "CVSS_V4", "HIGH", "moderate",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N",
])
OSV_LEAF = json_values(OSV_KEYS, max_leaves=6) | OSV_WORDS
EVENT_KINDS = st.sampled_from(["introduced", "fixed", "last_affected", "limit"])
_event = mostly(st.builds(lambda kind, version: {kind: version}, EVENT_KINDS, mostly(OSV_WORDS, OSV_LEAF)),
                st.dictionaries(OSV_KEYS, OSV_LEAF, max_size=2))
_range = st.fixed_dictionaries({
    "type": mostly(st.sampled_from(["ECOSYSTEM", "SEMVER"]), OSV_WORDS | OSV_LEAF),
    "events": st.builds(lambda first, rest: [first, *rest], mostly(st.just({"introduced": "0"}), _event),
                        st.lists(_event, max_size=3)),
})
_severity = st.lists(st.fixed_dictionaries({"type": mostly(OSV_WORDS, OSV_LEAF), "score": mostly(OSV_WORDS, OSV_LEAF)}),
                     max_size=3)
_affected = st.fixed_dictionaries(
    {"package": st.fixed_dictionaries({"ecosystem": mostly(OSV_WORDS, OSV_LEAF), "name": mostly(OSV_WORDS, OSV_LEAF)}),
     "ranges": mostly(st.lists(_range, max_size=2), OSV_LEAF),
     "versions": mostly(st.lists(OSV_WORDS, max_size=3), OSV_LEAF)},
    optional={
        "severity": mostly(_severity, OSV_LEAF),
        "database_specific": mostly(st.fixed_dictionaries({"severity": mostly(OSV_WORDS, OSV_LEAF)}), OSV_LEAF),
    })
OSV_RECORDS = mostly(st.fixed_dictionaries({
    "id": mostly(OSV_WORDS, OSV_LEAF),
    "affected": mostly(st.lists(_affected, min_size=1, max_size=3), OSV_LEAF),
}, optional={
    "aliases": mostly(st.lists(OSV_WORDS, max_size=3), OSV_LEAF),
    "withdrawn": mostly(st.sampled_from([None, False, ""]), OSV_LEAF),
    "severity": mostly(_severity, OSV_LEAF),
    "database_specific": OSV_LEAF,
    "upstream": mostly(st.lists(OSV_WORDS | OSV_LEAF, max_size=2), OSV_LEAF),
}), OSV_LEAF)


def run_osv_record(record: Any) -> None:
    check_rows(parse_record(record))


def osv_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


OSV_ZIPS = (
    st.lists(st.tuples(st.sampled_from(["A.json", "dir/B.json", "c.txt", "D.json"]),
                       OSV_RECORDS.map(lambda r: json.dumps(r).encode()) | st.binary(max_size=64)), max_size=4)
    .map(osv_zip)
    .flatmap(lambda data: st.just(data) | mutated(data))
) | st.binary(max_size=256)


def run_osv_zip(data: bytes) -> None:
    tally = Tally()
    check_rows(list(parse_all_zip(io.BytesIO(data), tally)))
    assert 0 <= tally.skipped <= tally.records


# ---- Debian tracker and Alpine secdb -----------------------------------------------------------------------

FEED_WORDS = st.sampled_from([
    "open", "resolved", "undetermined", "not-affected", "bookworm", "bullseye", "0", "1.2-3", "", "low**",
    "unimportant", "high", "CVE-2024-1 (remark)", " ", "3.4.1-r0",
])
FEED_LEAF = json_values(st.sampled_from(["releases", "status", "fixed_version", "urgency", "packages", "pkg",
                                         "name", "secfixes"]), max_leaves=6) | FEED_WORDS
_release = st.fixed_dictionaries({}, optional={k: FEED_WORDS | FEED_LEAF
                                               for k in ("status", "fixed_version", "urgency")}) | FEED_LEAF
DEBIAN_DOCUMENTS = st.dictionaries(
    FEED_WORDS | st.text(max_size=8),
    st.dictionaries(FEED_WORDS | st.text(max_size=8),
                    st.fixed_dictionaries({}, optional={"releases": st.dictionaries(FEED_WORDS, _release, max_size=3)
                                                        | FEED_LEAF}) | FEED_LEAF, max_size=3) | FEED_LEAF,
    max_size=3,
) | FEED_LEAF
ALPINE_DOCUMENTS = st.fixed_dictionaries({}, optional={
    "packages": st.lists(st.fixed_dictionaries({}, optional={"pkg": st.fixed_dictionaries({}, optional={
        "name": FEED_WORDS | FEED_LEAF,
        "secfixes": st.dictionaries(FEED_WORDS, st.lists(FEED_WORDS | FEED_LEAF, max_size=3) | FEED_LEAF,
                                    max_size=3) | FEED_LEAF,
    }) | FEED_LEAF}) | FEED_LEAF, max_size=4) | FEED_LEAF,
    "distroversion": FEED_WORDS,
}) | FEED_LEAF


def as_feed_bytes(documents: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    return documents.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=128)


def run_debian(data: bytes) -> None:
    tally = Tally()
    check_rows(list(parse_tracker_json(io.BytesIO(data), tally)))
    assert 0 <= tally.skipped <= tally.records


def run_alpine(data: bytes) -> None:
    tally = Tally()
    check_rows(list(parse_secdb(io.BytesIO(data), tally, namespace=namespaces.alpine("v3.18"))))
    assert 0 <= tally.skipped <= tally.records


# ---- image config paired with manifest layers --------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64
CONFIG_DOCUMENTS = st.fixed_dictionaries({}, optional={
    "rootfs": st.fixed_dictionaries({}, optional={
        "type": st.just("layers"),
        "diff_ids": st.lists(st.sampled_from([DIGEST, "sha256:" + "b" * 64, "sha256:short", "md5:" + "a" * 32])
                             | json_values(st.just("x"), 4), max_size=3) | json_values(st.just("x"), 4),
    }) | json_values(st.just("diff_ids"), 6),
    "os": st.sampled_from(["linux", "windows"]) | SCALARS,
    "architecture": st.sampled_from(["amd64", "arm64"]) | SCALARS,
    "config": json_values(st.sampled_from(["Env", "Cmd", "Labels"]), 8),
    "history": json_values(st.sampled_from(["created_by", "empty_layer"]), 8),
}) | json_values(st.sampled_from(["rootfs", "diff_ids"]), 10)
CONFIGS = st.tuples(CONFIG_DOCUMENTS.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=128),
                    st.integers(0, 3))


def run_config(case: tuple[bytes, int]) -> None:
    content, layer_count = case
    config = parse_config(content, "config X")
    layers = tuple(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", DIGEST, 1) for _ in range(layer_count))
    paired = pair_layers(layers, config, "manifest X")
    assert [layer.diff_id for layer in paired] == config["rootfs"]["diff_ids"]


# ---- rpm headers (blobs from the real rpmdb.sqlite fixture) ------------------------------------------------

@functools.cache
def rpm_headers() -> tuple[bytes, ...]:
    # immutable: read the fixture without creating -wal/-shm files next to it
    with sqlite3.connect(f"file:{RPM_SQLITE}?immutable=1", uri=True) as connection:
        return tuple(blob for (blob,) in connection.execute("SELECT blob FROM Packages ORDER BY hnum"))


def rpm_header_strategy() -> st.SearchStrategy[bytes]:
    # Edits aimed at the 8-byte counts, the tag index, and the data store in turn.
    return st.sampled_from(rpm_headers()).flatmap(
        lambda blob: mutated(blob, ((0, 8), (8, min(len(blob), 16 * 40)), (0, len(blob)))))


def run_rpm_header(blob: bytes) -> None:
    parse_header(blob, "/var/lib/rpm/rpmdb.sqlite")


# ---- Go build info (a binary built here from the catalog test's module) -----------------------------------

@functools.cache
def go_binary() -> bytes:
    """Built once per machine into the temp dir (GOPROXY off: the only dependency is a local replace)."""
    out = Path(tempfile.gettempdir()) / f"crscan-fuzz-go-{os.getuid()}" / "hello"
    if not out.exists():
        if shutil.which("go") is None:
            raise RuntimeError("the Go build info fuzz target needs the Go toolchain (golang-go)")
        env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
        out.parent.mkdir(exist_ok=True)
        subprocess.run(["go", "build", "-o", str(out) + ".tmp", "."], cwd=GO_SOURCE, env=env, check=True,
                       capture_output=True)
        os.replace(str(out) + ".tmp", out)
    return out.read_bytes()


def go_strategy() -> st.SearchStrategy[bytes]:
    data = go_binary()
    section_headers, = struct.unpack_from("<Q", data, 0x28)
    count, = struct.unpack_from("<H", data, 0x3C)
    buildinfo = data.find(BUILDINFO_MAGIC)
    # The ELF header, the section header table and the build info (with its flags byte) are what the parser
    # reads; edits elsewhere would only change machine code it never looks at.
    regions = ((0, 64), (section_headers, 64 * count), (buildinfo, 32), (buildinfo, 4096))
    return mutated(data, regions)


def run_go(data: bytes) -> None:
    parse_buildinfo(data, "/usr/local/bin/hello")


# ---- request bodies: every REST route's body, and the push webhook's envelope ----------------------------------

@functools.cache
def body_routes() -> tuple:
    from crscan.api.endpoint import EndpointServicer
    from crscan.api.grpc_server import bind_services
    from crscan.api.routes import routes_for
    from crscan.api.servicers import build_servicers

    bindings = bind_services([*build_servicers(None), EndpointServicer("localhost:1")])
    return tuple(route for route in routes_for(bindings) if route.body)


REQUEST_KEYS = st.sampled_from([
    "imageId", "image_id", "registryId", "repositoryId", "folderId", "name", "description", "rules", "scanRules",
    "pushRule", "scheduleRules", "repositoryScope", "scanPolicy", "updateMask", "labels", "disabled", "scanPolicyId",
    "rescanPeriod", "cronExpression", "scanResultId", "operationId", "filter", "pageSize", "pageToken", "@type",
])
REST_BODIES = st.one_of(
    json_values(REQUEST_KEYS, 30).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.integers(1, 200).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 6000).map(lambda digits: b'{"pageSize": ' + b"9" * digits + b"}"),
)


def run_rest_body(raw: bytes) -> None:
    from crscan.api.rest import message_from_body

    for route in body_routes():
        message_from_body(route, raw)


HOSTS = st.sampled_from(["registry.example.com", "127.0.0.1:5000", "[::1]:5000", "h:443", "bad host", "[x"])
_push_target = st.fixed_dictionaries({}, optional={
    "mediaType": mostly(st.sampled_from(["application/vnd.oci.image.manifest.v1+json",
                                         "application/vnd.oci.image.index.v1+json"]), SCALARS),
    "digest": mostly(st.just("sha256:" + "a" * 64), st.text(max_size=80) | SCALARS),
    "repository": mostly(st.sampled_from(["app", "team/app", "a.b/c-d"]), st.text(max_size=20) | SCALARS),
    "tag": mostly(st.sampled_from(["1", "latest", "v1.2_3"]), st.text(max_size=140) | SCALARS),
    "url": mostly(HOSTS.map(lambda h: f"https://{h}/v2/app/manifests/x"), st.text(max_size=40) | SCALARS),
})
_event = st.fixed_dictionaries({}, optional={
    "action": mostly(st.just("push"), SCALARS),
    "target": mostly(_push_target, json_values(st.sampled_from(["tag", "digest", "url"]), 8)),
    "request": st.fixed_dictionaries({}, optional={"host": mostly(HOSTS, SCALARS)}),
})
WEBHOOK_BODIES = st.one_of(
    st.lists(_event, max_size=6).map(lambda events: json.dumps({"events": events}).encode()),
    st.binary(max_size=200),
    st.integers(1, 200).map(lambda depth: b'{"events": ' + b"[" * depth + b"]" * depth + b"}"),
)


def run_webhook_body(raw: bytes) -> None:
    from crscan.api.body import BodyError, decode_json
    from crscan.sync.webhook import EnvelopeError, parse_envelope

    try:
        envelope = parse_envelope(decode_json(raw))
    except BodyError as exc:  # the endpoint answers both with the same 400
        raise EnvelopeError(str(exc)) from None
    assert len(envelope.pushes) <= envelope.received


def _api_error() -> type[BaseException]:
    from crscan.api.errors import ApiError

    return ApiError


def _envelope_error() -> type[BaseException]:
    from crscan.sync.webhook import EnvelopeError

    return EnvelopeError


TARGETS = {
    target.name: target for target in (
        Target("rest_body", REST_BODIES, run_rest_body, _api_error()),
        Target("webhook_body", WEBHOOK_BODIES, run_webhook_body, _envelope_error()),
        Target("osv_record", OSV_RECORDS, run_osv_record, MalformedRecord),
        Target("osv_all_zip", OSV_ZIPS, run_osv_zip, FeedError),
        Target("debian_tracker_json", as_feed_bytes(DEBIAN_DOCUMENTS), run_debian, FeedError),
        Target("alpine_secdb", as_feed_bytes(ALPINE_DOCUMENTS), run_alpine, FeedError),
        Target("image_config", CONFIGS, run_config, RegistryError),
        Target("rpm_header", st.deferred(rpm_header_strategy), run_rpm_header, CatalogError),
        Target("go_buildinfo", st.deferred(go_strategy), run_go, CatalogError),
    )
}
