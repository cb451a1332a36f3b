"""Just enough ELF to pull named sections out of a binary (Go build info, cargo-auditable data) and to
read bytes at a virtual address (pre-1.18 Go build info points at its strings)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from crscan.catalog.interface import CatalogError

ELF_MAGIC = b"\x7fELF"
MAX_SECTIONS = 65535
SHT_NOBITS = 8  # .bss: occupies memory, not file bytes


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    address: int
    offset: int
    size: int


@dataclass(frozen=True)
class Elf:
    data: bytes
    path: str
    big_endian: bool
    pointer_size: int
    sections: tuple[Section, ...]

    def section(self, name: str) -> bytes | None:
        """The named section's file bytes; None when there is no such section."""
        for section in self.sections:
            if section.name == name:
                return self.data[section.offset:section.offset + section.size]
        return None

    def read_address(self, address: int, size: int) -> bytes:
        """`size` bytes at a virtual address, from the section whose file image holds them."""
        for section in self.sections:
            if section.type != SHT_NOBITS and section.address <= address and \
                    address + size <= section.address + section.size:
                start = section.offset + address - section.address
                return self.data[start:start + size]
        raise CatalogError(f"{self.path}: address {address:#x} (+{size}) is in no section of the file")


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def parse_elf(data: bytes, path: str) -> Elf:
    """The section table, bounds-checked; CatalogError on a broken ELF."""
    if len(data) < 64 or not is_elf(data):
        raise CatalogError(f"{path}: not an ELF file")
    elf_class, encoding = data[4], data[5]
    if elf_class not in (1, 2) or encoding not in (1, 2):
        raise CatalogError(f"{path}: unknown ELF class {elf_class} / data encoding {encoding}")
    order = "<" if encoding == 1 else ">"
    if elf_class == 2:
        table_offset, = struct.unpack_from(order + "Q", data, 0x28)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x3A)
        layout, minimum = order + "IIQQQQ", 64
    else:
        table_offset, = struct.unpack_from(order + "I", data, 0x20)
        entry_size, count, names_index = struct.unpack_from(order + "HHH", data, 0x2E)
        layout, minimum = order + "IIIIII", 40
    pointer_size = 8 if elf_class == 2 else 4
    if count == 0:
        return Elf(data, path, encoding == 2, pointer_size, ())  # section headers stripped
    if entry_size < minimum or count > MAX_SECTIONS or names_index >= count \
            or table_offset + entry_size * count > len(data):
        raise CatalogError(f"{path}: ELF section header table is out of bounds (truncated or corrupt)")
    raw = [struct.unpack_from(layout, data, table_offset + i * entry_size) for i in range(count)]
    _, _, _, _, names_offset, names_size = raw[names_index]
    if names_offset + names_size > len(data):
        raise CatalogError(f"{path}: ELF section name table is out of bounds")
    names = data[names_offset:names_offset + names_size]
    sections = []
    for name_offset, type_, _flags, address, offset, size in raw:
        end = names.find(b"\0", name_offset)
        name = names[name_offset:end if end >= 0 else None].decode("ascii", "replace")
        if type_ != SHT_NOBITS and offset + size > len(data):
            raise CatalogError(f"{path}: ELF section {name} runs past the end of the file (truncated?)")
        sections.append(Section(name, type_, address, offset, size))
    return Elf(data, path, encoding == 2, pointer_size, tuple(sections))


def elf_section(data: bytes, name: str, path: str) -> bytes | None:
    """The named section's bytes, None when the binary has no such section; CatalogError on a broken ELF."""
    return parse_elf(data, path).section(name)
