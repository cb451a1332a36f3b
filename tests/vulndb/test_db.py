"""The feed DB file: incremental rebuilds, read-only access, refusal of foreign files."""

from __future__ import annotations

import sqlite3

import pytest

from crscan.vulndb import FeedDB, FeedDBError, namespaces, update
from tests.vulndb.support import write_mirror

ZLIB = {"packages": [{"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-2022-37434"]}}}]}
OPENSSL = {"packages": [{"pkg": {"name": "openssl", "secfixes": {"3.1.4-r1": ["CVE-2023-5678"]}}}]}


def _record(advisory_id, fixed):
    return {"id": advisory_id, "affected": [{"package": {"ecosystem": "PyPI", "name": "Django"},
                                              "ranges": [{"type": "ECOSYSTEM",
                                                          "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


def test_changed_source_is_reparsed_and_unchanged_ones_copied(tmp_path):
    mirror = write_mirror(tmp_path / "m", osv={"PyPI": [_record("PYSEC-1", "4.2.1")]},
                          alpine={("v3.18", "main"): ZLIB, ("v3.18", "community"): {"packages": None}})
    db_path = tmp_path / "feeds.db"
    first = update(db_path, mirror)
    assert first.rebuilt and first.reused == ()

    write_mirror(mirror, alpine={("v3.18", "main"): {"packages": ZLIB["packages"] + OPENSSL["packages"]}})
    second = update(db_path, mirror)
    assert second.rebuilt and second.build_id != first.build_id
    assert set(second.reused) == {"osv/PyPI/all.zip", "alpine/v3.18/community.json"}
    with FeedDB.open(db_path) as db:
        assert db.build_id == second.build_id
        assert [a.advisory_id for a in db.advisories(namespaces.alpine("v3.18"), "openssl")] == ["CVE-2023-5678"]
        (django,) = db.advisories(namespaces.osv("PyPI"), "django")
        assert django.record.ranges[0].events[-1] == ("fixed", "4.2.1")
        counts = {s.name: (s.records, s.rows) for s in db.sources}
        assert counts["alpine/v3.18/main.json"] == (2, 2) and counts["osv/PyPI/all.zip"] == (1, 1)

    assert not update(db_path, mirror).rebuilt
    assert update(db_path, mirror, force=True).reused == ()


def test_source_gone_from_the_mirror_leaves_the_next_build(tmp_path):
    mirror = write_mirror(tmp_path / "m", osv={"PyPI": [_record("PYSEC-1", "4.2.1")]},
                          alpine={("v3.18", "main"): ZLIB})
    update(tmp_path / "feeds.db", mirror)
    (mirror / "osv" / "PyPI" / "all.zip").unlink()
    report = update(tmp_path / "feeds.db", mirror)
    assert report.rebuilt and "osv/PyPI/all.zip" in report.missing
    with FeedDB.open(tmp_path / "feeds.db") as db:
        assert [s.name for s in db.sources] == ["alpine/v3.18/main.json"]
        assert db.advisories(namespaces.osv("PyPI"), "django") == []


def test_db_is_opened_read_only(tmp_path):
    update(tmp_path / "feeds.db", write_mirror(tmp_path / "m", alpine={("v3.18", "main"): ZLIB}))
    with FeedDB.open(tmp_path / "feeds.db") as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db._connection.execute("DELETE FROM advisories")


def test_foreign_and_future_files_are_refused_with_the_path(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        connection.execute("INSERT INTO meta VALUES ('schema_version', '99'), ('build_id', 'x')")
    with pytest.raises(FeedDBError, match=r"other\.db has schema version '99'"):
        FeedDB.open(other)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(FeedDBError, match="not a crscan feed DB"):
        FeedDB.open(empty)


def test_reader_keeps_its_build_while_a_new_one_is_swapped_in(tmp_path):
    mirror = write_mirror(tmp_path / "m", alpine={("v3.18", "main"): ZLIB})
    update(tmp_path / "feeds.db", mirror)
    with FeedDB.open(tmp_path / "feeds.db") as reader:
        write_mirror(mirror, alpine={("v3.18", "main"): OPENSSL})
        update(tmp_path / "feeds.db", mirror)
        # The open handle still reads the file it opened: consistent answers for a scan in progress.
        assert [a.advisory_id for a in reader.advisories(namespaces.alpine("v3.18"), "zlib")] == ["CVE-2022-37434"]
    with FeedDB.open(tmp_path / "feeds.db") as fresh:
        assert fresh.advisories(namespaces.alpine("v3.18"), "zlib") == []
