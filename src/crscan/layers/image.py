"""Read every layer of an image and merge them: the one-call form of `read_layer` + `merge`."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from crscan.layers.decompress import Budget
from crscan.layers.interface import FileSelector, ReadCancelled
from crscan.layers.limits import Limits
from crscan.layers.merge import merge
from crscan.layers.reader import LayerContents, _read_layer
from crscan.model import ImageFile, LayerRef


def read_image(
    layers_with_streams: Iterable[tuple[LayerRef, BinaryIO]],
    select: FileSelector,
    limits: Limits | None = None,
    *,
    workers: int = 2,
) -> dict[str, ImageFile]:
    """Layers in manifest order (bottom first), read `workers` at a time (inflating releases the GIL, so
    layers pull and inflate side by side) and merged.

    The iterable is consumed lazily, at most `workers` streams ahead, so a generator can open each blob
    when its turn comes; streams are not closed here. `Limits.max_image_bytes` and `max_picked_bytes` apply
    to the image as a whole. The first layer to fail stops the others at their next chunk, and its error is
    the one raised.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    limits = limits or Limits()
    budget = Budget()
    contents: list[LayerContents] = []
    pending: deque[Future[LayerContents]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crscan-layer") as pool:
        try:
            for layer, stream in layers_with_streams:
                if len(pending) == workers:
                    contents.append(pending.popleft().result())
                pending.append(pool.submit(_read_or_cancel, layer, stream, select, limits, budget))
            while pending:
                contents.append(pending.popleft().result())
        except ReadCancelled as cancelled:
            # An upper layer failed while this one was being read: raise what actually went wrong.
            failures = (f.exception() for f in pending)
            raise next((e for e in failures if e and not isinstance(e, ReadCancelled)), cancelled) from None
        except BaseException:
            budget.cancel()  # layers still in flight stop at their next chunk
            raise
    return merge(contents, limits)


def _read_or_cancel(
    layer: LayerRef, stream: BinaryIO, select: FileSelector, limits: Limits, budget: Budget
) -> LayerContents:
    try:
        return _read_layer(layer, stream, select, limits, budget)
    except BaseException:
        budget.cancel()
        raise
