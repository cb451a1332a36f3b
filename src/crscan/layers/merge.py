"""Per-layer contents → the image's final files, as overlayfs would show them.

Layers apply bottom → top: each layer first hides what it deletes or replaces below (`LayerContents.shadows`),
then adds its own entries. Picked symlinks and hard links are then resolved inside the image root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crscan.layers.interface import LayerError, LinkEscapesRoot, LinkLoop, LinkTooDeep
from crscan.layers.limits import Limits
from crscan.layers.reader import LayerContents
from crscan.model import ImageFile, LayerRef


@dataclass(frozen=True)
class MergedLayers:
    """The state after applying some bottom layers, before picked symlinks are resolved: what `merge_onto`
    builds on, so images sharing base layers can merge the base once."""

    files: Mapping[str, ImageFile] = field(default_factory=dict)
    symlinks: Mapping[str, tuple[str, LayerRef]] = field(default_factory=dict)
    picked_symlinks: frozenset[str] = frozenset()


def merge(layers: Sequence[LayerContents], limits: Limits | None = None) -> dict[str, ImageFile]:
    """The picked files of the final filesystem, path → file, each with the layer that wrote its content.

    A picked symlink yields its target's bytes when that target (after following every link on the way)
    is itself a picked file; a hard link, when its target was picked in the same or a lower layer.
    """
    state = MergedLayers()
    for contents in layers:
        state = merge_onto(state, contents, limits)
    return final_files(state, limits)


def merge_onto(below: MergedLayers, contents: LayerContents, limits: Limits | None = None) -> MergedLayers:
    """`below` with one more layer applied on top; `below` is left as it was."""
    max_depth = (limits or Limits()).max_link_depth
    linked = _hardlinked_files(contents, below.files, max_depth)
    files = {p: f for p, f in below.files.items() if not contents.shadows(p)}
    symlinks = {p: link for p, link in below.symlinks.items() if not contents.shadows(p)}
    picked = {p for p in below.picked_symlinks if p in symlinks}  # before this layer's own links replace them
    files.update(contents.files)
    files.update(linked)
    for path, target in contents.symlinks.items():
        symlinks[path] = (target, contents.layer)
    picked.update(p for p in contents.picked_links if p in contents.symlinks)
    return MergedLayers(files, symlinks, frozenset(picked))


def final_files(state: MergedLayers, limits: Limits | None = None) -> dict[str, ImageFile]:
    """The merged files with each picked symlink resolved to its target's content, sorted by path."""
    max_depth = (limits or Limits()).max_link_depth
    merged = dict(state.files)
    for path in state.picked_symlinks:
        real = resolve(path, state.symlinks, max_depth)
        if real in state.files:
            found = state.files[real]
            merged[path] = ImageFile(path, found.data, found.layer, found.mode)
    return dict(sorted(merged.items()))


def _hardlinked_files(contents: LayerContents, lower: Mapping[str, ImageFile], max_depth: int) -> dict[str, ImageFile]:
    """This layer's picked hard links whose content lies in a lower layer (or behind another hard link)."""
    linked = {}
    for path in contents.picked_links:
        if path not in contents.hardlinks or path in contents.files:
            continue
        target, seen = contents.hardlinks[path], {path}
        while target not in contents.files and target not in lower and target in contents.hardlinks:
            if target in seen:
                raise LinkLoop(f"hard link {path} → … → {target}", contents.layer.digest)
            if len(seen) > max_depth:
                raise LinkTooDeep(f"hard link {path}: more than {max_depth} hops", contents.layer.digest)
            seen.add(target)
            target = contents.hardlinks[target]
        found = contents.files.get(target) or lower.get(target)
        if found is not None:
            linked[path] = ImageFile(path, found.data, contents.layer, found.mode)
    return linked


def resolve(path: str, symlinks: Mapping[str, tuple[str, LayerRef]], max_depth: int) -> str:
    """Follow every symlink along `path` (the last segment too), treating the image root as `/`.

    Relative targets resolve from the link's directory, absolute ones from the image root. A target that
    climbs above the root raises `LinkEscapesRoot`; revisiting a link with the same remainder, `LinkLoop`;
    more than `max_depth` links, `LinkTooDeep` (like ELOOP).
    """
    parts: list[str] = []
    pending = [p for p in reversed(path.split("/")) if p]
    hops = 0
    seen: set[tuple[str, tuple[str, ...]]] = set()
    via: tuple[str, LayerRef] | None = None  # the last link followed, named in errors

    def fail(error_type: type[LayerError], detail: str) -> LayerError:
        return error_type(detail, via[1].digest if via else "")

    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise fail(LinkEscapesRoot, f"resolving {path}: symlink {via[0] if via else path} climbs above /")
            parts.pop()
            continue
        candidate = "/" + "/".join([*parts, part])
        link = symlinks.get(candidate)
        if link is None:
            parts.append(part)
            continue
        state = (candidate, tuple(pending))
        if state in seen:
            raise fail(LinkLoop, f"resolving {path}: {candidate} → {link[0]} leads back to itself")
        seen.add(state)
        hops += 1
        via = (candidate, link[1])
        if hops > max_depth:
            raise fail(LinkTooDeep, f"resolving {path}: more than {max_depth} symlinks (a loop?)")
        target = link[0]
        if target.startswith("/"):
            parts = []
        pending.extend(p for p in reversed(target.split("/")) if p)
    return "/" + "/".join(parts)
