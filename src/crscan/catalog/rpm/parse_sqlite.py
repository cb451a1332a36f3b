"""rpmdb.sqlite (rpm ≥ 4.16, Fedora 33+, RHEL 9): header blobs in the `Packages` table.

rpm runs SQLite in WAL mode: committed transactions not yet checkpointed live in `rpmdb.sqlite-wal`.
They are applied here as SQLite would on open (sqlite.org/fileformat2.html, "The Write-Ahead Log").
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator

from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.parse_header import packages_from_blobs
from crscan.model import Distro, Package

SQLITE_MAGIC = b"SQLite format 3\0"
WAL_MAGIC_LE, WAL_MAGIC_BE = 0x377F0682, 0x377F0683  # the low bit picks the checksum byte order
WAL_HEADER, FRAME_HEADER = 32, 24


def _wal_checksum(data: bytes, order: str, s0: int = 0, s1: int = 0) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def apply_wal(data: bytes, wal: bytes, path: str) -> bytes:
    """The database as SQLite sees it: committed WAL frames (salt and running checksum intact) laid
    over the main file. A WAL from an older generation or a torn tail is ignored where SQLite would."""
    if len(wal) < WAL_HEADER:
        return data
    magic, _version, page_size, _sequence, salt1, salt2, check1, check2 = struct.unpack_from(">8I", wal)
    if magic not in (WAL_MAGIC_LE, WAL_MAGIC_BE):
        raise CatalogError(f"{path}-wal: not an SQLite WAL (bad magic)")
    order = ">" if magic == WAL_MAGIC_BE else "<"
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise CatalogError(f"{path}-wal: invalid page size {page_size}")
    if _wal_checksum(wal[:24], order) != (check1, check2):
        return data  # a header SQLite itself would reject: the WAL holds nothing valid
    checksum = (check1, check2)
    pages: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    size_in_pages = 0
    for offset in range(WAL_HEADER, len(wal) - FRAME_HEADER - page_size + 1, FRAME_HEADER + page_size):
        number, commit_size, frame_salt1, frame_salt2, frame_check1, frame_check2 = struct.unpack_from(">6I", wal, offset)
        page = wal[offset + FRAME_HEADER:offset + FRAME_HEADER + page_size]
        checksum = _wal_checksum(wal[offset:offset + 8] + page, order, *checksum)
        if (frame_salt1, frame_salt2) != (salt1, salt2) or checksum != (frame_check1, frame_check2) or not number:
            break  # the end of what the current generation wrote
        pending[number] = page
        if commit_size:
            pages.update(pending)
            pending.clear()
            size_in_pages = commit_size
    if not pages:
        return data
    image = bytearray(data[:size_in_pages * page_size].ljust(size_in_pages * page_size, b"\0"))
    for number, page in pages.items():
        if number <= size_in_pages:
            image[(number - 1) * page_size:number * page_size] = page
    return bytes(image)


def sqlite_blobs(data: bytes, path: str) -> Iterator[bytes]:
    if not data.startswith(SQLITE_MAGIC):
        raise CatalogError(f"{path}: not an SQLite database (bad magic)")
    # rpm leaves the file in WAL mode; an in-memory copy cannot open a WAL, so mark it as a rollback-journal
    # database (bytes 18-19 are the read/write format versions: 2 = WAL, 1 = legacy).
    image = bytearray(data)
    image[18:20] = b"\x01\x01"
    connection = sqlite3.connect(":memory:")
    connection.text_factory = bytes  # a corrupt page can turn a blob into TEXT that is not UTF-8
    try:
        connection.deserialize(bytes(image))
        rows = connection.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
    except (sqlite3.Error, ValueError) as exc:
        raise CatalogError(f"{path}: cannot read rpm Packages table: {exc}") from None
    finally:
        connection.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob


def parse_sqlite(data: bytes, path: str, distro: Distro | None = None,
                 warnings: list[str] | None = None, wal: bytes = b"") -> list[Package]:
    if wal:
        try:
            data = apply_wal(data, wal, path)
        except CatalogError as exc:  # the main file still holds everything up to the last checkpoint
            if warnings is None:
                raise
            warnings.append(str(exc))
    return packages_from_blobs(sqlite_blobs(data, path), path, distro, warnings)
