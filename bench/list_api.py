"""ScannerService.List latency at depth: keyset paging must make page 10,000 as cheap as page 1.

Starts a throwaway PostgreSQL, seeds 1,000,000 scan results of one image (INSERT … SELECT generate_series),
walks the List pages (pageSize 100) through the servicer to get the real page token of page 10,000, then
times the first page and page 10,000 alternately. Prints p50/p99 of both and the ratio of the p50s
(target <= 1.2); for contrast, the time of the equivalent OFFSET query. Appends one line to bench/RESULTS.md.

    .venv/bin/python bench/list_api.py [--rows 1000000] [--samples 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from yandex.cloud.containerregistry.v1 import scanner_service_pb2 as ss  # noqa: E402

from crscan.api.auth import AllowAll, authenticated  # noqa: E402
from crscan.api.messages import OPERATION_CODEC  # noqa: E402
from crscan.api.servicers import ScannerServicer  # noqa: E402
from crscan.store import Store  # noqa: E402
from tests.support.postgres import ThrowawayPostgres  # noqa: E402

PAGE_SIZE = 100
TARGET = 1.2
# Generated inside PostgreSQL: a Python loop feeding COPY spends minutes on a busy 2-core machine.
# md5 hex is a subset of the ID alphabet, so the IDs are well-formed (and unique at 68 random bits).
SEED_SQL = """
INSERT INTO scan_results (id, image_id, repository_id, status, scanned_at, critical, high, medium, low,
                          negligible, undefined, feed_build_id, warnings, error_message, created_at)
SELECT 'che' || substr(md5(i::text || random()::text), 1, 17), %(image)s, %(repository)s,
       (ARRAY[2, 2, 2, 3])[1 + floor(random() * 4)::int], at,
       floor(random() * 3)::int, floor(random() * 10)::int, floor(random() * 30)::int,
       floor(random() * 50)::int, floor(random() * 5)::int, floor(random() * 5)::int, 'bench', '[]', '', at
FROM (SELECT i, timestamp '2025-01-01' + make_interval(secs => i * 30 + floor(random() * 30)) AS at
      FROM generate_series(0, %(rows)s - 1) AS i) AS series
"""


def seed(pg: ThrowawayPostgres, database: str, rows: int) -> tuple[Store, str]:
    store = Store(pg.create_database(database), OPERATION_CODEC)
    store.migrate()
    registry = store.registries.add("bench", "https://bench.example", folder_id="b1gbench")
    repository = store.repositories.add(registry.id, "bench/app")
    image = store.images.add(repository.id, "sha256:" + "0" * 64)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/{database}", autocommit=True) as conn:
        # Bulk load, then build the migration's secondary indexes from their own definitions: a sorted build
        # is much faster than a million random B-tree inserts into each of them.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'scan_results' AND indexname <> %s",
            ("pk_scan_results",),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SELECT setseed(0.42)")
        conn.execute(SEED_SQL, {"image": image.id, "repository": repository.id, "rows": rows})
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE scan_results")
    return store, image.id


def timed(call) -> float:
    begin = time.perf_counter()
    call()
    return time.perf_counter() - begin


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    depth = args.rows // PAGE_SIZE

    pg = ThrowawayPostgres().start()
    try:
        begin = time.perf_counter()
        database = "bench_" + uuid.uuid4().hex[:8]
        store, image_id = seed(pg, database, args.rows)
        seeded = time.perf_counter() - begin
        print(f"seeded {args.rows:,} scan results in {seeded:.1f} s")
        scanner = ScannerServicer(store)

        def page(token: str = ""):
            request = ss.ListScanResultsRequest(image_id=image_id, page_size=PAGE_SIZE, page_token=token)
            with authenticated(AllowAll(), "/yandex.cloud.containerregistry.v1.ScannerService/List", "bench", []):
                return scanner.List(request, None)  # inside the auth hook, as the transports call it

        begin = time.perf_counter()
        token, pages = "", 1
        while pages < depth:
            token = page(token).next_page_token
            pages += 1
        walked = time.perf_counter() - begin
        deep = page(token)
        assert len(deep.scan_results) == PAGE_SIZE and deep.next_page_token == "", "page 10,000 is not the last one"
        print(f"walked {pages - 1:,} pages in {walked:.1f} s to reach page {pages:,}")

        first_samples, deep_samples = [], []
        for _ in range(20):  # warm caches and the connection pool
            page(), page(token)
        for _ in range(args.samples):
            first_samples.append(timed(page))
            deep_samples.append(timed(lambda: page(token)))

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/{database}") as conn:
            offset_query = (
                "SELECT * FROM scan_results WHERE image_id = %s ORDER BY scanned_at DESC, id DESC "
                f"OFFSET {(depth - 1) * PAGE_SIZE} LIMIT {PAGE_SIZE}"
            )
            offset = min(timed(lambda: conn.execute(offset_query, (image_id,)).fetchall()) for _ in range(3))
        store.close()
    finally:
        pg.stop()

    first_p50, deep_p50 = statistics.median(first_samples), statistics.median(deep_samples)
    ratio = deep_p50 / first_p50
    verdict = "OK" if ratio <= TARGET else "MISSED"
    ms = lambda seconds: f"{seconds * 1000:.2f} ms"  # noqa: E731
    line = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} list_api: List pageSize {PAGE_SIZE} over {args.rows:,} scan results "
        f"(PostgreSQL 15): page {depth:,} p50 {ms(deep_p50)} p99 {ms(percentile(deep_samples, 0.99))} vs first page "
        f"p50 {ms(first_p50)} p99 {ms(percentile(first_samples, 0.99))}: ratio {ratio:.2f} (target <= {TARGET}) "
        f"{verdict}; OFFSET query alone at that depth {ms(offset)} [{args.samples} samples each, servicer in-process, "
        f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
        f"python {platform.python_version()}]"
    )
    print(line)
    with open(REPO / "bench" / "RESULTS.md", "a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
