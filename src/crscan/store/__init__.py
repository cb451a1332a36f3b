"""Storage: SQLAlchemy 2 models, migrations shipped in the package, and `Store`, the one access point.

    store = Store("sqlite:///DATA/crscan.db")      # or postgresql+psycopg://…
    store.migrate()                                 # alembic upgrade head, no alembic.ini needed

Resources: `add_registry`, `add_repository` (get-or-create), `add_image`, `get_*`, `find_repository`,
`delete_image`. Scans: `start_scan` (RUNNING result + Operation + queued job, one transaction), and for the
pipeline (`ScanSink`): `finish_scan`, `fail_scan`; `cancel_operation`, `last_finished_scan`, `jobs`.
Listing: `list_*` return one keyset `Page`; `messages` turns rows into the API's proto messages.
Every error is a `StoreError` (`NotFound`, `ScanNotRunning`, `StaleCursor`).
"""

from crscan.store.interface import NotFound, ScanNotRunning, ScanSink, StaleCursor, StoreError
from crscan.store.store import Layer, Order, Page, Store, scan_sort_values
from crscan.store import tokens as _tokens  # noqa: E402,F401  registers the api_tokens table on the metadata
from crscan.store import jobs as _jobs  # noqa: E402,F401 - its tables belong to the models' metadata

__all__ = [
    "Layer",
    "NotFound",
    "Order",
    "Page",
    "ScanNotRunning",
    "ScanSink",
    "StaleCursor",
    "Store",
    "StoreError",
    "scan_sort_values",
]
