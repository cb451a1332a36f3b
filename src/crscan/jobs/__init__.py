"""Running queued scans: `ScanRunner` runs one; a `JobQueue` runs them in the background — `EmbeddedQueue`
(threads over the store's job table with leases; SQLite) or `ProcrastinateQueue` (procrastinate workers on
PostgreSQL, any number of `crscan worker` processes). `service.start_background` picks by backend.

    runner = ScanRunner(store, settings.effective_feed_db, box=load_secret_box(...))
    queue = EmbeddedQueue(store, runner.run, concurrency=2); queue.start()
    store.scans.enqueue(image_id); queue.wake()        # crscan.store.scans
"""

from crscan.jobs.embedded import EmbeddedQueue
from crscan.jobs.interface import JobError, JobQueue, RetryLater
from crscan.jobs.procrastinate_queue import ProcrastinateQueue
from crscan.jobs.runner import ScanFailed, ScanRunner

__all__ = ["EmbeddedQueue", "JobError", "JobQueue", "ProcrastinateQueue", "RetryLater", "ScanFailed", "ScanRunner"]
