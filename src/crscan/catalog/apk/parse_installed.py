"""apk's installed database (/lib/apk/db/installed): one stanza of `X:value` lines per package."""

from __future__ import annotations

from collections.abc import Iterator

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import distro_qualifier, purl
from crscan.model import Distro, Ecosystem, Package


def parse_installed(data: bytes, path: str = "/lib/apk/db/installed", distro: Distro | None = None,
                    warnings: list[str] | None = None) -> list[Package]:
    """Name (P), version (V), arch (A), origin (o) as the source package, license (L), and owned files (F dir +
    R name)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start}); not an apk database") from None
    packages = []
    for number, stanza in _stanzas(text):
        fields: dict[str, str] = {}
        files: list[str] = []
        directory = ""
        for line in stanza:
            key, sep, value = line.partition(":")
            if not sep or len(key) != 1:
                raise CatalogError(f"{path}:{number}: not an apk database line: {line[:60]!r}")
            if key == "F":
                directory = value
            elif key == "R":
                files.append(f"/{directory}/{value}" if directory else f"/{value}")
            else:
                fields.setdefault(key, value)
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            if warnings is not None:
                warnings.append(f"{path}:{number}: package {name or '?'} has no {'P' if not name else 'V'}: line")
            continue
        arch = fields.get("A", "")
        origin = fields.get("o", "") or name
        packages.append(Package(
            Ecosystem.APK, name, version,
            purl=purl("apk", name, version, distro.id if distro else "alpine",
                      arch=arch, upstream=origin if origin != name else "", distro=distro_qualifier(distro)),
            arch=arch, source_name=origin, source_version=version, path=path, files=tuple(files),
            licenses=(fields["L"].strip(),) if fields.get("L", "").strip() else ()))
    return packages


def _stanzas(text: str) -> Iterator[tuple[int, list[str]]]:
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if lines:
                yield start, lines
            lines = []
            continue
        if not lines:
            start = number
        lines.append(line)
    if lines:
        yield start, lines
