"""Walking an attached registry: `/v2/_catalog` → each repository's tags → the image each tag pulls.

An image is what `docker pull <tag>` resolves to: its digest is the manifest's, or the index's (manifest list's)
for a multi-platform tag, like Yandex's Image which has one digest. For an index, the config and layer blobs
recorded are those of the default platform (linux/amd64; the first image entry when the index has none).
Images that lost every tag stay while their manifest still exists in the registry (it is still pullable by
digest); a sync removes them once it is deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crscan.registry import (
    AuthError,
    Credentials,
    InvalidReference,
    ManifestUnknown,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    UnsupportedMediaType,
)
from crscan.registry.manifest import (
    DEFAULT_PLATFORM,
    IMAGE_MANIFESTS,
    Descriptor,
    ImageIndex,
    ImageManifest,
    parse_manifest,
    parse_platform,
    select_platform,
)
from crscan.registry.reference import is_loopback, is_valid_registry, registry_host, validate_tag
from crscan.secrets import SecretBox
from crscan.store import Layer, Store, schema
from crscan.store.registries import ObservedImage
from crscan.sync.interface import RegistryView, SyncError

log = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 1 << 20  # an image config is a few KiB; anything bigger is not read for its `created`
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class RegistryAddress:
    """A registry URL reduced to what is stored: `scheme://host[:port]`."""

    scheme: str  # "http" or "https"
    host: str  # host[:port]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def plain_http(self) -> bool:
        return self.scheme == "http"


def parse_registry_url(text: str, insecure: bool = False) -> RegistryAddress:
    """`registry.example.com`, `https://host:5000` or `http://127.0.0.1:5000`; plain HTTP only for loopback
    hosts unless `insecure`. No path, query or credentials."""
    text = text.strip()
    if not text:
        raise SyncError("registry URL is empty")
    has_scheme = "://" in text
    try:
        parts = urlsplit(text if has_scheme else f"https://{text}")
    except ValueError as exc:  # e.g. an unbalanced "[" of an IPv6 address
        raise SyncError(f"registry URL {text!r} is malformed: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise SyncError(f"registry URL scheme {parts.scheme!r} is not supported: use http:// or https://")
    if "@" in parts.netloc:  # do not echo the URL: it carries credentials
        raise SyncError("registry URL must not contain credentials: use --username and --password-stdin")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SyncError(f"registry URL {text!r} must be scheme://host[:port] without a path or query")
    host = parts.netloc.lower()
    if not is_valid_registry(host):
        raise SyncError(f"registry URL {text!r} does not name a valid host[:port]")
    if parts.scheme == "http" and not insecure and not is_loopback(registry_host(host)):
        raise SyncError(
            f"registry {host} over plain http:// would send credentials and images unprotected; "
            "use https:// or pass --insecure"
        )
    return RegistryAddress(parts.scheme, host)


class DistributionView(RegistryView):
    """A `RegistryView` over the OCI Distribution API (`RegistryClient`)."""

    def __init__(self, client: RegistryClient, platform: str = DEFAULT_PLATFORM, page_size: int = 100):
        self.client = client
        self.platform = parse_platform(platform)
        self.page_size = page_size

    def repositories(self) -> Iterator[str]:
        return self.client.list_repositories(self.page_size)

    def tags(self, repository: str) -> Iterator[str]:
        return self.client.list_tags(repository, self.page_size)

    def resolve(self, repository: str, reference: str, known: Container[str] = ()) -> ObservedImage | str:
        fetched = self.client.get_manifest(repository, reference)
        if fetched.digest in known:
            return fetched.digest
        what = f"manifest {self.client.registry}/{repository}@{fetched.digest}"
        document = parse_manifest(fetched.content, fetched.media_type, what)
        if isinstance(document, ImageIndex):
            child = self._platform_entry(document, what)
            child_fetched = self.client.get_manifest(repository, child.digest)
            document = parse_manifest(child_fetched.content, child_fetched.media_type, f"{what} → {child.digest}")
            if not isinstance(document, ImageManifest):
                raise UnsupportedMediaType(f"{what}: its {self.platform} entry is another index")
        return ObservedImage(
            digest=fetched.digest,
            config_digest=document.config.digest,
            config_size=document.config.size,
            layers=tuple(Layer(d.digest, d.size, d.media_type) for d in document.layers),
            created_at=self._config_created(repository, document),
        )

    def _config_created(self, repository: str, manifest: ImageManifest) -> dt.datetime | None:
        """The image config's `created` (when it was built); None when the config says nothing usable."""
        if manifest.config.size > MAX_CONFIG_BYTES:
            return None
        try:
            config = json.loads(self.client.read_blob(repository, manifest.config.digest, size=manifest.config.size,
                                                      limit=MAX_CONFIG_BYTES, what="config"))
        except (RegistryError, ValueError) as exc:  # the image itself is still recorded; scanning reports it
            log.info("config of %s@%s unreadable, its push time unknown: %s", repository, manifest.config.digest,
                     exc)
            return None
        return rfc3339_utc(config.get("created")) if isinstance(config, dict) else None

    def exists(self, repository: str, digest: str) -> bool:
        try:
            self.client.get_manifest(repository, digest)
        except ManifestUnknown:
            return False
        return True

    def delete(self, repository: str, digest: str, tags: Sequence[str]) -> None:
        """Delete the manifest `digest` so no pull or sync brings it back. Distribution drops the tags with the
        manifest; a tag still resolving to it afterwards (registries that keep tags) is deleted by name.
        A manifest already gone counts as deleted; OperationRefused when the registry allows no deletes."""
        with contextlib.suppress(ManifestUnknown):
            self.client.delete_manifest(repository, digest)
        for tag in tags:
            try:
                if self.client.get_manifest(repository, tag).digest != digest:
                    continue  # moved on to another image since
            except ManifestUnknown:
                continue
            self.client.delete_manifest(repository, tag)

    def close(self) -> None:
        self.client.close()

    def _platform_entry(self, index: ImageIndex, what: str) -> Descriptor:
        try:
            return select_platform(index, self.platform, what)
        except RegistryError:
            images = [d for d in index.manifests if d.media_type in IMAGE_MANIFESTS and
                      (d.platform is None or d.platform.os != "unknown")]  # "unknown/unknown": attestations
            if not images:
                raise
            return images[0]


