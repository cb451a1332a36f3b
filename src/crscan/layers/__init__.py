"""Reading image layers: stream each layer's tar, pick files, apply whiteouts, resolve links — all in memory.

    contents = read_layer(layer, stream, Select(["/var/lib/dpkg/status", "/usr/**/site-packages/*.dist-info/METADATA"]))
    files = merge([contents_0, contents_1, ...])           # path → ImageFile, bottom layer first
    files = read_image([(layer, open_layer(layer)) for layer in layers], select)   # both at once

`read_layer` depends on nothing but the layer's own bytes, so its result (or anything derived from it) can be
cached by layer digest. Any unsafe or malformed input raises a `LayerError` subclass (see `interface`)
whose message names the problem and the layer digest; `Limits` bounds time and memory.

Merging cached per-layer inventories
------------------------------------
A pipeline that caches, per layer digest, the packages found in that layer's picked files (each keyed by
the file path it came from) can rebuild the image's inventory without re-reading any layer:

    cache[layer.digest] = {"packages": ..., "shadow": contents.shadow.to_dict()}   # JSON-ready
    shadows = [LayerShadow.from_dict(cache[l.digest]["shadow"]) for l in layers]   # bottom first
    keep package p found at path P in layer i  ⇔  visible(P, i, shadows)

`LayerShadow.whiteouts` is the full set of paths the layer whiteouts (each hides everything beneath it
too), `opaque_dirs` the directories whose lower contents it hides; `dirs`/`non_dirs` are every entry the
layer has (8 bytes a path), because a layer also hides what it overwrites (a newer copy of P — its own
inventory then speaks for P) and everything beneath a path it turns into a file or symlink. A package
found through a symlink is keyed by the path it was read from, and the same rule applies.
"""

from crscan.layers.image import read_image
from crscan.layers.interface import (
    BadTarHeader,
    CorruptStream,
    DecompressionBomb,
    DeviceFile,
    FileSelector,
    ImageTooLarge,
    LayerError,
    LayerTooLarge,
    LimitExceeded,
    LinkEscapesRoot,
    LinkLoop,
    LinkTooDeep,
    PathTooLong,
    PickedTooMuch,
    TooManyEntries,
    TruncatedLayer,
    UnsafePath,
    UnsupportedCompression,
)
from crscan.layers.limits import Limits
from crscan.layers.merge import merge
from crscan.layers.paths import PathSet, normalize
from crscan.layers.reader import LayerContents, read_layer
from crscan.layers.select import Select, executable
from crscan.layers.shadow import LayerShadow, visible

__all__ = [
    "BadTarHeader", "CorruptStream", "DecompressionBomb", "DeviceFile", "FileSelector", "ImageTooLarge",
    "LayerContents", "LayerError", "LayerShadow", "LayerTooLarge", "LimitExceeded", "Limits", "LinkEscapesRoot",
    "LinkLoop", "LinkTooDeep", "PathSet", "PathTooLong", "PickedTooMuch", "Select", "TooManyEntries", "TruncatedLayer",
    "UnsafePath", "UnsupportedCompression", "executable", "merge", "normalize", "read_image", "read_layer",
    "visible",
]
