"""What a layer hides of the layers below it, kept apart from its files so it can be cached with an inventory."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from crscan.layers.paths import ROOT, PathSet, ancestors, path_key


@dataclass(frozen=True)
class LayerShadow:
    """`whiteouts`: lower-layer paths the layer deletes (`.wh.<name>`; everything beneath them too).
    `opaque_dirs`: directories whose lower-layer contents it hides (`.wh..wh..opq`).
    `dirs` / `non_dirs`: every path it has an entry for, by kind: what it replaces or covers below.
    """

    whiteouts: frozenset[str]
    opaque_dirs: frozenset[str]
    dirs: PathSet
    non_dirs: PathSet

    def shadows(self, path: str) -> bool:
        """Whether a lower layer's non-directory at `path` is invisible once this layer is applied: deleted,
        replaced by this layer's own entry, or beneath a whiteout, an opaque directory or a non-directory."""
        if path in self._hiding or path_key(path) in self._entry_keys:
            return True
        if self._hides_everything:
            return path != ROOT
        if self._hiding or self._non_dir_keys:  # merge asks for thousands of lower paths per layer
            for ancestor, key in _ancestry(path):
                if ancestor in self._hiding or key in self._non_dir_keys:
                    return True
        return False

    # Built on first use: O(1) hash lookups instead of a bisect per path and ancestor.
    @cached_property
    def _hiding(self) -> frozenset[str]:
        return self.whiteouts | self.opaque_dirs

    @cached_property
    def _hides_everything(self) -> bool:
        return ROOT in self.opaque_dirs

    @cached_property
    def _entry_keys(self) -> frozenset[int]:
        return frozenset(self.dirs.keys()) | frozenset(self.non_dirs.keys())

    @cached_property
    def _non_dir_keys(self) -> frozenset[int]:
        return frozenset(self.non_dirs.keys())

    def to_dict(self) -> dict[str, list[str] | str]:
        """JSON-ready; path sets as base64 of 8 bytes a path."""
        return {
            "whiteouts": sorted(self.whiteouts),
            "opaque_dirs": sorted(self.opaque_dirs),
            "dirs": base64.b64encode(self.dirs.to_bytes()).decode(),
            "non_dirs": base64.b64encode(self.non_dirs.to_bytes()).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerShadow:  # parsed JSON, checked here
        try:
            return cls(
                whiteouts=frozenset(data["whiteouts"]),
                opaque_dirs=frozenset(data["opaque_dirs"]),
                dirs=PathSet.from_bytes(base64.b64decode(data["dirs"], validate=True)),
                non_dirs=PathSet.from_bytes(base64.b64decode(data["non_dirs"], validate=True)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a stored LayerShadow: {error}") from None


@lru_cache(maxsize=1 << 16)  # the same lower paths are asked about layer after layer, image after image
def _ancestry(path: str) -> tuple[tuple[str, int], ...]:
    return tuple((ancestor, path_key(ancestor)) for ancestor in ancestors(path))


def visible(path: str, found_in: int, shadows: Sequence[LayerShadow]) -> bool:
    """Whether something found at `path` in layer `found_in` (index, bottom = 0) is in the final image."""
    return not any(shadow.shadows(path) for shadow in shadows[found_in + 1:])
