"""Every fuzz target returns or raises its parser's documented base error, in bounded time.

The budget per target comes from CRSCAN_FUZZ_EXAMPLES (default 300, which keeps all targets together well
under the 5-minute CI bound); `bench/fuzz_long.py` runs the same targets with a far larger one.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import TARGETS, Target

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # the zip strategy repeats names
EXAMPLES = int(os.environ.get("CRSCAN_FUZZ_EXAMPLES", "300"))
# One parse of these small inputs takes milliseconds; seconds would mean a pathological (super-linear) path.
MAX_SECONDS_PER_INPUT = 5.0


def call(target: Target, value: object) -> None:
    started = time.perf_counter()
    try:
        target.run(value)
    except target.documented_error as exc:
        assert str(exc), f"{target.name}: {type(exc).__name__} without a message"
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS_PER_INPUT, f"{target.name} took {elapsed:.1f}s on one input"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_returns_or_raises_its_documented_error(name):
    target = TARGETS[name]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(target.strategy)
    def fuzz(value):
        call(target, value)

    fuzz()
