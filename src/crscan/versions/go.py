"""Go module versions, ordered like golang.org/x/mod/semver.

SemVer 2.0 with a `v` prefix, the shorthands vMAJOR and vMAJOR.MINOR (for v1.0.0 and v1.2.0), and
build metadata such as `+incompatible` ignored. Pseudo-versions (v0.0.0-20191109021931-daa7c04131f5)
are pre-releases and sort by their timestamp like any other. The `v` is optional because the OSV Go
feed writes versions without it ("1.2.3", and "0" for "from the beginning").
"""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version
from crscan.versions.semver import prerelease_key, split_identifiers

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_GO = re.compile(
    rf"v?(?P<major>{_NUMBER})"
    rf"(?:\.(?P<minor>{_NUMBER})(?:\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?)?)?"
)
_PSEUDO = re.compile(r"(?:.*[.-])?[0-9]{14}-[0-9a-f]{12}")  # the prerelease of vX.Y.Z-[0.]yyyymmddhhmmss-commit


class GoVersion(Version):
    __slots__ = ("build", "major", "minor", "patch", "prerelease")
    scheme = "go"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        match = _GO.fullmatch(text)
        if not match:
            raise self._invalid("not a Go module version (vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]])")
        self.major = int(match["major"])
        self.minor = int(match["minor"] or 0)
        self.patch = int(match["patch"] or 0)
        self.prerelease = split_identifiers(match["prerelease"])
        self.build = match["build"] or ""
        return (self.major, self.minor, self.patch, prerelease_key(self.prerelease))

    @property
    def is_pseudo(self) -> bool:
        return bool(self.prerelease) and _PSEUDO.fullmatch(".".join(map(str, self.prerelease))) is not None

    @property
    def canonical(self) -> str:
        """semver.Canonical: v-prefixed, three numbers, no build metadata (v1.2+meta → v1.2.0)."""
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(map(str, self.prerelease))
        return text

    def __str__(self) -> str:
        """The canonical form with the build metadata kept (2.0.0+incompatible → v2.0.0+incompatible)."""
        return self.canonical + (f"+{self.build}" if self.build else "")
