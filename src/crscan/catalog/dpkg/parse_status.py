"""dpkg's database: the status file (and distroless status.d entries) and the per-package file lists."""

from __future__ import annotations

import re

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import distro_qualifier, purl
from crscan.model import Distro, Ecosystem, Package

_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")
_FIELD = re.compile(r"^(?P<key>[A-Za-z0-9][A-Za-z0-9-]*):(?P<value>.*)$")


def parse_paragraphs(text: str, path: str) -> list[tuple[int, dict[str, str]]]:
    """RFC 822-style stanzas (deb822): (first line number, fields). Continuation lines are kept."""
    stanzas: list[tuple[int, dict[str, str]]] = []
    fields: dict[str, str] = {}
    start = 0
    key = ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                stanzas.append((start, fields))
            fields, key = {}, ""
            continue
        if line[0] in " \t":
            if not key:
                raise CatalogError(f"{path}:{number}: continuation line outside a field")
            fields[key] += "\n" + line[1:]
            continue
        match = _FIELD.match(line)
        if not match:
            raise CatalogError(f"{path}:{number}: not a 'Field: value' line: {line[:60]!r}")
        if not fields:
            start = number
        key = match["key"].lower()
        fields[key] = match["value"].strip()
    if fields:
        stanzas.append((start, fields))
    return stanzas


def parse_status(data: bytes, path: str = "/var/lib/dpkg/status", distro: Distro | None = None,
                 warnings: list[str] | None = None) -> list[Package]:
    """Packages in state 'install ok installed'. A stanza missing Package or Version (a truncated
    file) is skipped with a warning; a file that is not deb822 at all raises CatalogError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # dpkg itself writes UTF-8; a stray byte in a description must not hide the packages.
        text = data.decode("utf-8", "replace")
        if warnings is not None:
            warnings.append(f"{path}: not valid UTF-8 at byte {exc.start}; undecodable bytes replaced")
    entries = []
    for line_number, fields in parse_paragraphs(text, path):
        status = fields.get("status", "install ok installed" if "status.d" in path else "").split()
        if status[-1:] != ["installed"]:
            continue
        name, version = fields.get("package", ""), fields.get("version", "")
        if not name or not version:
            missing = "Package" if not name else "Version"
            if warnings is not None:
                warnings.append(f"{path}:{line_number}: stanza {name or '?'} has no {missing} field (truncated?)")
            continue
        source_name, source_version = name, version
        if fields.get("source"):
            match = _SOURCE.match(fields["source"])
            if match:
                source_name = match["name"]
                source_version = match["version"] or version
        arch = fields.get("architecture", "")
        entries.append(Package(
            Ecosystem.DPKG, name, version,
            purl=purl("deb", name, version, distro.id if distro else "debian",
                      arch=arch, distro=distro_qualifier(distro)),
            arch=arch, source_name=source_name, source_version=source_version, path=path))
    return entries


def parse_file_list(data: bytes) -> tuple[str, ...]:
    """`info/<pkg>.list`: one absolute path per line; '/.' (the root) carries no ownership."""
    text = data.decode("utf-8", "replace")
    return tuple(line for line in text.splitlines() if line.startswith("/") and line != "/.")


def parse_md5sums(data: bytes) -> tuple[str, ...]:
    """`<md5>  <path without leading slash>` lines, as distroless status.d/<pkg>.md5sums carries them."""
    paths = []
    for line in data.decode("utf-8", "replace").splitlines():
        _, sep, rel = line.partition("  ")
        if sep and rel:
            paths.append("/" + rel.lstrip("/"))
    return tuple(paths)
