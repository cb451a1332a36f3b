"""`crscan scan IMAGE` and `crscan sbom IMAGE`: one-off scans with no server, on the local feed DB.

`crscan scan sbom:PATH` matches the packages of an existing CycloneDX or SPDX JSON SBOM instead of an image.
`--format spdx-json` of `scan` is the image's SPDX SBOM with each finding as an advisory reference on its
package (SPDX 2.3 has no vulnerability section), as Trivy's `--format spdx-json` of a scan is the SBOM.

Exit codes: 0 done (no finding at or above --fail-on), N from --exit-code when one is, 2 for any error
(bad option, unreachable registry, hostile layer, missing feed DB), always with a one-line message.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, TextIO

import typer

from crscan.cli import targets
from crscan.cli.interface import CliError
from crscan.report import FORMATS, SBOM_FORMATS, SORTS

# The scan stack (registry client, catalogers, matchers, rich, cyclonedx) is imported by the verbs that run it:
# `crscan --help` and every other verb start without it.
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from crscan.registry import Credentials
    from crscan.report import IgnoreList
    from crscan.scan.cache import DirectoryCache
    from crscan.vulndb import FeedDB

# A feed DB older than this still scans, with a one-line warning naming the fix.
STALE_AFTER = dt.timedelta(days=7)

_TARGETS = ("Registry ref ([host[:port]/]repo[:tag|@digest]; no host: Docker Hub), docker-archive:PATH, "
            "oci:PATH[:tag], dir:PATH (a project directory), rootfs:PATH (a root filesystem), or a bare path (app.tar, "
            "./layout, ./dir) read by its content (docs/cli.md)")
Image = Annotated[str, typer.Argument(help=_TARGETS + ".")]
ScanTarget = Annotated[str, typer.Argument(help=_TARGETS + "; or sbom:PATH (a CycloneDX or SPDX JSON SBOM).")]
Platform = Annotated[str, typer.Option("--platform", help="os/arch[/variant] to pick from a multi-platform index.")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.", dir_okay=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
Username = Annotated[str | None, typer.Option("--username", help="Registry user; the password is read from stdin.")]
Insecure = Annotated[bool, typer.Option("--insecure", help="Plain HTTP to the registry (loopback is by default).")]
AuthRealmHost = Annotated[list[str] | None, typer.Option("--auth-realm-host", help="HOST[:PORT] of the registry's token service, when not the registry's own host; it receives the credentials (https only). Repeatable.")]
CacheDir = Annotated[Path | None, typer.Option("--cache-dir", help="Layer index cache [default: $CRSCAN_DATA_DIR/cache/layers].", file_okay=False)]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Read every layer, cache nothing.")]
SkipDbUpdate = Annotated[bool, typer.Option("--skip-db-update", help="Never fetch the feed DB, even when missing.")]
Offline = Annotated[bool, typer.Option("--offline", help="No network for feeds (as --skip-db-update).")]
FeedsMirror = Annotated[str | None, typer.Option("--feeds-mirror", help="Fetch a missing feed DB from this mirror directory or URL [default: $CRSCAN_FEEDS_MIRROR, else upstream].")]


class _ProgressReporter:
    """Rich progress bar when stderr is a terminal, plain one-line updates otherwise, nothing when quiet."""

    def __init__(self, quiet: bool, label: str = "reading layers", line: str = "reading layer") -> None:
        from rich.console import Console

        self.quiet = quiet
        self.label = label
        self.line = line
        self.console = Console(stderr=True)
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, number: int, total: int, what: str) -> None:
        if self.quiet:
            return
        if not self.console.is_terminal:
            print(f"{self.line} {number}/{total} {what}", file=sys.stderr, flush=True)
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console,
                                 transient=True)
            self._bar.start()
            self._task = self._bar.add_task(what, total=total)
        assert self._task is not None  # added with the bar
        self._bar.update(self._task, completed=number - 1, description=what)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _open_feed_db(path: Path | None, *, fetch: bool = False, mirror: str = "", quiet: bool = False) -> FeedDB:
    """The feed DB at `path`; when missing and `fetch`, first built from `mirror` (empty: upstream) as trivy does."""
    from crscan.vulndb import FeedDB, default_db_path

    path = path or default_db_path()
    if not path.is_file() and fetch:
        _fetch_feed_db(path, mirror, quiet)
    if not path.is_file():
        raise CliError(f"feed DB missing at {path}: run `crscan db update` (offline: `crscan db update --mirror DIR|URL`)")
    db = FeedDB.open(path)
    built = _parse_time(db.built_at)
    if built and dt.datetime.now(dt.timezone.utc) - built > STALE_AFTER:
        days = (dt.datetime.now(dt.timezone.utc) - built).days
        typer.echo(f"warning: feed DB is {days} days old: run `crscan db update` (offline: --mirror DIR|URL)", err=True)
    return db


def _warn_missing_risk_feeds(feeds: FeedDB, asked: str) -> None:
    """One stderr line when the feed DB lacks KEV or EPSS rows: risk order and columns would otherwise show
    every finding as unexploited and unscored, which is not known."""
    from crscan.vulndb.enrichment import missing_risk_feeds

    missing = missing_risk_feeds(feeds)
    if missing:
        lacks = {"KEV": "known-exploited flags", "EPSS": "EPSS scores"}
        typer.echo(f"warning: no {'/'.join(missing)} data in feed build {feeds.build_id}: {asked} shows no "
                   f"{' or '.join(lacks[m] for m in missing)}; run `crscan db update` with those sources", err=True)


def _fetch_feed_db(path: Path, mirror: str, quiet: bool) -> None:
    from crscan.vulndb import update as update_feeds

    source = f"mirror {mirror}" if mirror else "upstream"
    if not quiet:
        typer.echo(f"feed DB missing at {path}: building it from {source} (--skip-db-update to opt out)", err=True)
    progress = _ProgressReporter(quiet, label="building the feed DB", line="feed DB step")
    try:
        report = update_feeds(path, mirror or None, progress=progress)
    except OSError as exc:
        raise CliError(f"cannot write the feed DB {path}: {exc.strerror or exc}") from exc
    finally:
        progress.close()
    if not quiet:
        rows = sum(s.rows for s in report.sources)
        typer.echo(f"feed DB built: {len(report.sources)} sources, {rows} rows (build {report.build_id})", err=True)


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _credentials(username: str | None) -> Credentials | None:
    from crscan.registry import Credentials

    if username is None:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CliError("--username given but no password on stdin")
    return Credentials(username, password)


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as stream:
        yield stream


def _cache(cache_dir: Path | None, no_cache: bool) -> DirectoryCache | None:
    from crscan.scan.cache import DirectoryCache
    from crscan.vulndb.paths import data_dir

    return None if no_cache else DirectoryCache(cache_dir or data_dir() / "cache" / "layers")


def scan(
    image: ScanTarget,
    format: Annotated[str, typer.Option("--format", "-f", help=f"Report format: {', '.join(FORMATS)}.")] = "table",
    output: Output = None,
    wide: Annotated[bool, typer.Option("--wide", help="Table format: also the rating's source, CVSS score, published date, CWE and title.")] = False,
    sort: Annotated[str | None, typer.Option("--sort", help=f"Finding order: {', '.join(SORTS)} (risk: CISA KEV first, then EPSS × severity weight; see docs/severity.md) [default: package in the table, as matched elsewhere].")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only these severities, comma-separated (e.g. CRITICAL,HIGH).")] = None,
    ignore_unfixed: Annotated[bool, typer.Option("--ignore-unfixed", help="Drop findings with no fixed version.")] = False,
    ignore_file: Annotated[Path | None, typer.Option("--ignore-file", help="Ids to ignore (.trivyignore lines or YAML), optional expiry.", exists=False, dir_okay=False)] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit with --exit-code when a finding is at or above this severity.")] = None,
    exit_code_on_findings: Annotated[int, typer.Option("--exit-code", help="Exit code for findings (with --fail-on: only those at or above it).")] = 0,
    platform: Platform = "linux/amd64",
    db: Annotated[Path | None, typer.Option("--db", help="Feed DB [default: $CRSCAN_DATA_DIR/feeds.db].", dir_okay=False)] = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    username: Username = None,
    insecure: Insecure = False,
    auth_realm_host: AuthRealmHost = None,
    quiet: Quiet = False,
    skip_db_update: SkipDbUpdate = False,
    offline: Offline = False,
    feeds_mirror_option: FeedsMirror = None,
) -> None:
    """Scan an image (or a filesystem, or an SBOM) for vulnerabilities, like `trivy image`.

    Exit codes: 0 when done; N from --exit-code N when there is a finding (with --fail-on: one at or above that
    severity); 2 on any error (one stderr line). See docs/cli.md.
    """
    from crscan.report import FindingFilter, exit_code, render
    from crscan.report.severity import parse_severity, parse_severity_list
    from crscan.scan.filesystem import scan_filesystem
    from crscan.scan.pipeline import Scanner
    from crscan.scan.sbom_input import read_sbom
    from crscan.vulndb.paths import feeds_mirror

    if format not in FORMATS:
        raise CliError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if sort is not None and sort not in SORTS:
        raise CliError(f"unknown --sort {sort!r}; expected one of {', '.join(SORTS)}")
    findings_filter = FindingFilter(
        today=dt.date.today(),
        severities=parse_severity_list(severity) if severity else None,
        ignore_unfixed=ignore_unfixed,
        **({"ignore": _read_ignore_file(ignore_file)} if ignore_file else {}),
    )
    threshold = parse_severity(fail_on) if fail_on else None
    target = targets.resolve(image)
    targets.announce(image, target, quiet)
    feeds = _open_feed_db(db, fetch=not (skip_db_update or offline), quiet=quiet,
                          mirror=feeds_mirror() if feeds_mirror_option is None else feeds_mirror_option)
    if sort == "risk" or (wide and format == "table"):
        _warn_missing_risk_feeds(feeds, "--sort risk" if sort == "risk" else "--wide")
    progress = _ProgressReporter(quiet)
    try:
        if target.kind is targets.Kind.SBOM:
            sbom = read_sbom(target.path)
            report = Scanner().report_for(target.reference, sbom.digest, sbom.inventory, feeds)
        elif filesystem := targets.filesystem_kind(target):
            report = scan_filesystem(Scanner(), target.path, filesystem, feeds)
        else:
            with targets.open_image(target, platform=platform, credentials=_credentials(username),
                                    insecure=insecure or None, auth_realm_hosts=auth_realm_host or (),
                                    quiet=quiet) as source:
                report = Scanner().scan(source, feeds, cache=_cache(cache_dir, no_cache), progress=progress)
    finally:
        progress.close()
        feeds.close()
    report = findings_filter.apply(report)
    with _output(output) as stream:
        render(report, format, stream, color=output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ,
               wide=wide, sort=sort)
    for warning in report.warnings:
        if not quiet:
            typer.echo(f"warning: {warning}", err=True)
    code = exit_code(report.findings, fail_on=threshold, code=exit_code_on_findings)
    raise typer.Exit(code)


def _read_ignore_file(path: Path) -> IgnoreList:
    from crscan.report import parse_ignore_file

    with open(path, encoding="utf-8", errors="strict") as reader:
        return parse_ignore_file(reader, str(path))


def sbom(
    image: Image,
    format: Annotated[str, typer.Option("--format", "-f", help=f"SBOM format: {', '.join(SBOM_FORMATS)}.")] = "cyclonedx",
    output: Output = None,
    platform: Platform = "linux/amd64",
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    username: Username = None,
    insecure: Insecure = False,
    auth_realm_host: AuthRealmHost = None,
    quiet: Quiet = False,
) -> None:
    """Write the image's (or a filesystem's) package inventory as a CycloneDX or SPDX JSON SBOM.

    Exit codes: 0 when done, 2 on any error (one stderr line).
    """
    from crscan.cli.sbom import inventory_report
    from crscan.report import render
    from crscan.scan.filesystem import inventory_of
    from crscan.scan.pipeline import Scanner

    if format not in SBOM_FORMATS:
        raise CliError(f"unknown SBOM format {format!r}; expected one of {', '.join(SBOM_FORMATS)}")
    target = targets.resolve(image)
    if target.kind is targets.Kind.SBOM:
        raise CliError(f"{image} is already an SBOM: `crscan scan {target.reference}` matches it")
    targets.announce(image, target, quiet)
    scanner = Scanner()
    progress = _ProgressReporter(quiet)
    try:
        if filesystem := targets.filesystem_kind(target):
            report = inventory_report(inventory_of(scanner, target.path, filesystem), image=target.reference)
        else:
            with targets.open_image(target, platform=platform, credentials=_credentials(username),
                                    insecure=insecure or None, auth_realm_hosts=auth_realm_host or (),
                                    quiet=quiet) as source:
                indexes = scanner.index_layers(source, cache=_cache(cache_dir, no_cache), progress=progress)
                report = inventory_report(scanner.assemble(indexes), image=source.reference, digest=source.digest,
                                          layers=[i.layer for i in indexes])
    finally:
        progress.close()
    with _output(output) as stream:
        render(report, format, stream, color=False)


