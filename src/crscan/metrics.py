"""Process-wide scan metrics and their Prometheus text exposition (format 0.0.4).

The pipeline reports with `record_scan(status, seconds)` and `add_bytes_pulled(n)` (or passes `BYTES_PULLED`
as a `RegistryClient(counter=…)`); `/metrics` renders them with `exposition(gauges)`, adding gauges read at
scrape time. Nothing else needs to know the format. Only counts and durations are kept: no labels carry image
names, URLs or credentials.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crscan.registry.client import ByteCounter

SCAN_STATUSES = ("ready", "error", "cancelled")
# Seconds; scans range from a cached re-match (sub-second) to a multi-GB first pull.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class MetricsError(ValueError):
    """A metric was given a value it cannot take (unknown status, negative amount)."""


class LabelledCounter:
    """A counter per value of one label; only the declared values exist, so hostile input cannot add series."""

    def __init__(self, name: str, help: str, label: str, values: Sequence[str]):
        self.name, self.help, self.label = name, help, label
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(values, 0.0)

    def inc(self, value: str, amount: float = 1.0) -> None:
        if value not in self._counts:
            raise MetricsError(f"{self.name}: {self.label} {value!r} is not one of {', '.join(self._counts)}")
        if amount < 0:
            raise MetricsError(f"{self.name}: a counter cannot decrease (got {amount})")
        with self._lock:
            self._counts[value] += amount

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        with self._lock:
            return [(self.name, {self.label: value}, count) for value, count in self._counts.items()]


class Histogram:
    """Cumulative buckets, sum and count, as Prometheus histograms expose them."""

    def __init__(self, name: str, help: str, buckets: Sequence[float]):
        self.name, self.help = name, help
        self._bounds = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._bucket_counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._count = 0

    def observe(self, value: float) -> None:
        if not math.isfinite(value) or value < 0:
            raise MetricsError(f"{self.name}: {value!r} is not a non-negative duration")
        with self._lock:
            for i, bound in enumerate(self._bounds):
                if value <= bound:
                    self._bucket_counts[i] += 1
            self._sum += value
            self._count += 1

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        with self._lock:
            rows = [
                (f"{self.name}_bucket", {"le": _number(bound)}, float(count))
                for bound, count in zip(self._bounds, self._bucket_counts, strict=True)
            ]
            rows.append((f"{self.name}_bucket", {"le": "+Inf"}, float(self._count)))
            rows.append((f"{self.name}_sum", {}, self._sum))
            rows.append((f"{self.name}_count", {}, float(self._count)))
        return rows


@dataclass(frozen=True)
class Gauge:
    """A value read at scrape time (queue depth, feed age); absent when it could not be read."""

    name: str
    help: str
    value: float


SCANS = LabelledCounter("crscan_scans_total", "Image scans finished, by final status.", "status", SCAN_STATUSES)
SCAN_DURATION = Histogram("crscan_scan_duration_seconds", "Wall time of finished image scans.", DURATION_BUCKETS)
BYTES_PULLED = ByteCounter()  # give it to RegistryClient(counter=…) so every response body counts
BYTES_PULLED_HELP = "Bytes received from registries (manifests, configs, layers)."


def record_scan(status: str, seconds: float) -> None:
    """Count one finished scan (`status` one of SCAN_STATUSES) and its duration; a bad argument records nothing."""
    if status not in SCAN_STATUSES:
        raise MetricsError(f"{SCANS.name}: status {status!r} is not one of {', '.join(SCAN_STATUSES)}")
    SCAN_DURATION.observe(seconds)  # raises before anything is counted when the duration is impossible
    SCANS.inc(status)


def add_bytes_pulled(n: int) -> None:
    if n < 0:
        raise MetricsError(f"crscan_bytes_pulled_total: a counter cannot decrease (got {n})")
    BYTES_PULLED.add(n)


def exposition(gauges: Iterable[Gauge] = ()) -> str:
    """The text exposition of every process metric plus `gauges`."""
    lines: list[str] = []
    _family(lines, SCANS.name, SCANS.help, "counter", SCANS.samples())
    _family(lines, SCAN_DURATION.name, SCAN_DURATION.help, "histogram", SCAN_DURATION.samples())
    _family(lines, "crscan_bytes_pulled_total", BYTES_PULLED_HELP, "counter",
            [("crscan_bytes_pulled_total", {}, float(BYTES_PULLED.total))])
    for gauge in gauges:
        _family(lines, gauge.name, gauge.help, "gauge", [(gauge.name, {}, gauge.value)])
    return "\n".join(lines) + "\n"


def _family(
    lines: list[str], name: str, help: str, kind: str, samples: Iterable[tuple[str, dict[str, str], float]]
) -> None:
    lines.append(f"# HELP {name} {help.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
    lines.append(f"# TYPE {name} {kind}")
    for sample_name, labels, value in samples:
        rendered = ",".join(f'{key}="{_escape_label(text)}"' for key, text in labels.items())
        lines.append(f"{sample_name}{{{rendered}}} {_number(value)}" if labels else f"{sample_name} {_number(value)}")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))
