from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.registry import DigestMismatch
from crscan.registry.digest import VerifyingReader, digest_of


def chunked(data: bytes, sizes: list[int]):
    position = 0
    for size in sizes:
        yield data[position:position + size]
        position += size
    if position < len(data):
        yield data[position:]


def read_through(reader: io.RawIOBase, read_size: int) -> bytes:
    stream = io.BufferedReader(reader, buffer_size=max(1, read_size))
    parts = []
    while part := stream.read(read_size):
        parts.append(part)
    return b"".join(parts)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=5000), sizes=st.lists(st.integers(1, 700), max_size=20),
       read_size=st.integers(1, 4096), algorithm=st.sampled_from(["sha256", "sha512"]))
def test_any_chunking_of_the_right_content_verifies(data, sizes, read_size, algorithm):
    reader = VerifyingReader(chunked(data, sizes), digest_of(data, algorithm), size=len(data))
    assert read_through(reader, read_size) == data


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), flip=st.integers(0, 10**6), sizes=st.lists(st.integers(1, 500)))
def test_any_flipped_byte_fails_at_eof(data, flip, sizes):
    tampered = bytearray(data)
    tampered[flip % len(data)] ^= 0x80
    expected = digest_of(data)
    reader = VerifyingReader(chunked(bytes(tampered), sizes), expected, size=len(data))
    with pytest.raises(DigestMismatch) as error:
        read_through(reader, 1000)
    assert error.value.expected == expected
    assert error.value.actual == digest_of(bytes(tampered))


def test_short_stream_names_the_sizes():
    data = b"layer bytes"
    with pytest.raises(DigestMismatch, match=r"\(5 bytes, descriptor says 11\)"):
        VerifyingReader(iter([data[:5]]), digest_of(data), size=len(data)).readall()


def test_overlong_stream_fails_before_eof():
    endless = iter(lambda: b"x" * 1000, None)
    reader = VerifyingReader(endless, digest_of(b""), size=2500, what="layer")
    with pytest.raises(DigestMismatch, match="more than the 2500 bytes"):
        reader.readall()


def test_close_releases_the_source_and_counts_bytes():
    closed, counted = [], []
    data = b"abc" * 1000
    reader = VerifyingReader(iter([data]), digest_of(data), on_bytes=counted.append, on_close=lambda: closed.append(1))
    with io.BufferedReader(reader) as stream:
        assert stream.read() == data
    assert closed == [1] and counted == [len(data)]
    assert hashlib.sha256(data).hexdigest() in digest_of(data)
