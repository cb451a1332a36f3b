"""`/metrics` scrape cost with a large job table: queue depth must come from the (status, id) index, not a scan.

Starts a throwaway PostgreSQL, seeds JOBS job rows (QUEUED of them queued, the rest done, as a long-running
installation has), serves the API with the ops pages in-process, then times GET /metrics and, as the
baseline measured in the same run, GET /healthz (the same HTTP stack, no database). Prints p50/p99 of both
and the ratio of the p50s (target <= 10: a scrape costs a few HTTP round trips, whatever the table size).
Appends one line to bench/RESULTS.md.

    .venv/bin/python bench/metrics_scrape.py [--jobs 1000000] [--queued 10000] [--samples 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from crscan.api.auth import AllowAll  # noqa: E402
from crscan.api.messages import OPERATION_CODEC  # noqa: E402
from crscan.api.ops import ops_routes  # noqa: E402
from crscan.api.server import ApiServer  # noqa: E402
from crscan.config import Settings  # noqa: E402
from crscan.store import Store  # noqa: E402
from crscan.vulndb import update  # noqa: E402
from tests.support.postgres import ThrowawayPostgres  # noqa: E402
from tests.vulndb.support import write_mirror  # noqa: E402

TARGET = 10.0
SEED_SQL = """
INSERT INTO jobs (kind, payload, resource_id, status, attempts, created_at)
SELECT 'scan', '{}', 'che' || substr(md5(i::text), 1, 17),
       CASE WHEN i < %(queued)s THEN 'queued' ELSE 'done' END, 1, now()
FROM generate_series(0, %(jobs)s - 1) AS i
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = http.get(path)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="crscan-bench-metrics-"))
    write_mirror(scratch / "mirror", osv={"PyPI": [{"id": "GHSA-bench", "modified": "2024-01-01T00:00:00Z",
                                                     "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
                                                                   "versions": ["1"]}]}]})
    feed_db = update(scratch / "feeds.db", mirror=scratch / "mirror").path
    pg = ThrowawayPostgres().start()
    try:
        database = "bench_" + uuid.uuid4().hex[:8]
        store = Store(pg.create_database(database), OPERATION_CODEC)
        store.migrate()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/{database}", autocommit=True) as conn:
            conn.execute(SEED_SQL, {"jobs": args.jobs, "queued": args.queued})
            conn.execute("ANALYZE jobs")
        settings = Settings.resolve({"data_dir": scratch / "data", "http_port": 0, "grpc_port": 0,
                                     "auth_enabled": False}, environ={})
        with ApiServer(settings, [], AllowAll(),  # the ops pages alone
                       extra_pages=ops_routes(store, feed_db)) as server, \
                httpx.Client(base_url=server.http_url, timeout=60) as http:
            assert f"crscan_queue_depth {float(args.queued)!r}" in http.get("/metrics").text
            scrape, health = [], []
            for _ in range(args.samples):  # alternated, so load changes hit both alike
                scrape.append(timed(http, "/metrics"))
                health.append(timed(http, "/healthz"))
        store.close()
    finally:
        pg.stop()

    p50, p99 = statistics.median(scrape) * 1000, percentile(scrape, 0.99) * 1000
    base50, base99 = statistics.median(health) * 1000, percentile(health, 0.99) * 1000
    ratio = p50 / base50
    verdict = "OK" if ratio <= TARGET else "MISSED"
    line = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} metrics_scrape: GET /metrics with {args.jobs:,} jobs "
        f"({args.queued:,} queued, PostgreSQL 15) p50 {p50:.2f} ms p99 {p99:.2f} ms vs GET /healthz p50 "
        f"{base50:.2f} ms p99 {base99:.2f} ms: ratio {ratio:.2f} (target <= {TARGET:g}) {verdict} "
        f"[{args.samples} samples each, in-process server, {platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}]"
    )
    print(line)
    with open(REPO / "bench" / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
