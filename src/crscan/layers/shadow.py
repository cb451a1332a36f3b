"""What a layer hides of the layers below it, kept apart from its files so it can be cached with an inventory."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from crscan.layers.paths import ROOT, PathSet, ancestors


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
        if path in self.whiteouts or path in self.opaque_dirs or path in self.dirs or path in self.non_dirs:
            return True
        for ancestor in ancestors(path):
            if ancestor in self.whiteouts or ancestor in self.opaque_dirs or ancestor in self.non_dirs:
                return True
        return ROOT in self.opaque_dirs and path != ROOT

    def to_dict(self) -> dict:
        """JSON-ready; path sets as base64 of 8 bytes a path."""
        return {
            "whiteouts": sorted(self.whiteouts),
            "opaque_dirs": sorted(self.opaque_dirs),
            "dirs": base64.b64encode(self.dirs.to_bytes()).decode(),
            "non_dirs": base64.b64encode(self.non_dirs.to_bytes()).decode(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LayerShadow:
        try:
            return cls(
                whiteouts=frozenset(data["whiteouts"]),
                opaque_dirs=frozenset(data["opaque_dirs"]),
                dirs=PathSet.from_bytes(base64.b64decode(data["dirs"], validate=True)),
                non_dirs=PathSet.from_bytes(base64.b64decode(data["non_dirs"], validate=True)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a stored LayerShadow: {error}") from None


def visible(path: str, found_in: int, shadows: Sequence[LayerShadow]) -> bool:
    """Whether something found at `path` in layer `found_in` (index, bottom = 0) is in the final image."""
    return not any(shadow.shadows(path) for shadow in shadows[found_in + 1:])
