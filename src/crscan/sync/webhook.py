"""Pushes reported by the CNCF distribution registry's notifications, applied to the store.

The HTTP endpoint that receives them is `crscan.api.webhook`; it decodes the JSON. `parse_envelope` checks every
push event's fields with the registry client's own parsers (host, repository, tag, digest) before anything is
fetched or stored, so a hostile event is rejected whole (`EnvelopeError`). The caller's secret selects the
registries it may report for (`WebhookHandler.registries_for`); each push event must name one of those by the host
of `target.url` (or `request.host`), else the envelope is refused (`UnknownRegistry`). The image is then read from
the registry itself (blobs are never trusted from the event); a new image's `createdAt` is the event's
`timestamp`. Other events are counted and ignored. An event that
fails while applying is counted, and the next `crscan registry sync` catches up.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from crscan.registry import InvalidReference, RegistryError
from crscan.registry.digest import validate_digest
from crscan.registry.manifest import IMAGE_MANIFESTS, INDEXES
from crscan.registry.reference import is_valid_registry, validate_repository, validate_tag
from crscan.secrets import SecretBox, SecretError, hash_secret
from crscan.store import Store, StoreError, schema
from crscan.store import registries as stored
from crscan.store.registries import ObservedImage, normalized_host, registry_host_of
from crscan.sync.interface import SyncError
from crscan.sync.sync import open_view, rfc3339_utc

log = logging.getLogger(__name__)

MAX_EVENTS = 1000  # distribution batches at most a few dozen events

ImagesHook = Callable[[Sequence[str]], object]  # what it returns is not used


class EnvelopeError(ValueError):
    """The request body is not a notification envelope, or an event's field is malformed; the message says
    which event and field."""


class UnknownRegistry(SyncError):
    """A push event names a host that is not an attached registry the presented secret covers."""


@dataclass(frozen=True)
class Push:
    """A validated push of a tagged manifest or index."""

    hosts: tuple[str, ...]  # where it was pushed: target.url's host, then request.host (default ports dropped)
    repository: str
    tag: str
    digest: str
    pushed_at: dt.datetime | None = None  # the event's timestamp


@dataclass
class Envelope:
    received: int
    pushes: list[Push]

    @property
    def ignored(self) -> int:  # pulls, blob pushes, pushes by digest only
        return self.received - len(self.pushes)


@dataclass
class WebhookResult:
    received: int = 0
    upserted: int = 0
    ignored: int = 0
    failed: int = 0
    changed_image_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"received": self.received, "upserted": self.upserted, "ignored": self.ignored,
                "failed": self.failed}


def parse_envelope(document: object) -> Envelope:
    """The push events of a decoded envelope, every field they use checked; EnvelopeError names the first bad
    one."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise EnvelopeError('body is not a notification envelope: expected {"events": [...]}')
    events = document["events"]
    if len(events) > MAX_EVENTS:
        raise EnvelopeError(f"envelope has {len(events)} events, more than the {MAX_EVENTS} accepted")
    if not all(isinstance(event, dict) for event in events):
        raise EnvelopeError("every entry of events must be an object")
    pushes = []
    for index, event in enumerate(events):
        try:
            push = _push_of(event)
        except (InvalidReference, EnvelopeError) as exc:
            raise EnvelopeError(f"events[{index}]: {exc}") from None
        if push is not None:
            pushes.append(push)
    return Envelope(len(events), pushes)


def _push_of(event: dict[str, object]) -> Push | None:
    target = event.get("target")
    if event.get("action") != "push" or not isinstance(target, dict) \
            or target.get("mediaType") not in (*IMAGE_MANIFESTS, *INDEXES):
        return None
    if target.get("tag") in (None, ""):
        return None  # pushed by digest (e.g. an index's children): nothing to tag
    request = event.get("request")
    if not isinstance(request, dict):
        request = {}
    hosts = []
    if "url" in target:
        hosts.append(_host_of_url(target["url"]))
    if "host" in request:
        hosts.append(_valid_host(request["host"], "request.host"))
    if not hosts:
        raise EnvelopeError("a push event needs target.url or request.host to name its registry")
    return Push(tuple(hosts), validate_repository(target.get("repository")), validate_tag(target["tag"]),
                validate_digest(target.get("digest")), rfc3339_utc(event.get("timestamp")))


