"""Alpine packages from apk's installed database."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.apk.parse_installed import parse_installed
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.model import Distro, ImageFile

INSTALLED = "/lib/apk/db/installed"


class ApkCataloger(Cataloger):
    name = "apk"
    version = 1
    globs = (INSTALLED,)

    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        if INSTALLED not in files:
            return CatalogResult()
        database = files[INSTALLED]
        warnings: list[str] = []
        try:
            found = parse_installed(database.data, INSTALLED, distro, warnings)
        except CatalogError as exc:
            return CatalogResult((), (str(exc),))
        return CatalogResult(tuple(dataclasses.replace(p, layer=database.layer) for p in found), tuple(warnings))

