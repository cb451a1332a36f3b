"""Content digests: validation, and a stream wrapper that hashes what it passes through."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator

from crscan.registry.interface import DigestMismatch, InvalidReference

_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


def validate_digest(digest: object, *, error: type[Exception] = InvalidReference) -> str:
    """Return `digest` if it is a well-formed sha256/sha512 digest, else raise `error` naming it."""
    # fullmatch: `$` would allow a trailing "\n"
    if not isinstance(digest, str) or not (match := _DIGEST.fullmatch(digest)):
        shown = repr(digest[:150]) if isinstance(digest, str) else type(digest).__name__
        raise error(f"malformed digest {shown}: expected 'sha256:<64 hex digits>'")
    algorithm, hex_ = match.groups()
    if algorithm not in _ALGORITHMS:
        raise error(f"unsupported digest algorithm {algorithm!r} in {digest}: expected sha256 or sha512")
    if len(hex_) != _ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", hex_):
        raise error(f"malformed digest {digest!r}: {algorithm} needs {_ALGORITHMS[algorithm]} lowercase hex digits")
    return digest


def hasher_for(digest: str) -> hashlib._Hash:
    return hashlib.new(validate_digest(digest).split(":", 1)[0])


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_bytes(data: bytes, expected: str, what: str) -> None:
    actual = digest_of(data, validate_digest(expected).split(":", 1)[0])
    if actual != expected:
        raise DigestMismatch(expected, actual, what)


class VerifyingReader(io.RawIOBase):
    """A read-only stream over `chunks` that hashes everything read and checks it against `expected` at EOF.

    With a known `size`, reading past it fails at once (a hostile server cannot stream forever) and a short
    stream fails at EOF; either way the error is DigestMismatch naming the digest. `on_bytes` sees every
    chunk's length (the client's pulled-bytes counter); `on_close` releases the underlying response/file.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        expected: str,
        *,
        size: int | None = None,
        what: str = "blob",
        on_bytes: Callable[[int], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._expected = expected
        self._hash = hasher_for(expected)
        self._size = size
        self._what = what
        self._on_bytes = on_bytes
        self._on_close = on_close
        self._pending = memoryview(b"")
        self._read = 0
        self._verified = False

    def readable(self) -> bool:
        return True

    # BufferedReader passes a memoryview; the base class types it as any writable buffer.
    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._finish()
                return 0
            self._accept(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]  # a memoryview: slicing copies nothing
        return n

    def _accept(self, chunk: bytes) -> None:
        self._read += len(chunk)
        if self._on_bytes:
            self._on_bytes(len(chunk))
        if self._size is not None and self._read > self._size:
            raise DigestMismatch(
                self._expected, f"more than the {self._size} bytes the descriptor declares", self._what,
            )
        self._hash.update(chunk)
        self._pending = memoryview(chunk)

    def _finish(self) -> None:
        if self._verified:
            return
        actual = f"{self._hash.name}:{self._hash.hexdigest()}"
        if self._size is not None and self._read != self._size:
            actual += f" ({self._read} bytes, descriptor says {self._size})"
        if actual != self._expected:
            raise DigestMismatch(self._expected, actual, self._what)
        self._verified = True

    def close(self) -> None:
        if not self.closed and self._on_close:
            self._on_close()
        super().close()
