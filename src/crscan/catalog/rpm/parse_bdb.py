"""Berkeley DB `Packages` (rpm < 4.16: CentOS/RHEL ≤ 8, Amazon Linux 2), read in pure Python.

The database is a BDB hash: page 0 is the hash metadata; hash pages hold (key, value) item pairs whose
values are header blobs, either on the page (H_KEYDATA) or, for anything large, in a chain of overflow
pages (H_OFFPAGE). Keys (package numbers) are not needed. Layout from BDB's dbinc/db_page.h.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from crscan.catalog.interface import CatalogError
from crscan.catalog.rpm.parse_header import packages_from_blobs
from crscan.model import Distro, Package

HASH_MAGIC = 0x061561
PAGE_SIZES = {512, 1024, 2048, 4096, 8192, 16384, 32768, 65536}
PAGE_HEADER = 26  # lsn 8, pgno 4, prev 4, next 4, entries 2, hf_offset 2, level 1, type 1
P_HASH_UNSORTED, P_OVERFLOW, P_HASHMETA, P_HASH = 2, 7, 8, 13
H_KEYDATA, H_OFFPAGE = 1, 3


def bdb_blobs(data: bytes, path: str) -> Iterator[bytes]:
    if len(data) < 512:
        raise CatalogError(f"{path}: {len(data)} bytes is too short for a Berkeley DB file")
    order = "<"
    magic = struct.unpack_from("<I", data, 12)[0]
    if magic != HASH_MAGIC:
        if struct.unpack_from(">I", data, 12)[0] != HASH_MAGIC:
            raise CatalogError(f"{path}: not a Berkeley DB hash database (magic {magic:#x})")
        order = ">"  # written on a big-endian machine
    page_size, = struct.unpack_from(order + "I", data, 20)
    encryption, page_type = data[24], data[25]
    last_page, = struct.unpack_from(order + "I", data, 32)
    if page_size not in PAGE_SIZES:
        raise CatalogError(f"{path}: unexpected Berkeley DB page size {page_size}")
    if page_type != P_HASHMETA or encryption:
        raise CatalogError(f"{path}: page 0 is not an unencrypted hash metadata page")
    page_count = len(data) // page_size
    if last_page >= page_count:
        raise CatalogError(f"{path}: truncated: metadata names page {last_page}, file holds {page_count} pages")
    for number in range(1, last_page + 1):
        page = memoryview(data)[number * page_size:(number + 1) * page_size]
        if page[25] not in (P_HASH, P_HASH_UNSORTED):
            continue
        entries, = struct.unpack_from(order + "H", page, 20)
        if PAGE_HEADER + 2 * entries > page_size:
            raise CatalogError(f"{path}: page {number}: {entries} entries do not fit the page (corrupt)")
        offsets = struct.unpack_from(f"{order}{entries}H", page, PAGE_HEADER)
        for index in range(1, entries, 2):  # items alternate key, value
            offset = offsets[index]
            end = offsets[index - 1]  # items are packed downwards from the page end
            if not PAGE_HEADER + 2 * entries <= offset < end <= page_size:
                raise CatalogError(f"{path}: page {number}: item {index} at offset {offset} is out of bounds")
            if page[offset] == H_KEYDATA:
                yield bytes(page[offset + 1:end])
            elif page[offset] == H_OFFPAGE:
                if end - offset < 12:
                    raise CatalogError(f"{path}: page {number}: overflow reference is truncated")
                first, total = struct.unpack_from(order + "II", page, offset + 4)
                yield _overflow(data, path, order, page_size, page_count, first, total)


def _overflow(data: bytes, path: str, order: str, page_size: int, page_count: int, first: int, total: int) -> bytes:
    """Concatenate an overflow chain, refusing loops, foreign pages and chains longer than announced."""
    chunks: list[bytes] = []
    size = 0
    seen: set[int] = set()
    number = first
    while number:
        if number >= page_count or number in seen:
            raise CatalogError(f"{path}: overflow chain from page {first} reaches bad page {number}")
        seen.add(number)
        page = memoryview(data)[number * page_size:(number + 1) * page_size]
        if page[25] != P_OVERFLOW:
            raise CatalogError(f"{path}: page {number} in an overflow chain has type {page[25]}")
        following, = struct.unpack_from(order + "I", page, 16)
        used, = struct.unpack_from(order + "H", page, 22)  # hf_offset: bytes of data on an overflow page
        if PAGE_HEADER + used > page_size:
            raise CatalogError(f"{path}: overflow page {number} claims {used} bytes")
        chunks.append(bytes(page[PAGE_HEADER:PAGE_HEADER + used]))
        size += used
        if size > total:
            raise CatalogError(f"{path}: overflow chain from page {first} is longer than its {total} bytes")
        number = following
    return b"".join(chunks)


def parse_bdb(data: bytes, path: str, distro: Distro | None = None,
              warnings: list[str] | None = None) -> list[Package]:
    return packages_from_blobs(bdb_blobs(data, path), path, distro, warnings)
