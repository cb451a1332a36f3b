"""Rust crates from Cargo.lock files and cargo-auditable binaries."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.elf import is_elf
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.catalog.rust.parse_cargo import parse_audit_data, parse_cargo_lock
from crscan.model import ImageFile

MIN_BINARY = 4096


class RustCataloger(Cataloger):
    name = "rust"
    version = 1
    globs = ("/**/Cargo.lock",)

    def wants(self, path: str, mode: int, size: int) -> bool:
        return super().wants(path, mode, size) or (bool(mode & 0o111) and size >= MIN_BINARY)

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages, warnings = [], []
        for path in sorted(files):
            data = files[path].data
            if path.endswith("/Cargo.lock"):
                parse = parse_cargo_lock
            elif is_elf(data):
                parse = parse_audit_data
            else:
                continue
            try:
                found = parse(data, path)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=files[path].layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
