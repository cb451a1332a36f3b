"""OSV rows compiled at build time: keys that order as the version schemes do, and DBs compiled by other code."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.match import match
from crscan.match.osv import osv_ecosystem
from crscan.model import DISTROS, Distro, Ecosystem, Package
from crscan.versions import parse
from crscan.vulndb import FeedDB, namespaces, update
from crscan.vulndb.compiled import scheme_of, sort_key
from tests.versions import strategies
from tests.vulndb.support import write_mirror

# PEP 440's corners (the `versions` tests check parsing against packaging itself): epochs, pre/post/dev in
# every combination, implicit numbers, trailing zeros, local versions with words and numbers, legacy versions.
PEP440 = ["0", "0.0", "0.dev0", "0a1", "1", "1.0", "1.0.0", "1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0a", "1.0b2",
          "1.0rc1", "1.0c1", "1.0rc1.post1", "1.0rc1.post1.dev2", "1.0.post1.dev2", "1.0.post1", "1.0-1", "1.0.post",
          "1.0+abc", "1.0+1", "1.0+abc.1", "1.0+abc.2", "1.0+1.abc", "1.0+01", "1.0.1", "1!0.1", "1!1.0", "2.0.dev0",
          "v2.0", "1.0-SNAPSHOT", "2004d", "0.3.1-final", "not a version!"]


def _ordered_alike(scheme: str, texts: list[str]) -> None:
    found = [parse(scheme, t) for t in texts]
    for a in found:
        for b in found:
            assert (a < b) == (sort_key(a) < sort_key(b)), (str(a), str(b))
            assert (a == b) == (sort_key(a) == sort_key(b)), (str(a), str(b))


def test_pep440_keys_order_as_packaging_does():
    _ordered_alike("pypi", PEP440)


@settings(max_examples=300, deadline=None)
@given(st.lists(strategies.pypi, min_size=2, max_size=6))
def test_pypi_keys_order_as_their_versions(texts):
    _ordered_alike("pypi", texts)


def test_every_namespace_is_compiled_under_the_scheme_matching_reads_it_with():
    for ecosystem in Ecosystem:
        if ecosystem.facts.osv:
            package = Package(ecosystem, "p", "1")
            assert scheme_of(namespaces.osv(osv_ecosystem(package, None))) == ecosystem.facts.scheme
    for distro_id, facts in DISTROS.items():
        if facts.osv:
            release = "1" if "{release}" in facts.osv_format else ""
            namespace = namespaces.osv(facts.osv_format.format(osv=facts.osv, release=release))
            assert scheme_of(namespace) == facts.ecosystem.facts.scheme, distro_id
    assert scheme_of("osv:NoSuchEcosystem") == ""


def _record(advisory_id, name, events, versions=()):
    affected = {"package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}]}
    if versions:
        affected["versions"] = list(versions)
    return {"id": advisory_id, "aliases": [f"CVE-2024-{advisory_id[-1]}"], "affected": [affected]}


def test_db_compiled_by_other_code_is_matched_alike_and_its_osv_sources_parsed_again(tmp_path):
    mirror = write_mirror(tmp_path / "m", osv={"PyPI": [
        _record("PYSEC-1", "django", [{"introduced": "0"}, {"fixed": "4.2.1"}]),
        _record("PYSEC-2", "django", [{"introduced": "4.0"}, {"last_affected": "4.2.0"}], ["4.0", "4.1.0", "4.2"]),
        _record("PYSEC-3", "django", [{"introduced": "1.0+local"}, {"fixed": "4.2.1"}]),
    ]}, alpine={("v3.18", "main"): {"packages": [{"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-1"]}}}]}})
    db_path = tmp_path / "feeds.db"
    update(db_path, mirror)
    packages = [Package(Ecosystem.PYPI, "Django", v) for v in ("3.0", "4.1", "4.1.0.0", "4.2.0", "4.2.1", "1.0")]
    alpine = Distro("alpine", "3.18.4")
    packages.append(Package(Ecosystem.APK, "zlib", "1.2.12-r1", source_name="zlib"))
    with FeedDB.open(db_path) as db:
        assert db.compiled_current
        compiled = match(packages, alpine, db)
    assert {(f.version, f.advisory_id, f.fixed_by) for f in compiled if f.source == "pip"} == {
        ("3.0", "PYSEC-1", "4.2.1"), ("3.0", "PYSEC-3", "4.2.1"),
        # PYSEC-2's list decides for 4.1 and 4.2.0, spelled 4.1.0 and 4.2 there; it names no fix.
        ("4.1", "PYSEC-1", "4.2.1"), ("4.1", "PYSEC-2", ""), ("4.1", "PYSEC-3", "4.2.1"),
        ("4.1.0.0", "PYSEC-1", "4.2.1"), ("4.1.0.0", "PYSEC-2", ""), ("4.1.0.0", "PYSEC-3", "4.2.1"),
        ("4.2.0", "PYSEC-1", "4.2.1"), ("4.2.0", "PYSEC-2", ""), ("4.2.0", "PYSEC-3", "4.2.1"),
        ("1.0", "PYSEC-1", "4.2.1"),  # below 1.0+local
    }
    assert [(f.package, f.name) for f in compiled if f.source == "apk"] == [("zlib", "CVE-1")]

    with sqlite3.connect(db_path) as connection:  # as a crscan with other version-scheme code would have built it
        connection.execute("UPDATE meta SET value = 'other code' WHERE key = 'compiled_format'")
    with FeedDB.open(db_path) as db:
        assert not db.compiled_current
        assert match(packages, alpine, db) == compiled  # rows compiled while matching instead

    report = update(db_path, mirror)
    assert report.rebuilt and set(report.reused) == {"alpine/v3.18/main.json"}  # unchanged, but OSV compiled anew
    with FeedDB.open(db_path) as db:
        assert db.compiled_current
        assert match(packages, alpine, db) == compiled