def rfc3339_utc(value: object) -> dt.datetime | None:
    """An RFC 3339 time (Go writes up to nanoseconds) as naive UTC; None for anything else or the zero time."""
    if not isinstance(value, str) or (match := _RFC3339.fullmatch(value.strip())) is None:
        return None
    day, clock, fraction, zone = match.groups()
    micro = (fraction or ".")[1:7].ljust(6, "0")
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = dt.datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")
    except ValueError:
        return None
    if moment.year <= 1:  # Go's zero time: images built reproducibly without a date
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def open_view(registry: schema.Registry, box: SecretBox) -> DistributionView:
    """A view of a stored registry, with its decrypted credentials."""
    credentials = None
    if registry.username:
        password = box.decrypt(registry.encrypted_password, f"the password of registry {registry.name!r}") \
            if registry.encrypted_password else ""
        credentials = Credentials(registry.username, password)
    address = urlsplit(registry.url)
    try:
        client = RegistryClient(
            address.netloc, credentials=credentials, insecure=address.scheme == "http",
            ca_file=registry.ca_file or None, auth_realm_hosts=registry.auth_realm_hosts,
        )
    except RegistryError as exc:
        raise SyncError(f"registry {registry.name!r}: {exc}") from None
    return DistributionView(client)


@dataclass
class SyncSummary:
    registry: str
    repositories: int = 0
    tags: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    repositories_added: int = 0
    repositories_removed: int = 0
    skipped: list[str] = field(default_factory=list)  # "<repo>:<tag>: <why>" for tags that are not images
    changed_image_ids: list[str] = field(default_factory=list)  # added or given a tag: scan-on-push candidates

    def line(self) -> str:
        text = (f"registry {self.registry}: {self.repositories} repositories, {self.tags} tags; images "
                f"added {self.added}, updated {self.updated}, removed {self.removed}; repositories "
                f"added {self.repositories_added}, removed {self.repositories_removed}")
        return text + (f"; skipped {len(self.skipped)} tags" if self.skipped else "")


def sync_registry(store: Store, registry: schema.Registry, view: RegistryView) -> SyncSummary:
    """Walk the whole registry, then apply the difference to the store in one transaction (idempotent)."""
    summary = SyncSummary(registry.name)
    before = store.registries.contents(registry.id)
    tagged: dict[str, dict[str, str]] = {}
    observed: dict[str, ObservedImage] = {}
    untagged_kept: dict[str, list[str]] = {}
    try:
        for repository in view.repositories():
            known = set(before.get(repository, {}))
            skip = known | observed.keys()  # stored here, or described already for another repository
            tags = _walk_repository(view, registry.name, repository, skip, observed, summary)
            tagged[repository] = tags
            summary.tags += len(tags)
            untagged_kept[repository] = [
                digest for digest in known - set(tags.values()) if view.exists(repository, digest)
            ]
    except RegistryError as exc:
        raise SyncError(f"sync of registry {registry.name!r} failed: {exc}") from None
    changes = store.registries.apply_state(registry.id, tagged, observed, untagged_kept)
    summary.repositories = sum(1 for name, tags in tagged.items() if tags or untagged_kept.get(name))
    summary.added, summary.updated, summary.removed = changes.added, changes.updated, changes.removed
    summary.repositories_added = changes.repositories_added
    summary.repositories_removed = changes.repositories_removed
    summary.changed_image_ids = changes.changed_image_ids
    return summary


def _walk_repository(view: RegistryView, registry_name: str, repository: str, skip: set[str],
                     observed: dict[str, ObservedImage], summary: SyncSummary) -> dict[str, str]:
    """{tag: digest} of one repository; describes images not in `skip` into `observed`. A tag whose manifest
    is not an image is reported in `summary.skipped`; a registry-wide failure propagates."""
    tags: dict[str, str] = {}
    try:
        for tag in view.tags(repository):
            try:
                validate_tag(tag)
            except InvalidReference:
                summary.skipped.append(f"{repository}:{tag[:130]!r}: not a valid tag name")
                continue
            try:
                image = view.resolve(repository, tag, skip)
            except ManifestUnknown:
                continue  # deleted between listing and fetching
            except RegistryError as exc:
                if _is_unreachable(exc):
                    raise
                summary.skipped.append(f"{repository}:{tag}: {exc}")
                log.warning("sync of %s skips %s:%s: %s", registry_name, repository, tag, exc)
                continue
            if isinstance(image, ObservedImage):
                observed[image.digest] = image
                skip.add(image.digest)
                image = image.digest
            tags[tag] = image
    except ManifestUnknown:  # the repository went away after the catalog listed it
        return {}
    except InvalidReference as exc:  # a catalog entry that is not a repository name
        summary.skipped.append(f"{repository[:300]!r}: {exc}")
        return {}
    return tags


def _is_unreachable(exc: RegistryError) -> bool:
    """Errors about the registry as a whole end the sync; errors about one tag's content skip the tag."""
    return isinstance(exc, (AuthError, RegistryUnavailable))
