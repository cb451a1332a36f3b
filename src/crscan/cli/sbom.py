"""`crscan sbom`: an image's inventory as an SBOM (CycloneDX 1.6 JSON or SPDX 2.3 JSON).

The SBOM is the `--format cyclonedx` / `--format spdx-json` report of a scan with no findings, so both share
one encoding.
"""

from __future__ import annotations

from collections.abc import Iterable

from crscan.catalog import Inventory
from crscan.model import LayerRef, ScanReport
from crscan.report.cyclonedx import to_json


def inventory_report(inventory: Inventory, image: str = "", digest: str = "",
                     layers: Iterable[LayerRef] = ()) -> ScanReport:
    """Every package (purl, path, layer, source package, licenses) and the distro; `image`/`digest` name the
    SBOM's subject."""
    return ScanReport(image=image, digest=digest, distro=inventory.distro, packages=inventory.packages,
                      findings=(), warnings=inventory.warnings, layers=tuple(layers))


def inventory_to_cyclonedx(inventory: Inventory, image: str = "", digest: str = "",
                           layers: Iterable[LayerRef] = ()) -> str:
    return to_json(inventory_report(inventory, image, digest, layers))
