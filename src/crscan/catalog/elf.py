"""Just enough ELF to pull one named section out of a binary (Go build info, cargo-auditable data)."""

from __future__ import annotations

import struct

from crscan.catalog.interface import CatalogError

ELF_MAGIC = b"\x7fELF"
MAX_SECTIONS = 65535


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def elf_section(data: bytes, name: str, path: str) -> bytes | None:
    """The named section's bytes, None when the binary has no such section; CatalogError on a broken ELF."""
    if len(data) < 64 or not is_elf(data):
        raise CatalogError(f"{path}: not an ELF file")
    elf_class, encoding = data[4], data[5]
    if elf_class not in (1, 2) or encoding not in (1, 2):
        raise CatalogError(f"{path}: unknown ELF class {elf_class} / data encoding {encoding}")
    order = "<" if encoding == 1 else ">"
    if elf_class == 2:
        section_offset, = struct.unpack_from(order + "Q", data, 0x28)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x3A)
        layout, wanted_size = order + "IIQQQQ", 64
    else:
        section_offset, = struct.unpack_from(order + "I", data, 0x20)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x2E)
        layout, wanted_size = order + "IIIIII", 40
    if count == 0:
        return None  # section headers stripped
    if entry_size < wanted_size or count > MAX_SECTIONS or names_index >= count \
            or section_offset + entry_size * count > len(data):
        raise CatalogError(f"{path}: ELF section header table is out of bounds (truncated or corrupt)")

    def section(index: int) -> tuple[int, int, int]:
        name_offset, _type, _flags, _addr, offset, size = struct.unpack_from(
            layout, data, section_offset + index * entry_size)
        return name_offset, offset, size

    _, names_offset, names_size = section(names_index)
    if names_offset + names_size > len(data):
        raise CatalogError(f"{path}: ELF section name table is out of bounds")
    names = data[names_offset:names_offset + names_size]
    wanted = name.encode()
    for index in range(count):
        name_offset, offset, size = section(index)
        end = names.find(b"\0", name_offset)
        if names[name_offset:end] != wanted:
            continue
        if offset + size > len(data):
            raise CatalogError(f"{path}: ELF section {name} runs past the end of the file (truncated?)")
        return data[offset:offset + size]
    return None
