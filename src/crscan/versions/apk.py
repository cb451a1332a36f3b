"""Alpine package versions, ordered like apk-tools (`digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`)."""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import MAX_VERSION_LENGTH, InvalidVersion, Version

# Token kinds in the order apk-tools numbers them; where two versions first differ in kind, the one
# with the *higher* kind is older (1.0.1 > 1.0a > 1.0-r1 > 1.0, the end being the highest kind), except
# that a pre-release suffix is older than anything (1.0_rc1 < 1.0).
_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NUMBER, _COMMIT_HASH, _REVISION, _END = range(8)

# Pre-release suffixes sort before "no suffix", post-release ones after it.
_SUFFIXES = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}
_NO_SUFFIX = 4
_PRE_RELEASE_RANK = -100  # below every other kind's rank (-kind)
# apk-tools compares strings it would not accept up to the first bad token, which sorts like a kind
# above the end (so "1.0" > "1.0bc") and equal to any other bad token.
_INVALID_TAIL = (-8, 0)

_TOKEN = re.compile(
    r"(?P<dot>\.[0-9]+)|(?P<letter>[a-z])|_(?P<suffix>[a-z]*)|(?P<number>[0-9]+)"
    r"|~(?P<hash>[0-9a-f]+)|-r(?P<revision>[0-9]+)"
)
# Which kinds may follow which (apk-tools' token_next): letters and dots only after digits, suffixes
# after digits, letters or suffixes, a hash before the revision, the revision last.
_ALLOWED_AFTER = {
    _DIGIT: {_INITIAL_DIGIT, _DIGIT},
    _LETTER: {_INITIAL_DIGIT, _DIGIT},
    _SUFFIX: {_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NUMBER},
    _SUFFIX_NUMBER: {_SUFFIX},
    _COMMIT_HASH: {_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NUMBER},
    _REVISION: {_INITIAL_DIGIT, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NUMBER, _COMMIT_HASH},
}
_INITIAL = re.compile(r"[0-9]+")

# A key item's value: a suffix rank or number, a letter or hash, or a `_digit_value`.
_Item = int | str | tuple[int, str | int]


def _digit_value(digits: str) -> tuple[int, str | int]:
    # apk compares components with a leading zero as strings (Gentoo rule), others as numbers; every
    # string starting with '0' sorts below every number not starting with '0', so both fit one order.
    return (0, digits) if digits[0] == "0" else (1, int(digits))


def _tokens(text: str) -> tuple[list[tuple[int, _Item]], str]:
    """The key items of the longest valid prefix of `text`, and what is wrong after it ("" if nothing)."""
    initial = _INITIAL.match(text)
    if not initial:
        return [], "does not start with a digit"
    key: list[tuple[int, _Item]] = [(-_INITIAL_DIGIT, int(initial.group()))]
    kind, pos = _INITIAL_DIGIT, initial.end()
    while pos < len(text):
        token = _TOKEN.match(text, pos)
        if token is None:
            return key, f"unexpected {text[pos:pos + 10]!r} at offset {pos}"
        group = token.lastgroup
        assert group is not None  # every alternative of _TOKEN is a named group
        item: _Item
        value = token.group(group)
        if group == "dot":
            new_kind, item = _DIGIT, _digit_value(value[1:])
        elif group == "number":
            if kind != _SUFFIX:
                return key, f"number {value!r} at offset {pos} must follow '.' or a suffix"
            new_kind, item = _SUFFIX_NUMBER, int(value)
        elif group == "letter":
            new_kind, item = _LETTER, value
        elif group == "suffix":
            if value not in _SUFFIXES:
                return key, f"unknown suffix '_{value}' (known: {', '.join(_SUFFIXES)})"
            new_kind, item = _SUFFIX, _SUFFIXES[value]
        elif group == "hash":
            new_kind, item = _COMMIT_HASH, value
        else:
            new_kind, item = _REVISION, int(value)
        if kind not in _ALLOWED_AFTER[new_kind]:
            return key, f"{token.group()!r} at offset {pos} is out of place"
        rank = _PRE_RELEASE_RANK if new_kind == _SUFFIX and isinstance(item, int) and item < _NO_SUFFIX else -new_kind
        key.append((rank, item))
        kind, pos = new_kind, token.end()
    key.append((-_END, 0))
    return key, ""


class ApkVersion(Version):
    __slots__ = ()
    scheme = "apk"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        key, problem = _tokens(text)
        if problem:
            raise self._invalid(problem)
        return tuple(key)

    @classmethod
    def ordering_key(cls, text: str) -> tuple[Any, ...]:
        """Like `apk version -t`: a string with junk after a valid start compares up to the junk."""
        try:
            return cls(text).key
        except InvalidVersion:
            if not isinstance(text, str) or len(text) > MAX_VERSION_LENGTH:
                raise
            key, _ = _tokens(text)
            if not key:
                raise
            return (*key, _INVALID_TAIL)
