"""Rust crates from Cargo.lock files and cargo-auditable binaries."""

from __future__ import annotations

from crscan.catalog.elf import is_elf
from crscan.catalog.interface import FileCataloger
from crscan.catalog.rust.parse_cargo import parse_audit_data, parse_cargo_lock
from crscan.model import Package

MIN_BINARY = 4096


class RustCataloger(FileCataloger):
    name = "rust"
    version = 1
    globs = ("/**/Cargo.lock",)

    def wants(self, path: str, mode: int, size: int) -> bool:
        return super().wants(path, mode, size) or (bool(mode & 0o111) and size >= MIN_BINARY)

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        if path.endswith("/Cargo.lock"):
            return parse_cargo_lock(data, path)
        return parse_audit_data(data, path) if is_elf(data) else []
