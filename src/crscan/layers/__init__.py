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
the file path it came from) can rebuild the image's inventory without re-reading any layer. Store with
each layer's inventory its `whiteouts`, `opaque_dirs`, `dirs.to_bytes()` and `non_dirs.to_bytes()`
(`PathSet`: 8 bytes a path), rebuild a `LayerContents`-like view, and keep a package found at path P in
layer i only if no layer j > i `shadows(P)` — i.e. layer j neither whiteouts P or an ancestor, nor has
an opaque directory above P, nor has its own entry at P (a newer version of the file: its inventory
already speaks for P), nor has a non-directory at an ancestor of P. For packages found through a
symlink, key them by the path they were read from and apply the same rule.
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

__all__ = [
    "BadTarHeader", "CorruptStream", "DecompressionBomb", "DeviceFile", "FileSelector", "ImageTooLarge",
    "LayerContents", "LayerError", "LayerTooLarge", "LimitExceeded", "Limits", "LinkEscapesRoot", "LinkLoop",
    "LinkTooDeep", "PathSet", "PathTooLong", "PickedTooMuch", "Select", "TooManyEntries", "TruncatedLayer",
    "UnsafePath", "UnsupportedCompression", "executable", "merge", "normalize", "read_image", "read_layer",
]
