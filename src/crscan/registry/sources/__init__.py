"""Image sources and `open_source`, the one place that decides which kind a reference string names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from crscan.registry.auth import Credentials
from crscan.registry.client import ByteCounter, RegistryClient, RetryNotice
from crscan.registry.interface import ImageSource, InvalidReference
from crscan.registry.manifest import DEFAULT_PLATFORM, Platform
from crscan.registry.pool import ClientPool
from crscan.registry.reference import parse_reference
from crscan.registry.sources.docker_archive import DockerArchiveSource
from crscan.registry.sources.oci_layout import OciLayoutSource
from crscan.registry.sources.registry import RegistryImageSource

DOCKER_ARCHIVE = "docker-archive:"
OCI = "oci:"


def open_source(
    reference: str,
    *,
    platform: str | Platform = DEFAULT_PLATFORM,
    credentials: Credentials | None = None,
    insecure: bool | None = None,
    ca_file: str | None = None,
    auth_realm_hosts: Iterable[str] = (),
    timeout: float = 30.0,
    counter: ByteCounter | None = None,
    on_retry: Callable[[RetryNotice], None] | None = None,
    pool: ClientPool | None = None,
) -> ImageSource:
    """Open `docker-archive:PATH[:name:tag]`, `oci:PATH[:tag]` or `host[:port]/repo[:tag|@digest]`.

    Registry options (credentials, insecure, ca_file, auth_realm_hosts, timeout, counter, on_retry, pool) are
    ignored for local sources. With `pool`, a registry image is pulled through the pool's client for its
    settings (kept open for the next image) instead of a client of its own.
    """
    if not isinstance(reference, str) or not reference:
        raise InvalidReference("empty image reference")
    if reference.startswith(DOCKER_ARCHIVE):
        path, name = split_path(reference.removeprefix(DOCKER_ARCHIVE), reference)
        return DockerArchiveSource(path, name, reference=reference)
    if reference.startswith(OCI):
        path, tag = split_path(reference.removeprefix(OCI), reference)
        return OciLayoutSource(path, tag, platform=platform, reference=reference)
    image = parse_reference(reference)
    if pool is not None:
        shared = pool.client(image.registry, credentials=credentials, insecure=insecure, ca_file=ca_file,
                             auth_realm_hosts=auth_realm_hosts, timeout=timeout)
        return RegistryImageSource(shared.view(counter=counter or ByteCounter(), on_retry=on_retry), image,
                                   platform=platform)
    client = RegistryClient(image.registry, credentials=credentials, insecure=insecure, ca_file=ca_file,
                            auth_realm_hosts=auth_realm_hosts, timeout=timeout, counter=counter,
                            on_retry=on_retry)
    return RegistryImageSource(client, image, platform=platform, owns_client=True)


def split_path(text: str, reference: str) -> tuple[Path, str]:
    """`PATH[:suffix]` where PATH may itself contain ':' — the longest prefix that exists is the path."""
    if not text:
        raise InvalidReference(f"{reference!r} names no path")
    if Path(text).exists():
        return Path(text), ""
    cut = text.find(":")
    while cut != -1:
        if Path(text[:cut]).exists():
            return Path(text[:cut]), text[cut + 1:]
        cut = text.find(":", cut + 1)
    raise InvalidReference(f"{reference!r}: path {text.split(':', 1)[0]!r} does not exist")


__all__ = ["DockerArchiveSource", "OciLayoutSource", "RegistryImageSource", "open_source"]
