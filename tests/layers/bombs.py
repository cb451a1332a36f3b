"""Decompression bombs: a tar header announcing one huge file of zeros, compressed to almost nothing.

The gzip bomb repeats one precompressed member (gzip allows concatenated members), so a 10 GiB bomb costs
~10 MB and a fraction of a second to make; the zstd bomb is one frame streamed from a reused zero buffer.
"""

from __future__ import annotations

import io
import tarfile

import zstandard
from isal import igzip

MiB = 1 << 20
GiB = 1 << 30
_ZEROS_MEMBER = 64 * MiB


def tar_header(size: int) -> bytes:
    info = tarfile.TarInfo("bomb/zeros")
    info.size = size
    return info.tobuf(tarfile.PAX_FORMAT)


def gzip_bomb(size: int) -> bytes:
    """`size` (a multiple of 64 MiB) uncompressed bytes of zeros after one tar header, gzip-compressed."""
    assert size % _ZEROS_MEMBER == 0
    member = igzip.compress(bytes(_ZEROS_MEMBER), compresslevel=1)
    return igzip.compress(tar_header(size)) + member * (size // _ZEROS_MEMBER)


def zstd_bomb(size: int) -> bytes:
    assert size % _ZEROS_MEMBER == 0
    out = io.BytesIO()
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    out.write(compressor.compress(tar_header(size)))
    zeros = bytes(_ZEROS_MEMBER)
    for _ in range(size // _ZEROS_MEMBER):
        out.write(compressor.compress(zeros))
    out.write(compressor.flush())
    return out.getvalue()
