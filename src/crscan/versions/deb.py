"""Debian package versions, ordered like dpkg's `verrevcmp` ([epoch:]upstream[-revision])."""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version

_EPOCH_MAX = 2**31 - 1  # dpkg stores the epoch in an int and rejects larger ones
_UPSTREAM_CHARS = re.compile(r"[A-Za-z0-9.+~:-]*")
_REVISION_CHARS = re.compile(r"[A-Za-z0-9.+~]*")
_FRAGMENTS = re.compile(r"([^0-9]*)([0-9]*)")

# A non-digit run is compared character by character, the shorter one padded with 0 (its end):
# '~' sorts before the end, the end before letters, letters before everything else.
_END = 0


def _char_order(c: str) -> int:
    if c == "~":
        return -1
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


def _fragment_key(text: str) -> tuple[Any, ...]:
    """Alternating (non-digit run, number) pairs, closed by an empty pair.

    dpkg pads the shorter string with empty non-digit runs and zero numbers; every pair after the first
    starts with a non-empty run, so closing the key with the padding pair ((_END,), 0) reproduces that
    padding exactly. An empty string is the padding pair itself, so "1.0" equals "1.0-0".
    """
    key: list[tuple[int, ...] | int] = []
    for match in _FRAGMENTS.finditer(text):
        letters, digits = match.groups()
        if not letters and not digits:
            continue
        key.append(tuple(_char_order(c) for c in letters) + (_END,))
        key.append(int(digits) if digits else 0)
    if not key:
        key = [(_END,), 0]
    key += [(_END,), 0]
    return tuple(key)


class DebVersion(Version):
    """`epoch:upstream-revision`; lenient like dpkg's comparison (not its strict parser) about empty parts.

    dpkg only warns about an upstream part not starting with a digit, and apt compares `-0.6.5` (empty
    upstream) and `0foo-` (empty revision), so those parse; characters outside Debian policy do not.
    """

    __slots__ = ()
    scheme = "deb"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        if not text:
            raise self._invalid("empty")
        epoch_text, colon, rest = text.partition(":")
        if colon:
            if not epoch_text.isascii() or not epoch_text.isdigit():
                raise self._invalid(f"epoch {epoch_text!r} is not a number")
            epoch = int(epoch_text)
            if epoch > _EPOCH_MAX:
                raise self._invalid(f"epoch {epoch} is larger than {_EPOCH_MAX}")
        else:
            epoch, rest = 0, text
        upstream, dash, revision = rest.rpartition("-")
        if not dash:
            upstream, revision = rest, ""
        if not upstream and not revision:
            raise self._invalid("no upstream version")
        if not _UPSTREAM_CHARS.fullmatch(upstream):
            raise self._invalid(f"upstream version {upstream!r} has a character outside [A-Za-z0-9.+~:-]")
        if not _REVISION_CHARS.fullmatch(revision):
            raise self._invalid(f"revision {revision!r} has a character outside [A-Za-z0-9.+~]")
        return (epoch, _fragment_key(upstream), _fragment_key(revision))

    @property
    def epoch(self) -> int:
        epoch: int = self._key[0]
        return epoch
