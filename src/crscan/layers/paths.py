"""Image paths: one normal form (absolute, no `.`/`..` segments, no trailing slash) and a compact path set."""

from __future__ import annotations

import hashlib
import itertools
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from functools import lru_cache

from crscan.layers.interface import PathTooLong, UnsafePath

ROOT = "/"


def normalize(name: str, max_length: int) -> str:
    """`./usr//bin/` → `/usr/bin`. A `..` that climbs above the root, or a NUL, raises `UnsafePath`.

    Leading slashes are accepted and mean the image root, as the Docker and containerd appliers treat them.
    """
    if len(name) > max_length:
        raise PathTooLong(f"{len(name)} characters (limit {max_length}): {name[:80]!r}…")
    if "\0" in name:
        raise UnsafePath(f"NUL byte in {name!r}")
    parts: list[str] = []
    for segment in name.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                raise UnsafePath(f"path escapes the image root: {name!r}")
            parts.pop()
        else:
            parts.append(segment)
    return "/" + "/".join(parts)


def parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or ROOT


def ancestors(path: str) -> Iterator[str]:
    """Proper ancestors below the root, nearest first: `/a/b/c` → `/a/b`, `/a`."""
    while (path := parent(path)) != ROOT:
        yield path


def is_under(path: str, directory: str) -> bool:
    """True when `path` lies strictly inside `directory`."""
    if directory == ROOT:
        return path != ROOT
    return path.startswith(directory + "/")


@lru_cache(maxsize=1 << 16)  # merge asks again for the same paths and ancestors, layer after layer
def path_key(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "big")


class PathSet:
    """A set of paths stored as sorted 64-bit hashes: 8 bytes a path, so a layer's full listing stays small.

    Membership is exact up to hash collisions (about 2⁻⁶⁴ per pair). `to_bytes`/`from_bytes` let callers
    cache it beside a layer's inventory.
    """

    __slots__ = ("_keys",)

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._keys = array("Q", sorted({path_key(p) for p in paths}))

    @classmethod
    def from_keys(cls, keys: Iterable[int]) -> PathSet:
        """From `path_key` values, as a reader accumulates them without keeping the strings."""
        pathset = cls()
        pathset._keys = array("Q", sorted(set(keys)))
        return pathset

    @classmethod
    def from_bytes(cls, data: bytes) -> PathSet:
        if len(data) % 8:
            raise ValueError(f"PathSet bytes must be a multiple of 8, got {len(data)}")
        keys = array("Q")
        keys.frombytes(data)
        if any(a >= b for a, b in itertools.pairwise(keys)):
            raise ValueError("PathSet bytes are not strictly sorted hashes")
        pathset = cls()
        pathset._keys = keys
        return pathset

    def to_bytes(self) -> bytes:
        return self._keys.tobytes()

    def keys(self) -> array[int]:
        """The sorted `path_key` values."""
        return self._keys

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.has_key(path_key(path))

    def has_key(self, key: int) -> bool:
        i = bisect_left(self._keys, key)
        return i < len(self._keys) and self._keys[i] == key

    def __len__(self) -> int:
        return len(self._keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathSet) and self._keys == other._keys

    def __repr__(self) -> str:
        return f"PathSet(<{len(self)} paths>)"
