"""Random access to the members of an uncompressed tar file (a `docker save` archive, an OCI layout tar).

Members are indexed once; each open gets its own file handle positioned at the member's data, so layers can
be read concurrently and nothing is extracted to disk.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Generator
from pathlib import Path

from crscan.registry.interface import RegistryError

CHUNK = 1 << 20


class TarMembers:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        with open(path, "rb") as file:
            magic = file.read(6)
        if (magic[:2] == b"\x1f\x8b" or magic[:4] == b"\x28\xb5\x2f\xfd" or magic[:3] == b"BZh"
                or magic == b"\xfd7zXZ\x00"):
            raise RegistryError(f"{what} {path} is compressed; decompress it first (only plain tar is read)")
        self._members: dict[str, tuple[int, int]] = {}
        try:
            with tarfile.open(path, "r:") as tar:
                for member in tar:
                    if member.isfile() and not member.sparse:
                        self._members[_normalize(member.name)] = (member.offset_data, member.size)
        except (tarfile.TarError, OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{what} {path} is not a readable tar archive: {exc}") from exc

    def __contains__(self, name: str) -> bool:
        return _normalize(name) in self._members

    def size(self, name: str) -> int:
        return self._entry(name)[1]

    def chunks(self, name: str) -> Generator[bytes, None, None]:
        offset, remaining = self._entry(name)
        with open(self.path, "rb") as file:
            file.seek(offset)
            while remaining:
                chunk = file.read(min(CHUNK, remaining))
                if not chunk:
                    raise RegistryError(f"{self.what} {self.path} is truncated inside {name}")
                remaining -= len(chunk)
                yield chunk

    def read(self, name: str, limit: int) -> bytes:
        if self.size(name) > limit:
            raise RegistryError(f"{self.what} {self.path}: {name} is {self.size(name)} bytes, more than {limit}")
        return b"".join(self.chunks(name))

    def _entry(self, name: str) -> tuple[int, int]:
        try:
            return self._members[_normalize(name)]
        except KeyError:
            raise RegistryError(f"{self.what} {self.path} has no file {name!r}") from None


def _normalize(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")
