"""`crscan sbom`: an image's inventory as a CycloneDX 1.6 JSON document (the CLI verb is wired later).

The SBOM is the `--format cyclonedx` report of a scan with no findings, so both share one encoding.
"""

from __future__ import annotations

from crscan.catalog import Inventory
from crscan.model import ScanReport
from crscan.report.cyclonedx import to_json


def inventory_to_cyclonedx(inventory: Inventory, image: str = "", digest: str = "", layers=()) -> str:
    """Every package as a component (purl, path, layer, source package) and the distro as the
    operating-system component; `image`/`digest` name the BOM's subject."""
    report = ScanReport(image=image, digest=digest, distro=inventory.distro, packages=inventory.packages,
                        findings=(), warnings=inventory.warnings, layers=tuple(layers))
    return to_json(report)
