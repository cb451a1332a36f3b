"""The contract of a per-feed matcher: installed packages in, (package, finding) pairs out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from crscan.model import Distro, Finding, Package
from crscan.vulndb import FeedDB


class MatchError(Exception):
    """Base of every error this package raises."""


class Match(NamedTuple):
    """A finding, the package it is about, and every id the vulnerability is known by (for dedup)."""

    package: Package
    finding: Finding
    ids: tuple[str, ...]  # distinct; a tuple of strings, unlike a set, is not walked by the cyclic collector


class Unordered(NamedTuple):
    """A version the scheme cannot order where a verdict needed it: the installed one (the feed's advisories
    for the package), or an advisory's (`advisory_id` set). The verdict is unknown, which the report must say
    rather than count the package as not affected."""

    package: Package
    scheme: str
    feed: str
    problem: str  # the InvalidVersion message
    advisory_id: str = ""

    @property
    def warning(self) -> str:
        package = self.package
        subject = f"{package.ecosystem.value} package {package.name} {package.version}"
        if self.advisory_id:
            return (f"{subject}: {self.feed} advisory {self.advisory_id} cannot be ordered under scheme {self.scheme}, "
                    f"so it was not checked ({self.problem})")
        return (f"{subject}: version cannot be ordered under scheme {self.scheme}, so its {self.feed} advisories "
                f"were not checked ({self.problem})")


class Matcher(ABC):
    """Decides which advisories of one feed apply to which installed packages."""

    feed: str

    @abstractmethod
    def match(self, packages: Sequence[Package], distro: Distro | None, db: FeedDB) -> Iterator[Match | Unordered]:
        """Every (package, vulnerability) the feed says affects the installed version, and every package
        whose version could not be ordered against advisories that needed it."""

    def namespaces(self, distro: Distro) -> tuple[str, ...]:
        """The feed namespaces this matcher reads for the distro's OS packages (none by default)."""
        return ()
