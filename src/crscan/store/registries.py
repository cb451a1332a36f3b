"""Attached registries in the store: credentials columns, and applying what a sync or a push observed.

Each method is one transaction. The registry's password arrives already encrypted
(crscan.secrets): the store never sees a plaintext.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crscan import ids
from crscan.store import jobs, operations, scans, schema
from crscan.store.base import OperationWriter, get_row
from crscan.store.images import Layer
from crscan.store.interface import NotFound, OperationError, StoreError
from crscan.store.paging import Order, Page, keyset, values_of
from crscan.store.schema import utcnow

REGISTRY_ORDERS = {"name": (schema.Registry.name,)}


@dataclass(frozen=True)
class ObservedImage:
    """An image as the registry serves it: the digest a pull of its tags resolves to, and the blobs of the
    platform image recorded for it (config + layers, compressed sizes), and when it was pushed (the push
    event's time, else the config's `created`; None: unknown, the time it is first recorded stands in)."""

    digest: str
    config_digest: str
    config_size: int
    layers: tuple[Layer, ...]
    created_at: dt.datetime | None = None  # naive UTC, like every stored time


@dataclass
class Changes:
    """What an apply did; `changed_image_ids` are images added or given a tag (scan-on-push candidates)."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    repositories_added: int = 0
    repositories_removed: int = 0
    changed_image_ids: list[str] = field(default_factory=list)


def registry_host_of(url: str) -> str:
    """The host[:port] a stored registry URL names (`scheme://host[:port]`, or just `host[:port]`), as
    `normalized_host` has it."""
    return normalized_host(urlsplit(url if "://" in url else f"//{url}").netloc)


def normalized_host(host: str) -> str:
    """`Registry.Example.com:443`, `registry.example.com:80` and `registry.example.com` are one registry host."""
    host = host.lower()
    for default in (":443", ":80"):
        if host.endswith(default):
            return host.removesuffix(default)
    return host


@dataclass(frozen=True)
class RemovedRegistry:
    name: str
    repositories: int
    images: int
    aborted_scans: int


