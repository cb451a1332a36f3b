"""Maven artifact versions, ordered like Maven's `ComparableVersion` (maven-artifact 3.8).

Parsing follows ComparableVersion exactly: '.' separates items; '-', letter/digit transitions and a
qualifier after a dot open a sub-list; qualifiers are case-insensitive with alpha < beta < milestone
< rc = cr < snapshot < "" = ga = final = release < sp < unknown ones (lexically); trailing "null"
items (0, "", empty list) are dropped. Comparison is a total order built from keys. It agrees with
Maven wherever Maven's own comparison is transitive, and picks one side where Maven contradicts
itself: Maven 3.8.7 says 1.0.alpha.2 > 1.sp.2 > 1 > 1.0.alpha.2 (a number beats a qualifier at the
same position, yet 0 equals the end); here a 0 before a qualifier counts as the end, so
1.0.alpha.2 < 1 < 1.sp.2.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from crscan.versions.interface import Version

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT_BEFORE_DIGIT = {"a": "alpha", "b": "beta", "m": "milestone"}
_RELEASE = str(_QUALIFIERS.index(""))
_PRINTABLE = re.compile(r"[!-~]+")  # printable ASCII without space

# A parsed item: a number, a comparable qualifier, or a sub-list.
_Item: TypeAlias = int | str | list["_Item"]
# Item kinds in Maven's cross-type order: a qualifier < a sub-list < a number.
_STRING, _LIST, _INT = 0, 1, 2
# Block classes of a list key, see _list_key.
_BELOW_RELEASE, _END, _ABOVE_RELEASE, _NUMBER = 0, 1, 2, 3


def _comparable_qualifier(value: str) -> str:
    """Maven's lexically comparable form: the known qualifier's index, else "7-<qualifier>"."""
    if value in _QUALIFIERS:
        return str(_QUALIFIERS.index(value))
    return f"{len(_QUALIFIERS)}-{value}"


def _string_item(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and value in _SHORT_BEFORE_DIGIT:
        value = _SHORT_BEFORE_DIGIT[value]
    return _comparable_qualifier(_ALIASES.get(value, value))


def _is_null(item: _Item) -> bool:
    return item == 0 or item == _RELEASE or item == []


def _normalize(items: list[_Item]) -> None:
    """Drop trailing null items, looking past non-null sub-lists (ListItem.normalize)."""
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def _parse(version: str) -> list[_Item]:
    """ComparableVersion.parseVersion: nested lists of ints and comparable qualifier strings."""
    version = version.lower()
    items: list[_Item] = []
    lists = [items]

    def nest() -> list[_Item]:
        sub: list[_Item] = []
        lists[-1].append(sub)
        lists.append(sub)
        return sub

    current = items
    is_digit = False
    start = 0
    for i, c in enumerate(version):
        if c in ".-":
            current.append(0 if i == start else _item(version[start:i], is_digit))
            start = i + 1
            if c == "-":
                current = nest()
        elif c.isdigit():
            if not is_digit and i > start:
                if current:  # 1.0.0.X1 < 1.0.0-X2: a qualifier after a dot counts as after a hyphen
                    current = nest()
                current.append(_string_item(version[start:i], True))
                start = i
                current = nest()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(int(version[start:i]))
                start = i
                current = nest()
            is_digit = False
    if len(version) > start:
        if not is_digit and current:
            current = nest()
        current.append(_item(version[start:], is_digit))
    for sub in reversed(lists):
        _normalize(sub)
    return items


def _item(text: str, is_digit: bool) -> int | str:
    return int(text) if is_digit else _string_item(text, False)


def _list_key(items: list[_Item]) -> tuple[Any, ...]:
    """A tuple ordering lists the way ListItem.compareTo does, a shorter list padded with nulls.

    Runs of non-trailing nulls are folded into the item after them (`skipped`), which makes the
    padding comparable: where one list ends, what decides is whether the other's next item sorts
    below a release (qualifiers like alpha, sub-lists starting with one) or above it.
    """
    key: list[tuple[int, ...] | tuple[int, int, int, tuple[Any, ...] | str]] = []
    skipped = 0
    for entry in items:
        if _is_null(entry):
            skipped += 1
            continue
        if isinstance(entry, int):
            key.append((_NUMBER, -skipped, entry))
        else:
            value: tuple[Any, ...] | str
            kind, value = (_LIST, _list_key(entry)) if isinstance(entry, list) else (_STRING, entry)
            below = value[0][0] == _BELOW_RELEASE if isinstance(value, tuple) else value < _RELEASE
            key.append((_BELOW_RELEASE if below else _ABOVE_RELEASE, skipped, kind, value))
        skipped = 0
    key.append((_END,))
    return tuple(key)


class MavenVersion(Version):
    __slots__ = ()
    scheme = "maven"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        if not _PRINTABLE.fullmatch(text):
            raise self._invalid("empty or contains whitespace or non-ASCII characters")
        return _list_key(_parse(text))
