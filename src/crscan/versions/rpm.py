"""RPM package versions, ordered like rpm's `rpmvercmp` on epoch, then version, then release."""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version

# rpmvercmp sees only ASCII letter runs, digit runs, '~' and '^'; every other character separates.
_TOKENS = re.compile(r"[A-Za-z]+|[0-9]+|~|\^")
_PRINTABLE = re.compile(r"[!-~]+")  # printable ASCII without space

# Rank of a token where two versions first differ: '~' sorts before the end of the string, '^' after
# it but before any further segment, letters before digits.
_TILDE = (0,)
_END = (1,)
_CARET = (2,)
_ALPHA = 3
_NUMERIC = 4


def _segment_key(text: str) -> tuple[Any, ...]:
    key: list[tuple[int] | tuple[int, int | str]] = []
    for token in _TOKENS.findall(text):
        if token == "~":
            key.append(_TILDE)
        elif token == "^":
            key.append(_CARET)
        elif token[0].isdigit():
            key.append((_NUMERIC, int(token)))
        else:
            key.append((_ALPHA, token))
    key.append(_END)
    return tuple(key)


class RpmVersion(Version):
    """`[epoch:]version[-release]`. A missing epoch is 0; a missing release sorts below every release, even an
    empty one or `~` (rpm.vercmp: `0` < `0-~` < `0-`)."""

    __slots__ = ()
    scheme = "rpm"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        if not _PRINTABLE.fullmatch(text):
            raise self._invalid("empty or contains whitespace or non-ASCII characters")
        epoch_text, colon, rest = text.partition(":")
        if colon:
            if not epoch_text.isdigit():
                raise self._invalid(f"epoch {epoch_text!r} is not a number")
            epoch = int(epoch_text)
        else:
            epoch, rest = 0, text
        version, dash, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
        if not version:
            raise self._invalid("no version before the release")
        return (epoch, _segment_key(version), _segment_key(release) if dash else ())

    @property
    def epoch(self) -> int:
        epoch: int = self._key[0]
        return epoch