class Registries(OperationWriter):
    def add(
        self,
        name: str,
        url: str,
        *,
        folder_id: str,
        insecure: bool = False,
        username: str = "",
        encrypted_password: bytes | None = None,
        ca_file: str = "",
        auth_realm_hosts: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
        webhook_secret_hash: bytes | None = None,
    ) -> schema.Registry:
        """A new registry; StoreError for an invalid name, a name taken in the folder, or a host another
        registry already has (pushes reported by the webhook name only the host)."""
        try:
            ids.check_registry_name(name)
        except ids.InvalidName as exc:
            raise StoreError(str(exc)) from None
        row = schema.Registry(
            id=ids.new_id(ids.REGISTRY), folder_id=folder_id, name=name, url=url, insecure=insecure,
            username=username, encrypted_password=encrypted_password, ca_file=ca_file, labels=dict(labels or {}),
            auth_realm_hosts=list(auth_realm_hosts), webhook_secret_hash=webhook_secret_hash, created_at=utcnow(),
        )
        host = registry_host_of(url)
        try:
            with self.sessions.begin() as session:
                for other in session.execute(select(schema.Registry.name, schema.Registry.url)):
                    if registry_host_of(other.url) == host:
                        raise StoreError(f"registry {other.name!r} already has the host {host}: one registry per host")
                session.add(row)
        except IntegrityError:
            raise StoreError(f"registry {name!r} already exists in folder {folder_id}") from None
        return row

    def remove(self, registry_id: str) -> RemovedRegistry:
        """Delete the registry with its repositories, images, scan results and scan policy, as deleting each
        image through the API would: running scans end ABORTED, their queued jobs are cancelled. Operations
        stay readable (like those of a deleted image)."""
        with self.sessions.begin() as session:
            row = get_row(session, schema.Registry, registry_id, "registry")
            image_ids = list(session.scalars(
                select(schema.Image.id).join(schema.Repository).where(schema.Repository.registry_id == registry_id)
            ))
            aborted = 0
            for image_id in image_ids:
                for scan_result_id in scans.running_scan_ids(session, image_id):
                    operations.complete(
                        session, scan_result_id,
                        error=self.codec.error(OperationError.ABORTED, f"registry {row.name} was removed"),
                    )
                    jobs.set_status_of(session, scan_result_id, schema.JOB_CANCELLED)
                    aborted += 1
            repositories = session.scalar(
                select(func.count()).select_from(schema.Repository).where(schema.Repository.registry_id == registry_id)
            ) or 0
            session.execute(delete(schema.Registry).where(schema.Registry.id == registry_id))  # cascades
            return RemovedRegistry(row.name, repositories, len(image_ids), aborted)

    def get(self, registry_id: str) -> schema.Registry:
        with self.sessions() as session:
            return get_row(session, schema.Registry, registry_id, "registry")

    def all(self) -> list[schema.Registry]:
        with self.sessions() as session:
            query = select(schema.Registry).order_by(schema.Registry.folder_id, schema.Registry.name)
            return list(session.scalars(query))


    def page(
        self,
        folder_id: str,
        *,
        name: str | None,
        registry_ids: Collection[str] | None = None,
        order: Order,
        after_id: str | None,
        limit: int,
    ) -> Page:
        """Registries of a folder; `registry_ids` (a caller's scope) limits them further, in the query."""
        model = schema.Registry
        with self.sessions() as session:
            query = select(model).where(model.folder_id == folder_id)
            if registry_ids is not None:
                query = query.where(model.id.in_(sorted(registry_ids)))
            if name is not None:
                query = query.where(model.name == name)
            columns = REGISTRY_ORDERS[order.key] + (model.id,)
            after = values_of(session, model, after_id, columns)
            return keyset(session, query, columns, order.descending, after, limit)

    def find_by_name(self, name: str, folder_id: str) -> schema.Registry:
        with self.sessions() as session:
            row = session.scalars(
                select(schema.Registry).where(schema.Registry.folder_id == folder_id, schema.Registry.name == name)
            ).one_or_none()
        if row is None:
            raise NotFound("registry", f"{name!r} in folder {folder_id}")
        return row

    def contents(self, registry_id: str) -> dict[str, dict[str, list[str]]]:
        """{repository name: {image digest: tags}} as the store has them now."""
        result: dict[str, dict[str, list[str]]] = {}
        with self.sessions() as session:
            for repository in session.scalars(
                select(schema.Repository).where(schema.Repository.registry_id == registry_id)
            ):
                result[repository.name] = {}
            rows = session.execute(
                select(schema.Repository.name, schema.Image.digest, schema.Image.tags)
                .join(schema.Image, schema.Image.repository_id == schema.Repository.id)
                .where(schema.Repository.registry_id == registry_id)
            )
            for repository_name, digest, tags in rows:
                result[repository_name][digest] = list(tags)
        return result


    def apply_state(
        self,
        registry_id: str,
        tagged: Mapping[str, Mapping[str, str]],
        observed: Mapping[str, ObservedImage],
        untagged_kept: Mapping[str, Sequence[str]],
    ) -> Changes:
        """Make the registry's repositories and images equal what a full walk found, in one transaction.

        `tagged` is {repository: {tag: digest}}; `observed` holds every digest those tags resolve to (keyed by
        digest); `untagged_kept` is {repository: [digests]} of stored images that lost every tag but whose manifest
        still exists. Repositories absent from `tagged` and images in neither are removed (with their scans).
        """
        changes = Changes()
        with _concurrent_writes_refused(registry_id), self.sessions.begin() as session:
            _require_registry(session, registry_id)
            repositories = {
                row.name: row
                for row in session.scalars(
                    select(schema.Repository).where(schema.Repository.registry_id == registry_id)
                )
            }
            # The catalog keeps listing a repository whose images were all deleted; it has gone all the same.
            present = {name for name, tags in tagged.items() if tags or untagged_kept.get(name)}
            for name, row in repositories.items():
                if name not in present:
                    changes.removed += len(_images_of(session, row.id))
                    session.delete(row)  # its images and their scans go with it (ON DELETE CASCADE)
                    changes.repositories_removed += 1
            for name in present:
                tags = tagged[name]
                repository = repositories.get(name)
                if repository is None:
                    repository = _new_repository(session, registry_id, name)
                    changes.repositories_added += 1
                by_digest: dict[str, list[str]] = {}
                for tag, digest in sorted(tags.items()):
                    by_digest.setdefault(digest, []).append(tag)
                for digest in untagged_kept.get(name, ()):
                    by_digest.setdefault(digest, [])
                _reconcile_repository(session, repository, by_digest, observed, changes)
        return changes


    def upsert_pushed_image(self, registry_id: str, repository_name: str, tag: str,
                            image: ObservedImage) -> Changes:
        """A push of `tag` → `image`: create the repository/image as needed and move the tag to it.

        The image a moved tag left keeps its other tags; it stays even when untagged, as its manifest still
        exists in the registry (a sync removes it once the manifest is deleted).
        """
        changes = Changes()
        with _concurrent_writes_refused(registry_id), self.sessions.begin() as session:
            _require_registry(session, registry_id)
            repository = session.scalars(
                select(schema.Repository).where(
                    schema.Repository.registry_id == registry_id, schema.Repository.name == repository_name
                )
            ).one_or_none()
            if repository is None:
                repository = _new_repository(session, registry_id, repository_name)
                changes.repositories_added += 1
            images = _images_of(session, repository.id)
            for digest, row in images.items():
                if digest != image.digest and tag in row.tags:
                    row.tags = [t for t in row.tags if t != tag]
                    changes.updated += 1
            found = images.get(image.digest)
            if found is None:
                added = _new_image(session, repository.id, image, [tag])
                changes.added += 1
                changes.changed_image_ids.append(added.id)
            elif tag not in found.tags:
                found.tags = sorted([*found.tags, tag])
                changes.updated += 1
                changes.changed_image_ids.append(found.id)
        return changes


