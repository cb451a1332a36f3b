"""Building the feed DB: fetch every source, parse what changed, swap the new file in atomically."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import pickle
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crscan.vulndb import advisories, alpine, amazon, compiled, epss, kev, mariner, nvd, nvd_api, osv, photon
from crscan.vulndb.advisories import AdvisoriesUpdater
from crscan.vulndb.db import COMPILED_FORMAT_KEY, INDEX, SCHEMA, SCHEMA_VERSION, SOURCE_KEY_PREFIX, FeedDB, SourceInfo
from crscan.vulndb.debian import DebianUpdater
from crscan.vulndb.fetch import Fetched, Location
from crscan.vulndb.interface import FeedDBError, FeedError, Tally, Updater
from crscan.vulndb.oracle import OracleUpdater
from crscan.vulndb.paths import default_db_path
from crscan.vulndb.redhat import RedHatVexUpdater
from crscan.vulndb.ubuntu import UbuntuTrackerUpdater

_TEMP_MARK = ".tmp-"  # `<db name>.tmp-<pid>`: the build in progress of that process

# Called before each step: (step from 1, steps, "fetching <source>" / "parsing <source>" / "copying <source>").
# Each source is fetched, then (once all are) parsed or, when unchanged, copied: two steps per source.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BuildReport:
    path: Path
    build_id: str
    rebuilt: bool  # False when every source was unchanged and the previous DB was kept as is
    sources: tuple[SourceInfo, ...]
    reused: tuple[str, ...]  # sources whose rows were copied from the previous DB without parsing
    missing: tuple[str, ...]  # sources the location does not have


def default_updaters(location: Location) -> list[Updater]:
    """Every source crscan knows: OSV per ecosystem, the Debian tracker, Alpine secdb per release, the
    Wolfi and Chainguard secdbs, Amazon ALAS per release, Oracle's ELSA OVAL, Photon's CVE data and CBL-Mariner's
    OVAL per release, the vendors' statements of unfixed vulnerabilities (the Ubuntu CVE tracker, Red Hat's CSAF
    VEX, the Wolfi and Chainguard advisories), NVD (upstream: its CVE API, incrementally; a mirror: per year),
    CISA KEV and FIRST EPSS."""
    if location.mirror_dir is not None:
        releases = alpine.releases_in(location.mirror_dir)
        photon_releases = photon.releases_in(location.mirror_dir)
        mariner_releases = mariner.releases_in(location.mirror_dir)
    else:
        releases = alpine.KNOWN_RELEASES
        photon_releases = photon.KNOWN_RELEASES
        mariner_releases = mariner.KNOWN_RELEASES
    return [
        *(osv.OsvUpdater(ecosystem) for ecosystem in osv.ECOSYSTEMS),
        DebianUpdater(),
        *(alpine.AlpineUpdater(release, repo) for release in releases for repo in alpine.REPOSITORIES),
        *(alpine.RollingSecdbUpdater(feed, url) for feed, url in alpine.ROLLING_SECDBS.items()),
        *amazon.updaters_for(location.mirror_dir),
        OracleUpdater(),
        *(photon.PhotonUpdater(release) for release in photon_releases),
        *(mariner.MarinerUpdater(release) for release in mariner_releases),
        UbuntuTrackerUpdater(),
        RedHatVexUpdater(),
        *(AdvisoriesUpdater(distro) for distro in advisories.REPOSITORIES),
        *nvd_updaters(location),
        kev.KevUpdater(),
        epss.EpssUpdater(),
    ]


def nvd_updaters(location: Location) -> list[Updater]:
    """NVD from its CVE API 2.0 upstream (key from CRSCAN_NVD_API_KEY, optional); a mirror's yearly sources."""
    if location.mirror_dir is None and location.mirror_url is None:
        return [nvd_api.NvdApiUpdater(api_key=os.environ.get(nvd_api.API_KEY_ENV, "").strip())]
    return [nvd.NvdUpdater(year) for year in nvd.years(location.mirror_dir)]


