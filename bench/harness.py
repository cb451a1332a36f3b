"""What the bench scripts share: a migrated SQLite store, percentiles of their samples, the machine they ran on,
and their one line appended to bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

from crscan.api.messages import OPERATION_CODEC
from crscan.store import Store

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def sqlite_store(directory: str) -> Store:
    """A new store in `directory`, migrated, as `crscan serve --data-dir` would make it."""
    store = Store(f"sqlite:///{directory}/crscan.db", OPERATION_CODEC)
    store.migrate()
    return store


def p50_p99_ms(timings: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Median and 99th percentile of each series of seconds, in milliseconds."""
    p50 = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    p99 = {name: statistics.quantiles(values, n=100)[98] * 1000 for name, values in timings.items()}
    return p50, p99


def machine() -> str:
    """Where the figures come from, for the bracket at the end of a result line."""
    return (f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, "
            f"python {platform.python_version()}")


def record(result: str) -> None:
    """Print `result` ("<bench>: <figures>") and append it to RESULTS.md, dated (UTC)."""
    line = f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} {result}"
    print(line)
    with open(RESULTS, "a") as results:
        results.write(line + "\n")
