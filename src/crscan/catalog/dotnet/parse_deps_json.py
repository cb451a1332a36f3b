"""NuGet packages a .NET application was published with: `<app>.deps.json` next to it."""

from __future__ import annotations

import json

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package


def parse_deps_json(data: bytes, path: str) -> list[Package]:
    """`libraries` entries of type "package" ("Name/Version" keys); "project" entries are the app itself."""
    try:
        document = json.loads(data.decode("utf-8-sig"))  # the SDK may write a BOM
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    libraries = document.get("libraries") if isinstance(document, dict) else None
    if not isinstance(libraries, dict):
        raise CatalogError(f"{path}: no 'libraries' object: not a .deps.json file")
    packages = []
    for key, library in libraries.items():
        if not isinstance(library, dict) or library.get("type") != "package":
            continue
        name, _, version = key.partition("/")
        if name and version:
            packages.append(Package(Ecosystem.NUGET, name, version, purl=purl("nuget", name, version), path=path))
    return packages
