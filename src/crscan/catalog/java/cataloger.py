"""Java packages from archives anywhere in the image."""

from __future__ import annotations

from crscan.catalog.interface import FileCataloger
from crscan.catalog.java.parse_archive import ARCHIVE_SUFFIXES, parse_archive
from crscan.model import Package


class JavaArchiveCataloger(FileCataloger):
    name = "java-archive"
    version = 1
    globs = tuple("/**/*" + suffix for suffix in ARCHIVE_SUFFIXES)

    def wants(self, path: str, mode: int, size: int) -> bool:
        return path.endswith(ARCHIVE_SUFFIXES)  # what the globs say, without a regex per tar entry

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_archive(data, path, warnings)
