"""Sources that are a tree of small files: read from a mirror directory, or from the tar archive upstream serves
(a repository snapshot, Red Hat's VEX archive), plain or compressed with gzip, bzip2, xz or zstd."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import zstandard

from crscan.vulndb.interface import FeedError

_ZSTD = b"\x28\xb5\x2f\xfd"


def tree_files(path: Path, wanted: Callable[[str], bool], source: str) -> Iterator[tuple[str, bytes]]:
    """(path inside the tree, bytes) of each file `wanted` accepts, in path order for a directory and in archive
    order for an archive."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path).as_posix()
            if wanted(relative):
                yield relative, file.read_bytes()
        return
    with path.open("rb") as reader:
        yield from archive_files(reader, wanted, source)


def archive_files(reader: IO[bytes], wanted: Callable[[str], bool], source: str) -> Iterator[tuple[str, bytes]]:
    """The wanted members of a tar archive, read as a stream (an archive of a whole tracker is never unpacked)."""
    head = reader.read(4)
    reader.seek(0)
    stream: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(reader) if head == _ZSTD else reader
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                if not member.isfile() or not wanted(member.name):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    yield member.name, extracted.read()
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError) as exc:
        raise FeedError(f"{source}: not a directory or tar archive of its files ({exc})") from exc
