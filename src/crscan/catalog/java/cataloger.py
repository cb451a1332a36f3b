"""Java packages from archives anywhere in the image."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.catalog.java.parse_archive import ARCHIVE_SUFFIXES, parse_archive
from crscan.model import ImageFile


class JavaArchiveCataloger(Cataloger):
    name = "java-archive"
    version = 1
    globs = tuple("/**/*" + suffix for suffix in ARCHIVE_SUFFIXES)

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages, warnings = [], []
        for path in sorted(files):
            try:
                found = parse_archive(files[path].data, path, warnings)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=files[path].layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
