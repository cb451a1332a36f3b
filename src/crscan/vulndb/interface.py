"""The contract between feed updaters, the feed DB and its readers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from crscan.vulndb.records import FeedRecord


class VulnDBError(Exception):
    """Base of every error this package raises; the message names the source or file at fault."""


class FeedError(VulnDBError):
    """A feed could not be fetched or is not in its format at all (a whole file, not one record)."""


class FeedDBError(VulnDBError):
    """The feed DB file is missing, unreadable, or not one this version of crscan can read."""


@dataclass(frozen=True)
class Advisory:
    """One (advisory, package) row: what one feed says about one package in one namespace.

    `namespace` is the feed's scope for package names: `osv:PyPI`, `osv:Debian:12`, `debian:bookworm`,
    `alpine:v3.18`. `record` is the feed's typed, matcher-ready payload (see `crscan.vulndb.records`).
    """

    feed: str
    namespace: str
    package: str
    advisory_id: str
    record: FeedRecord = field(compare=False)


@dataclass
class Tally:
    """Counts kept while a parser runs: records read, and malformed records skipped."""

    records: int = 0
    skipped: int = 0


class Updater(ABC):
    """One feed file: where it lives (upstream URL or a path under a mirror) and how to parse it.

    A source the location lacks (HTTP 404, no such file) is left out of the build, not an error.
    """

    feed: str  # "osv", "debian", "alpine": the Finding.feed value

    @property
    @abstractmethod
    def name(self) -> str:
        """The source's name in the DB's meta table; also its path under a mirror root."""

    @property
    @abstractmethod
    def upstream_url(self) -> str:
        """Where the source is fetched from when no mirror is given."""

    def resolve_upstream(self, get: Callable[[str], bytes]) -> str:
        """The upstream file's URL, for feeds found only through an index read first with `get` (Amazon's
        repository metadata); most are at `upstream_url` itself."""
        return self.upstream_url

    @property
    def file_name(self) -> str:
        """The source as one file, for a mirror URL (and a mirror directory without `name`); usually `name`."""
        return self.name

    @abstractmethod
    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        """Yield the rows of the fetched file, counting records and malformed ones in `tally`."""

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        """The rows of the fetched source at `path` (a file; a source that is a directory tree overrides this)."""
        with path.open("rb") as reader:
            yield from self.parse(reader, tally)
