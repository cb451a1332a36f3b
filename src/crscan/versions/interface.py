"""What every version scheme looks like: parse once into a comparison key, compare keys.

Each scheme is a `Version` subclass whose `_cmpkey` turns the text into a tuple that orders exactly as
the upstream tool orders the strings, in the style of `packaging.version.Version._key`. Comparing two
versions is then a tuple comparison, which keeps matching (millions of comparisons) cheap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

# Longer strings are not versions; the cap also bounds the work any parser does on hostile input.
MAX_VERSION_LENGTH = 256


class InvalidVersion(ValueError):
    """A string is not a valid version of the scheme; the message names the string and the problem."""


class Version(ABC):
    """A parsed version. Instances of one scheme compare and hash by key; different schemes never compare."""

    __slots__ = ("_key", "_text")
    scheme: ClassVar[str]

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise InvalidVersion(f"{self.scheme} version must be a string, not {type(text).__name__}")
        if len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersion(
                f"invalid {self.scheme} version {text[:40]!r}...: longer than {MAX_VERSION_LENGTH} characters"
            )
        self._text = text
        self._key = self._cmpkey(text)

    @abstractmethod
    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        """The comparison key of `text`; raises InvalidVersion (via `self._invalid`) when it is not a version."""

    @classmethod
    def ordering_key(cls, text: str) -> tuple[Any, ...]:
        """The key `compare` orders `text` by: the parsed key, unless the upstream tool compares strings
        it would not accept (apk), in which case the scheme overrides this to do the same."""
        return cls(text).key

    def _invalid(self, problem: str) -> InvalidVersion:
        return InvalidVersion(f"invalid {self.scheme} version {self._text!r}: {problem}")

    @property
    def key(self) -> tuple[Any, ...]:
        return self._key

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({str(self)!r})>"

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: Version) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key >= other._key
