"""A hostile-layer corpus: every case ends with a clear LayerError naming the problem and the layer, writes
nothing anywhere, and (for the bombs) stays within a memory cap."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from crscan.layers import (
    BadTarHeader,
    CorruptStream,
    DecompressionBomb,
    DeviceFile,
    ImageTooLarge,
    LayerError,
    LayerTooLarge,
    Limits,
    LinkEscapesRoot,
    LinkLoop,
    LinkTooDeep,
    PathTooLong,
    PickedTooMuch,
    Select,
    TooManyEntries,
    TruncatedLayer,
    UnsafePath,
    UnsupportedCompression,
    read_image,
    read_layer,
)
from tests.layers.bombs import GiB, MiB, gzip_bomb, zstd_bomb
from tests.layers.tarfactory import Entry, compress, file, hardlink, layer_ref, symlink, tar_bytes

REPO = Path(__file__).resolve().parents[2]
HOSTILE = layer_ref("e")
SELECT = Select(["/**"])
# Where a reader that extracted would write: absolute, and relative to the scratch working directory.
ESCAPE_TARGET = "/tmp/crscan-layers-hostile-escape"


def _writes(event: str, args: tuple) -> bool:
    if event == "open":
        _path, mode, flags = args
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)) or any(c in (mode or "") for c in "wax+")
    return event in ("os.mkdir", "os.rename", "os.symlink", "os.link", "os.remove", "shutil.copyfile")


_recording: list | None = None


def _audit(event: str, args: tuple) -> None:
    if _recording is not None and _writes(event, args):
        _recording.append((event, args))


sys.addaudithook(_audit)


@pytest.fixture
def no_writes(tmp_path, monkeypatch):
    """Run inside an empty scratch directory and record every filesystem write Python attempts."""
    global _recording
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.chdir(scratch)
    assert not Path(ESCAPE_TARGET).exists()
    _recording = []
    try:
        yield _recording
    finally:
        writes, _recording = _recording, None
    assert writes == [], f"the reader wrote to disk: {writes}"
    assert list(scratch.iterdir()) == [] and sorted(tmp_path.iterdir()) == [scratch]
    assert not Path(ESCAPE_TARGET).exists()


def _corrupt_second_header(blob: bytes) -> bytes:
    broken = bytearray(blob)
    broken[512] ^= 0xFF  # first byte of the second member's name; its checksum no longer matches
    return bytes(broken)


def _huge_pax_header() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("x")
        info.pax_headers = {"comment": "A" * (2 * MiB)}
        tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


def _pax_path(path: str) -> bytes:
    """A member whose PAX `path` record says `path` (the only way to put a NUL into a tar member name)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("placeholder")
        info.pax_headers = {"path": path}
        tar.addfile(info, io.BytesIO(b""))
    return out.getvalue()


def _zstd_with_huge_window() -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=30)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return compressor.compress(tar_bytes(file("a", "x" * 10_000))) + compressor.flush()


def _plain(*entries: Entry) -> bytes:
    return tar_bytes(*entries)


def _cut(blob: bytes, keep: int) -> bytes:
    return blob[:keep]


