"""A layer blob → its uncompressed tar bytes, as a bounded, forward-only stream.

Compression is told by magic bytes, never by media type (registries mislabel layers). Every read
accounts the bytes against `Limits` (per layer, per image, ratio), so a bomb stops after a few MiB of
output and memory stays at a few chunk buffers whatever the input.
"""

from __future__ import annotations

import io
import queue
import threading
from typing import BinaryIO, Protocol

import zstandard
from isal import igzip_lib

from crscan.layers.interface import (
    CorruptStream,
    DecompressionBomb,
    ImageTooLarge,
    LayerTooLarge,
    ReadCancelled,
    TruncatedLayer,
    UnsupportedCompression,
)
from crscan.layers.limits import KiB, Limits, MiB

CHUNK = 1 * MiB
# Compressed bytes handed to the inflater at a time: small enough that the ratio check sees a bomb early.
INPUT_CHUNK = 64 * KiB
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Seen in the wild or in other tools' media types; named so the error says what the blob is.
OTHER_MAGICS = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x04\x22\x4d\x18": "lz4"}
# libzstd's own default cap (windowLog 27): `zstd --long` output decodes, a frame demanding more is refused.
ZSTD_MAX_WINDOW = 1 << 27


class Readable(Protocol):
    """What the decompressor reads from: a blob stream, or one of the wrappers below."""

    def read(self, size: int = -1, /) -> bytes: ...


