"""The human-readable report: one table per target, OS packages first, then each language ecosystem."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TextIO

from rich.cells import cell_len, chop_cells
from rich.console import Console
from rich.text import Text

from crscan.model import Distro, Ecosystem, Finding, ScanReport, Severity

from .interface import ReportFormat
from .risk import sort_key
from .severity import severity_counts

SEVERITY_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "blue",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNDEFINED: "dim",
}

LANGUAGE_TITLES = {
    Ecosystem.PYPI.value: "Python",
    Ecosystem.NPM.value: "Node.js",
    Ecosystem.GO.value: "Go",
    Ecosystem.CARGO.value: "Rust",
    Ecosystem.MAVEN.value: "Java",
    Ecosystem.GEM.value: "Ruby",
    Ecosystem.COMPOSER.value: "PHP",
    Ecosystem.NUGET.value: ".NET",
}
_OS_SOURCES = frozenset(e.value for e in Ecosystem if e.is_os)
_ECOSYSTEM_ORDER = {e.value: i for i, e in enumerate(Ecosystem)}
HEADERS = ("Library", "Vulnerability", "Severity", "Installed", "Fixed", "Link")
# Wide mode (`crscan scan --wide`): the advisory detail too, as Trivy's table shows a title.
WIDE_HEADERS = ("Library", "Vulnerability", "Severity", "Rated by", "CVSS", "EPSS", "Installed", "Fixed", "Published",
                "CWE", "Title", "Link")
_ID_COLUMN, _SEVERITY_COLUMN = 1, 2
_NARROW_FIRST = (0, 3, 4, 5)  # Library, Installed, Fixed, Link
_WIDE_NARROW_FIRST = (0, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_TITLE_CELLS = 60  # a description's first sentence, cut here: the link has the rest
_NARROW_FLOOR = 6
# Files and CI logs have no terminal width to fit; rich's default 80 columns would fold every link.
PLAIN_WIDTH = 160
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass
class Target:
    """One group of the table: the OS packages, or one language ecosystem's packages."""

    title: str
    findings: list[Finding] = field(default_factory=list)


def printable(text: str) -> str:
    """Image-supplied text made safe for a terminal: control characters (ESC would let a package name drive the
    terminal) shown as escapes, lone surrogates (undecodable file names) as U+FFFD."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _SURROGATE.sub("\ufffd", text))


def os_title(distro: Distro | None, fallback: str) -> str:
    """"debian 12 (bookworm)", as Trivy titles the OS target."""
    if distro is None:
        return fallback
    title = f"{distro.id} {distro.version_id}".strip()
    return f"{title} ({distro.codename})" if distro.codename else title


def group_targets(report: ScanReport) -> list[Target]:
    """Targets in display order; an ecosystem with packages but no findings still gets its (empty) target."""
    sources = {p.ecosystem.value for p in report.packages} | {f.source for f in report.findings}
    os_sources = sources & _OS_SOURCES
    targets: list[Target] = []
    by_source: dict[str, Target] = {}
    if os_sources or report.distro is not None:
        os_target = Target(os_title(report.distro, fallback=", ".join(sorted(os_sources)) or "os"))
        targets.append(os_target)
        by_source.update(dict.fromkeys(os_sources, os_target))
    for source in sorted(sources - _OS_SOURCES, key=lambda s: (_ECOSYSTEM_ORDER.get(s, len(_ECOSYSTEM_ORDER)), s)):
        by_source[source] = Target(LANGUAGE_TITLES.get(source, source))
        targets.append(by_source[source])
    for finding in report.findings:
        by_source[finding.source].findings.append(finding)
    return targets


def summary_line(findings: Iterable[Finding]) -> str:
    counts = severity_counts(findings)
    parts = ", ".join(f"{s.name}: {n}" for s, n in counts.items())
    return f"Total: {sum(counts.values())} ({parts})"


def render_table(report: ScanReport, console: Console, *, wide: bool = False, sort: str = "package") -> None:
    console.print(Text(f"Image: {printable(report.image)}", style="bold"))
    if report.digest:
        console.print(Text(f"Digest: {printable(report.digest)}"))
    if report.feed_build_id:
        console.print(Text(f"Feed build: {printable(report.feed_build_id)}"))
    # Above the table: a warning may mean its "0" is not a clean bill of health.
    for warning in report.warnings:
        console.print(Text(f"WARNING: {printable(warning)}", style="yellow"))
    targets = group_targets(report)
    if not targets:
        console.print("No packages found.")
    for target in targets:
        console.print()
        console.rule(Text(printable(target.title), style="bold"), align="left")
        console.print(Text(summary_line(target.findings)))
        if target.findings:
            _write_findings_table(target.findings, console, wide=wide, sort=sort)


def column_widths(rows: Sequence[tuple[str, ...]], width: int, headers: Sequence[str] = HEADERS,
                  narrow_first: tuple[int, ...] = _NARROW_FIRST) -> list[int]:
    """Each column's natural width, narrowed to fit `width` by trimming the widest columns first.

    The id narrows only once the other columns are down to a few cells (it is what people copy and search for);
    Severity never does (one word, at most 10 cells). A console too narrow for that gets overlong lines,
    never lost text.
    """
    widths = [max([cell_len(header)] + [cell_len(row[i]) for row in rows]) for i, header in enumerate(headers)]
    excess = sum(widths) + 3 * len(widths) + 1 - width  # "│ " + " │ ".join(cells) + " │"
    for columns, floor in ((narrow_first, _NARROW_FLOOR), (narrow_first + (_ID_COLUMN,), 1)):
        while excess > 0:
            widest = max(columns, key=lambda i: widths[i])
            if widths[widest] <= floor:
                break
            # Bring the widest down to the next-widest (or the floor, or just enough) in one step.
            runner_up = max([widths[i] for i in columns if i != widest] + [floor])
            step = min(excess, max(widths[widest] - runner_up, 1))
            widths[widest] -= step
            excess -= step
    return widths


def title(finding: Finding) -> str:
    """The description's first sentence (at most _TITLE_CELLS cells); "" without detail."""
    text = finding.detail.description if finding.detail else ""
    first = re.split(r"(?<=\.)\s", " ".join(text.split()), maxsplit=1)[0]
    return first if cell_len(first) <= _TITLE_CELLS else chop_cells(first, _TITLE_CELLS - 1)[0] + "…"


