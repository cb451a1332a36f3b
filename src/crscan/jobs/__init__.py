"""Running queued scans: `EmbeddedQueue` (threads over the store's job table, leases) and `ScanRunner`.

    runner = ScanRunner(store, settings.effective_feed_db, box=load_secret_box(...))
    queue = EmbeddedQueue(store, runner.run, concurrency=2); queue.start()
    enqueue_scan(store, image_id); queue.wake()        # crscan.store.jobs
"""

from crscan.jobs.embedded import EmbeddedQueue
from crscan.jobs.interface import JobError, JobQueue, RetryLater
from crscan.jobs.runner import ScanFailed, ScanRunner

__all__ = ["EmbeddedQueue", "JobError", "JobQueue", "RetryLater", "ScanFailed", "ScanRunner"]
