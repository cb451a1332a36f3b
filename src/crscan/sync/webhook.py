"""Pushes reported by the CNCF distribution registry's notifications, applied to the store.

The HTTP endpoint that receives them is `crscan.api.webhook`. Each `push` event of a tagged manifest or index is
resolved to an attached registry by the host of `target.url` (or `request.host`) and the image is upserted, its
blobs read from the registry itself (never trusted from the event); a new image's `createdAt` is the event's
`timestamp`. Other events are counted and ignored. A
failed event is counted, and the next `crscan registry sync` catches up.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from crscan.registry import RegistryError
from crscan.registry.manifest import IMAGE_MANIFESTS, INDEXES
from crscan.registry.reference import validate_repository
from crscan.secrets import SecretBox, SecretError
from crscan.store import Store, StoreError
from crscan.store import registries as stored
from crscan.sync.interface import SyncError
from crscan.sync.sync import open_view, rfc3339_utc

log = logging.getLogger(__name__)

MAX_EVENTS = 1000  # distribution batches at most a few dozen events

ImagesHook = Callable[[Sequence[str]], None]


class EnvelopeError(ValueError):
    """The request body is not a notification envelope; the message says what is wrong."""


@dataclass
class WebhookResult:
    received: int = 0
    upserted: int = 0
    ignored: int = 0  # pulls, blob pushes, pushes by digest only
    unknown_registry: int = 0
    failed: int = 0
    changed_image_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"received": self.received, "upserted": self.upserted, "ignored": self.ignored,
                "unknownRegistry": self.unknown_registry, "failed": self.failed}


def parse_envelope(body: bytes) -> list[dict]:
    """The `events` list; every event must be an object (fields are checked per event)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise EnvelopeError('body is not a notification envelope: expected {"events": [...]}')
    events = document["events"]
    if len(events) > MAX_EVENTS:
        raise EnvelopeError(f"envelope has {len(events)} events, more than the {MAX_EVENTS} accepted")
    if not all(isinstance(event, dict) for event in events):
        raise EnvelopeError("every entry of events must be an object")
    return events


class WebhookHandler:
    """Applies envelopes to the store; `on_images` (if any) receives the ids of images added or re-tagged."""

    def __init__(self, store: Store, box: SecretBox, on_images: ImagesHook | None = None):
        self.store = store
        self.box = box
        self.on_images = on_images

    def handle(self, events: list[dict]) -> WebhookResult:
        result = WebhookResult(received=len(events))
        registries = _by_host(self.store.registries.all())
        for event in events:
            target = event.get("target") if isinstance(event.get("target"), dict) else {}
            tag, repository, digest = (target.get(k) for k in ("tag", "repository", "digest"))
            if (event.get("action") != "push" or target.get("mediaType") not in (*IMAGE_MANIFESTS, *INDEXES)
                    or not all(isinstance(v, str) and v for v in (tag, repository, digest))):
                result.ignored += 1
                continue
            registry = _registry_of(event, target, registries)
            if registry is None:
                result.unknown_registry += 1
                continue
            try:
                validate_repository(repository)
                changes = self._upsert(registry, repository, tag, digest, rfc3339_utc(event.get("timestamp")))
            except (RegistryError, SyncError, SecretError, StoreError, SQLAlchemyError) as exc:
                result.failed += 1
                log.warning("push of %s:%s to registry %s not recorded: %s", repository, tag, registry.name,
                            _first_line(exc))
                continue
            result.upserted += 1
            result.changed_image_ids.extend(changes.changed_image_ids)
        if result.changed_image_ids and self.on_images is not None:
            try:
                self.on_images(list(result.changed_image_ids))
            except Exception:  # the images are recorded; a failing reaction must not make the registry redeliver
                log.exception("the on_images hook failed for %d images", len(result.changed_image_ids))
        return result

    def _upsert(self, registry, repository: str, tag: str, digest: str,
                pushed_at: dt.datetime | None) -> stored.Changes:
        view = open_view(registry, self.box)
        try:
            image = view.resolve(repository, digest)  # by digest: the tag may have moved on since
        finally:
            view.close()
        if pushed_at is not None:  # the push itself, not the build the config's `created` records
            image = replace(image, created_at=pushed_at)
        try:
            return self.store.registries.upsert_pushed_image(registry.id, repository, tag, image)
        except stored.ConcurrentChange:  # a sync or another push created the same row first: apply on top of it
            return self.store.registries.upsert_pushed_image(registry.id, repository, tag, image)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _by_host(registries) -> dict[str, list]:
    hosts: dict[str, list] = {}
    for registry in registries:
        hosts.setdefault(_without_default_port(urlsplit(registry.url).netloc), []).append(registry)
    return hosts


def _without_default_port(host: str) -> str:
    """`registry.example.com:443` and `registry.example.com` are the same registry."""
    host = host.lower()
    for default in (":443", ":80"):
        if host.endswith(default):
            return host.removesuffix(default)
    return host


def _registry_of(event: dict, target: dict, registries: Mapping[str, list]):
    """The attached registry the event came from; None when no single one matches."""
    request = event.get("request") if isinstance(event.get("request"), dict) else {}
    candidates = []
    if isinstance(target.get("url"), str):
        try:
            candidates.append(urlsplit(target["url"]).netloc.lower())
        except ValueError:  # e.g. an unbalanced "[" in the host
            pass
    if isinstance(request.get("host"), str):
        candidates.append(request["host"].lower())
    for host in candidates:
        matches = registries.get(_without_default_port(host), [])
        if len(matches) == 1:
            return matches[0]
    return None
