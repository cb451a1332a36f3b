"""PHP packages installed by Composer."""

from __future__ import annotations

from crscan.catalog.interface import FileCataloger
from crscan.catalog.php.parse_installed_json import parse_installed_json
from crscan.model import Package


class ComposerCataloger(FileCataloger):
    name = "php-composer"
    version = 1
    globs = ("/**/vendor/composer/installed.json",)

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_installed_json(data, path)
