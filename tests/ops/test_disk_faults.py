"""Faults production meets, made real: a full disk (a small tmpfs this test mounts holding the database) and a
feed DB overwritten in place. `/readyz` says so, POST /scans answers 503 not 500, and a worker that cannot write
backs off with one log line per state change and runs its job once space returns."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crscan.api.messages import OPERATION_CODEC
from crscan.jobs.embedded import EmbeddedQueue
from crscan.store import Store
from tests.api.conftest import seed_scanned_image
from tests.ops.conftest import ops_api

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextmanager
def small_tmpfs(path: Path, size: str = "16m") -> Iterator[Path]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(directory: Path) -> Path:
    """Write zeros until the filesystem refuses; returns the file to delete to free the space."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, bytes(64 * 1024))
    except OSError:
        for size in (4096, 1):  # the last partial blocks too
            try:
                while True:
                    os.write(descriptor, bytes(size))
            except OSError:
                pass
    finally:
        os.close(descriptor)
    return filler


def checkpoint(database: Path) -> None:
    """Empty the WAL, so the next write needs new blocks as on a long-running server."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_full_disk_makes_readyz_503_and_post_scans_503_until_space_returns(tmp_path, feed_db):
    with small_tmpfs(tmp_path / "full") as disk:
        database = disk / "crscan.db"
        with ops_api(disk / "data", f"sqlite:///{database}", feed_db) as api:
            image_id = seed_scanned_image(api.store).image_id
            assert api.http.get("/readyz").status_code == 200
            api.store.engine.dispose()
            checkpoint(database)
            filler = fill(disk)

            ready = api.http.get("/readyz")
            scan = api.http.post("/container-registry/v1/scans", json={"imageId": image_id})

            filler.unlink()
            again = api.http.get("/readyz")
            rescan = api.http.post("/container-registry/v1/scans", json={"imageId": image_id})

    assert ready.status_code == 503
    write = ready.json()["checks"]["database_write"]
    assert write["ok"] is False and ("disk is full" in write["error"] or "No space left" in write["error"])
    assert scan.status_code == 503, scan.text
    assert scan.json()["code"] == 14 and "disk is full" in scan.json()["message"]
    assert again.status_code == 200 and again.json()["checks"]["database_write"] == {"ok": True}
    assert rescan.status_code == 200, rescan.text


def test_worker_that_cannot_write_backs_off_logs_once_and_runs_the_job_when_space_returns(tmp_path, caplog):
    with small_tmpfs(tmp_path / "full") as disk:
        database = disk / "crscan.db"
        store = Store(f"sqlite:///{database}", OPERATION_CODEC)
        store.migrate()
        ran: list[str] = []

        def handler(job, last_attempt):
            store.scans.fail(job.scan_result_id, "ran")
            ran.append(job.scan_result_id)
            return "error"

        try:
            image_id = seed_scanned_image(store).image_id
            scan_id = store.operations.get(store.scans.enqueue(image_id).id).resource_id
            store.engine.dispose()
            checkpoint(database)
            filler = fill(disk)
            queue = EmbeddedQueue(store, handler, poll_interval=0.02)
            with caplog.at_level(logging.INFO, logger="crscan.jobs.embedded"):
                queue.start()
                time.sleep(3)  # the old loop logged a traceback every poll: ~150 here
                failing = [r.getMessage() for r in caplog.records if r.name == "crscan.jobs.embedded"]
                filler.unlink()
                deadline = time.monotonic() + 60
                while not ran and time.monotonic() < deadline:
                    time.sleep(0.1)
                queue.stop()
            logged = [r.getMessage() for r in caplog.records if r.name == "crscan.jobs.embedded"]
        finally:
            store.close()
    assert ran == [scan_id]
    assert len(failing) == 1 and failing[0].startswith("cannot claim jobs: ") and "full" in failing[0]
    assert logged == failing + ["claiming jobs again"]
    assert not any(r.exc_info for r in caplog.records)


def test_feed_db_overwritten_in_place_makes_readyz_503_with_the_reason(tmp_path, feed_db):
    copy = tmp_path / "feeds.db"
    shutil.copy(feed_db, copy)
    with sqlite3.connect(copy) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        meta_page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    with ops_api(tmp_path / "data", f"sqlite:///{tmp_path / 'crscan.db'}", copy) as api:
        assert api.http.get("/readyz").status_code == 200
        with open(copy, "r+b") as file:  # every page but the header page and meta's: it still opens
            for page in range(2, pages + 1):
                if page != meta_page:
                    file.seek((page - 1) * page_size)
                    file.write(b"\xa5" * page_size)
        answer = api.http.get("/readyz")
    assert answer.status_code == 503
    feed = answer.json()["checks"]["feed_db"]
    assert feed["ok"] is False and "failed its integrity check" in feed["error"] and str(copy) in feed["error"]
