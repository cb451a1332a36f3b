"""Scanning an unpacked filesystem: `dir:PATH` (a project or any directory) and `rootfs:PATH` (a whole root
filesystem, OS package database included), as Trivy's `fs` and `rootfs`.

The directory goes through the same catalog path as an image's layers, read as a single layer straight from
disk (`crscan.layers.directory`): the same catalogers, the same merge (links resolved inside the directory),
the same matchers. The two kinds differ in what they expect: a root filesystem without a release file is
worth a warning (its OS packages cannot be checked), a project directory is not; `rootfs:` does not walk
/proc, /sys and /dev.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path

from crscan.catalog import Inventory
from crscan.layers.directory import PSEUDO_FILESYSTEMS, read_directory
from crscan.model import LayerRef, ScanReport
from crscan.scan.layer_index import index_contents, selection
from crscan.scan.pipeline import Scanner
from crscan.vulndb import FeedDB

# A directory has no layer digest; packages found in it carry no layer (the report's `layer: null`).
_NO_LAYER = LayerRef("", "")


class FilesystemKind(enum.Enum):
    DIRECTORY = "dir"
    ROOTFS = "rootfs"

    @property
    def prefix(self) -> str:
        return f"{self.value}:"


def inventory_of(scanner: Scanner, root: Path, kind: FilesystemKind) -> Inventory:
    """The packages under `root`, read with `scanner`'s catalogers and limits. Raises `LayerError` for a
    limit crossed, a link escaping `root`, or a `root` that is not a directory."""
    skip = PSEUDO_FILESYSTEMS if kind is FilesystemKind.ROOTFS else ()
    contents = read_directory(root, _NO_LAYER, selection(scanner.catalogers), scanner.limits, skip=skip)
    inventory = scanner.assemble([index_contents(contents, scanner.catalogers)])
    packages = tuple(dataclasses.replace(p, layer=None) for p in inventory.packages)
    warnings = list(inventory.warnings)
    if kind is FilesystemKind.ROOTFS and inventory.distro is None:
        warnings.insert(0, f"no OS release file (/etc/os-release, /usr/lib/os-release, …) under {root}: "
                           "the OS was not detected, so no OS package was checked")
    return Inventory(inventory.distro, packages, tuple(warnings))


def scan_filesystem(scanner: Scanner, root: Path, kind: FilesystemKind, db: FeedDB) -> ScanReport:
    """The report for `dir:ROOT` or `rootfs:ROOT`: no digest, no layers."""
    return scanner.report_for(f"{kind.prefix}{root}", "", inventory_of(scanner, root, kind), db)
