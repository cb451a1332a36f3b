from __future__ import annotations

import io
import json

import pytest

from crscan.report import FORMATS, ReportError, get_format, render
from tests.report import facts


@pytest.mark.parametrize("fmt, first_line", [
    ("table", "Image: registry.example.com/shop/web:1.4"),
    ("json", "{"),
    ("sarif", "{"),
    ("cyclonedx", "{"),
])
def test_each_format_writes_to_the_given_stream(fmt, first_line):
    stream = io.StringIO()
    render(facts.bookworm_report(), fmt, stream, color=False)
    text = stream.getvalue()
    assert text.splitlines()[0] == first_line and text.endswith("\n")
    assert not stream.closed


@pytest.mark.parametrize("fmt, key", [("json", "findings"), ("sarif", "runs"), ("cyclonedx", "vulnerabilities")])
def test_machine_formats_ignore_colour_and_are_ascii_json(fmt, key):
    coloured, plain = io.StringIO(), io.StringIO()
    render(facts.bookworm_report(), fmt, coloured, color=True)
    render(facts.bookworm_report(), fmt, plain, color=False)
    assert "\x1b" not in coloured.getvalue()
    assert key in json.loads(coloured.getvalue())
    assert coloured.getvalue().isascii()
    if fmt != "cyclonedx":  # the SBOM has a fresh serial number and timestamp each time
        assert coloured.getvalue() == plain.getvalue()


@pytest.mark.parametrize("fmt", ["xml", "TABLE", "", "template"])
def test_unknown_format_is_named(fmt):
    with pytest.raises(ReportError, match=f"unknown format {fmt!r}; expected one of table, json, sarif, cyclonedx"):
        render(facts.bookworm_report(), fmt, io.StringIO(), color=False)


def test_formats_list_matches_the_dispatcher():
    assert [get_format(name).name for name in FORMATS] == list(FORMATS)
