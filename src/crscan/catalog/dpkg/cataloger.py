"""Debian/Ubuntu packages from dpkg's database, with the files each one owns."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.dpkg.parse_status import parse_file_list, parse_md5sums, parse_status
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.model import Distro, ImageFile, LayerRef, Package

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO = "/var/lib/dpkg/info/"


class DpkgCataloger(Cataloger):
    name = "dpkg"
    version = 1
    globs = (STATUS, STATUS_D + "*", INFO + "*.list")

    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        warnings: list[str] = []
        packages: list[Package] = []
        sources = [p for p in files if p == STATUS or (p.startswith(STATUS_D) and not p.endswith(".md5sums"))]
        for path in sorted(sources):
            status = files[path]
            try:
                found = parse_status(status.data, path, distro, warnings)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            for package in found:
                owned, layer = self._owned_files(files, package, path)
                packages.append(dataclasses.replace(package, files=owned, layer=layer or status.layer))
        return CatalogResult(tuple(packages), tuple(warnings))

    @staticmethod
    def _owned_files(files: Mapping[str, ImageFile], package: Package,
                     status_path: str) -> tuple[tuple[str, ...], LayerRef | None]:
        """The package's file list, and the layer that wrote it: that layer installed (or last
        upgraded) the package, which is more precise than the status file every install rewrites."""
        if status_path.startswith(STATUS_D):
            md5sums = files.get(status_path + ".md5sums")
            return (parse_md5sums(md5sums.data), md5sums.layer) if md5sums else ((), None)
        for list_path in (f"{INFO}{package.name}:{package.arch}.list", f"{INFO}{package.name}.list"):
            if list_path in files:
                return parse_file_list(files[list_path].data), files[list_path].layer
        return (), None
