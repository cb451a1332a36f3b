"""Suite-wide fixtures: the shared offline data, a throwaway PostgreSQL, and a fresh database per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.postgres import ThrowawayPostgres, backend_url

pytest_plugins = ["tests.support.fixtures"]

# The test machine has no route to the feeds' upstream: a `crscan serve` started by a test (here or through
# tests/api/test_serve_cli.serve) builds its feed DB only when the test asks (tests/ops/test_feeds_on_start.py).
os.environ.setdefault("CRSCAN_FEEDS_UPDATE_HOURS", "0")

REPO = Path(__file__).resolve().parent.parent
# The offline feeds mirror and version vectors; never copied into the project.
SHARED_DATA = Path(os.environ.get("CRSCAN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").exists():
        pytest.fail(f"shared data not found at {SHARED_DATA}: set CRSCAN_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres():
    """One cluster for the whole run; tests get their own database from `database_url`."""
    pg = ThrowawayPostgres().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database on each backend the store supports."""
    return backend_url(request, tmp_path)
