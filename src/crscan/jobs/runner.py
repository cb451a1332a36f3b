"""One scan job, start to finish: image row → registry reference + credentials → scan → finish/fail.

Every failure ends the ScanResult ERROR with a message a user can act on, except `RetryLater` (registry
unreachable), which the queue retries while attempts remain.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from crscan import metrics
from crscan.jobs.interface import RetryLater
from crscan.jobs.store_cache import StoreCache
from crscan.layers.interface import LayerError, LimitExceeded
from crscan.model import ScanReport
from crscan.registry import (
    AuthError,
    BlobUnknown,
    ByteCounter,
    Credentials,
    DigestMismatch,
    ManifestUnknown,
    RegistryError,
    RegistryUnavailable,
    open_source,
)
from crscan.report.severity import severity_counts
from crscan.scan.pipeline import Scanner
from crscan.secrets import SecretBox, SecretError
from crscan.store import NotFound, OperationError, ScanNotRunning, Store, schema
from crscan.store.jobs import ClaimedJob
from crscan.vulndb import FeedDB
from crscan.vulndb.interface import VulnDBError

log = logging.getLogger(__name__)


class ScanFailed(Exception):
    """A scan cannot succeed as things stand; the message is what the user sees in the Operation error, `kind`
    what its status code says."""

    def __init__(self, message: str, kind: OperationError = OperationError.INTERNAL) -> None:
        super().__init__(message)
        self.kind = kind


class ScanRunner:
    """Runs claimed scan jobs against one feed DB path (re-opened when `crscan db update` replaces it)."""

    def __init__(
        self,
        store: Store,
        feed_db_path: Path,
        *,
        box: SecretBox | None = None,
        counter: ByteCounter | None = None,
        scanner: Scanner | None = None,
    ) -> None:
        self.store = store
        self.feed_db_path = Path(feed_db_path)
        self.box = box
        self.counter = counter if counter is not None else metrics.BYTES_PULLED
        self.scanner = scanner or Scanner()
        self.cache_key = self.scanner.cache_key
        self.cache = StoreCache(store)
        self._db_lock = threading.Lock()
        self._db: FeedDB | None = None
        self._db_stamp: tuple[int, int] | None = None

    def run(self, job: ClaimedJob, *, last_attempt: bool = True) -> str:
        """Run the job to its end: "ready", "error", "cancelled" (ended meanwhile), or "retry" (handed back;
        only when not `last_attempt`)."""
        started = time.monotonic()
        try:
            report = self._scan(job)
        except RetryLater as exc:
            if not last_attempt:
                log.warning("scan %s will be retried: %s", job.scan_result_id, exc)
                return "retry"
            return self._fail(job, f"{exc} (gave up after {job.attempts} attempts)", started)
        except ScanFailed as exc:
            return self._fail(job, str(exc), started, exc.kind)
        except Exception as exc:  # a bug or hostile input: the user still gets a finished, explained scan
            log.exception("scan %s failed unexpectedly", job.scan_result_id)
            return self._fail(job, f"internal error while scanning: {type(exc).__name__}: {exc}", started)
        try:
            self.store.scans.finish(
                job.scan_result_id, report.findings, severity_counts(report.findings), report.feed_build_id,
                report.warnings,
            )
        except ScanNotRunning:
            log.info("scan %s ended (cancelled or image deleted) before it finished", job.scan_result_id)
            metrics.record_scan("cancelled", time.monotonic() - started)
            return "cancelled"
        metrics.record_scan("ready", time.monotonic() - started)
        return "ready"

    def _fail(self, job: ClaimedJob, message: str, started: float,
              kind: OperationError = OperationError.INTERNAL) -> str:
        try:
            self.store.scans.fail(job.scan_result_id, message, kind)
        except ScanNotRunning:
            pass
        metrics.record_scan("error", time.monotonic() - started)
        return "error"

    def _scan(self, job: ClaimedJob) -> ScanReport:
        try:
            return self._scan_image(job)
        finally:
            self.cache.release()  # layers this thread meant to index but did not: others may index them now

    def _scan_image(self, job: ClaimedJob) -> ScanReport:
        db = self.feed_db()
        try:
            image = self.store.images.get(job.image_id)
        except NotFound:
            raise ScanFailed(f"image {job.image_id} no longer exists") from None
        if job.rematch:
            report = self._rematch(image, db)
            if report is not None:
                return report
        return self._pull_and_scan(image, db)

    def _rematch(self, image: schema.Image, db: FeedDB) -> ScanReport | None:
        """The stored inventory re-matched, or None when it is missing or a layer index is no longer cached."""
        inventory = self.store.inventories.get(image.id)
        if inventory is None or inventory.cache_key != self.cache_key:
            return None
        indexes = []
        for digest in inventory.layer_digests:
            index = self.cache.get(digest, self.cache_key)
            if index is None:
                return None
            indexes.append(index)
        packages = self.scanner.assemble(indexes)
        return self.scanner.report_for(inventory.reference, image.digest, packages, db,
                                       layers=tuple(i.layer for i in indexes))

    def _pull_and_scan(self, image: schema.Image, db: FeedDB) -> ScanReport:
        repository = self.store.repositories.get(image.repository_id)
        registry = self.store.registries.get(repository.registry_id)
        address = urlsplit(registry.url if "://" in registry.url else f"https://{registry.url}")
        reference = f"{address.netloc}/{repository.name}@{image.digest}"
        try:
            with open_source(
                reference, credentials=self._credentials(registry), insecure=address.scheme == "http" or None,
                ca_file=registry.ca_file or None, auth_realm_hosts=registry.auth_realm_hosts, counter=self.counter,
            ) as source:
                report = self.scanner.scan(source, db, cache=self.cache)
        except (ManifestUnknown, BlobUnknown) as exc:
            # deleted after the scan was queued; the registry's address stays in the server log
            log.warning("image %s is gone from its registry: %s", reference, exc)
            tags = f" (tag {', '.join(image.tags)})" if image.tags else ""
            what = "manifest unknown:" if isinstance(exc, ManifestUnknown) else "blob unknown: a layer or config of"
            raise ScanFailed(f"{what} {repository.name}@{image.digest}{tags}: no longer in registry {registry.name!r}",
                             OperationError.NOT_FOUND) from None
        except DigestMismatch as exc:
            raise ScanFailed(f"layer digest mismatch in {reference}: {exc}; the registry's blob is corrupt") from None
        except AuthError as exc:
            raise ScanFailed(f"registry refused access to {reference}: {exc}; check the registry's credentials") \
                from None
        except RegistryUnavailable as exc:
            raise RetryLater(f"registry unreachable for {reference}: {exc}") from None
        except RegistryError as exc:
            raise ScanFailed(f"cannot pull {reference}: {exc}") from None
        except LimitExceeded as exc:
            raise ScanFailed(f"{reference} is over a scan limit: {exc}") from None
        except LayerError as exc:
            raise ScanFailed(f"cannot read a layer of {reference}: {exc}") from None
        layer_digests = [layer.digest for layer in report.layers]
        self.store.inventories.save(image.id, self.cache_key, reference, layer_digests)
        return report

    def _credentials(self, registry: schema.Registry) -> Credentials | None:
        if not registry.username:
            return None
        if registry.encrypted_password is None or self.box is None:
            raise ScanFailed(f"registry {registry.name!r} has a user but no usable password; add its credentials again")
        try:
            password = self.box.decrypt(registry.encrypted_password, f"the password of registry {registry.name!r}")
        except SecretError as exc:
            raise ScanFailed(str(exc)) from None
        return Credentials(registry.username, password)

    def feed_db(self) -> FeedDB:
        """The feed DB, re-opened when its file was replaced since the last scan."""
        path = self.feed_db_path
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise ScanFailed(f"feed DB missing: run crscan db update (looked for {path})") from None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        with self._db_lock:
            if self._db is None or self._db_stamp != stamp:
                try:
                    db = FeedDB.open(path)
                except VulnDBError as exc:
                    raise ScanFailed(f"feed DB {path} is unusable: {exc}; run crscan db update") from None
                # The old DB may still be in use by another worker thread; it is garbage once they finish.
                self._db, self._db_stamp = db, stamp
            return self._db
