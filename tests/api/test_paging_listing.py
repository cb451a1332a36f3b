"""The listing plumbing on its own: filter/orderBy parsers and page tokens, including hostile input."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.api.errors import ApiError
from crscan.api.listing import OrderBy, PageTokens, page_size, parse_filter, parse_order_by

STATUS = {"RUNNING": 1, "READY": 2, "ERROR": 3}


def status(value: str) -> int:
    if value not in STATUS:
        raise ValueError("not a status")
    return STATUS[value]


FIELDS = {"status": status, "name": str}


def rejected(call) -> str:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value.message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ('status="READY"', {"status": 2}),
        ('  status   =   "ERROR"  ', {"status": 3}),
        ('status="READY" AND name="CVE-2024-1"', {"status": 2, "name": "CVE-2024-1"}),
        ('name="with \\"quote\\""', {"name": 'with "quote"'}),
        ('name="a=b AND c"', {"name": "a=b AND c"}),
    ],
)
def test_filters_that_parse(text, expected):
    assert parse_filter(text, FIELDS) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('status="READY"' + " " * 1000, "filter is too long"),
        ('name="a\x00b"', "contains control characters"),
        ('name="a\nb"', "contains control characters"),
        ("status='READY'", "must be in double quotes"),
        ('status="READY" status="ERROR"', "expected AND"),
        ('(status="READY")', "expected a field name"),
        ('status in ("READY")', "unsupported operator"),
        ("=", "expected a field name"),
    ],
)
def test_filters_that_are_rejected(text, fragment):
    assert fragment in rejected(lambda: parse_filter(text, FIELDS))


def test_order_by_spellings_and_defaults():
    fields = {"scannedAt": "scanned_at", "scanned_at": "scanned_at", "vulnerabilities": "vulnerabilities"}
    default = OrderBy("scanned_at", True)
    fixed = {"vulnerabilities": True}
    assert parse_order_by("", fields, default, fixed) == default
    assert parse_order_by("  scannedAt  ", fields, default, fixed) == OrderBy("scanned_at", False)
    assert parse_order_by("scanned_at DESC", fields, default, fixed) == OrderBy("scanned_at", True)
    assert parse_order_by("vulnerabilities", fields, default, fixed) == OrderBy("vulnerabilities", True)
    assert "order_by is too long" in rejected(lambda: parse_order_by("x" * 101, fields, default))


@pytest.mark.parametrize("value, expected", [(0, 100), (1, 1), (1000, 1000)])
def test_page_size(value, expected):
    assert page_size(value) == expected


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_filter_text_parses_or_is_invalid_argument(text):
    try:
        parse_filter(text, FIELDS)
    except ApiError as exc:
        assert exc.code == grpc.StatusCode.INVALID_ARGUMENT and exc.message.startswith("filter")


@settings(max_examples=200)
@given(st.text(max_size=120))
def test_any_order_by_text_parses_or_is_invalid_argument(text):
    try:
        parse_order_by(text, {"name": "name"}, OrderBy("name", False))
    except ApiError as exc:
        assert exc.code == grpc.StatusCode.INVALID_ARGUMENT and exc.message.startswith("order_by")


values = st.tuples(
    st.integers(-(2**63), 2**63), st.integers(0, 10**6), st.text(alphabet="0123456789abcdefghijklmnopqrstuv", max_size=20)
)


@settings(max_examples=200)
@given(values)
def test_tokens_round_trip_within_100_characters(value):
    tokens = PageTokens(b"k" * 32)
    token = tokens.issue("scans|image", value)
    assert len(token) <= 100 and token.isascii()
    assert tokens.read(token, "scans|image") == value


@settings(max_examples=200)
@given(values, st.data())
def test_any_change_to_a_token_is_detected(value, data):
    tokens = PageTokens(b"k" * 32)
    token = tokens.issue("ctx", value)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    changed = token[:position] + replacement + token[position + 1:]
    if changed == token:
        return
    try:
        read = tokens.read(changed, "ctx")
    except ApiError as exc:
        assert exc.code == grpc.StatusCode.INVALID_ARGUMENT
    else:
        # base64 without padding: changing only the unused low bits of the last character decodes identically
        assert read == value and position == len(token) - 1


@settings(max_examples=200)
@given(st.text(max_size=120))
def test_arbitrary_tokens_are_invalid_argument(text):
    tokens = PageTokens(b"k" * 32)
    if not text:
        assert tokens.read(text, "ctx") is None
        return
    assert "page_token" in rejected(lambda: tokens.read(text, "ctx"))


def test_other_keys_and_contexts_reject_the_token():
    token = PageTokens(b"a" * 32).issue("ctx", (1, "che1"))
    assert "not valid for this request" in rejected(lambda: PageTokens(b"b" * 32).read(token, "ctx"))
    assert "not valid for this request" in rejected(lambda: PageTokens(b"a" * 32).read(token, "ctx2"))
