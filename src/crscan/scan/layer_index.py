"""One layer's index: what the scan needs from a layer, small enough to cache by layer digest.

A layer is read once. Files that a per-file cataloger understands on their own (METADATA, package.json,
Go binaries, jars …) are parsed right away and only their packages are kept, keyed by the path they came
from. Files whose meaning depends on the whole filesystem (package databases such as dpkg's status and
`info/*.list`, release files) are kept as bytes together with the layer's whiteouts, links and path
listing, so they can be merged across layers later. Together that is enough to rebuild the image's
inventory without pulling the layer again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import zstandard

from crscan.catalog.distro import DISTRO_GLOBS
from crscan.catalog import Cataloger, catalog_version, split_catalogers
from crscan.catalog.interface import glob_match
from crscan.layers import LayerContents, LayerShadow, Limits, Select, read_layer
from crscan.model import Ecosystem, ImageFile, LayerRef, Package

# Bump when the index's content or encoding changes: cached indexes of another version are ignored.
INDEX_FORMAT = 2  # 2: packages carry licenses


@dataclass(frozen=True)
class LayerIndex:
    contents: LayerContents  # `files` holds only the whole-filesystem files
    packages: tuple[Package, ...]  # from per-file catalogers, each with `path` and `layer`
    warnings: tuple[str, ...] = ()

    @property
    def layer(self) -> LayerRef:
        return self.contents.layer


def cache_key(catalogers: Sequence[Cataloger]) -> str:
    """Identifies the code that produced an index: the index format, the release files it keeps (an index made
    before a vendor file was known lacks it) and every cataloger's name and version."""
    releases = hashlib.sha256("\n".join(DISTRO_GLOBS).encode()).hexdigest()[:12]
    return f"index={INDEX_FORMAT},releases={releases},{catalog_version(catalogers)}"


def _needs_whole_view(whole_view: Sequence[Cataloger], file: ImageFile) -> bool:
    if any(glob_match(g, file.path) for g in DISTRO_GLOBS):
        return True
    size = len(file.data)
    return any(c.wants(file.path, file.mode, size) for c in whole_view)


def index_layer(
    layer: LayerRef, stream: BinaryIO, catalogers: Sequence[Cataloger], limits: Limits | None = None
) -> LayerIndex:
    """Read one layer blob and index it. Raises `crscan.layers.LayerError` for unsafe or malformed layers."""
    return index_contents(read_layer(layer, stream, selection(catalogers), limits), catalogers)


def selection(catalogers: Sequence[Cataloger]) -> Select:
    """The files an index needs: release files and whatever a cataloger wants."""
    return Select(
        globs=DISTRO_GLOBS,
        predicates=[lambda path, mode, size: any(c.wants(path, mode, size) for c in catalogers)],
    )


def index_contents(contents: LayerContents, catalogers: Sequence[Cataloger]) -> LayerIndex:
    """Index what was read of one layer (or one unpacked directory): per-file packages parsed now, the files
    the whole view needs kept."""
    per_file, whole_view = split_catalogers(catalogers)
    packages: list[Package] = []
    warnings = [f"{path}: not read ({why})" for path, why in contents.skipped]
    for cataloger in per_file:
        selected = {p: f for p, f in contents.files.items() if cataloger.wants(p, f.mode, len(f.data))}
        if selected:
            result = cataloger.catalog(selected)
            packages.extend(result.packages)
            warnings.extend(result.warnings)
    kept = {p: f for p, f in contents.files.items() if _needs_whole_view(whole_view, f)}
    return LayerIndex(dataclasses.replace(contents, files=kept), tuple(packages), tuple(warnings))


# --- encoding: JSON compressed with zstd; file bytes base64 --------------------------------------------------


def encode(index: LayerIndex) -> bytes:
    c = index.contents
    doc = {
        "format": INDEX_FORMAT,
        "layer": [c.layer.digest, c.layer.diff_id],
        "files": [[f.path, f.mode, base64.b64encode(f.data).decode()] for f in c.files.values()],
        "symlinks": dict(c.symlinks),
        "hardlinks": dict(c.hardlinks),
        "picked_links": sorted(c.picked_links),
        "shadow": c.shadow.to_dict(),
        "size": c.size,
        "entries": c.entries,
        "compression": c.compression,
        "packages": [_package_doc(p) for p in index.packages],
        "warnings": list(index.warnings),
    }
    return zstandard.ZstdCompressor(level=3).compress(json.dumps(doc, separators=(",", ":")).encode())


def decode(blob: bytes) -> LayerIndex:
    """Raises ValueError for anything that is not an index of the current format."""
    try:
        doc = json.loads(zstandard.ZstdDecompressor().decompress(blob, max_output_size=1 << 31))
    except (zstandard.ZstdError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"corrupt layer index: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        raise ValueError("layer index of another format")
    layer = LayerRef(*doc["layer"])
    files = {path: ImageFile(path, base64.b64decode(data), layer, mode) for path, mode, data in doc["files"]}
    contents = LayerContents(
        layer=layer,
        files=files,
        symlinks=doc["symlinks"],
        hardlinks=doc["hardlinks"],
        picked_links=frozenset(doc["picked_links"]),
        shadow=LayerShadow.from_dict(doc["shadow"]),
        compression=doc["compression"],
        size=doc["size"],
        entries=doc["entries"],
    )
    packages = tuple(_package_from_doc(d, layer) for d in doc["packages"])
    return LayerIndex(contents, packages, tuple(doc["warnings"]))


def _package_doc(p: Package) -> dict[str, Any]:
    return {
        "ecosystem": p.ecosystem.value, "name": p.name, "version": p.version, "purl": p.purl, "arch": p.arch,
        "source_name": p.source_name, "source_version": p.source_version, "path": p.path, "files": list(p.files),
        "licenses": list(p.licenses),
    }


def _package_from_doc(d: dict[str, Any], layer: LayerRef) -> Package:
    return Package(
        ecosystem=Ecosystem(d["ecosystem"]), name=d["name"], version=d["version"], purl=d["purl"], arch=d["arch"],
        source_name=d["source_name"], source_version=d["source_version"], path=d["path"], layer=layer,
        files=tuple(d["files"]), licenses=tuple(d["licenses"]),
    )
