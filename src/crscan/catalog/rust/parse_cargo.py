"""Rust crates: Cargo.lock, and the dependency list cargo-auditable embeds in binaries (`.dep-v0`)."""

from __future__ import annotations

import json
import tomllib
import zlib

from crscan.catalog.elf import elf_section
from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

AUDIT_SECTION = ".dep-v0"
MAX_AUDIT_JSON = 8 * 1024 * 1024  # the inflated list for a huge workspace is well under 1 MiB


def crate(name: str, version: str, path: str) -> Package:
    return Package(Ecosystem.CARGO, name, version, purl=purl("cargo", name, version), path=path)


def parse_cargo_lock(data: bytes, path: str) -> list[Package]:
    """Crates pinned from a registry or git; path crates (the project's own) have no `source`."""
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: not a valid Cargo.lock: {exc}") from None
    except RecursionError:
        raise CatalogError(f"{path}: not a valid Cargo.lock: nested too deeply") from None
    entries = document.get("package", [])
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: [[package]] is not an array of tables")
    return [crate(e["name"], e["version"], path) for e in entries
            if isinstance(e, dict) and e.get("source") and isinstance(e.get("name"), str)
            and isinstance(e.get("version"), str)]


def parse_audit_data(data: bytes, path: str) -> list[Package]:
    """Runtime dependencies from a cargo-auditable binary; [] for a binary built without it."""
    compressed = elf_section(data, AUDIT_SECTION, path)
    if compressed is None:
        return []
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(compressed, MAX_AUDIT_JSON)
        if inflater.unconsumed_tail:
            raise CatalogError(f"{path}: {AUDIT_SECTION} inflates beyond {MAX_AUDIT_JSON} bytes")
        document = json.loads(text)
    except zlib.error as exc:
        raise CatalogError(f"{path}: {AUDIT_SECTION} is not zlib data: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: {AUDIT_SECTION} is not JSON: {exc}") from None
    entries = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: {AUDIT_SECTION} has no package list")
    return [crate(e["name"], e["version"], path) for e in entries
            if isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("version"), str)
            and e.get("source", "crates.io") != "local" and e.get("kind", "runtime") == "runtime"]
