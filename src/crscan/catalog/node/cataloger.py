"""Node.js packages: what node_modules holds; a lockfile only where nothing was installed beside it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from crscan.catalog.interface import Cataloger, CatalogResult, catalog_each
from crscan.catalog.node.parse_package_json import parse_package_json, parse_package_lock
from crscan.model import Distro, ImageFile, Package

# node_modules/<name>/package.json or node_modules/@scope/<name>/package.json; package.json files deeper
# inside a package (dist/, test fixtures) describe no installed package.
_INSTALLED = re.compile(r"/node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json\Z")
LOCKFILE = "package-lock.json"


class NodeCataloger(Cataloger):
    """Not a per-file cataloger: whether a lockfile counts depends on node_modules beside it."""

    name = "node"
    version = 1
    globs = ("/**/node_modules/**/package.json", "/**/" + LOCKFILE)

    def wants(self, path: str, mode: int, size: int) -> bool:
        if path.endswith("/" + LOCKFILE):
            return "/node_modules/" not in path  # node_modules/.package-lock.json is npm's cache of the tree
        return _INSTALLED.search(path) is not None

    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        # node_modules is the truth of what the image holds; a lockfile beside it adds nothing.
        installed_roots = {p.split("/node_modules/", 1)[0] for p in files if "/node_modules/" in p}
        return catalog_each({p: f for p, f in files.items()
                             if not (p.endswith("/" + LOCKFILE) and p.rsplit("/", 1)[0] in installed_roots)}, _parse)


def _parse(data: bytes, path: str, warnings: list[str]) -> list[Package]:
    if path.endswith("/" + LOCKFILE):
        return parse_package_lock(data, path)
    return parse_package_json(data, path) if _INSTALLED.search(path) else []
