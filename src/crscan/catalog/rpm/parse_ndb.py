"""NDB `Packages.db` (rpm's own format, SUSE 15+), per rpm's lib/backend/ndb/rpmpkg.c.

A 32-byte header ("RpmP", version 0, generation, slot page count), then 4 KiB slot pages of 16-byte
slots ("Slot", package index, block offset, block count); each used slot points at a blob in 16-byte
blocks: head ("BlbS", package index, timestamp, length), the header blob, padding, and a tail
(adler32 of everything before it, length, "BlbE"). All integers little-endian.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.parse_header import packages_from_blobs
from crscan.model import Distro, Package

DB_MAGIC, SLOT_MAGIC, BLOB_HEAD_MAGIC, BLOB_TAIL_MAGIC = b"RpmP", b"Slot", b"BlbS", b"BlbE"
HEADER_SIZE = SLOT_SIZE = BLOCK_SIZE = 16
DB_HEADER_SIZE = 32
PAGE_SIZE = 4096
BLOB_HEAD_SIZE, BLOB_TAIL_SIZE = 16, 12
MAX_SLOT_PAGES = 2048  # 500k packages; more is corruption, not a real system


def ndb_blobs(data: bytes, path: str) -> Iterator[bytes]:
    if len(data) < DB_HEADER_SIZE or data[:4] != DB_MAGIC:
        raise CatalogError(f"{path}: not an rpm NDB database (bad magic)")
    version, _generation, slot_pages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise CatalogError(f"{path}: unsupported NDB version {version}")
    if not 0 < slot_pages <= MAX_SLOT_PAGES or slot_pages * PAGE_SIZE > len(data):
        raise CatalogError(f"{path}: NDB header claims {slot_pages} slot pages in a {len(data)}-byte file")
    first_blob_block = slot_pages * PAGE_SIZE // BLOCK_SIZE
    for offset in range(DB_HEADER_SIZE, slot_pages * PAGE_SIZE, SLOT_SIZE):
        magic = data[offset:offset + 4]
        package_index, block, blocks = struct.unpack_from("<III", data, offset + 4)
        if magic != SLOT_MAGIC:
            raise CatalogError(f"{path}: slot at byte {offset} has bad magic {magic!r}")
        if not block:
            continue  # free slot
        if block < first_blob_block or (block + blocks) * BLOCK_SIZE > len(data):
            raise CatalogError(f"{path}: slot for package {package_index} points outside the blob area")
        yield _blob(data, path, package_index, block, blocks)


def _blob(data: bytes, path: str, package_index: int, block: int, blocks: int) -> bytes:
    start = block * BLOCK_SIZE
    magic = data[start:start + 4]
    index, _timestamp, length = struct.unpack_from("<III", data, start + 4)
    if magic != BLOB_HEAD_MAGIC or index != package_index:
        raise CatalogError(f"{path}: blob for package {package_index} has a bad head")
    if blocks != (BLOB_HEAD_SIZE + length + BLOB_TAIL_SIZE + BLOCK_SIZE - 1) // BLOCK_SIZE:
        raise CatalogError(f"{path}: blob for package {package_index}: length {length} does not fit its blocks")
    tail = start + blocks * BLOCK_SIZE - BLOB_TAIL_SIZE
    checksum, tail_length = struct.unpack_from("<II", data, tail)
    if data[tail + 8:tail + 12] != BLOB_TAIL_MAGIC or tail_length != length:
        raise CatalogError(f"{path}: blob for package {package_index} has a bad tail")
    if zlib.adler32(data[start:tail]) != checksum:
        raise CatalogError(f"{path}: blob for package {package_index} fails its adler32 checksum")
    return data[start + BLOB_HEAD_SIZE:start + BLOB_HEAD_SIZE + length]


def parse_ndb(data: bytes, path: str, distro: Distro | None = None,
              warnings: list[str] | None = None) -> list[Package]:
    return packages_from_blobs(ndb_blobs(data, path), path, distro, warnings)
