"""What every cataloger looks like: which files it wants, and how it turns them into packages."""

from __future__ import annotations

import dataclasses
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crscan.model import Distro, ImageFile, Package


class CatalogError(Exception):
    """A file could not be read as the format it claims to be; the message names the problem."""


@dataclass(frozen=True)
class CatalogResult:
    packages: tuple[Package, ...] = ()
    warnings: tuple[str, ...] = ()


def _glob_pattern(pattern: str) -> str:
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
    return "/" + "".join(out)


@functools.lru_cache(maxsize=512)
def globs_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled alternation for absolute globs: `**` matches any number of whole segments (even none),
    `*` and `?` stay within one segment. The layer reader asks about every tar entry, so one match each."""
    return re.compile("|".join(f"(?:{_glob_pattern(p)})" for p in patterns) or "(?!)")


def glob_match(pattern: str, path: str) -> bool:
    return globs_regex((pattern,)).fullmatch(path) is not None


class Cataloger(ABC):
    """Finds one ecosystem's packages. Bump `version` whenever the output for the same input changes."""

    name: str
    version: int
    globs: tuple[str, ...]

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Whether the layer reader should hand this regular file to `catalog`."""
        return self._match_globs(path) is not None

    @functools.cached_property
    def _match_globs(self) -> Callable[[str], re.Match[str] | None]:
        return globs_regex(self.globs).fullmatch

    @abstractmethod
    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        """Packages found in `files` (path → file, as selected by `wants`); bad files become warnings.
        `distro` is the image's, detected once by `catalog_image` (None: no release file, or unknown)."""


Parse = Callable[[bytes, str, list[str]], list[Package]]


def catalog_each(files: Mapping[str, ImageFile], parse: Parse) -> CatalogResult:
    """Parse every file on its own; a CatalogError becomes a warning; packages get their file's layer."""
    packages: list[Package] = []
    warnings: list[str] = []
    for path in sorted(files):
        image_file = files[path]
        try:
            found = parse(image_file.data, path, warnings)
        except CatalogError as exc:
            warnings.append(str(exc))
            continue
        packages.extend(dataclasses.replace(p, layer=image_file.layer) for p in found)
    return CatalogResult(tuple(packages), tuple(warnings))


@dataclass(frozen=True, eq=False)
class FileCataloger(Cataloger):
    """A cataloger whose packages from a file depend on that file's path and bytes alone, never on other
    files: its results can be computed (and cached) one layer at a time. Every package's `path` is the
    file it came from, or a path below it for content inside an archive.

    Declared as data (syft's generic cataloger): a name, a version, the globs picking its files and one
    parse function. `select` replaces the globs when the rule is not a path pattern (executables by mode
    and size) or a cheaper test says the same for every tar entry."""

    name: str
    version: int
    globs: tuple[str, ...]
    parse: Parse  # packages in one file; CatalogError when unreadable, `warnings` for partial damage
    select: Callable[[str, int, int], bool] | None = None

    def wants(self, path: str, mode: int, size: int) -> bool:
        if self.select is not None:
            return self.select(path, mode, size)
        return super().wants(path, mode, size)

    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        return catalog_each(files, self.parse)
