"""Ruby gems installed by RubyGems, Bundler or Debian's rubygems-integration."""

from __future__ import annotations

from crscan.catalog.interface import FileCataloger
from crscan.catalog.ruby.parse_gemspec import parse_gemspec
from crscan.model import Package


class GemCataloger(FileCataloger):
    name = "ruby-gems"
    version = 1
    globs = ("/**/specifications/*.gemspec", "/**/specifications/default/*.gemspec")

    def parse(self, data: bytes, path: str, warnings: list[str]) -> list[Package]:
        return parse_gemspec(data, path)
