"""Python package versions (PEP 440), ordered by `packaging.version.Version`."""

from __future__ import annotations

from typing import Any

import packaging.version

from crscan.versions.interface import Version


class PypiVersion(Version):
    """A thin wrapper: packaging does the parsing and ordering; `str()` is the normalized form."""

    __slots__ = ("_parsed",)
    scheme = "pypi"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        try:
            self._parsed = packaging.version.Version(text)
        except packaging.version.InvalidVersion:
            raise self._invalid("not a PEP 440 version") from None
        return (self._parsed,)

    def __str__(self) -> str:
        return str(self._parsed)

    @property
    def is_prerelease(self) -> bool:
        return self._parsed.is_prerelease
