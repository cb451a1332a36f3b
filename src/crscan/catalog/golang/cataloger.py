"""Go modules compiled into executables."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.elf import is_elf
from crscan.catalog.golang.parse_buildinfo import parse_buildinfo
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.model import ImageFile

MIN_GO_BINARY = 64 * 1024  # the smallest Go executable is ~1 MiB; skip scripts and tiny tools early


class GoBinaryCataloger(Cataloger):
    name = "go-binary"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111) and size >= MIN_GO_BINARY

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages, warnings = [], []
        for path in sorted(files):
            if not is_elf(files[path].data):
                continue
            try:
                found = parse_buildinfo(files[path].data, path)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=files[path].layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
