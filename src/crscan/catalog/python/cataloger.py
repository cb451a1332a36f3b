"""Installed Python distributions: wheels' dist-info and setuptools' egg-info (directory or file)."""

from __future__ import annotations

from crscan.catalog.interface import FileCataloger
from crscan.catalog.python.parse_metadata import parse_metadata
from crscan.model import Package


class PythonCataloger(FileCataloger):
    name = "python"
    version = 1
    globs = ("/**/*.dist-info/METADATA", "/**/*.egg-info/PKG-INFO", "/**/*.egg-info")

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_metadata(data, path)
