"""Semantic Versioning 2.0.0 (npm, crates.io): MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].

Pre-releases sort before their release, identifier by identifier (numbers numerically and below
words, words in ASCII order, more identifiers after fewer); build metadata does not count.
Surrounding whitespace and a leading `v` or `=` are tolerated, as node-semver does.
"""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_LOOSE_PREFIX = re.compile(r"[\sv=]*")
_RELEASE = (1,)  # above (0, identifiers...): a release sorts after all its pre-releases


def prerelease_key(identifiers: tuple[int | str, ...]) -> tuple[Any, ...]:
    """The key part for a pre-release; `_RELEASE` when there is none."""
    if not identifiers:
        return _RELEASE
    return (0, tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in identifiers))


def split_identifiers(dotted: str | None) -> tuple[int | str, ...]:
    if not dotted:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in dotted.split("."))


class SemverVersion(Version):
    __slots__ = ("build", "major", "minor", "patch", "prerelease")
    scheme = "semver"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        prefix = _LOOSE_PREFIX.match(text)
        assert prefix is not None  # `[\sv=]*` matches every string
        core = text[prefix.end():].rstrip()
        match = _SEMVER.fullmatch(core)
        if not match:
            raise self._invalid("not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (numbers without leading zeros)")
        self.major, self.minor, self.patch = (int(match[part]) for part in ("major", "minor", "patch"))
        self.prerelease = split_identifiers(match["prerelease"])
        self.build = tuple(match["build"].split(".")) if match["build"] else ()
        return (self.major, self.minor, self.patch, prerelease_key(self.prerelease))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(map(str, self.prerelease))
        if self.build:
            text += "+" + ".".join(self.build)
        return text
