"""Installed Python distributions: wheels' dist-info and setuptools' egg-info (directory or file)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.catalog.python.parse_metadata import parse_metadata
from crscan.model import ImageFile


class PythonCataloger(Cataloger):
    name = "python"
    version = 1
    globs = ("/**/*.dist-info/METADATA", "/**/*.egg-info/PKG-INFO", "/**/*.egg-info")

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages, warnings = [], []
        for path in sorted(files):
            try:
                found = parse_metadata(files[path].data, path)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=files[path].layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
