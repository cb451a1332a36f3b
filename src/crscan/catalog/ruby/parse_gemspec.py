"""Installed gems: the `specifications/*.gemspec` Ruby files RubyGems writes, read without running Ruby."""

from __future__ import annotations

import re

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

# RubyGems writes `s.name = "rack".freeze` / `s.version = "2.2.22"`; older ones `Gem::Version.new("…")`.
_FIELD = re.compile(r"""^[ \t]*\w+\.(?P<key>name|version)[ \t]*=[ \t]*(?:Gem::Version\.new\()?["'](?P<value>[^"'\n]+)["']""",
                    re.MULTILINE)  # [ \t], not \s: a file of blank lines must not cost quadratic time
# The stub line RubyGems puts first: `# stub: rack 2.2.22 ruby lib`.
# `s.licenses = ["MIT".freeze, "Ruby".freeze]` (RubyGems always writes the list form) or `s.license = "MIT"`.
_LICENSES = re.compile(r"""^[ \t]*\w+\.licenses?[ \t]*=[ \t]*(?P<value>\[[^\]\n]*\]|["'][^"'\n]+["'])""", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"'\n]+)["']""")
_STUB = re.compile(r"^# stub: (?P<name>\S+) (?P<version>\S+)", re.MULTILINE)


def parse_gemspec(data: bytes, path: str) -> list[Package]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: gemspec is not UTF-8 (invalid byte at offset {exc.start})") from None
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        fields.setdefault(match["key"], match["value"])
    if ("name" not in fields or "version" not in fields) and (stub := _STUB.search(text)):
        fields.setdefault("name", stub["name"])
        fields.setdefault("version", stub["version"])
    if "name" not in fields or "version" not in fields:
        raise CatalogError(f"{path}: gemspec sets no {'name' if 'name' not in fields else 'version'}")
    name, version = fields["name"], fields["version"]
    declared = _LICENSES.search(text)
    licenses = tuple(_QUOTED.findall(declared["value"])) if declared else ()
    return [Package(Ecosystem.GEM, name, version, purl=purl("gem", name, version), path=path, licenses=licenses)]
