"""The service's migration (one head, an empty database upgrades to it) and `crscan rescan`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from yandex.cloud.containerregistry.v1 import scanner_pb2

from crscan.jobs import ScanRunner
from tests.store.seeding import add_image

CRSCAN = Path(sys.executable).parent / "crscan"


def test_the_migrations_have_one_head_and_an_empty_database_reaches_it(store):
    config = Config()
    config.set_main_option("script_location", "crscan.store:migrations")
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1
    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == heads[0]
    assert {"layer_indexes", "image_inventories", "jobs"} <= set(inspect(store.engine).get_table_names())


def rescan(*args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    return subprocess.run([str(CRSCAN), "rescan", *args], capture_output=True, text=True, env=environ, timeout=120)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rescan_all_queues_a_rematch_of_every_inventoried_image(store, database_url, local_registry, test_images,
                                                               feed_db_path, tmp_path):
    from tests.jobs.conftest import register

    scanned = register(store, local_registry, test_images["bookworm"])
    never = add_image(store)
    runner = ScanRunner(store, feed_db_path)
    store.scans.enqueue(scanned.id)
    assert runner.run(store.jobs.claim(60)) == "ready"

    done = rescan("--all", "--database-url", database_url, "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "queued 1 re-match scans"
    job = store.jobs.claim(60)
    header, row = done.stdout.splitlines()[1:]  # a header names the columns of the one row
    assert header == "SCAN RESULT ID\tOPERATION ID" and row.startswith(f"{job.scan_result_id}\t")
    assert job.image_id == scanned.id and job.rematch and store.jobs.claim(60) is None
    assert runner.run(job) == "ready"
    assert store.scans.get(job.scan_result_id).status == scanner_pb2.ScanResult.READY
    assert store.scans.last_finished(never.id) is None

    done = rescan("--image-id", never.id, "--database-url", database_url, "--data-dir", str(tmp_path))
    assert done.returncode == 0 and done.stdout.startswith("queued 1 re-match scans")
    job = store.jobs.claim(60)  # no inventory: the runner pulls instead
    assert job.image_id == never.id and job.rematch


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "args, message",
    [((), "give exactly one of --all and --image-id"), (("--all", "--image-id", "x"), "exactly one"),
     (("--image-id", "crpnosuch"), "image crpnosuch not found")],
)
def test_rescan_errors_are_one_clear_line(store, database_url, tmp_path, args, message):
    done = rescan(*args, "--database-url", database_url, "--data-dir", str(tmp_path))
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
