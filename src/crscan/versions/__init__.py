"""Version comparison, one scheme per module, each ordering versions exactly as its upstream tool does.

    >>> compare("deb", "1.0~rc1-1", "1.0-1")
    -1
    >>> parse("maven", "1.0-SNAPSHOT") < parse("maven", "1.0")
    True

Parsing is cached, so comparing the same strings over and over (as matching does) costs a dict
lookup and a tuple comparison.
"""

from __future__ import annotations

import functools
from typing import Any

from crscan.model import Ecosystem
from crscan.versions.apk import ApkVersion
from crscan.versions.composer import ComposerVersion
from crscan.versions.deb import DebVersion
from crscan.versions.go import GoVersion
from crscan.versions.interface import InvalidVersion, Version
from crscan.versions.maven import MavenVersion
from crscan.versions.nuget import NugetVersion
from crscan.versions.pypi import PypiVersion
from crscan.versions.rpm import RpmVersion
from crscan.versions.rubygems import GemVersion
from crscan.versions.semver import SemverVersion

__all__ = ["SCHEMES", "InvalidVersion", "Version", "compare", "parse", "scheme_for"]

SCHEMES: dict[str, type[Version]] = {
    cls.scheme: cls
    for cls in (
        DebVersion,
        RpmVersion,
        ApkVersion,
        PypiVersion,
        SemverVersion,
        GoVersion,
        MavenVersion,
        GemVersion,
        NugetVersion,
        ComposerVersion,
    )
}

_CACHE_SIZE = 1 << 16


def _scheme_class(scheme: str) -> type[Version]:
    try:
        return SCHEMES[scheme]
    except (KeyError, TypeError):
        raise ValueError(f"unknown version scheme {scheme!r}; known: {', '.join(SCHEMES)}") from None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(scheme: str, text: str) -> Version:
    return _scheme_class(scheme)(text)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _ordering_key(scheme: str, text: str) -> tuple[Any, ...]:
    return _scheme_class(scheme).ordering_key(text)


def _reject_unhashable(scheme: object, *texts: object) -> None:
    """Turn lru_cache's TypeError for a list or dict argument into the errors the API promises; returns
    (so the caller re-raises) when the arguments were fine and the TypeError came from elsewhere."""
    if not isinstance(scheme, str):
        _scheme_class(scheme)  # type: ignore[arg-type]  # on purpose: raises the unknown-scheme ValueError
    for text in texts:
        if not isinstance(text, str):
            raise InvalidVersion(f"{scheme} version must be a string, not {type(text).__name__}")


def parse(scheme: str, text: str) -> Version:
    """The `scheme` version `text` means; InvalidVersion if it is not one, ValueError for an unknown scheme."""
    try:
        return _parse(scheme, text)
    except TypeError:
        _reject_unhashable(scheme, text)
        raise


def compare(scheme: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, equal to or newer than `b` under `scheme`."""
    # Validation lives in the cached functions (Version checks its input), so a warm call is two
    # cache hits and a tuple comparison.
    try:
        key_a = _ordering_key(scheme, a)
        key_b = _ordering_key(scheme, b)
    except TypeError:
        _reject_unhashable(scheme, a, b)
        raise
    return (key_a > key_b) - (key_a < key_b)


def scheme_for(ecosystem: Ecosystem | str) -> str:
    """The version scheme of a package ecosystem (`Ecosystem` or its value, e.g. "dpkg" → "deb")."""
    try:
        return Ecosystem(ecosystem).facts.scheme
    except ValueError:
        raise ValueError(f"unknown ecosystem {ecosystem!r}; known: {', '.join(e.value for e in Ecosystem)}") from None
