"""Resource IDs: Yandex's shape on output, strict but tolerant validation on input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan import ids


@pytest.mark.parametrize(
    "prefix", [ids.REGISTRY, ids.IMAGE, ids.REPOSITORY, ids.SCAN_RESULT, ids.OPERATION, ids.SCAN_POLICY]
)
def test_new_ids_are_prefix_plus_17_base32_characters(prefix):
    value = ids.new_id(prefix)
    assert re.fullmatch(prefix + r"[0-9a-v]{17}", value) and len(value) == 20
    assert ids.check_id(value, "x") == value


def test_new_ids_do_not_repeat():
    values = {ids.new_id("che") for _ in range(20_000)}
    assert len(values) == 20_000
    assert set("".join(v[3:] for v in values)) == set(ids.ALPHABET)


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "image_id is required"),
        ("a" * 51, "image_id is too long: 51 characters, at most 50"),
        ("CRP123", "image_id is malformed"),
        ("crp-123", "image_id is malformed"),
        ("crp 123", "image_id is malformed"),
        ("crp\x00", "image_id is malformed"),
        ("crpé", "image_id is malformed"),
    ],
)
def test_check_id_names_the_field_and_the_problem(value, message):
    with pytest.raises(ids.InvalidId, match=re.escape(message)) as caught:
        ids.check_id(value, "image_id")
    assert caught.value.field == "image_id"


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_check_id_accepts_exactly_short_lowercase_alphanumerics(value):
    valid = 0 < len(value) <= 50 and re.fullmatch(r"[a-z0-9]+", value, flags=re.ASCII) is not None
    if valid:
        assert ids.check_id(value, "f") == value
    else:
        with pytest.raises(ids.InvalidId):
            ids.check_id(value, "f")
