"""The feed DB: one SQLite file, read-only once built, rows indexed by (namespace, package)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crscan.vulndb import compiled
from crscan.vulndb.interface import Advisory, FeedDBError
from crscan.vulndb.records import decode

# Raised whenever rows change meaning, so a DB an older crscan wrote is rebuilt rather than read or reused
# (`crscan db update` copies unchanged sources' rows from the previous DB). 2: Mariner's unfixed rows; 3: OSV rows
# compiled for matching (`compiled`).
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisories (
    namespace TEXT NOT NULL,
    package TEXT NOT NULL,
    feed TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    versions TEXT,  -- OSV's explicit version list, newline-separated: splits faster than JSON decodes
    compiled BLOB  -- OSV rows: `crscan.vulndb.compiled`'s form, under the meta table's compiled_format
);
"""
# Created after the bulk insert: building the index once is faster than maintaining it row by row.
INDEX = "CREATE INDEX advisories_by_package ON advisories (namespace, package)"
SOURCE_KEY_PREFIX = "source/"
_BATCH = 500  # packages per query: well under SQLite's bound-parameter limit
COMPILED_FORMAT_KEY = "compiled_format"

# A row as matching reads it: (`compiled.column`'s bytes, the versions column).
CompiledRow = tuple[bytes, str | None]


@dataclass(frozen=True)
class SourceInfo:
    """What the meta table records about one source of the build."""

    name: str
    id: int
    url: str
    fingerprint: str
    etag: str
    fetched_at: str
    records: int  # records read from the source
    skipped: int  # of which malformed and skipped
    rows: int  # (advisory, package) rows stored

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


class FeedDB:
    """A built feed DB opened read-only; safe to share between threads."""

    def __init__(self, connection: sqlite3.Connection, path: Path, meta: dict[str, str]) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.path = path
        self.schema_version = int(meta["schema_version"])
        self.build_id = meta["build_id"]
        self.built_at = meta.get("built_at", "")
        # Whether the rows' compiled forms were made by this crscan's code (else matching compiles rows itself).
        self.compiled_current = meta.get(COMPILED_FORMAT_KEY) == compiled.fingerprint()
        self.sources = tuple(
            sorted(
                (SourceInfo(**json.loads(v)) for k, v in meta.items() if k.startswith(SOURCE_KEY_PREFIX)),
                key=lambda s: s.name,
            )
        )

    @classmethod
    def open(cls, path: str | Path) -> FeedDB:
        path = Path(path)
        if not path.is_file():
            raise FeedDBError(f"feed DB {path} does not exist: run `crscan db update`")
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(connection.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise FeedDBError(f"feed DB {path} is not a crscan feed DB: {exc}") from exc
        if meta.get("schema_version") != str(SCHEMA_VERSION) or "build_id" not in meta:
            connection.close()
            raise FeedDBError(
                f"feed DB {path} has schema version {meta.get('schema_version')!r}, this crscan reads "
                f"{SCHEMA_VERSION}: run `crscan db update`"
            )
        return cls(connection, path, meta)

    def integrity_error(self) -> str:
        """"" when SQLite's `PRAGMA quick_check` finds the file sound, else its first complaint (a file
        overwritten in place opens and reads its meta table, then fails scans page by page)."""
        try:
            with self._lock:
                first = self._connection.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return "" if first is not None and first[0] == "ok" else str(first[0] if first else "no answer")

    def advisories(self, namespace: str, package: str) -> list[Advisory]:
        """Every row for `package` in `namespace` (see `crscan.vulndb.namespaces`)."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT feed, advisory_id, data, versions FROM advisories WHERE namespace = ? AND package = ?",
                (namespace, package),
            ).fetchall()
        return [Advisory(feed, namespace, package, advisory_id, decode(feed, data, versions))
                for feed, advisory_id, data, versions in rows]

    def advisories_for(self, namespace: str, packages: Iterable[str]) -> dict[str, list[Advisory]]:
        """`advisories` for many packages of one namespace in a few queries; packages without rows are absent."""
        wanted = sorted(set(packages))
        found: dict[str, list[Advisory]] = {}
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start:start + _BATCH]
            with self._lock:
                rows = self._connection.execute(
                    "SELECT package, feed, advisory_id, data, versions FROM advisories WHERE namespace = ? AND package IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY rowid",
                    (namespace, *chunk),
                ).fetchall()
            for package, feed, advisory_id, data, versions in rows:
                found.setdefault(package, []).append(
                    Advisory(feed, namespace, package, advisory_id, decode(feed, data, versions)))
        return found

    def compiled_for(self, namespace: str, packages: Iterable[str]) -> dict[str, list[CompiledRow | Advisory]]:
        """Like `advisories_for`, each row as its compiled form where it has a current one (see
        `crscan.vulndb.compiled`), else decoded."""
        wanted = sorted(set(packages))
        found: dict[str, list[CompiledRow | Advisory]] = {}
        # The data column is read only for rows without a usable compiled form.
        columns = ("compiled, CASE WHEN compiled IS NULL THEN data END" if self.compiled_current else "NULL, data")
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start:start + _BATCH]
            with self._lock:
                rows = self._connection.execute(
                    f"SELECT package, feed, advisory_id, versions, {columns} FROM advisories WHERE namespace = ? AND "
                    f"package IN ({','.join('?' * len(chunk))}) ORDER BY rowid",
                    (namespace, *chunk),
                ).fetchall()
            for package, feed, advisory_id, versions, blob, data in rows:
                found.setdefault(package, []).append(
                    (blob, versions) if blob is not None
                    else Advisory(feed, namespace, package, advisory_id, decode(feed, data, versions)))
        return found

    def has_namespace(self, namespace: str) -> bool:
        """Whether any row is in `namespace` (an index lookup)."""
        with self._lock:
            row = self._connection.execute(
                "SELECT 1 FROM advisories WHERE namespace = ? LIMIT 1", (namespace,)).fetchone()
        return row is not None

    def iter_advisories(self, namespace_prefix: str = "") -> Iterator[Advisory]:
        """All rows whose namespace starts with the prefix (for benchmarks, audits and tests)."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT feed, namespace, package, advisory_id, data, versions FROM advisories WHERE namespace >= ? AND "
                "namespace < ? ORDER BY rowid",
                (namespace_prefix, namespace_prefix + "\U0010ffff"),
            ).fetchall()
        for feed, namespace, package, advisory_id, data, versions in rows:
            yield Advisory(feed, namespace, package, advisory_id, decode(feed, data, versions))

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> FeedDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
