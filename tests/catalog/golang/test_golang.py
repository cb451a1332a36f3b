"""Go: real binaries built here with `go build` (a module with a local `replace`d dependency),
cross-checked with `go version -m`."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from crscan.catalog.catalogers import GO_BINARY
from crscan.catalog.golang.parse_buildinfo import parse_buildinfo
from crscan.model import Ecosystem
from tests.catalog.helpers import TESTDATA_LAYER, file

SOURCE = Path(__file__).parent / "testdata/src/hello"
pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain (golang-go)")


@pytest.fixture(scope="session")
def go_binaries(tmp_path_factory) -> dict[str, Path]:
    """Plain, stripped (-s -w) and -trimpath builds; offline: the dependency is a local replace."""
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    builds = {"plain": [], "stripped": ["-ldflags=-s -w"], "trimpath": ["-trimpath"]}
    for name, flags in builds.items():
        subprocess.run(["go", "build", *flags, "-o", str(out / name), "."], cwd=SOURCE, env=env, check=True,
                       capture_output=True)
    return {name: out / name for name in builds}


def go_version_m(binary: Path) -> tuple[str, list[tuple[str, str]]]:
    """The toolchain and the (mod|dep) lines `go version -m` prints, replacements applied like crscan does."""
    out = subprocess.run(["go", "version", "-m", str(binary)], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    toolchain = lines[0].split(": ", 1)[1]
    deps = [line.split("\t")[1:4] for line in lines[1:]]
    return toolchain, [(d[1], d[2]) for d in deps if d[0] == "dep"]


@pytest.mark.parametrize("build", ["plain", "stripped", "trimpath"])
def test_modules_match_go_version_m(go_binaries, build):
    binary = go_binaries[build]
    toolchain, deps = go_version_m(binary)
    packages = parse_buildinfo(binary.read_bytes(), "/usr/local/bin/hello")
    assert deps == [("example.com/greeting", "v1.4.0")]
    assert [(p.name, p.version) for p in packages] == [("stdlib", "v" + toolchain.removeprefix("go")), *deps]
    # the main module is "(devel)" in a source build: nothing an advisory could match, so not reported
    assert all(p.ecosystem is Ecosystem.GO and p.path == "/usr/local/bin/hello" for p in packages)
    assert packages[1].purl == "pkg:golang/example.com/greeting@v1.4.0"


def test_cataloger_reads_executables_only(go_binaries):
    data = go_binaries["plain"].read_bytes()
    cataloger = GO_BINARY
    assert cataloger.wants("/usr/local/bin/hello", 0o755, len(data))
    assert not cataloger.wants("/usr/local/bin/hello", 0o644, len(data))
    files = {"/usr/local/bin/hello": file("/usr/local/bin/hello", data, mode=0o755),
             "/usr/local/bin/script": file("/usr/local/bin/script", b"#!/bin/sh\n" + b"#" * 70000, mode=0o755),
             "/bin/true": file("/bin/true", Path("/bin/true").read_bytes(), mode=0o755)}  # C binary: no build info
    result = cataloger.catalog(files)
    assert result.warnings == ()
    assert [p.name for p in result.packages] == ["stdlib", "example.com/greeting"]
    assert all(p.layer == TESTDATA_LAYER for p in result.packages)


def test_binary_truncated_inside_buildinfo_is_a_warning(go_binaries):
    data = go_binaries["plain"].read_bytes()
    truncated = data[:data.index(b"\xff Go buildinf:") + 10]
    result = GO_BINARY.catalog({"/app": file("/app", truncated, mode=0o755)})
    assert result.packages == ()
    assert len(result.warnings) == 1 and result.warnings[0].startswith("/app: ")
    assert result.warnings[0] == "/app: ELF section .go.buildinfo runs past the end of the file (truncated?)"


def test_elf_header_garbage_is_a_warning():
    data = b"\x7fELF\x02\x01" + b"\xff" * 200
    result = GO_BINARY.catalog({"/app": file("/app", data, mode=0o755)})
    assert result.packages == () and "section header table is out of bounds" in result.warnings[0]


def test_corrupt_buildinfo_lengths_are_warnings(go_binaries):
    data = bytearray(go_binaries["plain"].read_bytes())
    at = data.index(b"\xff Go buildinf:")
    data[at + 32:at + 37] = b"\xff\xff\xff\xff\x0f"  # Go version length: 4 GiB
    result = GO_BINARY.catalog({"/app": file("/app", bytes(data), mode=0o755)})
    assert result.packages == () and "runs past the section" in result.warnings[0]


# Go < 1.18 stored two pointers to Go string headers instead of inline strings. Go 1.19 cannot produce such a
# binary, so the layout is assembled here (per Go's src/debug/buildinfo/buildinfo.go) and placed into a real
# ELF (/bin/true) with objcopy: `.go.buildinfo` holds the header, `.gostrings` (at a fixed address) the
# string headers and bytes they point at. Sentinels are cmd/go's modinfo start/end markers.
OLD_BASE = 0x900000
SENTINEL_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
SENTINEL_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def old_format_binary(tmp_path: Path, version_pointer: int = OLD_BASE) -> bytes:
    if shutil.which("objcopy") is None:
        pytest.skip("needs binutils' objcopy")
    version = b"go1.16.15"
    modinfo = (SENTINEL_START + b"path\tgithub.com/example/tool\nmod\tgithub.com/example/tool\tv1.2.3\th1:abc=\n"
               b"dep\tgolang.org/x/text\tv0.3.5\th1:def=\n" + SENTINEL_END)
    strings = (struct.pack("<QQ", OLD_BASE + 32, len(version)) +
               struct.pack("<QQ", OLD_BASE + 32 + len(version), len(modinfo)) + version + modinfo)
    header = b"\xff Go buildinf:" + bytes([8, 0]) + struct.pack("<QQ", version_pointer, OLD_BASE + 16)
    (tmp_path / "strings").write_bytes(strings)
    (tmp_path / "header").write_bytes(header)
    subprocess.run(["objcopy", "--add-section", f".gostrings={tmp_path / 'strings'}",
                    "--set-section-flags", ".gostrings=alloc,contents,load,readonly,data",
                    "--change-section-address", f".gostrings={OLD_BASE:#x}",
                    "--add-section", f".go.buildinfo={tmp_path / 'header'}", "/bin/true", str(tmp_path / "tool")],
                   check=True, capture_output=True)
    return (tmp_path / "tool").read_bytes()


def test_pre_go_1_18_pointer_format(tmp_path):
    packages = parse_buildinfo(old_format_binary(tmp_path), "/usr/bin/tool")
    # a binary built by `go install module@version` carries its main module's version: reported too
    assert [(p.name, p.version) for p in packages] == [
        ("stdlib", "v1.16.15"), ("github.com/example/tool", "v1.2.3"), ("golang.org/x/text", "v0.3.5")]


def test_pre_go_1_18_dangling_pointer_is_a_warning(tmp_path):
    data = old_format_binary(tmp_path, version_pointer=0xDEAD0000)
    result = GO_BINARY.catalog({"/usr/bin/tool": file("/usr/bin/tool", data, mode=0o755)})
    assert result.packages == ()
    assert result.warnings == ("/usr/bin/tool: address 0xdead0000 (+16) is in no section of the file",)
