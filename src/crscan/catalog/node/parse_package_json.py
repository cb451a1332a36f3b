"""npm packages: an installed package's package.json, and package-lock.json (lockfile versions 1–3)."""

from __future__ import annotations

import json
from typing import Any

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

MAX_LOCKFILE_DEPTH = 64  # v1 nests dependencies; a hostile file must not exhaust the stack


def npm_package(name: str, version: str, path: str, licenses: tuple[str, ...] = ()) -> Package:
    namespace, _, bare = name.rpartition("/")
    return Package(Ecosystem.NPM, name, version, purl=purl("npm", bare, version, namespace), path=path,
                   licenses=licenses)


def npm_licenses(document: dict[str, Any]) -> tuple[str, ...]:
    """`license` ("MIT", an SPDX expression), or the deprecated `{"type": …}` / `licenses: [{"type": …}]` forms."""
    declared = document.get("license")
    entries = declared if isinstance(declared, list) else [declared] if declared else document.get("licenses")
    if not isinstance(entries, list):
        return ()
    names = (e.get("type") if isinstance(e, dict) else e for e in entries)
    return tuple(n.strip() for n in names if isinstance(n, str) and n.strip())


def _load_object(data: bytes, path: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise CatalogError(f"{path}: JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise CatalogError(f"{path}: expected a JSON object, found {type(document).__name__}")
    return document


def parse_package_json(data: bytes, path: str) -> list[Package]:
    """The package an installed node_modules/<name>/package.json describes."""
    document = _load_object(data, path)
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        raise CatalogError(f"{path}: package.json has no string 'name' and 'version'")
    return [npm_package(name, version, path, npm_licenses(document))]


def parse_package_lock(data: bytes, path: str) -> list[Package]:
    """Packages a lockfile pins, without dev-only ones, links or the root project itself."""
    document = _load_object(data, path)
    if isinstance(document.get("packages"), dict):  # lockfileVersion 2 and 3
        return _from_packages(document["packages"], path)
    if isinstance(document.get("dependencies"), dict):  # lockfileVersion 1
        found: list[Package] = []
        _from_dependencies(document["dependencies"], path, found, 0)
        return found
    if document.get("lockfileVersion") is None:
        raise CatalogError(f"{path}: no lockfileVersion, packages or dependencies: not a package-lock.json")
    return []


def _from_packages(entries: dict[str, Any], path: str) -> list[Package]:
    found = []
    for location, entry in entries.items():
        if "node_modules/" not in location or not isinstance(entry, dict):
            continue  # "" is the project itself; other keys are workspace folders
        if entry.get("dev") or entry.get("link"):
            continue
        name = entry.get("name") or location.rsplit("node_modules/", 1)[1]
        version = entry.get("version")
        if isinstance(name, str) and isinstance(version, str) and version:
            found.append(npm_package(name, version, path, npm_licenses(entry)))
    return found


def _from_dependencies(entries: dict[str, Any], path: str, found: list[Package], depth: int) -> None:
    if depth > MAX_LOCKFILE_DEPTH:
        raise CatalogError(f"{path}: dependencies nested deeper than {MAX_LOCKFILE_DEPTH} levels")
    for name, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("dev"):
            continue
        version = entry.get("version")
        # v1 writes "file:…" / git URLs for non-registry packages: nothing an advisory could name.
        if isinstance(version, str) and version and ":" not in version:
            found.append(npm_package(name, version, path))
        if isinstance(entry.get("dependencies"), dict):
            _from_dependencies(entry["dependencies"], path, found, depth + 1)
