"""Feeds without a manual step: `crscan serve` builds a missing feed DB at start (here from the shared mirror) and
is not ready until it has, and after every change the stored inventories are queued for re-matching."""

from __future__ import annotations

import re
import signal
import sqlite3
import time

import httpx
from sqlalchemy import select

from crscan.api.ops import OpsProbes
from crscan.jobs.feeds import FeedKeeper
from crscan.store import schema
from crscan.vulndb import FeedDB
from tests.api.test_serve_cli import serve
from tests.store.seeding import add_image, migrated_store


def test_serve_on_an_empty_data_dir_builds_the_feed_db_from_the_mirror_then_is_ready(tmp_path, shared_data):
    mirror = shared_data / "feeds"
    served = serve("--data-dir", str(tmp_path), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--log-level", "info", env={"CRSCAN_FEEDS_MIRROR": str(mirror), "CRSCAN_FEEDS_UPDATE_HOURS": "12"})
    try:
        first = httpx.get(served.rest_url + "/readyz", timeout=10)
        deadline = time.monotonic() + 180
        ready = first
        while ready.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            ready = httpx.get(served.rest_url + "/readyz", timeout=10)
    finally:
        code, _ = served.stop(signal.SIGTERM)
    log = served.stderr_text()
    assert first.status_code == 503, first.text
    reason = first.json()["checks"]["feed_db"]["error"]
    assert reason.startswith(f"feed DB {tmp_path / 'feeds.db'} does not exist yet: building the feed DB from "
                             f"mirror {mirror}: step "), reason
    assert ready.status_code == 200, ready.text
    assert (tmp_path / "feeds.db").is_file()
    assert code == 0
    assert f"feed DB {tmp_path / 'feeds.db'}: updating from mirror {mirror}" in log
    steps = re.search(r"feed DB: step 1/(\d+), fetching osv/", log)
    assert steps, log
    assert f"feed DB: step {steps[1]}/{steps[1]}, parsing " in log
    assert "feed DB changed: queued 0 re-match scans" in log  # an empty store: nothing to re-match


def test_a_refresh_that_changes_the_db_queues_a_rematch_of_every_stored_inventory(tmp_path, shared_data):
    store = migrated_store(f"sqlite:///{tmp_path / 'crscan.db'}")
    try:
        images = [add_image(store, repository=f"team/app{n}") for n in range(3)]
        add_image(store, repository="team/never-scanned")  # no inventory: nothing to re-match
        for image in images:
            store.inventories.save(image.id, "catalogers-v1", f"registry.example/{image.id}", [f"sha256:{'b' * 64}"])
        woken = []
        keeper = FeedKeeper(store, tmp_path / "feeds.db", str(shared_data / "feeds"), interval=3600,
                            wake=lambda: woken.append(True))

        assert keeper.refresh() is True
        assert keeper.state().startswith(f"feed DB built from mirror {shared_data / 'feeds'}")
        with store.sessions() as session:
            jobs = session.scalars(select(schema.Job)).all()
        assert sorted(job.payload["image_id"] for job in jobs) == sorted(image.id for image in images)
        assert all(job.payload["rematch"] is True for job in jobs) and woken == [True]

        assert keeper.refresh() is False  # the mirror did not change: the DB is kept, nothing more queued
        assert keeper.state().startswith("feed DB unchanged")
        with store.sessions() as session:
            assert len(session.scalars(select(schema.Job)).all()) == 3
    finally:
        store.close()


def test_a_failed_build_is_the_readiness_reason_and_the_schedule_survives(tmp_path):
    store = migrated_store(f"sqlite:///{tmp_path / 'crscan.db'}")
    try:
        keeper = FeedKeeper(store, tmp_path / "feeds.db", str(tmp_path / "no-such-mirror"), interval=3600)
        assert keeper.refresh() is False
        assert keeper.state() == (f"feed DB update from mirror {tmp_path / 'no-such-mirror'} failed: mirror "
                                  f"directory {tmp_path / 'no-such-mirror'} does not exist or is not a directory")
        assert not (tmp_path / "feeds.db").exists()
    finally:
        store.close()


def test_a_damaged_feed_db_is_rebuilt_from_every_source_and_readiness_says_how_far(tmp_path, shared_data):
    mirror, gone = str(shared_data / "feeds"), str(tmp_path / "gone")
    path = tmp_path / "feeds.db"
    store = migrated_store(f"sqlite:///{tmp_path / 'crscan.db'}")
    keeper = FeedKeeper(store, path, mirror, interval=3600)
    try:
        assert keeper.refresh() is True
        with sqlite3.connect(path) as connection:
            page_size = connection.execute("PRAGMA page_size").fetchone()[0]
            _root, *leaves = [row[0] for row in connection.execute(
                "SELECT pageno FROM dbstat WHERE name = 'advisories' ORDER BY pageno")]
        with open(path, "r+b") as file:  # the advisories overwritten in place: the schema and meta still read
            for page in leaves:
                file.seek((page - 1) * page_size)
                file.write(b"\xa5" * page_size)
        with FeedDB.open(path) as feeds:  # the case a build would copy from, were it not forced
            assert feeds.integrity_error()
        probes = OpsProbes(store, path, keeper.state)

        keeper.mirror = gone
        assert keeper.refresh() is False
        reason = probes.check_feed_db().error
        assert f"feed DB {path} failed its integrity check: " in reason, reason
        assert reason.endswith(f"; feed DB updater: feed DB update from mirror {gone} failed: mirror directory "
                               f"{gone} does not exist or is not a directory"), reason

        keeper.mirror = mirror  # unchanged since the first build: only the damage makes the start rebuild it
        keeper.start()
        deadline = time.monotonic() + 180
        while not keeper.state().startswith("feed DB built") and time.monotonic() < deadline:
            time.sleep(0.2)
        keeper.stop()
        assert keeper.state().startswith(f"feed DB built from mirror {mirror}"), keeper.state()
        with FeedDB.open(path) as feeds:
            assert feeds.integrity_error() == ""
        assert probes.check_feed_db().ok
    finally:
        keeper.stop()
        store.close()
