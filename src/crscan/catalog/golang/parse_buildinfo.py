"""Go binaries: the module graph and toolchain version the linker stores in `.go.buildinfo`.

The section starts with a 32-byte header: "\\xff Go buildinf:", the pointer size, and flags (bit 0: big
endian, bit 1: strings inline). Go ≥ 1.18 writes them inline, as two varint-length-prefixed strings (the
Go version, the module info); older Go writes two pointers to Go string headers (data pointer, length)
elsewhere in the binary. The module info is `runtime/debug.BuildInfo` text between two 16-byte sentinels:
`path`, `mod`, `dep`, `=>` lines. Layout from Go's src/debug/buildinfo/buildinfo.go.
"""

from __future__ import annotations

import struct

from crscan.catalog.elf import Elf, parse_elf
from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

BUILDINFO_MAGIC = b"\xff Go buildinf:"
FLAG_BIG_ENDIAN, FLAG_INLINE_STRINGS = 0x1, 0x2
SENTINEL_LENGTH = 16
MAX_STRING = 1 << 20  # real module info is a few KiB; a bigger length is corruption


def parse_buildinfo(data: bytes, path: str) -> list[Package]:
    """The binary's Go modules (deps, and the main module when it has a real version) plus `stdlib`;
    an ELF that is not a Go binary yields nothing."""
    elf = parse_elf(data, path)
    blob = elf.section(".go.buildinfo")
    if blob is None:
        return []
    if not blob.startswith(BUILDINFO_MAGIC) or len(blob) < 32:
        raise CatalogError(f"{path}: .go.buildinfo section lacks the build info header")
    if blob[15] & FLAG_INLINE_STRINGS:
        go_version, offset = _varint_string(blob, 32, path)
        module_info, _ = _varint_string(blob, offset, path)
    else:
        go_version, module_info = _pointed_strings(elf, blob)
    if not go_version.startswith("go"):
        raise CatalogError(f"{path}: build info Go version {go_version[:40]!r} is not a Go version")
    packages = [_package("stdlib", _toolchain_version(go_version), path)]
    if len(module_info) >= 2 * SENTINEL_LENGTH:
        packages += _modules(module_info[SENTINEL_LENGTH:-SENTINEL_LENGTH], path)
    return packages


def _varint_string(blob: bytes, offset: int, path: str) -> tuple[str, int]:
    length = shift = 0
    while True:
        if offset >= len(blob) or shift > 63:
            raise CatalogError(f"{path}: build info string length runs past the section")
        byte = blob[offset]
        offset += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > MAX_STRING or offset + length > len(blob):
        raise CatalogError(f"{path}: build info string of {length} bytes runs past the section")
    return blob[offset:offset + length].decode("utf-8", "replace"), offset + length


def _pointed_strings(elf: Elf, blob: bytes) -> tuple[str, str]:
    """Go < 1.18: the header holds addresses of the version's and the module info's string headers."""
    pointer_size = blob[14]
    if pointer_size not in (4, 8):
        raise CatalogError(f"{elf.path}: build info pointer size {pointer_size} is neither 4 nor 8")
    word = ("<>"[blob[15] & FLAG_BIG_ENDIAN]) + ("I" if pointer_size == 4 else "Q")
    strings = []
    for slot in (16, 16 + pointer_size):
        header_address, = struct.unpack_from(word, blob, slot)
        data_address, length = struct.unpack(word[0] + word[1] * 2, elf.read_address(header_address, 2 * pointer_size))
        if length > MAX_STRING:
            raise CatalogError(f"{elf.path}: build info string of {length} bytes is implausible")
        strings.append(elf.read_address(data_address, length).decode("utf-8", "replace") if length else "")
    return strings[0], strings[1]


def _toolchain_version(go_version: str) -> str:
    """'go1.21.6' → 'v1.21.6' (same v-prefixed form as module versions); 'go1.22rc1 X:…' keeps its first word."""
    return "v" + go_version.split()[0].removeprefix("go")


def _modules(text: str, path: str) -> list[Package]:
    main: tuple[str, str] | None = None
    deps: list[tuple[str, str]] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "mod" and len(fields) >= 3:
            main = (fields[1], fields[2])
        elif fields[0] == "dep" and len(fields) >= 3:
            deps.append((fields[1], fields[2]))
        elif fields[0] == "=>" and len(fields) >= 3 and deps and fields[2] not in ("", "(devel)"):
            # A replacement by another module version is what was compiled in; a replacement by a local
            # directory keeps the required module's name and version, which advisories are keyed by.
            deps[-1] = (fields[1], fields[2])
    modules = deps if main is None or main[1] in ("", "(devel)") else [main, *deps]
    return [_package(name, version, path) for name, version in modules]


def _package(name: str, version: str, path: str) -> Package:
    namespace, _, bare = name.rpartition("/")
    return Package(Ecosystem.GO, name, version, purl=purl("golang", bare, version, namespace), path=path)
