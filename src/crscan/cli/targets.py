"""What a `crscan scan` / `crscan sbom` argument names: a registry image, a local archive or layout, an unpacked
filesystem, or an SBOM — decided before anything is opened, with the rules in docs/cli.md.

An explicit prefix always wins: `docker-archive:`, `oci:`, `dir:`, `rootfs:`, `sbom:`. Without one, an argument is
a local path when it can only be one — it starts with `/`, `./`, `../` or `~/` (or is `.`/`..`), or ends in a tar
suffix — or when it exists on disk and has no `:` (so `alpine:3.19` is always the registry image, even beside a
file of that name). Anything else is a registry reference. A local path is told apart by its content: a tar
with `oci-layout`/`index.json` is an OCI layout, one with `manifest.json` a `docker save` archive; a directory
with an `oci-layout` file an OCI layout, any other directory a filesystem (a root filesystem when it has an OS
release file, else a project directory); a file starting with `{` an SBOM.
"""

from __future__ import annotations

import enum
import os
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crscan.cli.interface import CliError

# The scan stack is imported when a target is opened, not when the CLI starts.
if TYPE_CHECKING:
    from crscan.registry import Credentials, ImageSource, RetryNotice
    from crscan.scan.filesystem import FilesystemKind

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2")
PATH_PREFIXES = ("/", "./", "../", "~/")
# A root filesystem has one of these (crscan's distro detection reads them; see catalog/distro.py).
OS_RELEASE_FILES = ("etc/os-release", "usr/lib/os-release")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ\x00")
# Enough members to reach `manifest.json` / `index.json` in any real archive (Docker ≥ 25 writes both it and
# `oci-layout`, so every header is read, not the first match); past it, the tar is not an image.
_MAX_MEMBERS_SNIFFED = 100_000


class Kind(enum.Enum):
    REGISTRY = ""
    DOCKER_ARCHIVE = "docker-archive:"
    OCI = "oci:"
    DIRECTORY = "dir:"
    ROOTFS = "rootfs:"
    SBOM = "sbom:"


@dataclass(frozen=True)
class Target:
    kind: Kind
    value: str  # the path (local kinds, with any `:suffix` the prefix form allows) or the registry reference
    detected: bool = False  # the kind was read from the content of a bare path, not written by the user

    @property
    def reference(self) -> str:
        """The target with its prefix, as `open_source` and the report name it."""
        return f"{self.kind.value}{self.value}"

    @property
    def path(self) -> Path:
        return Path(self.value)


def resolve(argument: str) -> Target:
    """The target `argument` names; raises CliError for a path that does not exist or holds no image."""
    if not argument:
        raise CliError("empty scan target")
    for kind in Kind:
        if kind is not Kind.REGISTRY and argument.startswith(kind.value):
            return _prefixed(kind, argument.removeprefix(kind.value))
    if looks_like_path(argument):
        return detect(Path(os.path.expanduser(argument)), argument)
    if ":" not in argument and os.path.lexists(argument):
        return detect(Path(argument), argument)
    return Target(Kind.REGISTRY, argument)


def looks_like_path(argument: str) -> bool:
    """True for arguments no registry reference can be: `/x`, `./x`, `../x`, `~/x`, `.`, `..`, `x.tar`."""
    return argument in (".", "..") or argument.startswith(PATH_PREFIXES) or argument.endswith(TAR_SUFFIXES)


def _prefixed(kind: Kind, value: str) -> Target:
    if not value:
        raise CliError(f"{kind.value} names no path")
    if kind in (Kind.DIRECTORY, Kind.ROOTFS) and not os.path.isdir(value):
        problem = "not a directory" if os.path.lexists(value) else "no such directory"
        raise CliError(f"{kind.value}{value}: {problem}")
    return Target(kind, value)


def detect(path: Path, argument: str) -> Target:
    """The kind of an existing local `path` from its content."""
    if not os.path.lexists(path):
        raise CliError(f"{argument}: no such file or directory (a registry image is written host/repo:tag; "
                       "a local one docker-archive:PATH or oci:PATH)")
    if path.is_dir():
        if (path / "oci-layout").is_file():
            return Target(Kind.OCI, str(path), detected=True)
        if any((path / name).is_file() for name in OS_RELEASE_FILES):
            return Target(Kind.ROOTFS, str(path), detected=True)
        return Target(Kind.DIRECTORY, str(path), detected=True)
    if not path.is_file():
        raise CliError(f"{argument}: not a regular file or directory")
    try:
        with open(path, "rb") as file:
            head = file.read(512)
    except OSError as error:
        raise CliError(f"{argument}: {error.strerror}") from None
    if head.startswith(_COMPRESSED_MAGIC):
        raise CliError(f"{argument} is compressed: decompress it first (image archives are read as plain tar)")
    if head.lstrip()[:1] == b"{":
        return Target(Kind.SBOM, str(path), detected=True)
    members = _tar_members(path, argument)
    if "oci-layout" in members or "index.json" in members:
        return Target(Kind.OCI, str(path), detected=True)
    if "manifest.json" in members:
        return Target(Kind.DOCKER_ARCHIVE, str(path), detected=True)
    raise CliError(f"{argument}: a tar with neither manifest.json (docker save) nor oci-layout/index.json (OCI "
                   "layout); to scan its files, unpack it and scan dir:DIR")


def _tar_members(path: Path, argument: str) -> set[str]:
    """Top-level member names of a plain tar (headers only: tarfile seeks over the data)."""
    names: set[str] = set()
    try:
        with tarfile.open(path, "r:") as tar:
            for count, member in enumerate(tar, 1):
                if "/" not in member.name.removeprefix("./"):
                    names.add(member.name.removeprefix("./"))
                if count >= _MAX_MEMBERS_SNIFFED:
                    break
    except (tarfile.TarError, OSError, UnicodeDecodeError) as error:
        raise CliError(f"{argument}: not an image archive (not a readable tar: {error})") from None
    return names


def announce(argument: str, target: Target, quiet: bool) -> None:
    """One stderr line when the kind was guessed from content, so a surprise is visible (not with --quiet)."""
    if target.detected and not quiet:
        print(f"note: scanning {argument} as {target.reference}", file=sys.stderr, flush=True)


def retry_reporter(quiet: bool) -> Callable[[RetryNotice], None] | None:
    """The registry client's retry hook for the CLI: one stderr line per retry as it happens."""
    if quiet:
        return None
    return lambda notice: print(f"{notice}", file=sys.stderr, flush=True)


def open_image(target: Target, *, platform: str, credentials: Credentials | None, insecure: bool | None,
               auth_realm_hosts: Sequence[str], quiet: bool) -> ImageSource:
    """The image source of a registry, archive or layout target."""
    from crscan.registry import open_source

    if target.kind not in (Kind.REGISTRY, Kind.DOCKER_ARCHIVE, Kind.OCI):
        raise CliError(f"{target.reference} is not an image")
    return open_source(target.reference, platform=platform, credentials=credentials, insecure=insecure,
                       auth_realm_hosts=auth_realm_hosts, on_retry=retry_reporter(quiet))


def filesystem_kind(target: Target) -> FilesystemKind | None:
    """`dir:`/`rootfs:` as the scan package names them; None for the other kinds."""
    from crscan.scan.filesystem import FilesystemKind

    return {Kind.DIRECTORY: FilesystemKind.DIRECTORY, Kind.ROOTFS: FilesystemKind.ROOTFS}.get(target.kind)
