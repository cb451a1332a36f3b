"""Composer's record of what it put in vendor/: `vendor/composer/installed.json`.

Composer 1 wrote a JSON list of packages; Composer 2 writes `{"packages": [...], "dev": …}`.
Every listed package is on disk, dev ones included (they are in vendor/ when installed with --dev).
"""

from __future__ import annotations

import json

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package


def parse_installed_json(data: bytes, path: str) -> list[Package]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    entries = document.get("packages") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: no package list (neither Composer 1 nor Composer 2 format)")
    packages = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("version")
        if isinstance(name, str) and isinstance(version, str) and name and version:
            vendor, _, project = name.rpartition("/")
            declared = entry.get("license")
            licenses = tuple(x for x in declared if isinstance(x, str) and x) if isinstance(declared, list) else ()
            packages.append(Package(Ecosystem.COMPOSER, name, version,
                                    purl=purl("composer", project, version, vendor), path=path, licenses=licenses))
    return packages
