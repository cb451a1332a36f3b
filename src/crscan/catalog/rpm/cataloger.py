"""RPM packages from whichever rpmdb backend the image uses."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from crscan.catalog.interface import Cataloger, CatalogResult
from crscan.catalog.rpm.parse_bdb import parse_bdb
from crscan.catalog.rpm.parse_ndb import parse_ndb
from crscan.catalog.rpm.parse_sqlite import parse_sqlite
from crscan.model import Distro, ImageFile

# rpm ≥ 4.16 moved the database to /usr/lib/sysimage/rpm; /var/lib/rpm is the classic place.
DB_DIRS = ("/usr/lib/sysimage/rpm/", "/var/lib/rpm/", "/usr/share/rpm/")
PARSERS = {"rpmdb.sqlite": parse_sqlite, "Packages.db": parse_ndb, "Packages": parse_bdb}


class RpmCataloger(Cataloger):
    name = "rpm"
    version = 2  # 2: module stream packages carry their modularity label (purl `rpmmod`)
    globs = tuple(d + f for d in DB_DIRS for f in (*PARSERS, "rpmdb.sqlite-wal"))

    def catalog(self, files: Mapping[str, ImageFile], distro: Distro | None = None) -> CatalogResult:
        # One database is the truth: Fedora symlinks /var/lib/rpm to the sysimage dir, and a rebuilt
        # database can leave the old backend's file behind. Newest backend and location first.
        present = [d + f for f in PARSERS for d in DB_DIRS if d + f in files]
        if not present:
            return CatalogResult()
        path = present[0]
        warnings: list[str] = []
        if path.endswith("/rpmdb.sqlite"):
            wal = files.get(path + "-wal")
            found = parse_sqlite(files[path].data, path, distro, warnings, wal.data if wal else b"")
        else:
            found = PARSERS[path.rpartition("/")[2]](files[path].data, path, distro, warnings)
        return CatalogResult(tuple(dataclasses.replace(p, layer=files[path].layer) for p in found), tuple(warnings))
