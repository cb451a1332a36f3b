"""RubyGems versions, ordered like `Gem::Version#<=>`.

Segments are digit runs and letter runs (`1.0.b1` → 1, 0, "b", 1); a version is a pre-release once a
letter appears, and a `-` reads as `.pre.`. Trailing zeros are dropped from the release part and from
the pre-release part; then segments compare pairwise, a missing one counting as 0, letters below
numbers, letters case-sensitively.
"""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version

# Gem::Version::ANCHORED_VERSION_PATTERN; possessive so a long near-miss fails fast (CVE-2013-4287).
_GEM = re.compile(r"[0-9]++(?:\.[0-9A-Za-z]++)*+(?:-[0-9A-Za-z-]++(?:\.[0-9A-Za-z-]++)*+)?+")
_SEGMENT = re.compile(r"[0-9]+|[A-Za-z]+")
# Block classes, see _segments_key.
_WORD, _END, _NUMBER = 0, 1, 2


def _segments_key(segments: list[int | str]) -> tuple[Any, ...]:
    """A tuple ordering segment lists as Gem::Version does with its zero padding.

    A run of zeros is folded into the segment after it (`zeros`): where one list ends, the padding
    zeros lose to the other's next number and beat its next word; a word after more zeros is newer,
    a number after more zeros is older.
    """
    key: list[tuple[int, ...] | tuple[int, int, int | str]] = []
    zeros = 0
    for segment in segments:
        if segment == 0:
            zeros += 1
        elif isinstance(segment, str):
            key.append((_WORD, zeros, segment))
            zeros = 0
        else:
            key.append((_NUMBER, -zeros, segment))
            zeros = 0
    key.append((_END,))
    return tuple(key)


def _strip_zeros(segments: list[int | str]) -> list[int | str]:
    while segments and segments[-1] == 0:
        segments.pop()
    return segments


class GemVersion(Version):
    __slots__ = ("canonical_segments", "segments")
    scheme = "rubygems"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        version = text.strip() or "0"  # RubyGems reads an empty version as "0"
        if not _GEM.fullmatch(version):
            raise self._invalid("not a gem version (digits, then dot-separated digits and letters)")
        self.segments = tuple(
            int(s) if s.isdigit() else s for s in _SEGMENT.findall(version.replace("-", ".pre."))
        )
        first_word = next((i for i, s in enumerate(self.segments) if isinstance(s, str)), len(self.segments))
        release = _strip_zeros(list(self.segments[:first_word]))
        prerelease = _strip_zeros(list(self.segments[first_word:]))
        # Gem::Version#canonical_segments: what the order (and RubyGems' hash) looks at.
        self.canonical_segments: tuple[int | str, ...] = (*release, *prerelease)
        return _segments_key(release + prerelease)

    @property
    def is_prerelease(self) -> bool:
        return any(isinstance(s, str) for s in self.segments)

    def __str__(self) -> str:
        return self._text.strip()