def update(
    path: str | Path | None = None, mirror: str | Path | None = None, *, force: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Refresh the DB at `path` (default `$CRSCAN_DATA_DIR/feeds.db`) from upstream or `mirror`."""
    location = Location(mirror)
    try:
        return build(default_updaters(location), path or default_db_path(), location, force=force, progress=progress)
    finally:
        location.close()


def build(
    sources: Sequence[Updater], path: str | Path, location: Location | None = None, *, force: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Build a new DB from `sources` into a temporary file next to `path`, then replace `path` with it.

    Sources whose fingerprint matches the previous build are copied, not re-parsed; if none changed
    (and `force` is false) the previous DB is kept. Until the final `os.replace`, readers of `path` see
    the previous build, also when this process is killed.
    """
    path = Path(path)
    location = location or Location()
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(path)
    previous = _open_previous(path)
    try:
        known = {s.name: s for s in previous.sources} if previous and not force else {}
        if previous is not None and not previous.compiled_current:  # its compiled OSV rows are another code's
            known = {name: info for name, info in known.items() if not name.startswith("osv/")}
        with tempfile.TemporaryDirectory(prefix="crscan-feeds-") as scratch:
            fetched: list[tuple[Updater, Fetched]] = []
            missing = []
            for number, updater in enumerate(sources, start=1):
                if progress is not None:
                    progress(number, 2 * len(sources), f"fetching {updater.name}")
                got = location.fetch(updater, Path(scratch), etag=known[updater.name].etag if updater.name in known else "")
                if got is None:
                    missing.append(updater.name)
                else:
                    fetched.append((updater, got))
            if not fetched:
                raise FeedError(f"no feed source found at {location.url_of(sources[0]) if sources else location}")
            unchanged = {u.name for u, got in fetched if _unchanged(got, known.get(u.name))}
            if previous and unchanged == set(known) == {u.name for u, _ in fetched}:
                return BuildReport(path, previous.build_id, False, previous.sources, tuple(sorted(unchanged)),
                                   tuple(missing))
            steps = _Steps(progress, len(sources) + len(missing), 2 * len(sources))  # nothing to parse if missing
            build_id, infos = _write(path, fetched, unchanged, previous, known, steps)
        return BuildReport(path, build_id, True, infos, tuple(sorted(unchanged)), tuple(missing))
    finally:
        if previous:
            previous.close()


class _Steps:
    """Progress of the second half of a build, numbered on from the fetches."""

    def __init__(self, progress: Progress | None, done: int, total: int) -> None:
        self.progress = progress
        self.done = done
        self.total = total

    def next(self, verb: str, name: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, f"{verb} {name}")


def _write(
    path: Path,
    fetched: Sequence[tuple[Updater, Fetched]],
    unchanged: set[str],
    previous: FeedDB | None,
    known: dict[str, SourceInfo],
    steps: _Steps,
) -> tuple[str, tuple[SourceInfo, ...]]:
    temp = path.with_name(f"{path.name}{_TEMP_MARK}{os.getpid()}")
    temp.unlink(missing_ok=True)
    build_id = uuid.uuid4().hex
    infos = []
    try:
        connection = sqlite3.connect(temp, uri=True)
        stack = contextlib.ExitStack()
        try:
            # The file is private until renamed, so durability is only needed once, at the end.
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("PRAGMA synchronous = OFF")
            connection.executescript(SCHEMA)
            # Unchanged sources are copied from the previous build, and so are merged sources' unchanged rows.
            reads_previous = previous is not None and (
                bool(unchanged) or any(got.merge and updater.name not in unchanged for updater, got in fetched))
            spans: dict[int, tuple[int, int]] = {}
            if previous is not None and reads_previous:
                connection.execute("ATTACH DATABASE ? AS previous", (f"{previous.path.resolve().as_uri()}?mode=ro",))
                # Each source's rows are one rowid span (written in source order): one scan finds them all, and
                # each copy then reads its span instead of scanning the whole table for its source_id.
                spans = {source: (low, high) for source, low, high in connection.execute(
                    "SELECT source_id, min(rowid), max(rowid) FROM previous.advisories GROUP BY source_id")}
            changed = [(source_id, updater, got) for source_id, (updater, got) in enumerate(fetched, start=1)
                       if updater.name not in unchanged]
            parsed = stack.enter_context(_Parser(changed, temp)).parts
            for source_id, (updater, got) in enumerate(fetched, start=1):
                steps.next("copying" if updater.name in unchanged else "parsing", updater.name)
                if updater.name in unchanged:
                    old = known[updater.name]
                    low, high = spans.get(old.id, (0, -1))
                    rows = connection.execute(
                        "INSERT INTO advisories SELECT namespace, package, feed, advisory_id, ?, data, versions, compiled "
                        "FROM previous.advisories WHERE rowid BETWEEN ? AND ? AND source_id = ?",
                        (source_id, low, high, old.id),
                    ).rowcount
                    info = SourceInfo(updater.name, source_id, got.url, old.fingerprint, got.etag or old.etag,
                                      got.fetched_at, old.records, old.skipped, rows)
                else:
                    tally, part = parsed[source_id]()
                    connection.execute("ATTACH DATABASE ? AS part", (f"{part.as_uri()}?mode=ro",))
                    rows = connection.execute("INSERT INTO advisories SELECT * FROM part.advisories").rowcount
                    kept = _keep_unchanged_rows(connection, source_id, known[updater.name]) if got.merge else 0
                    connection.commit()
                    connection.execute("DETACH DATABASE part")
                    part.unlink()  # now copied: the disk holds each row twice only briefly
                    info = SourceInfo(updater.name, source_id, got.url, got.fingerprint, got.etag, got.fetched_at,
                                      tally.records + kept, tally.skipped, rows + kept)
                infos.append(info)
            if reads_previous:
                connection.commit()
                connection.execute("DETACH DATABASE previous")
            connection.execute(INDEX)
            connection.execute("ANALYZE")
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "build_id": build_id,
                "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                COMPILED_FORMAT_KEY: compiled.fingerprint(),
                **{SOURCE_KEY_PREFIX + info.name: info.to_json() for info in infos},
            }
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.commit()
        finally:
            stack.close()
            connection.close()
        _fsync(temp)
        os.replace(temp, path)
        _fsync(path.parent)
    except sqlite3.DatabaseError as exc:
        raise FeedDBError(f"cannot write feed DB {temp}: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return build_id, tuple(infos)


def _keep_unchanged_rows(connection: sqlite3.Connection, source_id: int, old: SourceInfo) -> int:
    """A merged (incremental) source: the previous build's rows of the packages its changes (the attached
    `part`) do not replace, copied over."""
    return connection.execute(
        "INSERT INTO advisories SELECT namespace, package, feed, advisory_id, ?, data, versions, compiled "
        "FROM previous.advisories WHERE source_id = ? AND package NOT IN (SELECT package FROM part.advisories)",
        (source_id, old.id),
    ).rowcount


class _Parser:
    """Parses the changed sources, each into its own SQLite file of rows next to the DB being built, on as many
    processes as there are cores: parsing (JSON decoding) is most of a build, and sources are independent. One
    source, one core, or an updater that cannot be pickled to another process (one holding a lambda, as a test's
    injected clock) is parsed in this process, when its rows are asked for."""

    def __init__(self, changed: list[tuple[int, Updater, Fetched]], temp: Path) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        workers = min(len(changed), os.cpu_count() or 1)
        if workers > 1 and _can_send(updater for _, updater, _ in changed):
            # spawn, not fork: `crscan serve` builds from a thread, and forking a threaded process is unsafe. One
            # source per process: a process that parsed several kept the high-water mark of each (3x the memory).
            self._pool = concurrent.futures.ProcessPoolExecutor(
                workers, multiprocessing.get_context("spawn"), max_tasks_per_child=1)
        self.parts: dict[int, Callable[[], tuple[Tally, Path]]] = {}
        self._files: list[Path] = []
        # Largest first, so the longest parse starts at once instead of ending the build alone.
        for source_id, updater, got in sorted(changed, key=lambda c: -_size(c[2])):
            assert got.path is not None  # only an unchanged source comes without a path
            part = temp.with_name(f"{temp.name}.{source_id}")
            self._files.append(part)
            if self._pool is None:
                self.parts[source_id] = functools.partial(parse_source, updater, got.path, source_id, part)
            else:
                self.parts[source_id] = self._pool.submit(parse_source, updater, got.path, source_id, part).result

    def __enter__(self) -> _Parser:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for part in self._files:
            part.unlink(missing_ok=True)


def parse_source(updater: Updater, path: Path, source_id: int, part: Path) -> tuple[Tally, Path]:
    """Write the rows of one fetched source into a new SQLite file `part` (same table as the DB's)."""
    tally = Tally()
    connection = sqlite3.connect(part)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.executescript(SCHEMA)
        connection.executemany(
            "INSERT INTO advisories VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (a.namespace, a.package, a.feed, a.advisory_id, source_id, *a.record.columns(), compiled.column(a))
                for a in updater.read(path, tally)
            ),
        )
        connection.commit()
    finally:
        connection.close()
    return tally, part


def _can_send(updaters: Iterable[Updater]) -> bool:
    try:
        pickle.dumps(list(updaters))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _size(got: Fetched) -> int:
    return got.path.stat().st_size if got.path is not None else 0


def _unchanged(got: Fetched, old: SourceInfo | None) -> bool:
    if old is None:
        return False
    return got.path is None or got.fingerprint == old.fingerprint  # no path: HTTP 304 Not Modified


def _open_previous(path: Path) -> FeedDB | None:
    """The DB being replaced, to reuse unchanged sources; a missing or unreadable one is simply rebuilt."""
    if not path.exists():
        return None
    try:
        return FeedDB.open(path)
    except FeedDBError:
        return None


def _remove_abandoned_builds(path: Path) -> None:
    """Delete temporary files left by builds whose process is gone (killed midway)."""
    for leftover in path.parent.glob(f"{path.name}{_TEMP_MARK}*"):
        pid = leftover.name.rsplit(_TEMP_MARK, 1)[1].split(".", 1)[0]  # `.N`: a source's rows being parsed
        if pid.isdigit() and not _process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