BIG = file("big", os.urandom(4096))
CASES = {
    # name: (blob, limits, error type, text the message must contain)
    "path traversal": (_plain(file("../../../../../../tmp/crscan-layers-hostile-escape", "x")), None,
                       UnsafePath, "escapes the image root"),
    "absolute path escaping": (_plain(file("/../tmp/crscan-layers-hostile-escape", "x")), None,
                               UnsafePath, "escapes the image root"),
    "hard link escaping": (_plain(hardlink("h", "../../etc/shadow")), None, UnsafePath, "escapes the image root"),
    "whiteout of ..": (_plain(file("a/.wh..."),), None, UnsafePath, "names no file"),
    "NUL in path": (_pax_path("etc/a\0b"), None, UnsafePath, "NUL"),
    "gzip bomb": (gzip_bomb(1 * GiB), None, DecompressionBomb, "over the 250:1 limit"),
    "zstd bomb": (zstd_bomb(1 * GiB), None, DecompressionBomb, "over the 250:1 limit"),
    "zstd window over 128 MiB": (_zstd_with_huge_window(), None, CorruptStream, "zstd"),
    "truncated gzip": (_cut(compress(_plain(BIG), "gzip"), 2000), None, TruncatedLayer, "before its trailer"),
    "truncated zstd": (_cut(compress(_plain(BIG), "zstd"), 2000), None, TruncatedLayer, "inside a frame"),
    "truncated tar in a picked file": (_cut(_plain(file("a"), BIG), 2000), None, TruncatedLayer, "/big"),
    "truncated tar in a skipped file": (_cut(_plain(file("a"), BIG), 2000), Limits(max_file_bytes=100),
                                        TruncatedLayer, "after /big"),
    "truncated tar in a header": (_cut(_plain(file("a"), BIG), 700), None, TruncatedLayer, "cut short"),
    "gzip CRC mismatch": (compress(_plain(BIG), "gzip")[:-8] + b"\0\0\0\0" + compress(_plain(BIG), "gzip")[-4:],
                          None, CorruptStream, "checksum"),
    "garbage after gzip": (compress(_plain(BIG), "gzip") + b"trailing junk", None, CorruptStream, "after the end"),
    "bad tar header (checksum)": (_corrupt_second_header(_plain(file("a", ""), file("b", ""))), None,
                                  BadTarHeader, "checksum"),
    "bad tar header (first block)": (b"\x01" * 1024, None, BadTarHeader, "offset 0"),
    "huge PAX header": (_huge_pax_header(), None, BadTarHeader, "extended header"),
    "huge entry count": (_plain(*[file(f"f{i}") for i in range(1001)]), Limits(max_entries=1000),
                         TooManyEntries, "more than 1000"),
    "character device": (_plain(Entry("etc/kmem", type=tarfile.CHRTYPE, devmajor=1, devminor=2)), None,
                         DeviceFile, "/etc/kmem (character device 1:2)"),
    "block device": (_plain(Entry("var/lib/sda", type=tarfile.BLKTYPE, devmajor=8)), None,
                     DeviceFile, "block device 8:0"),
    "device under a /dev look-alike": (_plain(Entry("devices/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)),
                                       None, DeviceFile, "/devices/null"),
    "overlong path": (_plain(file("d/" * 2100 + "f")), None, PathTooLong, "characters (limit 4096)"),
    "overlong symlink target": (_plain(symlink("s", "x/" * 2100)), None, PathTooLong, "target has"),
    "bzip2 layer": (b"BZh91AY&SY" + bytes(100), None, UnsupportedCompression, "bzip2"),
    "xz layer": (b"\xfd7zXZ\x00" + bytes(100), None, UnsupportedCompression, "xz"),
    "layer over its size limit": (_plain(BIG), Limits(max_layer_bytes=4096), LayerTooLarge, "more than 4096"),
    "picked bytes over budget": (_plain(BIG, file("big2", bytes(4096))), Limits(max_picked_bytes=6000),
                                 PickedTooMuch, "big2"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_layer_fails_clearly_and_writes_nothing(case, no_writes):
    blob, limits, error, text = CASES[case]
    with pytest.raises(error) as raised:
        read_layer(HOSTILE, io.BytesIO(blob), SELECT, limits)
    message = str(raised.value)
    assert message.startswith(f"layer {HOSTILE.digest}: {error.problem}: "), message
    assert text in message, message


@pytest.mark.parametrize(
    ("entries", "error", "text"),
    [
        ([symlink("etc/os-release", "os-release")], LinkLoop, "leads back to itself"),
        # a loop that grows the path on every turn never repeats a state: the depth limit ends it
        ([symlink("etc/os-release", "/a"), symlink("a", "b/x"), symlink("b", "a")], LinkTooDeep,
         "more than 40 symlinks"),
        ([symlink("etc/os-release", "../../../etc/shadow")], LinkEscapesRoot, "climbs above /"),
        ([symlink("lib", "/.."), file("x"), symlink("etc/os-release", "/lib/x")], LinkEscapesRoot, "symlink /lib"),
    ],
)
def test_hostile_links_fail_clearly_and_write_nothing(entries, error, text, no_writes):
    with pytest.raises(error) as raised:
        read_image([(HOSTILE, io.BytesIO(compress(tar_bytes(*entries), "gzip")))], Select(["/etc/os-release", "/x"]))
    assert str(raised.value).startswith(f"layer {HOSTILE.digest}: {error.problem}: ")
    assert text in str(raised.value)


def test_device_nodes_of_a_debootstrap_dev_are_inert_entries(no_writes):
    blob = _plain(Entry("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), file("dev/null-not", "x"),
                  Entry("dev/console", type=tarfile.CHRTYPE, devmajor=5, devminor=1))
    contents = read_layer(HOSTILE, io.BytesIO(blob), SELECT)
    assert list(contents.files) == ["/dev/null-not"]
    assert "/dev/null" in contents.shadow.non_dirs


def test_image_size_limit_spans_layers(no_writes):
    blob = _plain(BIG)  # 4096 data + headers ≈ 10 KiB of tar per layer
    limits = Limits(max_image_bytes=25_000)
    with pytest.raises(ImageTooLarge, match=f"layer {layer_ref(2).digest}: image too large"):
        read_image([(layer_ref(i), io.BytesIO(blob)) for i in range(3)], SELECT, limits, workers=1)
    with pytest.raises(ImageTooLarge, match="image too large: more than 25000 uncompressed bytes in the image"):
        read_image([(layer_ref(i), io.BytesIO(blob)) for i in range(3)], SELECT, limits, workers=2)
    read_layer(layer_ref(2), io.BytesIO(blob), SELECT, limits)  # alone, each layer is within the image limit


def test_first_failing_layer_stops_the_image_read_and_its_error_is_raised(no_writes):
    """A slow, huge layer in flight next to a hostile one: the hostile one's error comes out promptly and
    the big layer is not read to its end."""
    huge = gzip_bomb(10 * GiB)
    consumed = []

    class Watched(io.BytesIO):
        def read(self, size=-1):
            data = super().read(size)
            consumed.append(len(data))
            return data

    layers = [(layer_ref(0), Watched(huge)), (layer_ref(1), io.BytesIO(_plain(file("../escape"))))]
    with pytest.raises(UnsafePath, match=f"layer {layer_ref(1).digest}: unsafe path"):
        read_image(layers, SELECT, Limits(max_ratio=10**9))
    assert sum(consumed) < len(huge)


def test_a_failing_source_stream_error_passes_through_unchanged():
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError, match="peer went away"):
        read_layer(HOSTILE, Broken(), SELECT)


@pytest.mark.parametrize("bomb", ["gzip", "zstd"])
@pytest.mark.parametrize("ratio_limit", ["default", "off"])
def test_bomb_memory_stays_bounded(bomb, ratio_limit, tmp_path):
    """Peak RSS growth of a fresh process reading a bomb: with the ratio check (stops early) and without it
    (streams all 10 GiB / 2 GiB of zeros to the end and is stopped by nothing)."""
    size = "10 * GiB" if bomb == "gzip" else "2 * GiB"
    limits = "Limits()" if ratio_limit == "default" else "Limits(max_ratio=10**9)"
    script = textwrap.dedent(f"""
        import io, resource
        from crscan.layers import DecompressionBomb, Limits, Select, read_layer
        from tests.layers.bombs import GiB, tar_header, {bomb}_bomb
        from tests.layers.tarfactory import layer_ref
        blob = {bomb}_bomb({size})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            contents = read_layer(layer_ref("b"), io.BytesIO(blob), Select(["/**"]), {limits})
            outcome = f"read all {{contents.size == len(tar_header({size})) + {size}}}"
        except DecompressionBomb as error:
            outcome = "stopped"
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(outcome, grown)
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    outcome, grown_kib = run.stdout.rsplit(" ", 1)
    if ratio_limit == "default":
        assert outcome == "stopped"
    else:
        assert outcome == "read all True"
    assert int(grown_kib) < 64 * 1024, f"peak RSS grew by {int(grown_kib) // 1024} MiB"


def _extended_headers_layer(format: int) -> bytes:
    """Members that need PAX records or GNU long-name/long-link blocks, so mutations land in those parsers."""
    long_dir = "usr/lib/python3/dist-packages/" + "very-long-directory-name/" * 5
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=format) as tar:
        for name, data in [(long_dir + "METADATA", b"Name: x\n"), ("etc/os-release", b"ID=debian\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if format == tarfile.PAX_FORMAT:
                info.pax_headers = {"comment": "é" * 20, "mtime": "1700000000.5"}
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("l" * 120)
        link.type, link.linkname = tarfile.SYMTYPE, "t" * 150
        tar.addfile(link)
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    format=st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]),
    edits=st.lists(st.tuples(st.integers(0, 2047), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_mutated_extended_headers_read_or_raise_layer_error(format, edits):
    blob = bytearray(_extended_headers_layer(format))
    for where, value in edits:
        blob[where] = value
    try:
        read_layer(HOSTILE, io.BytesIO(bytes(blob)), SELECT)
    except LayerError as error:
        assert str(error).startswith(f"layer {HOSTILE.digest}: ")
