"""One layer's tar stream → `LayerContents`: the picked files with their bytes, links, whiteouts.

Nothing is written to disk: the tar is parsed in stream mode (`r|`) straight from the decompressor, and
only the picked files' bytes are kept.
"""

from __future__ import annotations

import stat
import tarfile
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Self

from crscan.layers.decompress import Budget, LayerStream, Prefetch, Readable
from crscan.layers.interface import (
    BadTarHeader,
    DeviceFile,
    FileSelector,
    LayerError,
    PathTooLong,
    PickedTooMuch,
    TooManyEntries,
    TruncatedLayer,
    UnsafePath,
)
from crscan.layers.limits import Limits
from crscan.layers.paths import ROOT, PathSet, is_under, normalize, parent, path_key
from crscan.layers.shadow import LayerShadow
from crscan.model import ImageFile, LayerRef

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
# `.wh..wh.plnk`, `.wh..wh.aufs`: AUFS bookkeeping that some old images still carry; not deletions.
AUFS_META_PREFIX = ".wh..wh."
# mmdebstrap/debootstrap root filesystems ship /dev/null, /dev/console…; nothing is ever created from a
# layer here, so those are inert. A device node anywhere else has no business in an image.
DEVICE_DIR = "/dev"
# Records whose payload tarfile reads whole into memory before the member it describes.
_EXTENDED_HEADER_TYPES = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                          tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}


@dataclass(frozen=True)
class LayerContents:
    """What one layer contributes to the image, independent of the layers around it (so it can be cached).

    `files`: picked regular files (hard links whose target was picked in this layer are files too).
    `symlinks`: every symlink in the layer, path → target as written; merge resolves them.
    `hardlinks`: every hard link, path → target path (normalised).
    `picked_links`: the symlink/hard-link paths the selector picked, resolved to content at merge.
    `shadow`: what the layer deletes or replaces below it (whiteouts, opaque dirs, its own entries).
    `skipped`: picked paths not kept, with why (larger than `Limits.max_file_bytes`).
    """

    layer: LayerRef
    files: Mapping[str, ImageFile]
    symlinks: Mapping[str, str]
    hardlinks: Mapping[str, str]
    picked_links: frozenset[str]
    shadow: LayerShadow = field(repr=False)
    skipped: tuple[tuple[str, str], ...] = ()
    compression: str = ""
    size: int = 0  # uncompressed tar bytes
    entries: int = 0

    @property
    def whiteouts(self) -> frozenset[str]:
        return self.shadow.whiteouts

    @property
    def opaque_dirs(self) -> frozenset[str]:
        return self.shadow.opaque_dirs

    def shadows(self, path: str) -> bool:
        return self.shadow.shadows(path)


def read_layer(layer: LayerRef, stream: BinaryIO, select: FileSelector, limits: Limits | None = None) -> LayerContents:
    """Read one layer blob (gzip, zstd or plain tar) and keep what `select` picks.

    Raises a `LayerError` subclass naming the problem and `layer.digest` for any unsafe or malformed input.
    The stream is read to its end (so a digest-verifying source completes its check) but not closed.
    """
    return _read_layer(layer, stream, select, limits or Limits(), Budget())


def _read_layer(
    layer: LayerRef, stream: BinaryIO, select: FileSelector, limits: Limits, budget: Budget
) -> LayerContents:
    prefetched = Prefetch(stream)
    try:
        return _LayerReader(layer, select, limits, budget).read(prefetched)
    except LayerError as error:
        error.layer_digest = error.layer_digest or layer.digest
        raise
    finally:
        prefetched.close()


