"""Composer (Packagist) versions, ordered like Composer: `VersionParser::normalize`, then PHP's
`version_compare` on the normalized strings.

Normalization pads classical versions to four numbers (`v1.2` → `1.2.0.0`), spells stability
modifiers out (`1.0b2` → `1.0.0.0-beta2`, `1.0-pl1` → `1.0.0.0-patch1`, `-stable` vanishes), drops
`+build` metadata and turns numbered dev branches into high versions (`1.x-dev` →
`1.9999999.9999999.9999999-dev`). The order is dev < alpha < beta < RC < stable < patch.
Named branches (`dev-main`) have no order and are rejected.
"""

from __future__ import annotations

import re
from typing import Any

from crscan.versions.interface import Version

_MODIFIER = r"[._-]?(?:(stable|beta|b|rc|alpha|a|patch|pl|p)((?:[.-]?[0-9]+)*+)?)?([.-]?dev)?"
_CLASSICAL = re.compile(r"v?([0-9]{1,5}+)(\.[0-9]++)?(\.[0-9]++)?(\.[0-9]++)?" + _MODIFIER, re.IGNORECASE)
_DATETIME = re.compile(r"v?([0-9]{4}(?:[.:-]?[0-9]{2}){1,6}(?:[.:-]?[0-9]{1,3}){0,2})" + _MODIFIER, re.IGNORECASE)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE)
_NUMBERED_BRANCH = re.compile(r"v?([0-9]++)(\.(?:[0-9]++|[xX*]))?(\.(?:[0-9]++|[xX*]))?(\.(?:[0-9]++|[xX*]))?")
_BUILD_METADATA = re.compile(r"([^,\s+]++)\+[^\s]++")
_STABILITY = {"a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta", "rc": "RC", "p": "patch", "pl": "patch",
              "patch": "patch"}

# PHP version_compare's "special forms" in order; a number counts as "#", which sits between RC and
# patch. A normalized version holds no other words.
_SPECIAL_RANK = {"dev": 0, "alpha": 1, "beta": 2, "RC": 3, "patch": 5}
_NUMBER_RANK = 4
# Where one version runs out, a following number makes the other newer and a following word is
# compared against "#": so the end sorts just below every number.
_END = (_NUMBER_RANK, -1)
_PHP_PARTS = re.compile(r"[0-9]+|[^0-9.]+")


def normalize(version: str) -> str | None:
    """Composer's normalized form of `version`, or None when Composer would reject it."""
    version = version.strip()
    if version.lower().startswith("dev-"):
        return None
    with_build = _BUILD_METADATA.fullmatch(version)
    if with_build:
        version = with_build[1]
    match = _CLASSICAL.fullmatch(version)
    if match:
        numbers = match[1] + "".join(match[i] or ".0" for i in (2, 3, 4))
        modifier = match.groups()[4:]
    else:
        match = _DATETIME.fullmatch(version)
        if match:
            numbers = re.sub(r"[^0-9]", ".", match[1])
            modifier = match.groups()[1:]
    if match:
        stability, stability_number, dev = modifier
        if stability:
            stability = stability.lower()
            if stability == "stable":
                return numbers
            numbers += "-" + _STABILITY[stability] + (stability_number or "").lstrip(".-")
        return numbers + ("-dev" if dev else "")
    match = _DEV_SUFFIX.fullmatch(version)
    branch = _NUMBERED_BRANCH.fullmatch(match[1]) if match else None
    if branch:
        parts = [branch[1]] + [(part or ".x")[1:] for part in branch.groups()[1:]]
        return ".".join("9999999" if part in "xX*" else part for part in parts) + "-dev"
    return None


class ComposerVersion(Version):
    __slots__ = ("normalized",)
    scheme = "composer"

    def _cmpkey(self, text: str) -> tuple[Any, ...]:
        normalized = normalize(text)
        if normalized is None:
            if text.strip().lower().startswith("dev-"):
                raise self._invalid("a named dev branch has no version order")
            raise self._invalid("not a Composer version (MAJOR[.MINOR[.PATCH[.BUILD]]][-stability[N]][-dev])")
        self.normalized = normalized
        parts = _PHP_PARTS.findall(normalized.replace("-", "."))
        key = [(_NUMBER_RANK, int(p)) if p.isdigit() else (_SPECIAL_RANK[p], 0) for p in parts]
        key.append(_END)
        return tuple(key)

    def __str__(self) -> str:
        return self._text.strip()
