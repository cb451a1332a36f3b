"""Go modules compiled into executables."""

from __future__ import annotations

from crscan.catalog.elf import is_elf
from crscan.catalog.golang.parse_buildinfo import parse_buildinfo
from crscan.catalog.interface import FileCataloger
from crscan.model import Package

MIN_GO_BINARY = 64 * 1024  # the smallest Go executable is ~1 MiB; skip scripts and tiny tools early


class GoBinaryCataloger(FileCataloger):
    name = "go-binary"
    version = 1

    def wants(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111) and size >= MIN_GO_BINARY

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_buildinfo(data, path) if is_elf(data) else []
