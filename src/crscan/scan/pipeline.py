"""One image scan: source → per-layer indexes (cached) → inventory → findings.

    scanner = Scanner()    # built once by the entry point (CLI verb, job runner) and shared by its scans
    report = scanner.scan(open_source("registry.local/app:1"), FeedDB.open(path), cache=DirectoryCache(dir))

`Scanner.assemble` rebuilds an image's inventory from layer indexes alone, so a layer already indexed is never
pulled again, and a stored inventory can be re-matched after a feed update without touching the registry.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from crscan.catalog import (
    Inventory,
    catalog_image,
    catalog_version,
    default_catalogers,
    merge_packages,
    split_catalogers,
)
from crscan.catalog.interface import Cataloger
from crscan.layers import ImageTooLarge, LayerContents, Limits, visible
from crscan.layers.merge import MergedLayers, final_files, merge_onto
from crscan.layers.paths import ancestors, path_key
from crscan.layers.shadow import LayerShadow
from crscan.match import MatchResult, default_matchers, match_with_warnings
from crscan.match.interface import Matcher
from crscan.model import ImageFile, LayerRef, Package, ScanReport
from crscan.registry.interface import ImageSource
from crscan.scan.cache import LayerIndexCache
from crscan.scan.layer_index import LayerIndex, cache_key, index_layer
from crscan.scan.limits import ImageLimits, check_image
from crscan.vulndb import FeedDB
from crscan.vulndb.enrichment import missing_risk_feeds

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


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _LRU(Generic[K, V]):
    """A small thread-safe LRU: images scanned one after another mostly share their base layers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class Scanner:
    """The scan path with the state its scans share: catalogers, matchers (with their advisory caches) and
    memos that let images on one base reuse its work. Thread-safe; two scanners share nothing."""

    def __init__(
        self,
        catalogers: Sequence[Cataloger] | None = None,
        matchers: Sequence[Matcher] | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.catalogers = tuple(catalogers or default_catalogers())
        self.matchers = default_matchers() if matchers is None else tuple(matchers)
        self.limits = limits
        self.cache_key = cache_key(self.catalogers)
        # Layer prefix (digests and limits) → (the LayerContents objects merged, their state). A hit needs the
        # very same objects (the layer cache hands them out), so a digest never stands for contents read
        # differently.
        self._prefix_states: _LRU[Any, tuple[tuple[LayerContents, ...], MergedLayers]] = _LRU(64)
        # (cataloger versions, merged files) → their whole-view inventory: an image whose top layers add no
        # package database or release file and shadow none re-uses its base's catalog (the dpkg status parse
        # dominates).
        self._whole_view_inventories: _LRU[Any, Inventory] = _LRU(16)
        # By merged state object (held, so its id stays its own): its whole-view inventory, and the path keys
        # of its files and symlinks and of their ancestors (what `_hides_any` intersects a layer's entries with).
        self._state_inventories: _LRU[int, tuple[MergedLayers, Inventory]] = _LRU(16)
        self._state_keys: _LRU[int, tuple[MergedLayers, frozenset[int], frozenset[int]]] = _LRU(16)
        # (whole-view inventory, visible per-file packages, warnings), by the identity of the objects (held) →
        # the image's inventory: images on one base get the very same object, so matching it again is a
        # lookup by identity instead of hashing a few hundred packages.
        self._assembled: _LRU[Any, tuple[Inventory, tuple[Package, ...], Inventory]] = _LRU(16)
        # (feed DB, distro, packages) → findings: images on one base with top layers that add no package share
        # them. Keyed by the DB object itself (held weakly, so a replaced DB is closed as before), not its path
        # or build id.
        self._findings: _LRU[Any, tuple[weakref.ReferenceType[FeedDB], MatchResult]] = _LRU(16)
        # The same, by the identity of the packages tuple (held): what `assemble` hands images on one base.
        self._findings_by_identity: _LRU[Any, tuple[tuple[Package, ...], weakref.ReferenceType[FeedDB],
                                                    MatchResult]] = _LRU(16)

    def scan(
        self,
        source: ImageSource,
        db: FeedDB,
        *,
        cache: LayerIndexCache | None = None,
        progress: Progress | None = None,
    ) -> ScanReport:
        indexes = self.index_layers(source, cache=cache, progress=progress)
        inventory = self.assemble(indexes)
        return self.report_for(source.reference, source.digest, inventory, db, layers=tuple(i.layer for i in indexes))

    def index_layers(
        self, source: ImageSource, *, cache: LayerIndexCache | None = None, progress: Progress | None = None
    ) -> list[LayerIndex]:
        return index_layers(source, self.catalogers, cache=cache, limits=self.limits, progress=progress)

    def assemble(self, indexes: Sequence[LayerIndex]) -> Inventory:
        """The image's inventory from its layer indexes, bottom first.

        Package databases and release files are read from the merged filesystem; a per-file package survives
        unless a higher layer deletes or replaces the file it was found in.
        """
        system = self._whole_view_inventory(self._merged([i.contents for i in indexes]))
        shadows = [i.contents.shadow for i in indexes]
        per_file = tuple(p for i, index in enumerate(indexes) for p in index.packages
                         if visible(p.path, i, shadows))
        warnings = (*(w for index in indexes for w in index.warnings), *system.warnings)
        key = (id(system), tuple(map(id, per_file)), warnings)
        cached = self._assembled.get(key)
        if cached is not None and cached[0] is system:
            return cached[2]
        # catalog_image merged the system packages already (merge_packages is idempotent): with no per-file
        # package, as on images whose top layers add only application files, there is nothing to merge
        packages = merge_packages([*system.packages, *per_file]) if per_file else system.packages
        inventory = Inventory(system.distro, packages, warnings)
        self._assembled.put(key, (system, per_file, inventory))
        return inventory

    def report_for(
        self, image: str, digest: str, inventory: Inventory, db: FeedDB, layers: tuple[LayerRef, ...] = ()
    ) -> ScanReport:
        """Match an inventory against the feed DB; also the re-match path for stored inventories."""
        matched = self._match(inventory, db)
        return ScanReport(
            image=image, digest=digest, distro=inventory.distro, packages=tuple(inventory.packages),
            findings=tuple(matched.findings), warnings=(*inventory.warnings, *matched.warnings),
            feed_build_id=db.build_id, layers=layers, missing_risk_feeds=missing_risk_feeds(db),
        )

    def _merged(self, layers: Sequence[LayerContents]) -> MergedLayers:
        """`merge_onto` over `layers`, starting from the longest prefix merged before."""
        limits = self.limits
        keys = []
        for n in range(1, len(layers) + 1):
            keys.append((limits, tuple(c.layer.digest for c in layers[:n])))
        state, start = MergedLayers(), 0
        for n in range(len(layers), 0, -1):
            cached = self._prefix_states.get(keys[n - 1])
            if cached is not None and all(a is b for a, b in zip(cached[0], layers[:n])):
                state, start = cached[1], n
                break
        for n in range(start, len(layers)):
            state = self._merge_onto(state, layers[n])
            self._prefix_states.put(keys[n], (tuple(layers[: n + 1]), state))
        return state

    def _merge_onto(self, below: MergedLayers, contents: LayerContents) -> MergedLayers:
        """`merge_onto`, or `below` itself when the layer adds nothing picked and hides nothing below (an
        application layer on a shared base): then the base's files, and their catalog, serve as they are."""
        if contents.files or contents.symlinks or contents.picked_links or self._hides_any(below, contents.shadow):
            return merge_onto(below, contents, self.limits)
        return below

    def _hides_any(self, below: MergedLayers, shadow: LayerShadow) -> bool:
        """Whether `shadow.shadows(path)` holds for any file or symlink of `below`, by set intersection: a
        layer without whiteouts hides a lower path exactly when it has an entry at that path, or a
        non-directory entry at one of its ancestors (LayerShadow.shadows, with the same path keys)."""
        if shadow.whiteouts or shadow.opaque_dirs:
            return True  # rare on top layers; merge_onto decides path by path
        cached = self._state_keys.get(id(below))
        if cached is None or cached[0] is not below:
            paths = [*below.files, *below.symlinks]
            keys = frozenset(path_key(p) for p in paths)
            ancestor_keys = frozenset(path_key(a) for p in paths for a in ancestors(p))
            cached = (below, keys, ancestor_keys)
            self._state_keys.put(id(below), cached)
        _, keys, ancestor_keys = cached
        non_dirs = shadow.non_dirs.keys()
        return not (keys.isdisjoint(shadow.dirs.keys()) and keys.isdisjoint(non_dirs)
                    and ancestor_keys.isdisjoint(non_dirs))

    def _whole_view_inventory(self, state: MergedLayers) -> Inventory:
        """The whole-view catalogers' inventory of a merged state; the same state object (images whose top
        layers `_merge_onto` passed through) is cataloged once."""
        cached = self._state_inventories.get(id(state))
        if cached is not None and cached[0] is state:
            return cached[1]
        _, whole_view = split_catalogers(self.catalogers)
        inventory = self._catalog_whole_view(final_files(state, self.limits), whole_view)
        self._state_inventories.put(id(state), (state, inventory))
        return inventory

    def _catalog_whole_view(self, files: dict[str, ImageFile], catalogers: Sequence[Cataloger]) -> Inventory:
        # ImageFile compares by value; the same bytes objects make equal keys cheap to compare.
        key = (catalog_version(catalogers), tuple(files.values()))
        inventory = self._whole_view_inventories.get(key)
        if inventory is None:
            inventory = catalog_image(files, catalogers)
            self._whole_view_inventories.put(key, inventory)
        return inventory

    def _match(self, inventory: Inventory, db: FeedDB) -> MatchResult:
        packages = inventory.packages
        same = (id(db), id(packages), inventory.distro)
        held = self._findings_by_identity.get(same)
        if held is not None and held[0] is packages and held[1]() is db:
            return held[2]
        key = (id(db), db.build_id, inventory.distro, packages)
        cached = self._findings.get(key)
        if cached is not None and cached[0]() is db:
            matched = cached[1]
        else:
            matched = match_with_warnings(packages, inventory.distro, db, self.matchers)
            self._findings.put(key, (weakref.ref(db), matched))
        self._findings_by_identity.put(same, (packages, weakref.ref(db), matched))
        return matched
