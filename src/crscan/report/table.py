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

from crscan.model import Distro, Ecosystem, Finding, Package, ScanReport, Severity

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
# Package types found one file per package (Trivy's aggregating types): one target per ecosystem, with a Path
# column in wide mode. Every other type (a lockfile, a binary, a deps.json) is read from one file that lists many
# packages, and that file is its own target, as Trivy shows it.
AGGREGATED_TYPES = frozenset({"python-pkg", "conda-pkg", "node-pkg", "gemspec", "jar"})
HEADERS = ("Library", "Vulnerability", "Severity", "Installed", "Fixed", "Link")
# Wide mode (`crscan scan --wide`): the advisory detail too, as Trivy's table shows a title.
WIDE_HEADERS = ("Library", "Vulnerability", "Severity", "Rated by", "CVSS", "EPSS", "Installed", "Fixed", "Published",
                "CWE", "Title", "Link")
PATH_HEADER = "Path"  # wide mode, targets of per-package files: where each copy was found
_ID_COLUMN = 1
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
    """One group of the table: the OS packages, one language ecosystem's per-package files (`python-pkg`…), or one
    lockfile or binary."""

    title: str
    findings: list[Finding] = field(default_factory=list)
    is_os: bool = False
    packages: int = 0
    aggregated: bool = False  # packages from many files: each finding's path is shown (wide: a column)


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


_TargetKey = tuple[int, str, str, str]  # (ecosystem order, ecosystem, package type, file path or "")


def _language_key(source: str, path: str) -> _TargetKey:
    """The target of a language package or finding, from its ecosystem and file (a finding's own `type` may be
    one stored under older type names, so the type is derived here as `Package.package_type` derives it)."""
    order = _ECOSYSTEM_ORDER.get(source, len(_ECOSYSTEM_ORDER))
    try:
        package_type = Package(Ecosystem(source), "", "", path=path).package_type
    except ValueError:  # an ecosystem this crscan does not know: one target for it
        return order, source, "", ""
    return order, source, package_type, "" if package_type in AGGREGATED_TYPES or not path else path


def _language_title(key: _TargetKey) -> str:
    """"Python (python-pkg)" for an ecosystem's per-package files, "app/Cargo.lock (cargo)" for one file."""
    _, source, package_type, path = key
    what = path.lstrip("/") if path else LANGUAGE_TITLES.get(source, source)
    return f"{what} ({package_type})" if package_type else what


def group_targets(report: ScanReport) -> list[Target]:
    """Targets in display order: the OS, then each language target (by ecosystem, then file); a target with
    packages but no findings still shows (with its zero), and so does the OS of an image with no OS package."""
    sources = {p.ecosystem.value for p in report.packages} | {f.source for f in report.findings}
    os_sources = sources & _OS_SOURCES
    targets: list[Target] = []
    os_target = None
    if os_sources or report.distro is not None:
        os_target = Target(os_title(report.distro, fallback=", ".join(sorted(os_sources)) or "os"), is_os=True)
        targets.append(os_target)
    languages: dict[_TargetKey, Target] = {}

    def language(key: _TargetKey) -> Target:
        if key not in languages:
            languages[key] = Target(_language_title(key), aggregated=not key[3])
        return languages[key]

    for package in report.packages:
        if package.ecosystem.value in _OS_SOURCES:
            assert os_target is not None
            os_target.packages += 1
        else:
            language(_language_key(package.ecosystem.value, package.path)).packages += 1
    for finding in report.findings:
        if finding.source in _OS_SOURCES:
            assert os_target is not None
            os_target.findings.append(finding)
        else:
            language(_language_key(finding.source, finding.path)).findings.append(finding)
    return targets + [languages[key] for key in sorted(languages)]


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
        if target.is_os and not target.packages and not target.findings:
            # Never an empty OS section that reads as clean: the warnings above say why.
            console.print(Text("No OS packages found: no package database was read, so the OS was not checked.",
                               style="yellow"))
            continue
        console.print(Text(summary_line(target.findings)))
        if target.findings:
            _write_findings_table(target.findings, console, wide=wide, sort=sort, paths=target.aggregated)


