"""The human-readable report: one table per target, OS packages first, then each language ecosystem."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from crscan.model import Distro, Ecosystem, Finding, ScanReport, Severity

from .interface import ReportFormat
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
_ROOM_FOR_WHOLE_IDS = 80
_LONGEST_WHOLE_ID = 24  # GHSA-xxxx-xxxx-xxxx is 19; anything much longer is odd and may fold
# Files and CI logs have no terminal width to fit; 80 columns would fold every link.
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


def render_table(report: ScanReport, console: Console) -> None:
    console.print(Text(f"Image: {printable(report.image)}", style="bold"))
    if report.digest:
        console.print(Text(f"Digest: {printable(report.digest)}"))
    if report.feed_build_id:
        console.print(Text(f"Feed build: {printable(report.feed_build_id)}"))
    targets = group_targets(report)
    if not targets:
        console.print("No packages found.")
    for target in targets:
        console.print()
        console.rule(Text(printable(target.title), style="bold"), align="left")
        console.print(Text(summary_line(target.findings)))
        if target.findings:
            console.print(_findings_table(target.findings, console.width))
    for warning in report.warnings:
        console.print(Text(f"WARNING: {printable(warning)}", style="yellow"))


def _findings_table(findings: list[Finding], width: int) -> Table:
    # Ids are what people copy and search for: keep them on one line when the console has room for it;
    # below that everything folds, which loses nothing (an ellipsis would).
    keep_ids_whole = width >= _ROOM_FOR_WHOLE_IDS and all(len(f.name) <= _LONGEST_WHOLE_ID for f in findings)
    table = Table(header_style="bold")
    table.add_column("Library", overflow="fold")
    table.add_column("Vulnerability", overflow="fold", no_wrap=keep_ids_whole)
    table.add_column("Severity", overflow="fold", no_wrap=keep_ids_whole)
    for header in ("Installed", "Fixed", "Link"):
        table.add_column(header, overflow="fold")
    for f in sorted(findings, key=lambda f: (f.package, f.severity, f.name)):
        # Text, not str: a str cell is read as console markup, and "[/]" in a package name would break it.
        table.add_row(Text(printable(f.package)), Text(printable(f.name)),
                      Text(f.severity.name, style=SEVERITY_STYLES[f.severity]), Text(printable(f.version)),
                      Text(printable(f.fixed_by)), Text(printable(f.link)))
    return table


class TableFormat(ReportFormat):
    name: ClassVar[str] = "table"

    def __init__(self, *, color: bool):
        self.color = color

    def write(self, report: ScanReport, stream: TextIO) -> None:
        console = Console(file=stream, force_terminal=self.color, no_color=not self.color, highlight=False,
                          width=None if self.color else PLAIN_WIDTH)
        render_table(report, console)
