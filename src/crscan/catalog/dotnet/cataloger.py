""".NET applications' NuGet dependencies."""

from __future__ import annotations

from crscan.catalog.dotnet.parse_deps_json import parse_deps_json
from crscan.catalog.interface import FileCataloger
from crscan.model import Package


class DotnetCataloger(FileCataloger):
    name = "dotnet-deps"
    version = 1
    globs = ("/**/*.deps.json",)

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_deps_json(data, path)
