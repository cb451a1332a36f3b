"""One servicer per proto service, each subclassing the generated base class; the transports serve these."""

from __future__ import annotations

from collections.abc import Callable

from crscan.api.response_cache import ResponseCache
from crscan.api.servicers.image import ImageServicer
from crscan.api.servicers.operation import OperationServicer
from crscan.api.servicers.registry import RegistryServicer
from crscan.api.servicers.repository import RepositoryServicer
from crscan.api.servicers.scan_policy import ScanPolicyServicer
from crscan.api.servicers.scanner import ScannerServicer
from crscan.secrets import SecretBox
from crscan.store import Store


def build_servicers(
    store: Store, on_queued: Callable[[], None] | None = None, box: SecretBox | None = None
) -> list[object]:
    """The servicers the gRPC and REST transports serve, all backed by `store`; `on_queued` is called after
    a scan is queued (it wakes the job queue); with `box` (registry credentials' key) ImageService.Delete
    deletes the manifest in the registry too. Their read methods share one `ResponseCache`."""
    responses = ResponseCache(store)  # one per process: the reads of every service share its bound
    return [
        ScannerServicer(store, on_queued, responses),
        ScanPolicyServicer(store),
        OperationServicer(store),
        # The stubs declare every RPC abstract; the runtime base classes answer the ones not overridden with
        # UNIMPLEMENTED, which is what crscan means for the access-binding and mutating RPCs.
        RegistryServicer(store, responses),  # type: ignore[abstract]
        RepositoryServicer(store, responses),  # type: ignore[abstract]
        ImageServicer(store, box, responses),
    ]


__all__ = [
    "ImageServicer",
    "OperationServicer",
    "RegistryServicer",
    "RepositoryServicer",
    "ScanPolicyServicer",
    "ScannerServicer",
    "build_servicers",
]
