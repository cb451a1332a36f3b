"""Python package versions: PEP 440, ordered by `packaging.version.Version`, and the legacy versions
PyPI still carries (`1.0-SNAPSHOT`, `2004d`, `0.3.1-final`) ordered as pip did before packaging 22
dropped `LegacyVersion`: below every PEP 440 version (epoch -1), among themselves by setuptools' old
`parse_version` key, so an advisory range over PEP 440 versions still decides for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import packaging.version

from crscan.versions.interface import Version

# packaging 21.3 packaging/version.py: _legacy_version_component_re and _legacy_version_replacement_map.
_LEGACY_COMPONENT = re.compile(r"(\d+|[a-z]+|\.|-)")
_LEGACY_REPLACEMENTS = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}
_LEGACY_EPOCH, _PEP440_EPOCH = -1, 0

PypiKey = tuple[int, packaging.version.Version] | tuple[int, tuple[str, ...]]


def _legacy_parts(text: str) -> Iterator[str]:
    """packaging 21.3 `_parse_version_parts`: numbers zero-padded to 8 (compared as strings, as there),
    words starred so they sort below numbers, and a closing "*final" so that alpha/beta/c sort before it."""
    for part in _LEGACY_COMPONENT.split(text):
        part = _LEGACY_REPLACEMENTS.get(part, part)
        if not part or part == ".":
            continue
        if part[:1] in "0123456789":
            yield part.zfill(8)
        else:
            yield "*" + part
    yield "*final"


def legacy_key(text: str) -> tuple[str, ...]:
    """packaging 21.3 `_legacy_cmpkey` without its epoch: drop "-" before a pre-release word and trailing
    zeros of each numeric run."""
    parts: list[str] = []
    for part in _legacy_parts(text.lower()):
        if part.startswith("*"):
            if part < "*final":
                while parts and parts[-1] == "*final-":
                    parts.pop()
            while parts and parts[-1] == "00000000":
                parts.pop()
        parts.append(part)
    return tuple(parts)


class PypiVersion(Version):
    """PEP 440 versions through packaging (`str()` is the normalized form); anything else non-blank is a
    legacy version (`str()` is the text as written, `is_legacy` is true)."""

    __slots__ = ("_parsed",)
    scheme = "pypi"

    def _cmpkey(self, text: str) -> PypiKey:
        try:
            self._parsed: packaging.version.Version | None = packaging.version.Version(text)
        except packaging.version.InvalidVersion:
            self._parsed = None
        if self._parsed is not None:
            return (_PEP440_EPOCH, self._parsed)
        if not text.strip():
            raise self._invalid("empty")
        return (_LEGACY_EPOCH, legacy_key(text))

    def __str__(self) -> str:
        return self._text if self._parsed is None else str(self._parsed)

    @property
    def is_legacy(self) -> bool:
        return self._parsed is None

    @property
    def is_prerelease(self) -> bool:
        # LegacyVersion.is_prerelease was always False.
        return self._parsed is not None and self._parsed.is_prerelease
