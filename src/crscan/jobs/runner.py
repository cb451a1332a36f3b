"""One scan job, start to finish: image row → registry reference + credentials → scan → finish/fail.

Every failure ends the ScanResult ERROR with a message a user can act on, except `RetryLater` (registry
unreachable), which the queue retries while attempts remain.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from crscan import metrics
from crscan.config import log_event
from crscan.jobs.interface import RetryLater
from crscan.jobs.store_cache import StoreCache
from crscan.layers.interface import LayerError, LimitExceeded
from crscan.model import ScanReport
from crscan.registry import (
    AuthError,
    BlobUnknown,
    ByteCounter,
    ClientPool,
    Credentials,
    DigestMismatch,
    ManifestUnknown,
    RegistryError,
    RegistryUnavailable,
    open_source,
)
from crscan.report.severity import severity_counts
from crscan.scan.cache import LayerIndexCache
from crscan.scan.layer_index import LayerIndex
from crscan.scan.pipeline import Scanner
from crscan.secrets import SecretBox, SecretError
from crscan.store import InventoryRecord, NotFound, OperationError, ScanNotRunning, ScanStatus, Store, schema
from crscan.store.images import ScanTarget
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


CANCEL_CHECK_SECONDS = 1.0  # how often a running scan asks the store whether it was cancelled


class ScanCancelled(Exception):
    """The scan left RUNNING (OperationService.Cancel, image deleted) while this worker was on it."""


class JobByteCounter(ByteCounter):
    """One scan's bytes, also added to the process-wide counter behind `/metrics`; as blob chunks arrive it
    checks (at most once per CANCEL_CHECK_SECONDS) that the scan is still RUNNING, and ends the pull when not."""

    def __init__(self, shared: ByteCounter, store: Store, scan_result_id: str) -> None:
        super().__init__()
        self.shared = shared
        self.store = store
        self.scan_result_id = scan_result_id
        self._checked = time.monotonic()

    def add(self, n: int) -> None:
        super().add(n)
        self.shared.add(n)
        self.check_cancelled_if_due()

    def check_cancelled_if_due(self) -> None:
        if time.monotonic() - self._checked >= CANCEL_CHECK_SECONDS:
            self.check_cancelled()

    def check_cancelled(self) -> None:
        self._checked = time.monotonic()
        if self.store.scans.get(self.scan_result_id).status != ScanStatus.RUNNING:
            raise ScanCancelled(f"scan {self.scan_result_id} was cancelled")


class CancellableCache(LayerIndexCache):
    """The shared layer-index cache, checking before each layer (at most once per CANCEL_CHECK_SECONDS, like
    the byte counter) that the scan is still RUNNING: a scan of cached layers takes milliseconds per layer, and
    a store read per layer was most of that."""

    def __init__(self, cache: LayerIndexCache, counter: JobByteCounter) -> None:
        self.cache = cache
        self.counter = counter

    def get(self, digest: str, key: str) -> LayerIndex | None:
        self.counter.check_cancelled_if_due()
        return self.cache.get(digest, key)

    def put(self, digest: str, key: str, index: LayerIndex) -> None:
        self.cache.put(digest, key, index)


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
        self.clients = ClientPool()  # connections and registry tokens outlive one scan
        self._db_lock = threading.Lock()
        self._db: FeedDB | None = None
        self._db_stamp: tuple[int, int] | None = None

    def run(self, job: ClaimedJob, *, last_attempt: bool = True) -> str:
        """Run the job to its end: "ready", "error", "cancelled" (ended meanwhile), or "retry" (handed back;
        only when not `last_attempt`)."""
        started = time.monotonic()
        pulled = JobByteCounter(self.counter, self.store, job.scan_result_id)
        about = {"scan_result_id": job.scan_result_id, "image_id": job.image_id, "job_id": job.id}
        if job.reclaimed:
            log_event(log, "scan.reclaimed", logging.WARNING, **about, attempt=job.attempts)
        log_event(log, "scan.started", **about, attempt=job.attempts, rematch=job.rematch)

        def ended(event: str, level: int = logging.INFO, **fields: object) -> None:
            log_event(log, event, level, **about, duration_seconds=round(time.monotonic() - started, 3),
                      bytes_pulled=pulled.total, **fields)

        try:
            report, inventory = self._scan(job, pulled)
        except ScanCancelled:
            ended("scan.cancelled")
            metrics.record_scan("cancelled", time.monotonic() - started)
            return "cancelled"
        except RetryLater as exc:
            if not last_attempt:
                ended("scan.retry", logging.WARNING, error=str(exc))
                return "retry"
            return self._fail(job, f"{exc} (gave up after {job.attempts} attempts)", started, ended)
        except ScanFailed as exc:
            return self._fail(job, str(exc), started, ended, exc.kind)
        except Exception as exc:  # a bug or hostile input: the user still gets a finished, explained scan
            log.exception("scan %s failed unexpectedly", job.scan_result_id)
            return self._fail(job, f"internal error while scanning: {type(exc).__name__}: {exc}", started, ended)
        try:
            self.store.scans.finish(
                job.scan_result_id, report.findings, severity_counts(report.findings), report.feed_build_id,
                report.warnings, report.missing_risk_feeds, inventory=inventory,
            )
        except ScanNotRunning:
            ended("scan.cancelled")  # cancelled or its image deleted before it finished
            metrics.record_scan("cancelled", time.monotonic() - started)
            return "cancelled"
        ended("scan.finished", findings=len(report.findings), feed_build_id=report.feed_build_id)
        metrics.record_scan("ready", time.monotonic() - started)
        return "ready"

    def _fail(self, job: ClaimedJob, message: str, started: float, ended: Callable[..., None],
              kind: OperationError = OperationError.INTERNAL) -> str:
        try:
            self.store.scans.fail(job.scan_result_id, message, kind)
        except ScanNotRunning:
            ended("scan.cancelled")
            metrics.record_scan("cancelled", time.monotonic() - started)
            return "cancelled"
        ended("scan.failed", logging.WARNING, error=message)
        metrics.record_scan("error", time.monotonic() - started)
        return "error"

    def close(self) -> None:
        """Close the registry connections kept for the next scan."""
        self.clients.close()

    def _scan(self, job: ClaimedJob, counter: JobByteCounter) -> tuple[ScanReport, InventoryRecord | None]:
        """The report, and the inventory to store with it (None for a re-match of the stored one)."""
        try:
            return self._scan_image(job, counter)
        finally:
            self.cache.release()  # layers this thread meant to index but did not: others may index them now

    def _scan_image(self, job: ClaimedJob, counter: JobByteCounter) -> tuple[ScanReport, InventoryRecord | None]:
        db = self.feed_db()
        try:
            image = self.store.images.scan_target(job.image_id)
        except NotFound:
            raise ScanFailed(f"image {job.image_id} no longer exists") from None
        if job.rematch:
            report = self._rematch(image, db)
            if report is not None:
                return report, None
        return self._pull_and_scan(image, db, counter)

    def _rematch(self, image: ScanTarget, db: FeedDB) -> ScanReport | None:
        """The stored inventory re-matched, or None when it is missing or a layer index is no longer cached."""
        inventory = self.store.inventories.get(image.image_id)
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

    def _pull_and_scan(self, image: ScanTarget, db: FeedDB, counter: JobByteCounter
                       ) -> tuple[ScanReport, InventoryRecord]:
        registry = image.registry
        address = urlsplit(registry.url if "://" in registry.url else f"https://{registry.url}")
        reference = f"{address.netloc}/{image.repository_name}@{image.digest}"
        try:
            with open_source(
                reference, credentials=self._credentials(registry), insecure=address.scheme == "http" or None,
                ca_file=registry.ca_file or None, auth_realm_hosts=registry.auth_realm_hosts, counter=counter,
                pool=self.clients,
            ) as source:
                report = self.scanner.scan(source, db, cache=CancellableCache(self.cache, counter))
        except (ManifestUnknown, BlobUnknown) as exc:
            # deleted after the scan was queued; the registry's address stays in the server log
            log.warning("image %s is gone from its registry: %s", reference, exc)
            tags = f" (tag {', '.join(image.tags)})" if image.tags else ""
            what = "manifest unknown:" if isinstance(exc, ManifestUnknown) else "blob unknown: a layer or config of"
            raise ScanFailed(f"{what} {image.repository_name}@{image.digest}{tags}: no longer in registry "
                             f"{registry.name!r}", OperationError.NOT_FOUND) from None
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
        return report, InventoryRecord(self.cache_key, reference, tuple(layer.digest for layer in report.layers))

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
