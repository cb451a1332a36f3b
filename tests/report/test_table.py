from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import re
import select
import struct
import termios

import pytest
from hypothesis import given, settings
from rich.cells import cell_len
from rich.console import Console

from crscan.model import Ecosystem, EpssScore, KevFlag, Package, ScanReport, Severity
from crscan.report import render, render_table
from crscan.report.table import AGGREGATED_TYPES, column_widths
from tests.report import facts
from tests.report.strategies import reports

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rendered(report: ScanReport, **console_options) -> str:
    stream = io.StringIO()
    render_table(report, Console(file=stream, **console_options))
    return stream.getvalue()


def section(text: str, title: str, next_title: str | None) -> str:
    start = text.index(title)
    return text[start:text.index(next_title, start)] if next_title else text[start:]


@pytest.mark.parametrize("options", [{"force_terminal": True, "width": 160}, {"width": 160}])
def test_table_groups_os_then_languages_with_their_rows(options):
    text = ANSI.sub("", rendered(facts.bookworm_report(), **options))
    titles = ["debian 12 (bookworm)", "Python", "Node.js"]
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    for header in ("Library", "Vulnerability", "Severity", "Installed", "Fixed", "Link"):
        assert header in text
    debian = section(text, "debian 12 (bookworm)", "Python")
    assert "Total: 4 (CRITICAL: 0, HIGH: 0, MEDIUM: 2, LOW: 1, NEGLIGIBLE: 1, UNDEFINED: 0)" in debian
    assert re.search(
        r"openssl\s+│ CVE-2023-5678\s+│ MEDIUM\s+│ 3\.0\.11-1~deb12u2\s+│ 3\.0\.13-1~deb12u1\s+│ "
        r"https://security-tracker\.debian\.org/tracker/CVE-2023-5678", debian)
    # No fix: the Fixed column says why, as Trivy's Status column does (no vendor word here: "affected").
    assert re.search(r"libc6\s+│ CVE-2010-4756\s+│ NEGLIGIBLE\s+│ 2\.36-9\+deb12u4\s+│ affected\s+│", debian)
    python = section(text, "Python", "Node.js")
    assert "Total: 2 (CRITICAL: 1, HIGH: 0, MEDIUM: 1, LOW: 0, NEGLIGIBLE: 0, UNDEFINED: 0)" in python
    assert re.search(r"django\s+│ CVE-2021-33203\s+│ MEDIUM\s+│ 3\.2\s+│ 3\.2\.4\s+│", python)
    assert "lodash" not in python
    node = section(text, "Node.js", None)
    assert re.search(r"lodash\s+│ CVE-2018-16487\s+│ HIGH\s+│ 4\.17\.4\s+│ 4\.17\.11\s+│", node)
    assert "WARNING: /usr/local/lib/python3.11/site-packages/broken.dist-info/METADATA: no Version header" in text


def test_terminal_gets_severity_colours_and_plain_output_none():
    coloured = rendered(facts.bookworm_report(), force_terminal=True, width=160)
    assert "\x1b[1;31mCRITICAL" in coloured and "\x1b[31mHIGH" in coloured and "\x1b[33mMEDIUM" in coloured
    assert "\x1b[" not in rendered(facts.bookworm_report(), width=160)


def test_render_colour_flag_controls_ansi():
    coloured, plain = io.StringIO(), io.StringIO()
    render(facts.bookworm_report(), "table", coloured, color=True)
    render(facts.bookworm_report(), "table", plain, color=False)
    assert "\x1b[" in coloured.getvalue() and "\x1b[" not in plain.getvalue()
    # Same rows either way (the coloured one is 80 columns wide, so only the row-leading ids are compared).
    row = "│ CVE-2023-5678"
    assert ANSI.sub("", coloured.getvalue()).count(row) == plain.getvalue().count(row) == 2


