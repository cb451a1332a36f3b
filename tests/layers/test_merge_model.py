"""merge() against a plain model of overlayfs, on random layer stacks (files, directories, whiteouts, opaque
directories over a small tree, so paths collide often)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.layers import Select, merge, read_layer
from tests.layers.tarfactory import directory, file, layer_ref, opaque, tar_bytes, whiteout

paths = st.lists(st.sampled_from("abc"), min_size=1, max_size=3).map("/".join)
operation = st.tuples(st.sampled_from(["file", "dir", "whiteout", "opaque"]), paths)


def layer_entries(ops: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    """A well-formed layer: each path once, parents of files as directories, no file above another entry."""
    chosen: dict[str, str] = {}
    for kind, path in ops:
        if path not in chosen:
            chosen[path] = kind
    for path, kind in list(chosen.items()):
        if kind in ("file", "dir", "opaque"):  # an opaque marker lives inside its directory
            parts = path.split("/")
            for i in range(1, len(parts)):
                chosen[("/".join(parts[:i]))] = "dir"
            if kind == "opaque":
                chosen[path] = "opaque"
    # a file or whiteout may not sit above anything else the layer writes
    return [(k, p) for p, k in chosen.items()
            if k in ("dir", "opaque") or not any(q.startswith(p + "/") for q in chosen)]


def model(layers: list[list[tuple[str, str]]]) -> dict[str, tuple[bytes, int]]:
    """overlayfs, spelled out: path → ("dir",) | ("file", data, layer index)."""
    tree: dict[str, tuple] = {}

    def remove_under(path: str, including: bool) -> None:
        for p in [p for p in tree if p.startswith(path + "/") or (including and p == path)]:
            del tree[p]

    for n, entries in enumerate(layers):
        for kind, path in entries:  # whiteouts and opaque markers act on the lower layers only
            if kind == "whiteout":
                remove_under(path, including=True)
            elif kind == "opaque":
                remove_under(path, including=False)
        for kind, path in entries:
            if kind in ("dir", "opaque"):
                if tree.get(path, ("dir",))[0] != "dir":
                    del tree[path]
                tree[path] = ("dir",)
            elif kind == "file":
                remove_under(path, including=True)
                tree[path] = ("file", f"{path}@{n}".encode(), n)
    return {"/" + p: (v[1], v[2]) for p, v in tree.items() if v[0] == "file"}


def tar_of(entries: list[tuple[str, str]], n: int) -> bytes:
    made = []
    for kind, path in entries:
        if kind == "file":
            made.append(file(path, f"{path}@{n}"))
        elif kind == "dir":
            made.append(directory(path))
        elif kind == "whiteout":
            made.append(whiteout(path))
        else:
            made += [directory(path), opaque(path)]
    return tar_bytes(*made)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(operation, min_size=1, max_size=8), min_size=1, max_size=4))
def test_merge_matches_an_overlayfs_model(stack):
    layers = [layer_entries(ops, n) for n, ops in enumerate(stack)]
    contents = [read_layer(layer_ref(n), io.BytesIO(tar_of(e, n)), Select(["/**"])) for n, e in enumerate(layers)]
    merged = {path: (f.data, int(f.layer.diff_id.removeprefix("sha256:diff"))) for path, f in merge(contents).items()}
    assert merged == model(layers)
