"""Distro detection and package catalogers: an image's files in, its installed packages out.

    catalogers = default_catalogers()
    select = crscan.layers.Select(predicates=[lambda p, mode, size: wants_any(catalogers, p, mode, size)])
    files = crscan.layers.read_image(layers_with_streams, select)
    inventory = catalog_image(files, catalogers)     # Inventory(distro, packages, warnings)
    cache_key_part = catalog_version(catalogers)     # changes whenever a cataloger's output would

Parsers under each ecosystem folder are pure (`parse_<format>(data, path) -> list[Package]`) and raise
`CatalogError`; catalogers turn those into warnings, so one bad file never costs the rest of the image.
"""

from crscan.catalog.catalogers import default_catalogers
from crscan.catalog.distro import detect_distro
from crscan.catalog.image import (
    Inventory,
    catalog_image,
    catalog_version,
    merge_packages,
    split_catalogers,
    wants_any,
)
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult, FileCataloger

__all__ = ["CatalogError", "CatalogResult", "Cataloger", "FileCataloger", "Inventory", "catalog_image",
           "catalog_version", "default_catalogers", "detect_distro", "merge_packages", "split_catalogers",
           "wants_any"]