def _reconcile_repository(session: Session, repository: schema.Repository, by_digest: Mapping[str, list[str]],
                          observed: Mapping[str, ObservedImage], changes: Changes) -> None:
    images = _images_of(session, repository.id)
    for digest, row in images.items():
        if digest not in by_digest:
            session.delete(row)
            changes.removed += 1
    for digest, tags in by_digest.items():
        found = images.get(digest)
        if found is None:
            added = _new_image(session, repository.id, observed[digest], tags)
            changes.added += 1
            changes.changed_image_ids.append(added.id)
        elif sorted(found.tags) != tags:
            if set(tags) - set(found.tags):  # a tag moved onto this image
                changes.changed_image_ids.append(found.id)
            found.tags = tags
            changes.updated += 1


def _images_of(session: Session, repository_id: str) -> dict[str, schema.Image]:
    return {
        row.digest: row
        for row in session.scalars(select(schema.Image).where(schema.Image.repository_id == repository_id))
    }


def _new_repository(session: Session, registry_id: str, name: str) -> schema.Repository:
    row = schema.Repository(id=ids.new_id(ids.REPOSITORY), registry_id=registry_id, name=name)
    session.add(row)
    session.flush()
    return row


def _new_image(session: Session, repository_id: str, image: ObservedImage, tags: list[str]) -> schema.Image:
    row = schema.Image(
        id=ids.new_id(ids.IMAGE),
        repository_id=repository_id,
        digest=image.digest,
        tags=sorted(tags),
        config_digest=image.config_digest,
        config_size=image.config_size,
        compressed_size=sum(layer.size for layer in image.layers),
        created_at=image.created_at or utcnow(),
        layers=[
            schema.ImageLayer(position=i, digest=layer.digest, size=layer.size, media_type=layer.media_type)
            for i, layer in enumerate(image.layers)
        ],
    )
    session.add(row)
    session.flush()
    return row


class ConcurrentChange(StoreError):
    """Another sync or push wrote the same repository or image first; applying again will succeed."""


@contextlib.contextmanager
def _concurrent_writes_refused(registry_id: str) -> Iterator[None]:
    try:
        yield
    except IntegrityError:
        raise ConcurrentChange(f"registry {registry_id} was changed by a concurrent sync or push; retry") from None


def _require_registry(session: Session, registry_id: str) -> None:
    if session.get(schema.Registry, registry_id) is None:
        raise NotFound("registry", registry_id)
