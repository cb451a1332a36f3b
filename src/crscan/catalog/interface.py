"""What every cataloger looks like: which files it wants, and how it turns them into packages."""

from __future__ import annotations

import dataclasses
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from crscan.model import ImageFile, Package


class CatalogError(Exception):
    """A file could not be read as the format it claims to be; the message names the problem."""


@dataclass(frozen=True)
class CatalogResult:
    packages: tuple[Package, ...] = ()
    warnings: tuple[str, ...] = ()


@functools.lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile an absolute glob: `**` matches any number of whole segments (even none), `*` stays in one."""
    if not pattern.startswith("/"):
        raise ValueError(f"glob must be absolute: {pattern!r}")
    out = []
    segments = pattern[1:].split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append("(?:[^/]+/)*" if not last else "(?:[^/]+/)*[^/]+")
            continue
        part = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
        out.append(part if last else part + "/")
    return re.compile("/" + "".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    return glob_regex(pattern).match(path) is not None


class Cataloger(ABC):
    """Finds one ecosystem's packages. Bump `version` whenever the output for the same input changes."""

    name: str
    version: int
    globs: tuple[str, ...] = ()

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Whether the layer reader should hand this regular file to `catalog`."""
        return any(glob_match(g, path) for g in self.globs)

    @abstractmethod
    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        """Packages found in `files` (path → file, as selected by `wants`); bad files become warnings."""


class FileCataloger(Cataloger):
    """A cataloger that reads each wanted file on its own (language ecosystems)."""

    @abstractmethod
    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        """Packages in one file; CatalogError when the file is unreadable, `warnings` for partial damage."""

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages: list[Package] = []
        warnings: list[str] = []
        for path in sorted(files):
            image_file = files[path]
            try:
                found = self.parse(image_file.data, path, warnings)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=image_file.layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
