"""`crscan sbom`: an image's inventory as a CycloneDX 1.6 JSON document (the CLI verb is wired later)."""

from __future__ import annotations

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from crscan.catalog import Inventory

PROPERTY_PREFIX = "crscan:"


def inventory_to_cyclonedx(inventory: Inventory, image: str = "") -> str:
    """One component per package (purl, where it was found, the layer that brought it, its source
    package); the distro as an operating-system component; `image` names the BOM's subject."""
    bom = Bom()
    root = Component(name=image, type=ComponentType.CONTAINER, bom_ref=image) if image else None
    bom.metadata.component = root
    if inventory.distro is not None:
        distro = inventory.distro
        bom.components.add(Component(name=distro.id, version=distro.version_id or None,
                                     type=ComponentType.OPERATING_SYSTEM, description=distro.pretty_name or None,
                                     bom_ref=f"os:{distro.id}@{distro.version_id}"))
    seen: set[str] = set()
    for package in inventory.packages:
        ref = f"{package.purl or package.name + '@' + package.version}#{package.path}"
        if ref in seen:
            continue
        seen.add(ref)
        properties = [Property(name=PROPERTY_PREFIX + "ecosystem", value=package.ecosystem.value)]
        if package.path:
            properties.append(Property(name=PROPERTY_PREFIX + "path", value=package.path))
        if package.layer is not None:
            properties.append(Property(name=PROPERTY_PREFIX + "layer:digest", value=package.layer.digest))
            properties.append(Property(name=PROPERTY_PREFIX + "layer:diff_id", value=package.layer.diff_id))
        if package.source_name and (package.source_name, package.source_version) != (package.name, package.version):
            properties.append(Property(name=PROPERTY_PREFIX + "source:name", value=package.source_name))
            properties.append(Property(name=PROPERTY_PREFIX + "source:version", value=package.source_version))
        bom.components.add(Component(
            name=package.name, version=package.version, type=ComponentType.LIBRARY, bom_ref=ref,
            purl=PackageURL.from_string(package.purl) if package.purl else None, properties=properties))
    if root is not None:
        bom.register_dependency(root, bom.components)  # everything found is in the image
    return JsonV1Dot6(bom).output_as_string(indent=2)
