"""Layer blobs built in memory for the tests: tar entries → tar, tar.gz or tar.zst bytes."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass

import zstandard

from crscan.model import LayerRef


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    mode: int = 0o644
    devmajor: int = 0
    devminor: int = 0


def file(name: str, data: bytes | str = b"", mode: int = 0o644) -> Entry:
    return Entry(name, data.encode() if isinstance(data, str) else data, mode=mode)


def directory(name: str) -> Entry:
    return Entry(name, type=tarfile.DIRTYPE, mode=0o755)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, type=tarfile.SYMTYPE, linkname=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, type=tarfile.LNKTYPE, linkname=target)


def whiteout(path: str) -> Entry:
    """`whiteout("etc/foo")` → the `etc/.wh.foo` entry deleting /etc/foo from lower layers."""
    head, _, name = path.rpartition("/")
    return file(f"{head}/.wh.{name}" if head else f".wh.{name}")


def opaque(directory_path: str) -> Entry:
    return file(f"{directory_path}/.wh..wh..opq")


def tar_bytes(*entries: Entry, format: int = tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=format) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type, info.linkname, info.mode = entry.type, entry.linkname, entry.mode
            info.devmajor, info.devminor = entry.devmajor, entry.devminor
            if entry.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return out.getvalue()


def compress(tar: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=6)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    assert compression == "tar"
    return tar


def layer_ref(n: int | str) -> LayerRef:
    return LayerRef(digest=f"sha256:{str(n) * 8}", diff_id=f"sha256:diff{n}")