def test_plain_output_to_a_terminal_fits_the_terminal_and_to_a_file_is_wide(tmp_path):
    controller, terminal = os.openpty()
    try:
        with open(terminal, "w", encoding="utf-8", closefd=False) as tty_stream:
            fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 72, 0, 0))
            render(facts.bookworm_report(), "table", tty_stream, color=False)
        chunks = []  # a pty hands the output over in pieces (of 4095 bytes here)
        while select.select([controller], [], [], 0.5)[0]:
            chunks.append(os.read(controller, 1 << 20))
        output = b"".join(chunks).decode("utf-8")
    finally:
        os.close(controller)
        os.close(terminal)
    assert "CVE-2023-5678" in output and "\x1b[" not in output
    assert max(cell_len(line) for line in output.splitlines()) == 72
    with open(tmp_path / "report.txt", "w", encoding="utf-8") as file_stream:
        render(facts.bookworm_report(), "table", file_stream, color=False)
    assert max(cell_len(line) for line in (tmp_path / "report.txt").read_text("utf-8").splitlines()) > 72


def test_ecosystem_with_packages_and_no_findings_still_shows_with_zero_total():
    report = facts.bookworm_report(findings=(facts.DJANGO_ADMINDOCS,))
    text = rendered(report, width=160)
    assert "Total: 0 (CRITICAL: 0" in section(text, "debian 12 (bookworm)", "Python")
    assert "Total: 0 (CRITICAL: 0" in section(text, "Node.js", None)
    assert "CVE-2021-33203" in section(text, "Python", "Node.js")


def test_without_distro_the_os_group_is_named_by_its_package_manager():
    report = ScanReport(image="oci:/tmp/img", digest="", distro=None, packages=(), findings=(facts.OPENSSL_CVE,))
    assert "dpkg" in rendered(report, width=120)


def test_empty_report_says_so():
    text = rendered(ScanReport(image="oci:/tmp/scratch", digest="", distro=None, packages=(), findings=()), width=80)
    assert "Image: oci:/tmp/scratch" in text and "No packages found." in text


