"""Getting images: an OCI Distribution client and image sources (registry, docker-archive, OCI layout).

Callers use `open_source(ref)` and the `ImageSource` interface; `RegistryClient` serves registry listing.
"""

from crscan.registry.auth import Credentials
from crscan.registry.client import ByteCounter, RegistryClient, RetryNotice
from crscan.registry.interface import (
    AuthError,
    BlobUnknown,
    DigestMismatch,
    ImageLayer,
    ImageSource,
    InvalidManifest,
    InvalidReference,
    ManifestUnknown,
    OperationRefused,
    PlatformNotFound,
    RegistryError,
    RegistryUnavailable,
    UnsupportedMediaType,
)
from crscan.registry.pool import ClientPool
from crscan.registry.reference import ImageReference, parse_reference
from crscan.registry.sources import open_source

__all__ = [
    "AuthError", "BlobUnknown", "ByteCounter", "ClientPool", "Credentials", "DigestMismatch", "ImageLayer",
    "ImageReference",
    "ImageSource", "InvalidManifest", "InvalidReference", "ManifestUnknown",
    "OperationRefused", "PlatformNotFound", "RegistryClient",
    "RegistryError", "RegistryUnavailable", "RetryNotice", "UnsupportedMediaType", "open_source", "parse_reference",
]