class _LayerReader:
    def __init__(self, layer: LayerRef, select: FileSelector, limits: Limits, budget: Budget) -> None:
        self.layer = layer
        self.select = select
        self.limits = limits
        self.budget = budget
        self.entries = 0
        self.files: dict[str, ImageFile] = {}
        self.symlinks: dict[str, str] = {}
        self.hardlinks: dict[str, str] = {}
        self.picked_links: set[str] = set()
        self.whiteouts: set[str] = set()
        self.opaque_dirs: set[str] = set()
        self.dir_keys = array("Q")
        self.non_dir_keys = array("Q")
        self.skipped: list[tuple[str, str]] = []
        self.last_path = ""

    def read(self, source: Readable) -> LayerContents:
        tar_bytes = LayerStream(source, self.limits, self.budget)
        try:
            with tarfile.open(fileobj=tar_bytes, mode="r|", tarinfo=_strict_tarinfo(self.limits)) as tar:
                while (member := tar.next()) is not None:
                    # tarfile keeps every header it has seen; we need none (`members` is not in typeshed)
                    tar.members.clear()  # type: ignore[attr-defined]
                    self._entry(tar, member)
            tar_bytes.drain()
        except tarfile.ReadError as error:  # what tarfile still reports itself: data ending inside a member
            raise TruncatedLayer(f"tar: {error} after {self.last_path or 'the first header'}") from None
        return LayerContents(
            layer=self.layer,
            files=self.files,
            symlinks=self.symlinks,
            hardlinks=self.hardlinks,
            picked_links=frozenset(self.picked_links),
            shadow=LayerShadow(
                whiteouts=frozenset(self.whiteouts),
                opaque_dirs=frozenset(self.opaque_dirs),
                dirs=PathSet.from_keys(self.dir_keys),
                non_dirs=PathSet.from_keys(self.non_dir_keys),
            ),
            skipped=tuple(self.skipped),
            compression=tar_bytes.compression,
            size=tar_bytes.produced,
            entries=self.entries,
        )

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise TooManyEntries(f"more than {self.limits.max_entries}")
        path = normalize(member.name, self.limits.max_path_length)
        self.last_path = path
        if path == ROOT:
            return
        name = path.rsplit("/", 1)[1]
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(path, name)
            return
        # A later entry for the same path replaces an earlier one within the layer.
        self.files.pop(path, None)
        self.symlinks.pop(path, None)
        self.hardlinks.pop(path, None)
        self.picked_links.discard(path)
        if member.isdir():
            self.dir_keys.append(path_key(path))
            return
        self.non_dir_keys.append(path_key(path))
        if (member.ischr() or member.isblk()) and not is_under(path, DEVICE_DIR):
            raise DeviceFile(f"{path} ({'character' if member.ischr() else 'block'} device"
                             f" {member.devmajor}:{member.devminor})")
        if member.issym():
            self._symlink(path, member)
        elif member.islnk():
            self._hardlink(path, member)
        elif member.isreg():
            self._regular(tar, path, member)
        # Device nodes under /dev and FIFOs carry no content and hide nothing beyond their own path.

    def _whiteout(self, path: str, name: str) -> None:
        directory = parent(path)
        if name == OPAQUE_MARKER:
            self.opaque_dirs.add(directory)
        elif not name.startswith(AUFS_META_PREFIX):
            hidden = name[len(WHITEOUT_PREFIX):]
            if hidden in ("", ".", ".."):
                raise UnsafePath(f"whiteout {path!r} names no file")
            self.whiteouts.add(f"{directory.rstrip('/')}/{hidden}")

    def _symlink(self, path: str, member: tarfile.TarInfo) -> None:
        target = member.linkname
        if len(target) > self.limits.max_path_length:
            raise PathTooLong(f"symlink {path} target has {len(target)} characters")
        if not target or "\0" in target:
            raise UnsafePath(f"symlink {path} has an empty or NUL-bearing target")
        self.symlinks[path] = target
        if self.select(path, stat.S_IFLNK | 0o777, 0):
            self.picked_links.add(path)

    def _hardlink(self, path: str, member: tarfile.TarInfo) -> None:
        target = normalize(member.linkname, self.limits.max_path_length)
        self.hardlinks[path] = target
        if not self.select(path, stat.S_IFREG | member.mode & 0o7777, 0):
            return
        if target in self.files:
            self.files[path] = ImageFile(path, self.files[target].data, self.layer, self.files[target].mode)
        else:
            self.picked_links.add(path)

    def _regular(self, tar: tarfile.TarFile, path: str, member: tarfile.TarInfo) -> None:
        mode = member.mode & 0o7777
        if not self.select(path, stat.S_IFREG | mode, member.size):
            return
        if member.size > self.limits.max_file_bytes:
            self.skipped.append((path, f"{member.size} bytes, over the {self.limits.max_file_bytes}-byte file limit"))
            return
        self.budget.spend(picked_bytes=member.size)
        if self.budget.picked_bytes > self.limits.max_picked_bytes:
            raise PickedTooMuch(f"over {self.limits.max_picked_bytes} bytes when picking {path}")
        try:
            extracted = tar.extractfile(member)
            assert extracted is not None  # regular files always have a data stream
            data = extracted.read(member.size)
        except tarfile.ReadError:
            data = b""
        if len(data) != member.size:
            raise TruncatedLayer(f"{path}: data ends before its {member.size} bytes")
        self.files[path] = ImageFile(path, data, self.layer, mode)


# tarfile's own "no more headers" signal: real but undocumented, so typeshed leaves it out.
_EOFHeaderError: type[tarfile.HeaderError] = tarfile.EOFHeaderError  # type: ignore[attr-defined]


def _strict_tarinfo(limits: Limits) -> type[tarfile.TarInfo]:
    """A TarInfo whose header parsing fails loudly and bounds what tarfile reads into memory.

    Stock tarfile treats a corrupt or cut header after the first as a quiet end of archive, and reads
    PAX / GNU long-name payloads whole, whatever size they claim.
    """

    class StrictTarInfo(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
            offset = tar.fileobj.tell()
            buf = tar.fileobj.read(tarfile.BLOCKSIZE)
            if not buf:
                raise _EOFHeaderError("end of file")  # no end-of-archive blocks: a clean end, as in Go
            if len(buf) < tarfile.BLOCKSIZE:
                raise TruncatedLayer(f"tar header at offset {offset} cut short ({len(buf)} bytes)")
            try:
                obj = cls.frombuf(buf, tar.encoding, tar.errors)
            except _EOFHeaderError:
                raise
            except tarfile.HeaderError as error:
                raise BadTarHeader(f"at offset {offset}: {error}") from None
            if obj.size < 0:
                raise BadTarHeader(f"at offset {offset}: negative size {obj.size}")
            if obj.type in _EXTENDED_HEADER_TYPES and obj.size > limits.max_header_bytes:
                raise BadTarHeader(
                    f"at offset {offset}: extended header of {obj.size} bytes (limit {limits.max_header_bytes})")
            obj.offset = offset
            try:
                # the private hook stock fromtarfile ends with too (PAX / GNU records); not in typeshed
                return obj._proc_member(tar)  # type: ignore[attr-defined, no-any-return]
            except (tarfile.HeaderError, ValueError) as error:  # inside a PAX / GNU record
                raise BadTarHeader(f"at offset {offset}: {error}") from None

    return StrictTarInfo
