"""Where layer indexes are kept between scans, keyed by layer digest and the catalogers' cache key."""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from crscan.scan.layer_index import LayerIndex, decode, encode


class LayerIndexCache(ABC):
    @abstractmethod
    def get(self, digest: str, key: str) -> LayerIndex | None:
        """The cached index, or None when absent, of another cataloger set, or unreadable."""

    @abstractmethod
    def put(self, digest: str, key: str, index: LayerIndex) -> None: ...


class DirectoryCache(LayerIndexCache):
    """One file per (layer, cataloger set) under a directory; writes are atomic renames."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str, key: str) -> Path:
        name = hashlib.sha256(f"{digest}\n{key}".encode()).hexdigest()
        return self.root / name[:2] / f"{name}.idx"

    def get(self, digest: str, key: str) -> LayerIndex | None:
        try:
            index = decode(self._path(digest, key).read_bytes())
        except (OSError, ValueError):
            return None
        return index if index.layer.digest == digest else None

    def put(self, digest: str, key: str, index: LayerIndex) -> None:
        path = self._path(digest, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(encode(index))
        os.replace(tmp, path)
