"""`crscan db update/status` through the installed entry point, on the shared feeds mirror."""

from __future__ import annotations

import functools
import http.server
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from crscan.vulndb import SCHEMA_VERSION, FeedDB, namespaces
from tests.vulndb.support import CRSCAN, crscan, write_mirror


def _readme_counts(shared_data) -> dict[str, int]:
    """Record counts the shared data's README states per source (its own table, not our parsers)."""
    counts = {}
    for line in (shared_data / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and (m := re.match(r"(\d+)", cells[1])):
            counts[cells[0]] = int(m.group(1))
    return counts


def _status_counts(output: str) -> dict[str, int]:
    """Source name -> records, from `crscan db status` output."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+/\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s", output, re.M)}


@pytest.mark.smoke
def test_update_from_shared_mirror_reads_every_record_the_readme_lists(feed_db_path, shared_data):
    done = crscan("db", "status", "--db", str(feed_db_path))
    assert done.returncode == 0, done.stderr
    status = _status_counts(done.stdout)
    readme = _readme_counts(shared_data)
    for source in ("osv/PyPI/all.zip", "osv/Go/all.zip", "osv/crates.io/all.zip", "osv/npm/all.zip"):
        assert status[source] == readme[source], source
    assert status["debian/json"] == readme["debian/json"]
    alpine = sum(count for name, count in status.items() if name.startswith("alpine/"))
    assert alpine == readme["alpine/v3.*/{main,community}.json"]
    assert status["wolfi/security.json"] == readme["wolfi/security.json"]  # one record per package entry
    with FeedDB.open(feed_db_path) as db:
        assert re.search(rf"^build id: {db.build_id}$", done.stdout, re.M)
        assert re.search(rf"^schema version: {SCHEMA_VERSION}$", done.stdout, re.M)
        assert all(s.fetched_at and s.fingerprint.startswith("sha256:") for s in db.sources)


def test_second_update_of_an_unchanged_mirror_keeps_the_build(feed_db_path, shared_data):
    with FeedDB.open(feed_db_path) as db:
        before = db.build_id
    done = crscan("db", "update", "--mirror", str(shared_data / "feeds"), "--db", str(feed_db_path))
    assert done.returncode == 0, done.stderr
    assert "unchanged" in done.stdout and before in done.stdout
    with FeedDB.open(feed_db_path) as db:
        assert db.build_id == before


def test_update_killed_midway_leaves_the_previous_db_serving(tmp_path, shared_data):
    small = write_mirror(tmp_path / "small", alpine={
        ("v3.18", "main"): {"packages": [{"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-2022-37434"]}}}]},
    })
    db_path = tmp_path / "data" / "feeds.db"
    assert crscan("db", "update", "--mirror", str(small), "--db", str(db_path)).returncode == 0
    with FeedDB.open(db_path) as db:
        old_build = db.build_id

    update = subprocess.Popen([str(CRSCAN), "db", "update", "--mirror", str(shared_data / "feeds"),
                               "--db", str(db_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    temp = db_path.with_name(f"feeds.db.tmp-{update.pid}")
    deadline = time.monotonic() + 60
    while not temp.exists() and update.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert temp.exists(), "the update finished or stalled before its temporary DB appeared"
    update.send_signal(signal.SIGKILL)
    update.wait()

    with FeedDB.open(db_path) as db:
        assert db.build_id == old_build
        assert [a.advisory_id for a in db.advisories(namespaces.alpine("v3.18"), "zlib")] == ["CVE-2022-37434"]
    # The next update removes the dead build's leftover and completes.
    assert crscan("db", "update", "--mirror", str(small), "--db", str(db_path), "--force").returncode == 0
    assert not temp.exists()
    with FeedDB.open(db_path) as db:
        assert db.build_id != old_build


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror_url(shared_data):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(shared_data / "feeds")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_update_from_a_mirror_url_matches_the_directory_build(mirror_url, feed_db_path, tmp_path):
    db_path = tmp_path / "feeds.db"
    done = crscan("db", "update", "--mirror", mirror_url, "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    with FeedDB.open(db_path) as over_http, FeedDB.open(feed_db_path) as from_dir:
        # Ecosystems the mirror lacks answered 404 and were left out, not failed. NVD's per-record trees
        # cannot be listed over HTTP (a URL mirror serves the yearly bundles: tests/vulndb/test_nvd.py).
        from_dir_sources = [s for s in from_dir.sources if not s.name.startswith("nvd/")]
        assert {s.name for s in over_http.sources} == {s.name for s in from_dir_sources}
        assert {(s.name, s.fingerprint, s.rows) for s in over_http.sources} == {
            (s.name, s.fingerprint, s.rows) for s in from_dir_sources}
        assert all(s.url.startswith(mirror_url) for s in over_http.sources)


@pytest.mark.parametrize("args, message", [
    (["db", "status", "--db", "{tmp}/missing.db"], "does not exist"),
    (["db", "status", "--db", "{tmp}/garbage.db"], "not a crscan feed DB"),
    (["db", "update", "--mirror", "{tmp}/no-such-dir", "--db", "{tmp}/x.db"], "no-such-dir"),
    (["db", "update", "--mirror", "{tmp}/empty", "--db", "{tmp}/x.db"], "no feed source found"),
    (["db", "update", "--mirror", "{tmp}/broken", "--db", "{tmp}/x.db"], "osv/PyPI/all.zip: not a zip archive"),
])
def test_errors_are_one_line_with_non_zero_exit(tmp_path, args, message):
    (tmp_path / "garbage.db").write_bytes(b"this is not sqlite" * 100)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken" / "osv" / "PyPI").mkdir(parents=True)
    (tmp_path / "broken" / "osv" / "PyPI" / "all.zip").write_bytes(b"PK\x03\x04 truncated")
    done = crscan(*(a.format(tmp=tmp_path) for a in args))
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_default_db_path_follows_crscan_data_dir(tmp_path):
    small = write_mirror(tmp_path / "m", alpine={("v3.18", "main"): {"packages": None}})
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path / "data")}
    assert crscan("db", "update", "--mirror", str(small), env=env).returncode == 0
    done = crscan("db", "status", env=env)
    assert done.returncode == 0 and str(tmp_path / "data" / "feeds.db") in done.stdout