@pytest.mark.parametrize("width", [40, 80, 120])
def test_narrow_console_folds_and_never_truncates(width):
    text = rendered(facts.bookworm_report(), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    # Every row is still there, however its cells folded (the severity cell never folds).
    assert len(re.findall(r"│ (?:CRITICAL|HIGH|MEDIUM|LOW|NEGLIGIBLE|UNDEFINED) *│", text)) == len(facts.FINDINGS)


def column_text(text: str, column: int) -> str:
    """One column's folded pieces joined back together, read from the box-drawn rows."""
    rows = [line for line in text.splitlines() if line.startswith("│ ")]
    return "".join(line.split(" │ ")[column].strip(" │") for line in rows[1:])  # rows[0] is the header


def test_folded_cells_join_back_to_the_whole_text():
    link = "https://example.com/" + "日本語-advisory/" * 15 + "end"
    finding = dataclasses.replace(facts.LODASH_PROTO, link=link, version="4.17.4+build." + "x" * 60)
    text = rendered(facts.bookworm_report((finding,)), width=80)
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert column_text(text, 5) == link
    assert column_text(text, 3) == finding.version
    assert column_text(text, 1) == "CVE-2018-16487"


@pytest.mark.parametrize("width", [160, 100, 80, 60])
def test_column_widths_fit_the_console(width):
    rows = [(f.package, f.name, f.severity.name, f.version, f.fixed_by, f.link) for f in facts.FINDINGS]
    widths = column_widths(rows, width)
    assert sum(widths) + 3 * len(widths) + 1 <= width
    assert widths[2] == len("NEGLIGIBLE")
    natural = column_widths(rows, 1000)
    assert all(0 < w <= n for w, n in zip(widths, natural, strict=True))
    if width >= 80:
        assert widths[1] == natural[1]  # the id narrows last


def test_ids_stay_whole_at_80_columns():
    text = rendered(facts.bookworm_report(), width=80)
    for finding in facts.FINDINGS:
        assert finding.name in text and finding.severity.name in text


def test_text_from_the_image_is_never_read_as_markup():
    hostile = dataclasses.replace(facts.DJANGO_ADMINDOCS, package="[/]evil[bold red]", version="[link=x]1[/link]")
    report = dataclasses.replace(facts.bookworm_report((hostile,)), feed_build_id="[/]", warnings=("[red]w[/]",))
    text = rendered(report, width=160)
    for literal in ("[/]evil[bold red]", "[link=x]1[/link]", "Feed build: [/]", "WARNING: [red]w[/]"):
        assert literal in text


def test_control_characters_cannot_drive_the_terminal():
    hostile = dataclasses.replace(facts.DJANGO_ADMINDOCS, package="evil\x1b[2J\x9b31m", version="1\udcff")
    text = rendered(facts.bookworm_report((hostile,)), width=160)
    assert "evil\\x1b[2J\\x9b31m" in text and "1\ufffd" in text
    assert "\x1b" not in text and "\x9b" not in text


OS_SOURCES = {"dpkg", "apk", "rpm"}


@settings(max_examples=50, deadline=None)
@given(report=reports)
def test_any_report_renders_every_group_on_terminal_and_plain(report):
    sources = {f.source for f in report.findings} | {p.ecosystem.value for p in report.packages}
    # One target per language ecosystem for per-package files (python-pkg, node-pkg, …), one per file otherwise.
    files = {(f.source, f.path) for f in report.findings} | {(p.ecosystem.value, p.path) for p in report.packages}
    languages = {(source, "" if Package(Ecosystem(source), "", "", path=path).package_type in AGGREGATED_TYPES
                  else path) for source, path in files if source not in OS_SOURCES}
    has_os = report.distro is not None or bool(sources & OS_SOURCES)
    empty_os = has_os and not sources & OS_SOURCES  # titled, with the line saying no OS package was read
    for options in ({"force_terminal": True, "width": 100}, {"width": 60}):
        text = ANSI.sub("", rendered(report, **options))
        assert text.count("\nTotal: ") == len(languages) + (has_os and not empty_os)
        assert text.count("No OS packages found") == empty_os
        assert "\x1b" not in text  # only the console's own colour codes, stripped above
        assert all(cell_len(line) <= options["width"] for line in text.splitlines())
        text.encode("utf-8")  # writable to any UTF-8 stream: no lone surrogates


def test_wide_table_adds_the_rating_source_cvss_epss_published_cwe_and_title():
    # Python and Node.js packages come one file each: their targets have the Path column after Library.
    rated = dataclasses.replace(facts.LODASH_UNRATED, severity=Severity.MEDIUM, severity_source="nvd",
                                cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", cvss_score=5.9,
                                kev=KevFlag("2024-01-10", "2024-01-31"), epss=EpssScore(0.94321, 0.9987, "2025-08-25"))
    report = facts.bookworm_report((rated, facts.DJANGO_ADMINDOCS))
    wide = io.StringIO()
    render_table(report, Console(file=wide, width=400), wide=True)
    narrow = io.StringIO()
    render(report, "table", narrow, color=False)  # a file: 160 columns, the usual six
    header = next(line for line in wide.getvalue().splitlines() if "Library" in line)
    assert [cell.strip() for cell in header.strip("│").split("│")] == [
        "Library", "Path", "Vulnerability", "Severity", "Rated by", "CVSS", "EPSS", "Installed", "Fixed",
        "Published", "CWE", "Title", "Link"]
    django = next(line for line in wide.getvalue().splitlines() if "CVE-2021-33203" in line)
    cells = [cell.strip() for cell in django.strip("│").split("│")]
    assert cells[:11] == ["django", facts.DJANGO_ADMINDOCS.path, "CVE-2021-33203", "MEDIUM", "ghsa", "", "", "3.2",
                          "3.2.4", "2021-06-08", "CWE-22"]
    assert cells[11] == "Django before 2.2.24, 3.x before 3.1.12, and 3.2.x before 3…"  # cut at 60 cells
    lodash = next(line for line in wide.getvalue().splitlines() if rated.name in line)
    assert [cell.strip() for cell in lodash.strip("│").split("│")][2:7] == [
        f"{rated.name} [KEV]", "MEDIUM", "nvd", "5.9", "0.943 p99"]
    assert "Rated by" not in narrow.getvalue() and "CVE-2021-33203" in narrow.getvalue()
    assert "│ Path" not in narrow.getvalue()
    assert f"{rated.name} [KEV]" in narrow.getvalue() and "0.943" not in narrow.getvalue()
    through_the_format = io.StringIO()
    render(report, "table", through_the_format, color=False, wide=True)  # what `crscan scan --wide` calls
    assert "Rated by" in through_the_format.getvalue()
