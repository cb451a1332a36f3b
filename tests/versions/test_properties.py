"""Order laws every scheme must keep on valid versions: a consistent total order, hashing that agrees
with equality, and `str()` that parses back to an equal version."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from crscan import versions
from tests.versions.strategies import BY_SCHEME

SCHEMES = sorted(BY_SCHEME)
assert set(SCHEMES) == set(versions.SCHEMES), "every scheme needs a strategy"

_bounded = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_total_order_laws(scheme):
    """Reflexive, antisymmetric and transitive on random triples; equal versions hash alike; the
    operators agree with compare()."""

    @_bounded
    @given(BY_SCHEME[scheme], BY_SCHEME[scheme], BY_SCHEME[scheme])
    def check(a, b, c):
        assert versions.compare(scheme, a, a) == 0
        ab, bc, ac = versions.compare(scheme, a, b), versions.compare(scheme, b, c), versions.compare(scheme, a, c)
        assert ab in (-1, 0, 1)
        assert versions.compare(scheme, b, a) == -ab
        if ab <= 0 and bc <= 0:
            assert ac == (0 if ab == bc == 0 else -1)
        if ab >= 0 and bc >= 0:
            assert ac == (0 if ab == bc == 0 else 1)
        va, vb = versions.parse(scheme, a), versions.parse(scheme, b)
        assert (va < vb, va == vb, va > vb) == (ab < 0, ab == 0, ab > 0)
        assert (va <= vb, va >= vb) == (ab <= 0, ab >= 0)
        if va == vb:
            assert hash(va) == hash(vb)

    check()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_str_round_trips(scheme):
    @_bounded
    @given(BY_SCHEME[scheme])
    def check(text):
        parsed = versions.parse(scheme, text)
        again = versions.parse(scheme, str(parsed))
        assert again == parsed
        assert str(again) == str(parsed)

    check()
