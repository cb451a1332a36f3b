"""What sync and the webhook need from a registry, and their one base error."""

from __future__ import annotations

import abc
from collections.abc import Container, Iterator

from crscan.store.registries import ObservedImage


class SyncError(Exception):
    """A registry could not be attached, reached or walked; the message names the registry and the problem
    (never its credentials)."""


class RegistryView(abc.ABC):
    """The read-only listing side of one attached registry."""

    @abc.abstractmethod
    def repositories(self) -> Iterator[str]:
        """Every repository of the catalog, following pagination."""

    @abc.abstractmethod
    def tags(self, repository: str) -> Iterator[str]:
        """Every tag of `repository`, following pagination."""

    @abc.abstractmethod
    def resolve(self, repository: str, reference: str, known: Container[str] = ()) -> ObservedImage | str:
        """The image `reference` (tag or digest) pulls; just its digest (a str) when that is in `known`, which
        saves fetching the platform manifest of images already stored. Raises ManifestUnknown when absent."""

    @abc.abstractmethod
    def exists(self, repository: str, digest: str) -> bool:
        """Whether the manifest `digest` is still in `repository` (tagged or not)."""

    def close(self) -> None:  # noqa: B027 - views without resources need no cleanup
        """Release connections."""
