"""An unpacked filesystem (`crscan scan dir:PATH` / `rootfs:PATH`) read as if it were one layer.

The tree is walked without following any link: a symlink is recorded with its target as written, exactly as a
layer's symlink entry, and resolved later by `merge` inside the tree's root (an escape above it raises
`LinkEscapesRoot`, as for an image). Picked files are opened with O_NOFOLLOW, so a file swapped for a link
after the walk saw it is refused rather than followed out of the tree. The `Limits` that bound a layer bound the
walk: entries, path length, per-file and picked bytes; unreadable files are listed in `skipped`, never dropped
silently. Nothing is copied or packed into a tar.
"""

from __future__ import annotations

import errno
import os
import stat
from array import array
from collections.abc import Collection
from pathlib import Path

from crscan.layers.interface import FileSelector, LayerError, LayerTooLarge, PickedTooMuch, TooManyEntries
from crscan.layers.limits import Limits
from crscan.layers.paths import ROOT, PathSet, normalize, path_key
from crscan.layers.reader import LayerContents
from crscan.layers.shadow import LayerShadow
from crscan.model import ImageFile, LayerRef

# Kernel-made trees of a live root filesystem: not files anything was installed into, and reading them can
# block (/proc/kmsg) or never end. `rootfs:/` skips them as Trivy's rootfs scan does.
PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


class NotADirectory(LayerError):
    problem = "not a directory"


def read_directory(
    root: Path,
    layer: LayerRef,
    select: FileSelector,
    limits: Limits | None = None,
    *,
    skip: Collection[str] = (),
) -> LayerContents:
    """Walk `root` and keep what `select` picks, as `read_layer` keeps a layer's entries.

    `skip` names image paths (e.g. PSEUDO_FILESYSTEMS) whose contents are not walked. Raises a `LayerError`
    subclass when a limit is crossed or `root` is not a directory.
    """
    return _DirectoryReader(layer, select, limits or Limits(), frozenset(skip)).read(root)


class _DirectoryReader:
    def __init__(self, layer: LayerRef, select: FileSelector, limits: Limits, skip: frozenset[str]) -> None:
        self.layer = layer
        self.select = select
        self.limits = limits
        self.skip = skip
        self.entries = 0
        self.size = 0
        self.picked_bytes = 0
        self.files: dict[str, ImageFile] = {}
        self.symlinks: dict[str, str] = {}
        self.picked_links: set[str] = set()
        self.dir_keys = array("Q")
        self.non_dir_keys = array("Q")
        self.skipped: list[tuple[str, str]] = []

    def read(self, root: Path) -> LayerContents:
        try:
            if not stat.S_ISDIR(os.stat(root).st_mode):
                raise NotADirectory(str(root))
        except OSError as error:
            raise NotADirectory(f"{root}: {error.strerror}") from None
        pending = [(os.fspath(root), ROOT)]
        while pending:
            host_dir, image_dir = pending.pop()
            pending.extend(self._directory(host_dir, image_dir))
        return LayerContents(
            layer=self.layer,
            files=self.files,
            symlinks=self.symlinks,
            hardlinks={},  # a hard link on disk is just another name for the same bytes: read as a file
            picked_links=frozenset(self.picked_links),
            shadow=LayerShadow(frozenset(), frozenset(), PathSet.from_keys(self.dir_keys),
                               PathSet.from_keys(self.non_dir_keys)),
            skipped=tuple(self.skipped),
            compression="directory",
            size=self.size,
            entries=self.entries,
        )

    def _directory(self, host_dir: str, image_dir: str) -> list[tuple[str, str]]:
        """Record one directory's entries; returns its subdirectories to walk."""
        subdirectories = []
        try:
            with os.scandir(host_dir) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            self.skipped.append((image_dir, f"directory unlistable: {error.strerror}"))
            return []
        for entry in entries:
            self.entries += 1
            if self.entries > self.limits.max_entries:
                raise TooManyEntries(f"more than {self.limits.max_entries}")
            path = normalize(f"{image_dir.rstrip('/')}/{entry.name}", self.limits.max_path_length)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:
                self.skipped.append((path, error.strerror or "unreadable"))
                continue
            if stat.S_ISDIR(info.st_mode):
                self.dir_keys.append(path_key(path))
                if path not in self.skip:
                    subdirectories.append((entry.path, path))
                continue
            self.non_dir_keys.append(path_key(path))
            if stat.S_ISLNK(info.st_mode):
                self._symlink(entry.path, path)
            elif stat.S_ISREG(info.st_mode):
                self._regular(entry.path, path, info)
            # Devices, FIFOs and sockets carry no package content and are never opened.
        return subdirectories

    def _symlink(self, host_path: str, path: str) -> None:
        try:
            target = os.readlink(host_path)
        except OSError as error:
            self.skipped.append((path, f"link unreadable: {error.strerror}"))
            return
        if not target or len(target) > self.limits.max_path_length:
            self.skipped.append((path, "link target empty or too long"))
            return
        self.symlinks[path] = target
        if self.select(path, stat.S_IFLNK | 0o777, 0):
            self.picked_links.add(path)

    def _regular(self, host_path: str, path: str, info: os.stat_result) -> None:
        self.size += info.st_size
        if self.size > self.limits.max_image_bytes:
            raise LayerTooLarge(f"more than {self.limits.max_image_bytes} bytes of files")
        mode = info.st_mode & 0o7777
        if not self.select(path, stat.S_IFREG | mode, info.st_size):
            return
        if info.st_size > self.limits.max_file_bytes:
            self.skipped.append((path, f"{info.st_size} bytes, over the {self.limits.max_file_bytes}-byte file limit"))
            return
        self.picked_bytes += info.st_size
        if self.picked_bytes > self.limits.max_picked_bytes:
            raise PickedTooMuch(f"over {self.limits.max_picked_bytes} bytes when picking {path}")
        try:
            fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:
            why = "replaced by a link while read" if error.errno == errno.ELOOP else error.strerror
            self.skipped.append((path, why or "unreadable"))
            return
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                self.skipped.append((path, "no longer a regular file"))
                return
            data = file.read(self.limits.max_file_bytes + 1)
        if len(data) > self.limits.max_file_bytes:
            self.skipped.append((path, f"grew over the {self.limits.max_file_bytes}-byte file limit while read"))
            return
        self.files[path] = ImageFile(path, data, self.layer, mode)
