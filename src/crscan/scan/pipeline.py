"""One image scan: source → per-layer indexes (cached) → inventory → findings.

    report = scan_image(open_source("registry.local/app:1"), FeedDB.open(path), cache=DirectoryCache(dir))

`assemble` rebuilds an image's inventory from layer indexes alone, so a layer already indexed is never
pulled again, and a stored inventory can be re-matched after a feed update without touching the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from crscan.catalog import Inventory, catalog_image, default_catalogers, merge_packages
from crscan.catalog.interface import Cataloger, FileCataloger
from crscan.layers import ImageTooLarge, Limits, merge, visible
from crscan.match import match
from crscan.model import LayerRef, ScanReport
from crscan.registry.interface import ImageSource
from crscan.scan.cache import LayerIndexCache
from crscan.scan.layer_index import LayerIndex, cache_key, index_layer
from crscan.scan.limits import ImageLimits, check_image
from crscan.vulndb import FeedDB

# Called as each layer is read: (layer number, layer count, what is happening).
Progress = Callable[[int, int, str], None]


def index_layers(
    source: ImageSource,
    catalogers: Sequence[Cataloger],
    *,
    cache: LayerIndexCache | None = None,
    limits: Limits | None = None,
    image_limits: ImageLimits | None = None,
    progress: Progress | None = None,
) -> list[LayerIndex]:
    """Each layer's index, bottom first: from the cache when present, else pulled, read and cached."""
    limits = limits or Limits()
    check_image(source, image_limits or ImageLimits())
    key = cache_key(catalogers)
    indexes: list[LayerIndex] = []
    total = 0
    for number, layer in enumerate(source.layers, 1):
        index = cache.get(layer.digest, key) if cache else None
        if index is None:
            if progress:
                progress(number, len(source.layers), f"{layer.digest[:19]} ({layer.size:,} bytes)")
            stream = source.open_layer(layer)
            try:
                index = index_layer(layer.ref, stream, catalogers, limits)
            finally:
                stream.close()
            if cache:
                cache.put(layer.digest, key, index)
        total += index.contents.size
        if total > limits.max_image_bytes:
            raise ImageTooLarge(
                f"image {source.reference}: more than {limits.max_image_bytes} uncompressed bytes", layer.digest
            )
        indexes.append(index)
    return indexes


def assemble(indexes: Sequence[LayerIndex], catalogers: Sequence[Cataloger], limits: Limits | None = None) -> Inventory:
    """The image's inventory from its layer indexes, bottom first.

    Package databases and release files are read from the merged filesystem; a per-file package survives
    unless a higher layer deletes or replaces the file it was found in.
    """
    whole_view = [c for c in catalogers if not isinstance(c, FileCataloger)]
    system = catalog_image(merge([i.contents for i in indexes], limits), whole_view)
    shadows = [i.contents.shadow for i in indexes]
    per_file = [p for i, index in enumerate(indexes) for p in index.packages if visible(p.path, i, shadows)]
    warnings = [w for index in indexes for w in index.warnings] + list(system.warnings)
    return Inventory(system.distro, merge_packages([*system.packages, *per_file]), tuple(warnings))


def scan_image(
    source: ImageSource,
    db: FeedDB,
    *,
    catalogers: Sequence[Cataloger] | None = None,
    cache: LayerIndexCache | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    catalogers = tuple(catalogers or default_catalogers())
    indexes = index_layers(source, catalogers, cache=cache, limits=limits, progress=progress)
    inventory = assemble(indexes, catalogers, limits)
    return report_for(source.reference, source.digest, inventory, db, layers=tuple(i.layer for i in indexes))


def report_for(image: str, digest: str, inventory: Inventory, db: FeedDB, layers: tuple[LayerRef, ...] = ()) -> ScanReport:
    """Match an inventory against the feed DB; also the re-match path for stored inventories."""
    findings = match(inventory.packages, inventory.distro, db)
    return ScanReport(
        image=image, digest=digest, distro=inventory.distro, packages=tuple(inventory.packages),
        findings=tuple(findings), warnings=tuple(inventory.warnings), feed_build_id=db.build_id, layers=layers,
    )
