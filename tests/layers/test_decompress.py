"""Compression by magic bytes, multi-member/multi-frame streams, reading to the end, and fuzzed input."""

from __future__ import annotations

import gzip
import hashlib
import io
import threading

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crscan.layers import LayerError, Limits, Select, read_layer
from tests.layers.tarfactory import compress, file, layer_ref, symlink, tar_bytes

LAYER = tar_bytes(file("etc/os-release", "ID=debian\n"), file("usr/bin/tool", b"\x7fELF" * 1000, mode=0o755),
                  symlink("bin", "usr/bin"))
SELECT = Select(["/etc/os-release", "/usr/bin/*"])


def picked(blob: bytes) -> dict[str, bytes]:
    return {p: f.data for p, f in read_layer(layer_ref(1), io.BytesIO(blob), SELECT).files.items()}


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_compression_is_told_by_magic_bytes(compression):
    contents = read_layer(layer_ref(1), io.BytesIO(compress(LAYER, compression)), SELECT)
    assert contents.compression == compression
    assert contents.size == len(LAYER)
    assert {p: f.data for p, f in contents.files.items()} == {
        "/etc/os-release": b"ID=debian\n", "/usr/bin/tool": b"\x7fELF" * 1000}
    assert contents.files["/usr/bin/tool"].mode == 0o755
    assert contents.symlinks == {"/bin": "usr/bin"}


def test_concatenated_gzip_members_are_one_stream():
    half = len(LAYER) // 2
    assert picked(gzip.compress(LAYER[:half]) + gzip.compress(LAYER[half:])) == picked(LAYER)


def test_zstd_frames_and_skippable_frames_are_one_stream():
    half = len(LAYER) // 2
    skippable = (0x184D2A5A).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    cctx = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    blob = cctx.compress(LAYER[:half]) + skippable + cctx.compress(LAYER[half:])
    assert picked(blob) == picked(LAYER)


class VerifyingStream(io.RawIOBase):
    """Like the registry's blob stream: checks the digest only when read to EOF."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self._hash = hashlib.sha256()
        self.expected = hashlib.sha256(data).hexdigest()
        self.verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._data.readinto(buffer)
        self._hash.update(memoryview(buffer)[:n])
        if n == 0:
            self.verified = self._hash.hexdigest() == self.expected
        return n


@pytest.mark.parametrize("compression", ["tar", "gzip", "zstd"])
def test_stream_is_read_to_its_end_so_a_digest_check_completes(compression):
    # 10 KiB of record padding after the end-of-archive blocks, as GNU tar writes: still read to EOF.
    source = VerifyingStream(compress(LAYER + bytes(10240), compression))
    read_layer(layer_ref(1), source, SELECT)
    assert source.verified


def test_no_reader_thread_survives_a_failed_read():
    before = threading.active_count()
    for _ in range(5):
        with pytest.raises(LayerError):
            read_layer(layer_ref(1), io.BytesIO(gzip.compress(LAYER)[:100]), SELECT)
    assert threading.active_count() == before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    compression=st.sampled_from(["tar", "gzip", "zstd"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_layers_either_read_or_raise_layer_error(compression, edits, cut):
    blob = bytearray(compress(LAYER, compression))
    for where, value in edits:
        blob[int(where * len(blob))] = value
    if cut is not None:
        blob = blob[: int(cut * len(blob))]
    try:
        read_layer(layer_ref(1), io.BytesIO(bytes(blob)), SELECT)
    except LayerError as error:
        assert str(error).startswith(f"layer {layer_ref(1).digest}: ")


@pytest.mark.parametrize("blob", [b"", bytes(1024), gzip.compress(bytes(1024)), compress(bytes(10240), "zstd")])
def test_empty_layers_read_as_empty(blob):
    contents = read_layer(layer_ref(1), io.BytesIO(blob), SELECT)
    assert (contents.files, contents.symlinks, contents.entries) == ({}, {}, 0)


@pytest.mark.parametrize("field", ["max_entries", "max_ratio", "max_link_depth"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_limits_reject_non_positive_or_non_integer_values(field, value):
    with pytest.raises(ValueError, match=f"Limits.{field} must be a positive integer"):
        Limits(**{field: value})


def test_file_over_the_single_file_limit_is_skipped_and_reported():
    contents = read_layer(layer_ref(1), io.BytesIO(LAYER), SELECT, Limits(max_file_bytes=100))
    assert list(contents.files) == ["/etc/os-release"]
    assert contents.skipped == (("/usr/bin/tool", "4000 bytes, over the 100-byte file limit"),)
