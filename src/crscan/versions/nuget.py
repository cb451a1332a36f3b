"""NuGet package versions, ordered like NuGet.Versioning's VersionComparer.

One to four numeric parts (missing ones are 0; `1.0` equals `1.0.0.0`), then an optional SemVer
pre-release whose labels compare case-insensitively (numbers numerically and below words), then
ignored `+metadata`. Parts are Int32 as in System.Version (NuGet rejects larger ones); leading zeros
are accepted as NuGet does in version parts, not in numeric labels. A label is a number only where
`int.TryParse` reads it, so a digit run beyond Int32 compares as a word, as in NuGet
(1.0.0-2147483648 > 1.0.0-10000000000 > 1.0.0-9).
"""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version
from crscan.versions.semver import prerelease_key

_INT32_MAX = 2**31 - 1
_INT32_MIN = -(2**31)
_LEADING_ZERO = re.compile(r"0[0-9]+")  # SemanticVersionFactory.IsValidPart: "0" and "0a" are fine, "01" is not
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")  # what int.TryParse reads of a label (which holds no '+' or space)
_NUGET = re.compile(
    r"(?P<numbers>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:-(?P<release>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<metadata>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def _label_key(label: str) -> int | str:
    """VersionComparer.CompareRelease: Int32 labels numerically, the rest ordinally ignoring case."""
    if _SIGNED_DIGITS.fullmatch(label) and _INT32_MIN <= int(label) <= _INT32_MAX:
        return int(label)
    return label.lower()


class NugetVersion(Version):
    __slots__ = ("metadata", "numbers", "release_labels")
    scheme = "nuget"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        match = _NUGET.fullmatch(text.strip())
        if not match:
            raise self._invalid("not MAJOR[.MINOR[.PATCH[.REVISION]]][-PRERELEASE][+METADATA]")
        numbers = [int(part) for part in match["numbers"].split(".")]
        if max(numbers) > _INT32_MAX:
            raise self._invalid(f"a version part is larger than {_INT32_MAX}")
        self.numbers = tuple(numbers + [0] * (4 - len(numbers)))
        self.release_labels = tuple(match["release"].split(".")) if match["release"] else ()
        if any(_LEADING_ZERO.fullmatch(label) for label in self.release_labels):
            raise self._invalid("a numeric release label has a leading zero")
        self.metadata = match["metadata"] or ""
        folded = tuple(_label_key(label) for label in self.release_labels)
        return (*self.numbers, prerelease_key(folded))

    def __str__(self) -> str:
        """NuGet's normalized form: three parts (four when the revision is set), labels as written."""
        major, minor, patch, revision = self.numbers
        text = f"{major}.{minor}.{patch}" + (f".{revision}" if revision else "")
        if self.release_labels:
            text += "-" + ".".join(self.release_labels)
        if self.metadata:
            text += "+" + self.metadata
        return text
