"""Distro detection and package catalogers: an image's files in, its installed packages out.

Callers use `catalog_image(files)`; the layer reader keeps a file when `wants_any(...)` says so.
"""

from crscan.catalog.distro import detect_distro
from crscan.catalog.image import Inventory, catalog_image, default_catalogers, wants_any
from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult

__all__ = ["CatalogError", "CatalogResult", "Cataloger", "Inventory", "catalog_image", "default_catalogers",
           "detect_distro", "wants_any"]
