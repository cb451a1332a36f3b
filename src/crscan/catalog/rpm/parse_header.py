"""RPM header blobs, as every rpmdb backend stores them: the tags crscan needs, bounds-checked."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import distro_qualifier, purl
from crscan.model import Distro, Ecosystem, Package

HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"  # only in package files; the database stores the bare header
MAX_INDEX_ENTRIES = 0xFFFF  # rpm's own hdrchkTags limit
MAX_DATA_LENGTH = 256 * 1024 * 1024  # rpm's hdrchkData limit

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH = 1000, 1001, 1002, 1003, 1022
TAG_LICENSE, TAG_OLDFILENAMES, TAG_SOURCERPM = 1014, 1027, 1044
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TAG_MODULARITYLABEL = 5096  # "nodejs:18:8090020231206131236:a75119d5" on packages of a module stream
WANTED = {TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH, TAG_ARCH, TAG_LICENSE, TAG_OLDFILENAMES, TAG_SOURCERPM,
          TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES, TAG_MODULARITYLABEL}
TYPE_INT16, TYPE_INT32, TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING = 3, 4, 6, 8, 9
PUBKEY_PSEUDO_PACKAGE = "gpg-pubkey"  # imported signing keys live in the rpmdb as fake packages


def parse_header_tags(blob: bytes, where: str) -> dict[int, object]:
    """The wanted tags of one header: str, list[str] or list[int] values."""
    if blob.startswith(HEADER_MAGIC):
        blob = blob[len(HEADER_MAGIC):]
    if len(blob) < 8:
        raise CatalogError(f"{where}: header blob of {len(blob)} bytes is too short")
    index_count, data_length = struct.unpack_from(">II", blob)
    if index_count > MAX_INDEX_ENTRIES or data_length > MAX_DATA_LENGTH:
        raise CatalogError(f"{where}: header claims {index_count} tags / {data_length} data bytes (corrupt)")
    data_start = 8 + 16 * index_count
    if data_start + data_length > len(blob):
        raise CatalogError(f"{where}: header is truncated ({len(blob)} bytes, needs {data_start + data_length})")
    store = blob[data_start:data_start + data_length]
    tags: dict[int, object] = {}
    for i in range(index_count):
        tag, type_, offset, count = struct.unpack_from(">IIiI", blob, 8 + 16 * i)
        if tag not in WANTED:
            continue
        if offset < 0 or offset >= data_length or count > data_length:
            raise CatalogError(f"{where}: tag {tag} points outside the header data")
        tags[tag] = _value(store, type_, offset, count, tag, where)
    return tags


def _value(store: bytes, type_: int, offset: int, count: int, tag: int, where: str) -> object:
    if type_ == TYPE_STRING:
        return _strings(store, offset, 1, tag, where)[0]
    if type_ in (TYPE_STRING_ARRAY, TYPE_I18NSTRING):
        return _strings(store, offset, count, tag, where)
    if type_ in (TYPE_INT32, TYPE_INT16):
        size = 4 if type_ == TYPE_INT32 else 2
        if offset + size * count > len(store):
            raise CatalogError(f"{where}: tag {tag} integer array runs past the header data")
        return list(struct.unpack_from(f">{count}{'I' if size == 4 else 'H'}", store, offset))
    raise CatalogError(f"{where}: tag {tag} has unexpected type {type_}")


def _strings(store: bytes, offset: int, count: int, tag: int, where: str) -> list[str]:
    out = []
    for _ in range(count):
        end = store.find(b"\0", offset)
        if end < 0:
            raise CatalogError(f"{where}: tag {tag} string is not NUL-terminated")
        out.append(store[offset:end].decode("utf-8", "replace"))
        offset = end + 1
    return out


def split_source_rpm(source_rpm: str) -> tuple[str, str]:
    """'bash-5.1.8-6.el9.src.rpm' → ('bash', '5.1.8-6.el9')."""
    stem = source_rpm.removesuffix(".rpm")
    stem = stem.rsplit(".", 1)[0] if stem.endswith((".src", ".nosrc")) else stem
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return "", ""
    return parts[0], f"{parts[1]}-{parts[2]}"


def parse_header(blob: bytes, path: str, distro: Distro | None = None, where: str = "") -> Package | None:
    """The installed package a header describes; None for the gpg-pubkey pseudo-packages."""
    where = where or path
    tags = parse_header_tags(blob, where)
    name, version, release = tags.get(TAG_NAME), tags.get(TAG_VERSION), tags.get(TAG_RELEASE)
    if not (isinstance(name, str) and name.strip() and isinstance(version, str) and isinstance(release, str)):
        raise CatalogError(f"{where}: header lacks name, version or release")
    if name == PUBKEY_PSEUDO_PACKAGE:
        return None
    epoch_values = tags.get(TAG_EPOCH)
    epoch = str(epoch_values[0]) if isinstance(epoch_values, list | tuple) and epoch_values else ""
    arch = tags.get(TAG_ARCH) if isinstance(tags.get(TAG_ARCH), str) else ""
    full_version = f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"
    label = tags.get(TAG_MODULARITYLABEL)
    module = label if isinstance(label, str) else ""
    source_name, source_version = split_source_rpm(str(tags.get(TAG_SOURCERPM) or ""))
    if source_name:
        source_version = f"{epoch}:{source_version}" if epoch else source_version
    else:
        source_name, source_version = name, full_version
    return Package(
        Ecosystem.RPM, name, full_version,
        purl=purl("rpm", name, f"{version}-{release}", distro.id if distro else "",
                  arch=str(arch), epoch=epoch, distro=distro_qualifier(distro), rpmmod=module),
        arch=str(arch), source_name=source_name, source_version=source_version, path=path,
        files=_file_list(tags, where), licenses=_license(tags))


def _license(tags: dict[int, object]) -> tuple[str, ...]:
    """The License tag: Fedora/RHEL write SPDX expressions there (older packages, Fedora's own short names)."""
    value = tags.get(TAG_LICENSE)
    return (value.strip(),) if isinstance(value, str) and value.strip() else ()


def _file_list(tags: dict[int, object], where: str) -> tuple[str, ...]:
    basenames, dirnames, indexes = tags.get(TAG_BASENAMES), tags.get(TAG_DIRNAMES), tags.get(TAG_DIRINDEXES)
    if isinstance(basenames, list) and isinstance(dirnames, list) and isinstance(indexes, list):
        if len(indexes) != len(basenames) or any(i >= len(dirnames) for i in indexes):
            raise CatalogError(f"{where}: file list dirindexes do not match dirnames/basenames")
        return tuple(dirnames[i] + base for i, base in zip(indexes, basenames))
    old = tags.get(TAG_OLDFILENAMES)  # headers from rpm < 4.0 without compressed file names
    return tuple(old) if isinstance(old, list) else ()


def packages_from_blobs(blobs: Iterable[bytes], path: str, distro: Distro | None,
                        warnings: list[str] | None) -> list[Package]:
    """Packages from a database's header blobs. A bad header is skipped; a bad page ends the walk;
    both leave a warning, and what was read before stays."""
    packages = []
    number = 0
    try:
        for number, blob in enumerate(blobs, 1):
            try:
                package = parse_header(blob, path, distro, where=f"{path}: header #{number}")
            except CatalogError as exc:
                if warnings is not None:
                    warnings.append(str(exc))
                continue
            if package is not None:
                packages.append(package)
    except CatalogError as exc:
        if warnings is None:
            raise
        warnings.append(str(exc))
    return packages
