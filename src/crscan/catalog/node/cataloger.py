"""Node.js packages: what node_modules holds; a lockfile only where nothing was installed beside it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from crscan.catalog.interface import CatalogError, Cataloger, CatalogResult
from crscan.catalog.node.parse_package_json import parse_package_json, parse_package_lock
from crscan.model import ImageFile

# node_modules/<name>/package.json or node_modules/@scope/<name>/package.json; package.json files deeper
# inside a package (dist/, test fixtures) describe no installed package.
_INSTALLED = re.compile(r"/node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json\Z")
LOCKFILE = "package-lock.json"


class NodeCataloger(Cataloger):
    name = "node"
    version = 1
    globs = ("/**/node_modules/**/package.json", "/**/" + LOCKFILE)

    def wants(self, path: str, mode: int, size: int) -> bool:
        if path.endswith("/" + LOCKFILE):
            return "/node_modules/" not in path  # node_modules/.package-lock.json is npm's cache of the tree
        return _INSTALLED.search(path) is not None

    def catalog(self, files: Mapping[str, ImageFile]) -> CatalogResult:
        packages, warnings = [], []
        installed_roots = {p.split("/node_modules/", 1)[0] for p in files if "/node_modules/" in p}
        for path in sorted(files):
            if path.endswith("/" + LOCKFILE):
                if path.rsplit("/", 1)[0] in installed_roots:
                    continue  # node_modules is the truth of what the image holds
                parse = parse_package_lock
            elif _INSTALLED.search(path):
                parse = parse_package_json
            else:
                continue
            try:
                found = parse(files[path].data, path)
            except CatalogError as exc:
                warnings.append(str(exc))
                continue
            packages.extend(dataclasses.replace(p, layer=files[path].layer) for p in found)
        return CatalogResult(tuple(packages), tuple(warnings))
