"""rpmdb.sqlite (rpm ≥ 4.16, Fedora 33+, RHEL 9): header blobs in the `Packages` table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.parse_header import packages_from_blobs
from crscan.model import Distro, Package

SQLITE_MAGIC = b"SQLite format 3\0"


def sqlite_blobs(data: bytes, path: str) -> Iterator[bytes]:
    if not data.startswith(SQLITE_MAGIC):
        raise CatalogError(f"{path}: not an SQLite database (bad magic)")
    # rpm leaves the file in WAL mode; an in-memory copy cannot open a WAL, so mark it as a rollback-journal
    # database (bytes 18-19 are the read/write format versions: 2 = WAL, 1 = legacy).
    image = bytearray(data)
    image[18:20] = b"\x01\x01"
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(bytes(image))
        rows = connection.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.Error as exc:
        raise CatalogError(f"{path}: cannot read rpm Packages table: {exc}") from None
    finally:
        connection.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob


def parse_sqlite(data: bytes, path: str, distro: Distro | None = None,
                 warnings: list[str] | None = None) -> list[Package]:
    return packages_from_blobs(sqlite_blobs(data, path), path, distro, warnings)
