"""Choosing files by path glob and/or by a predicate on (path, mode, size).

Globs match whole normalised paths: `*` and `?` stay within one segment, a `**` segment matches any
number of segments (zero included). Relative globs are anchored at the root: `**/package.json` =
`/**/package.json`.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterable
from functools import lru_cache

from crscan.layers.interface import FileSelector

Predicate = Callable[[str, int, int], bool]


def glob_to_regex(pattern: str) -> str:
    segments = [s for s in pattern.split("/") if s not in ("", ".")]
    if not segments:
        raise ValueError(f"empty glob: {pattern!r}")
    if ".." in segments:
        raise ValueError(f"'..' is not allowed in a glob: {pattern!r}")
    out = []
    for segment in segments:
        if segment == "**":
            out.append("(?:/[^/]+)*")
            continue
        out.append("/")
        for char in segment:
            out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
    return "".join(out)


@lru_cache(maxsize=64)
def _matcher(globs: tuple[str, ...]) -> Callable[[str], re.Match[str] | None] | None:
    """One regex for all the globs; cached because every layer read builds its selector from the same globs."""
    regex = "|".join(f"(?:{glob_to_regex(g)})" for g in globs)
    return re.compile(regex).fullmatch if regex else None


class Select(FileSelector):
    """Picks a file when any glob matches its path or any predicate accepts it."""

    def __init__(self, globs: Iterable[str] = (), predicates: Iterable[Predicate] = ()) -> None:
        self.globs = tuple(globs)
        self.predicates = tuple(predicates)
        if not self.globs and not self.predicates:
            raise ValueError("a selector needs at least one glob or predicate")
        self._match = _matcher(self.globs)

    def __call__(self, path: str, mode: int, size: int) -> bool:
        if self._match is not None and self._match(path):
            return True
        return any(predicate(path, mode, size) for predicate in self.predicates)

    def __repr__(self) -> str:
        return f"Select(globs={self.globs!r}, predicates={self.predicates!r})"


def executable(path: str, mode: int, size: int) -> bool:
    """A regular file someone may execute: where Go and Rust binaries are found."""
    return stat.S_ISREG(mode) and bool(mode & 0o111)