def vulnerability_cell(f: Finding) -> str:
    """The id, marked when CISA lists it as exploited in the wild."""
    return printable(f.name) + (" [KEV]" if f.kev is not None else "")


def epss_cell(f: Finding) -> str:
    """EPSS score and percentile ("0.943 p99"); "" when the CVE has none."""
    return f"{f.epss.score:.3f} p{int(f.epss.percentile * 100)}" if f.epss is not None else ""


def _wide_row(f: Finding) -> tuple[str, ...]:
    detail = f.detail
    return (printable(f.package), vulnerability_cell(f), f.severity.name, printable(f.severity_source),
            f"{f.cvss_score:.1f}" if f.cvss_score is not None else "", epss_cell(f), printable(f.version),
            printable(f.fixed_by),
            printable(detail.published[:10]) if detail else "", printable(", ".join(detail.cwes)) if detail else "",
            printable(title(f)), printable(f.link))


def _write_findings_table(findings: list[Finding], console: Console, *, wide: bool = False,
                          sort: str = "package") -> None:
    """Box-drawn table written straight to the console's file.

    rich's Table costs about a millisecond a row (a minute for a 20,000-finding image, bench/report_render.py);
    laying the cells out here and asking rich only for the styled words keeps the look at a fraction of that.
    """
    ordered = sorted(findings, key=sort_key(sort))
    headers = WIDE_HEADERS if wide else HEADERS
    if wide:
        rows = [_wide_row(f) for f in ordered]
    else:
        rows = [(printable(f.package), vulnerability_cell(f), f.severity.name, printable(f.version),
                 printable(f.fixed_by), printable(f.link)) for f in ordered]
    widths = column_widths(rows, console.width, headers, _WIDE_NARROW_FIRST if wide else _NARROW_FIRST)
    severity_cells = {s: _styled(console, s.name, SEVERITY_STYLES[s]) for s in Severity}

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (w + 2) for w in widths) + right

    lines = [rule("┌", "┬", "┐")]
    header_cells = [
        [_styled(console, line, "bold") for line in _folded(h, w)] for h, w in zip(headers, widths, strict=True)
    ]
    for n in range(max(map(len, header_cells))):
        lines.append(_row_line(_nth_lines(header_cells, widths, n)))
    lines.append(rule("├", "┼", "┤"))
    for finding, row in zip(ordered, rows, strict=True):
        cells = [_folded(text, w) for text, w in zip(row, widths, strict=True)]
        cells[_SEVERITY_COLUMN] = [severity_cells[finding.severity] + " " * (widths[_SEVERITY_COLUMN] - len(row[2]))]
        for n in range(max(map(len, cells))):
            lines.append(_row_line(_nth_lines(cells, widths, n)))
    lines.append(rule("└", "┴", "┘"))
    console.file.write("\n".join(lines) + "\n")


def _folded(text: str, width: int) -> list[str]:
    """The cell's lines, each padded to `width` cells; folded (never cut) when longer."""
    parts = [text] if cell_len(text) <= width else chop_cells(text, width)
    return [part + " " * (width - cell_len(part)) for part in parts]


def _nth_lines(cells: list[list[str]], widths: list[int], n: int) -> list[str]:
    """Line `n` of each folded cell; blank where a cell has fewer lines."""
    return [cell[n] if n < len(cell) else " " * w for cell, w in zip(cells, widths, strict=True)]


def _row_line(cells: list[str]) -> str:
    return "│ " + " │ ".join(cells) + " │"


def _styled(console: Console, text: str, style: str) -> str:
    """`text` as this console writes it in `style`: ANSI codes on a colour terminal, the bare text otherwise."""
    with console.capture() as capture:
        console.print(Text(text, style=style), end="", soft_wrap=True)
    return capture.get()


class TableFormat(ReportFormat):
    name: ClassVar[str] = "table"

    def __init__(self, *, color: bool, wide: bool = False, sort: str = "package"):
        self.color = color
        self.wide = wide
        self.sort = sort

    def write(self, report: ScanReport, stream: TextIO) -> None:
        console = Console(file=stream, force_terminal=self.color, no_color=not self.color, highlight=False,
                          width=_stream_width(stream, self.color))
        render_table(report, console, wide=self.wide, sort=self.sort)


def _stream_width(stream: TextIO, color: bool) -> int | None:
    """The width of the terminal `stream` writes to; None (rich's default) when colour is forced onto a pipe;
    PLAIN_WIDTH for a file or pipe. rich itself would measure the process's stdout, not `stream`."""
    if stream.isatty():
        try:
            return os.get_terminal_size(stream.fileno()).columns or None
        except OSError:
            return None
    return None if color else PLAIN_WIDTH