class Budget:
    """Uncompressed and picked bytes spent so far across the layers of one image, shared by the threads
    reading its layers; `cancel()` stops them all at their next chunk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.image_bytes = 0
        self.picked_bytes = 0
        self.cancelled = False

    def spend(self, image_bytes: int = 0, picked_bytes: int = 0) -> None:
        with self._lock:
            self.image_bytes += image_bytes
            self.picked_bytes += picked_bytes

    def cancel(self) -> None:
        self.cancelled = True


class Prefetch(io.RawIOBase):
    """Reads the source in a background thread, a bounded number of chunks ahead.

    Network reads release the GIL, so pulling the next chunks overlaps with inflating and parsing this one.
    Memory: at most `depth` + 1 chunks. The source is not closed; the caller owns it.
    """

    def __init__(self, source: BinaryIO, chunk: int = CHUNK, depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._pump, args=(source, chunk), daemon=True)
        self._thread.start()

    def _pump(self, source: BinaryIO, chunk: int) -> None:
        try:
            while not self._stop.is_set():
                data = source.read(chunk)
                self._put(data)
                if not data:
                    return
        except BaseException as error:  # handed to the reading thread, which raises it
            self._put(error)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._pending and not self._done:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._done = not item
            self._pending = memoryview(item)
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, memoryview(b"")
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return bytes(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        super().close()


class _ZstdFrameWalker:
    """Follows zstd frame and block headers over the compressed bytes, to tell a complete stream from a cut one.

    python-zstandard's bounded `stream_reader` ends silently on a truncated frame; this walk (one step per
    block, ≤128 KiB) is what notices. Layout per RFC 8878 §3.1.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0
        self._need = 4
        self._state = "magic"
        self._checksum = False

    @property
    def complete(self) -> bool:
        return self._state == "magic" and not self._buf and not self._skip

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            take = min(self._need - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == self._need:
                header, self._buf = bytes(self._buf), bytearray()
                self._step(header)

    def _step(self, header: bytes) -> None:
        if self._state == "magic":
            magic = int.from_bytes(header, "little")
            if header == ZSTD_MAGIC:
                self._state, self._need = "descriptor", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state, self._need = "skippable", 4
            else:
                raise CorruptStream(f"not a zstd frame after a complete one (bytes {header.hex()})")
        elif self._state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
        elif self._state == "descriptor":
            descriptor = header[0]
            single_segment = descriptor >> 5 & 1
            content_size_bytes = (single_segment, 2, 4, 8)[descriptor >> 6]
            dictionary_bytes = (0, 1, 2, 4)[descriptor & 3]
            self._checksum = bool(descriptor >> 2 & 1)
            self._skip = (not single_segment) + dictionary_bytes + content_size_bytes
            self._state, self._need = "block", 3
        elif self._state == "block":
            value = int.from_bytes(header, "little")
            last, block_type, size = value & 1, value >> 1 & 3, value >> 3
            if block_type == 3:
                raise CorruptStream("reserved zstd block type")
            self._skip = 1 if block_type == 1 else size
            if last:
                self._skip += 4 if self._checksum else 0
                self._state, self._need = "magic", 4


class _Meter:
    """Counts (and, for zstd, walks) the compressed bytes as the decompressor pulls them."""

    def __init__(self, source: Readable, walker: _ZstdFrameWalker | None = None) -> None:
        self.source = source
        self.walker = walker
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.count += len(data)
        if self.walker is not None:
            self.walker.feed(data)
        return data


class LayerStream(io.RawIOBase):
    """The uncompressed tar bytes of one layer; every read is checked against the limits."""

    def __init__(self, source: Readable, limits: Limits, budget: Budget) -> None:
        self._limits = limits
        self._budget = budget
        self.produced = 0
        head = _read_exactly(source, 6)
        self.compression = _detect(head)
        walker = _ZstdFrameWalker() if self.compression == "zstd" else None
        self._meter = _Meter(_Prepended(head, source), walker)
        self._gzip_pending = b""
        self._chunk = b""
        self._position = 0
        if self.compression == "gzip":
            self._gzip = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)
        elif self.compression == "zstd":
            dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
            # zstandard only calls read() on its source, which is all _Meter has of IO[bytes].
            self._zstd = dctx.stream_reader(
                self._meter, read_size=INPUT_CHUNK, read_across_frames=True  # type: ignore[arg-type]
            )

    def readable(self) -> bool:
        return True

    @property
    def compressed(self) -> int:
        return self._meter.count

    def read(self, size: int = -1) -> bytes:
        """Serves tarfile's small reads from one decompressed chunk, so the inflater runs in large steps."""
        if self._position >= len(self._chunk):
            self._chunk, self._position = self._inflate(CHUNK), 0
        if size < 0:
            size = len(self._chunk)
        data = self._chunk[self._position:self._position + size]
        self._position += len(data)
        return data

    def _inflate(self, size: int) -> bytes:
        if self.compression == "gzip":
            data = self._read_gzip(size)
        elif self.compression == "zstd":
            data = self._read_zstd(size)
        else:
            data = self._meter.read(size)
        self._account(len(data))
        return data

    def drain(self) -> None:
        """Read to the end: checks the gzip CRC / zstd frames and lets the source verify its digest."""
        while self.read(CHUNK):
            pass

    def _account(self, produced: int) -> None:
        self.produced += produced
        self._budget.spend(image_bytes=produced)
        if self._budget.cancelled:
            raise ReadCancelled("another layer of the image failed")
        limits = self._limits
        if self.produced > limits.max_layer_bytes:
            raise LayerTooLarge(f"more than {limits.max_layer_bytes} uncompressed bytes")
        if self._budget.image_bytes > limits.max_image_bytes:
            raise ImageTooLarge(f"more than {limits.max_image_bytes} uncompressed bytes in the image")
        if self.produced > limits.ratio_grace_bytes and self.produced > limits.max_ratio * self.compressed:
            raise DecompressionBomb(
                f"{self.produced} bytes from {self.compressed} compressed ({self.compression}),"
                f" over the {limits.max_ratio}:1 limit"
            )

    def _read_gzip(self, size: int) -> bytes:
        while True:
            if self._gzip.eof:
                rest = self._gzip.unused_data or self._meter.read(INPUT_CHUNK)
                if not rest:
                    return b""
                if not rest.startswith(GZIP_MAGIC[: len(rest)]):
                    raise CorruptStream(f"data after the end of the gzip stream (bytes {rest[:8].hex()})")
                self._gzip = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)  # next member
                self._gzip_pending = rest
            if self._gzip.needs_input and not self._gzip_pending:
                self._gzip_pending = self._meter.read(INPUT_CHUNK)
                if not self._gzip_pending:
                    raise TruncatedLayer(f"gzip stream ends after {self.compressed} bytes, before its trailer")
            try:
                data = self._gzip.decompress(self._gzip_pending, size)
            except igzip_lib.IsalError as error:  # type: ignore[misc]  # isal's stub types it as an instance
                raise CorruptStream(f"gzip: {error}") from None
            self._gzip_pending = b""
            if data:
                return data

    def _read_zstd(self, size: int) -> bytes:
        try:
            data = self._zstd.read(size)
        except zstandard.ZstdError as error:
            raise CorruptStream(f"zstd: {error}") from None
        assert self._meter.walker is not None  # zstd streams always have a frame walker
        if not data and not self._meter.walker.complete:
            raise TruncatedLayer(f"zstd stream ends after {self.compressed} bytes, inside a frame")
        return data


class _Prepended:
    """The bytes already read to sniff the magic, then the rest of the source."""

    def __init__(self, head: bytes, source: Readable) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data, self._head = (self._head, b"") if size < 0 else (self._head[:size], self._head[size:])
            return data
        return self._source.read(size)


def _read_exactly(source: Readable, size: int) -> bytes:
    data = b""
    while len(data) < size and (chunk := source.read(size - len(data))):
        data += chunk
    return data


def _detect(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in OTHER_MAGICS.items():
        if head.startswith(magic):
            raise UnsupportedCompression(f"{name} (only gzip, zstd and plain tar layers are read)")
    return "tar"