def _host_of_url(url: object) -> str:
    try:
        netloc = urlsplit(url).netloc if isinstance(url, str) else ""
    except ValueError:  # e.g. an unbalanced "[" in the host
        netloc = ""
    return _valid_host(netloc, "target.url's host")


def _valid_host(host: object, what: str) -> str:
    if not isinstance(host, str) or not is_valid_registry(host):
        shown = repr(host[:100]) if isinstance(host, str) else type(host).__name__
        raise EnvelopeError(f"{what} {shown} is not a registry host[:port]")
    return normalized_host(host)


class WebhookHandler:
    """Applies envelopes to the store; `on_images` (if any) receives the ids of images added or re-tagged.

    `fallback_secret` (the `webhook_secret` setting) covers only registries without a secret of their own."""

    def __init__(self, store: Store, box: SecretBox, on_images: ImagesHook | None = None,
                 fallback_secret: str = ""):
        self.store = store
        self.box = box
        self.on_images = on_images
        self.fallback_secret = fallback_secret

    def registries_for(self, secret: str) -> list[schema.Registry] | None:
        """The registries `secret` may report pushes for; None when it is nobody's secret."""
        rows = self.store.registries.all()
        presented = hash_secret(secret)
        # Every stored hash is compared, so the time taken does not say which registry (if any) matched.
        own = [row for row in rows if hmac.compare_digest(row.webhook_secret_hash or b"", presented)]
        if own:
            return own
        if self.fallback_secret and hmac.compare_digest(secret.encode(), self.fallback_secret.encode()):
            return [row for row in rows if not row.webhook_secret_hash]
        return None

    def handle(self, envelope: Envelope, registries: Sequence[schema.Registry]) -> WebhookResult:
        """Apply the pushes; UnknownRegistry (nothing applied) when one names a host outside `registries`."""
        targets = [(registry_of(push, registries), push) for push in envelope.pushes]
        result = WebhookResult(received=envelope.received, ignored=envelope.ignored)
        for registry, push in targets:
            try:
                changes = self._upsert(registry, push)
            except (RegistryError, SyncError, SecretError, StoreError, SQLAlchemyError) as exc:
                result.failed += 1
                log.warning("push of %s:%s to registry %s not recorded: %s", push.repository, push.tag,
                            registry.name, _first_line(exc))
                continue
            result.upserted += 1
            result.changed_image_ids.extend(changes.changed_image_ids)
        if result.changed_image_ids and self.on_images is not None:
            try:
                self.on_images(list(result.changed_image_ids))
            except Exception:  # the images are recorded; a failing reaction must not make the registry redeliver
                log.exception("the on_images hook failed for %d images", len(result.changed_image_ids))
        return result

    def _upsert(self, registry: schema.Registry, push: Push) -> stored.Changes:
        view = open_view(registry, self.box)
        try:
            image = view.resolve(push.repository, push.digest)  # by digest: the tag may have moved on since
            assert isinstance(image, ObservedImage)  # nothing is `known`, so never just the digest
        finally:
            view.close()
        if push.pushed_at is not None:  # the push itself, not the build the config's `created` records
            image = replace(image, created_at=push.pushed_at)
        try:
            return self.store.registries.upsert_pushed_image(registry.id, push.repository, push.tag, image)
        except stored.ConcurrentChange:  # a sync or another push created the same row first: apply on top of it
            return self.store.registries.upsert_pushed_image(registry.id, push.repository, push.tag, image)


def registry_of(push: Push, registries: Sequence[schema.Registry]) -> schema.Registry:
    """The registry among `registries` a push was made to (hosts compare without default ports)."""
    by_host = {registry_host_of(row.url): row for row in registries}
    for host in push.hosts:
        if host in by_host:
            return by_host[host]
    raise UnknownRegistry(f"no attached registry at {push.hosts[0]} accepts this webhook secret")


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