def column_widths(rows: Sequence[tuple[str, ...]], width: int, headers: Sequence[str] = HEADERS,
                  narrow_first: tuple[int, ...] = _NARROW_FIRST, id_column: int = _ID_COLUMN) -> list[int]:
    """Each column's natural width, narrowed to fit `width` by trimming the widest columns first.

    The id narrows only once the other columns are down to a few cells (it is what people copy and search for);
    Severity never does (one word, at most 10 cells). A console too narrow for that gets overlong lines,
    never lost text.
    """
    widths = [max([cell_len(header)] + [cell_len(row[i]) for row in rows]) for i, header in enumerate(headers)]
    excess = sum(widths) + 3 * len(widths) + 1 - width  # "│ " + " │ ".join(cells) + " │"
    for columns, floor in ((narrow_first, _NARROW_FLOOR), (narrow_first + (id_column,), 1)):
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


def fixed_cell(f: Finding) -> str:
    """The fixed version; without one, the status that says why (Trivy's Status column): "affected",
    "will_not_fix", "fix_deferred", …"""
    return printable(f.fixed_by) if f.fixed_by else (f.status or "affected")


def epss_cell(f: Finding) -> str:
    """EPSS score and percentile ("0.943 p99"); "" when the CVE has none."""
    return f"{f.epss.score:.3f} p{int(f.epss.percentile * 100)}" if f.epss is not None else ""


def _wide_row(f: Finding) -> tuple[str, ...]:
    detail = f.detail
    return (printable(f.package), vulnerability_cell(f), f.severity.name, printable(f.severity_source),
            f"{f.cvss_score:.1f}" if f.cvss_score is not None else "", epss_cell(f), printable(f.version),
            fixed_cell(f),
            printable(detail.published[:10]) if detail else "", printable(", ".join(detail.cwes)) if detail else "",
            printable(title(f)), printable(f.link))


def library_cells(findings: Sequence[Finding], *, with_path: bool) -> list[str]:
    """Each finding's Library cell: the package, and where two copies of one package share a target without a
    Path column, the file it was found in too, so they are told apart."""
    paths: dict[str, set[str]] = {}
    for f in findings:
        paths.setdefault(f.package, set()).add(f.path)
    return [printable(f.package) + (f" ({printable(f.path)})" if with_path and len(paths[f.package]) > 1 else "")
            for f in findings]


def _write_findings_table(findings: list[Finding], console: Console, *, wide: bool = False,
                          sort: str = "package", paths: bool = False) -> None:
    """Box-drawn table written straight to the console's file.

    rich's Table costs about a millisecond a row (a minute for a 20,000-finding image, bench/report_render.py);
    laying the cells out here and asking rich only for the styled words keeps the look at a fraction of that.
    """
    ordered = sorted(findings, key=sort_key(sort))
    headers = WIDE_HEADERS if wide else HEADERS
    narrow_first: tuple[int, ...] = _WIDE_NARROW_FIRST if wide else _NARROW_FIRST
    if wide:
        rows = [_wide_row(f) for f in ordered]
        if paths:  # the Path column after Library; the fixed column indexes below move by one
            headers = (headers[0], PATH_HEADER, *headers[1:])
            rows = [(row[0], printable(f.path), *row[1:]) for f, row in zip(ordered, rows, strict=True)]
            narrow_first = (0, 1, *(i + 1 for i in _WIDE_NARROW_FIRST[1:]))
    else:
        libraries = library_cells(ordered, with_path=paths)
        rows = [(library, vulnerability_cell(f), f.severity.name, printable(f.version), fixed_cell(f),
                 printable(f.link)) for f, library in zip(ordered, libraries, strict=True)]
    severity_column = headers.index("Severity")
    widths = column_widths(rows, console.width, headers, narrow_first, id_column=headers.index("Vulnerability"))
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
        cells[severity_column] = [severity_cells[finding.severity] + " " * (widths[severity_column]
                                                                             - len(row[severity_column]))]
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
