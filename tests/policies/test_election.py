"""The scheduler's election: one holder among processes sharing a PostgreSQL database, none needed on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crscan.policies.scheduler import Leadership
from crscan.store.engine import make_engine
from tests.jobs.test_replicas import lock_holders, wait_for


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_holder_at_a_time_and_another_takes_over_when_its_connection_dies(database_url):
    # Separate engines, as separate `crscan serve` processes have, and one for the test's own queries.
    engines = [make_engine(database_url) for _ in range(3)]
    a, b = Leadership(engines[0]), Leadership(engines[1])
    try:
        assert a.held() and not b.held()
        assert a.held() and not b.held()  # the holder keeps it tick after tick
        [holder] = lock_holders(engines[2])
        with engines[2].connect() as connection:  # the holder's connection dies, as when its process is killed
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}).scalar()
        assert wait_for(b.held, 10, "the lock to be freed by the terminated connection")
        assert not a.held()  # notices the lost lock and cannot take it back while b holds it
        b.release()
        assert a.held()
        a.release()
        assert lock_holders(engines[2]) == []
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_every_scheduler_runs(database_url):
    engine = make_engine(database_url)
    try:
        assert Leadership(engine).held() and Leadership(engine).held()
    finally:
        engine.dispose()
