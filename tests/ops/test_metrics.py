"""The metric types and their text exposition, read back by a strict parser."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan import metrics
from crscan.metrics import Gauge, Histogram, LabelledCounter, MetricsError
from tests.ops.exposition import parse


def render(*families) -> str:
    lines: list[str] = []
    for family, kind in families:
        metrics._family(lines, family.name, family.help, kind, family.samples())
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=50))
def test_histogram_buckets_count_every_observation_at_or_below_their_bound(observations):
    histogram = Histogram("t_seconds", "test", (0.5, 1.0, 10.0))
    for value in observations:
        histogram.observe(value)
    family = parse(render((histogram, "histogram")))["t_seconds"]
    for bound in (0.5, 1.0, 10.0):
        assert family.value("t_seconds_bucket", le=repr(bound)) == sum(v <= bound for v in observations)
    assert family.value("t_seconds_bucket", le="+Inf") == len(observations)
    assert family.value("t_seconds_count") == len(observations)
    assert family.value("t_seconds_sum") == pytest.approx(math.fsum(observations))


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_histogram_refuses_impossible_durations(bad):
    with pytest.raises(MetricsError, match="not a non-negative duration"):
        Histogram("t_seconds", "test", (1.0,)).observe(bad)


def test_counter_only_has_its_declared_label_values():
    counter = LabelledCounter("t_total", "test", "status", ("ready", "error"))
    counter.inc("ready")
    counter.inc("ready", 2)
    with pytest.raises(MetricsError, match="status 'ready\"} 1e9' is not one of ready, error"):
        counter.inc('ready"} 1e9')  # a value cannot inject a series
    with pytest.raises(MetricsError, match="cannot decrease"):
        counter.inc("error", -1)
    family = parse(render((counter, "counter")))["t_total"]
    assert family.value(status="ready") == 3 and family.value(status="error") == 0


def test_record_scan_validates_before_counting_anything():
    before = parse(metrics.exposition())
    with pytest.raises(MetricsError):
        metrics.record_scan("exploded", 1.0)
    with pytest.raises(MetricsError):
        metrics.record_scan("ready", -3.0)
    with pytest.raises(MetricsError):
        metrics.add_bytes_pulled(-5)
    after = parse(metrics.exposition())
    assert after["crscan_scan_duration_seconds"].samples == before["crscan_scan_duration_seconds"].samples
    assert after["crscan_scans_total"].samples == before["crscan_scans_total"].samples
    assert after["crscan_bytes_pulled_total"].value() == before["crscan_bytes_pulled_total"].value()


def test_help_text_and_gauges_are_escaped_and_typed():
    text = metrics.exposition([Gauge("t_gauge", "a \\ backslash\nand newline", 2.5),
                               Gauge("t_inf", "infinite", math.inf)])
    families = parse(text)
    assert families["t_gauge"].type == "gauge" and families["t_gauge"].value() == 2.5
    assert families["t_gauge"].help == "a \\\\ backslash\\nand newline"
    assert families["t_inf"].value() == math.inf
    assert all(name.startswith(("crscan_", "t_")) for name in families)
