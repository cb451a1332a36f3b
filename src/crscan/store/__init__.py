"""Storage: SQLAlchemy 2 models, migrations shipped in the package, and `Store`, the one access point.

    store = Store("sqlite:///DATA/crscan.db", OPERATION_CODEC)   # or postgresql+psycopg://…
    store.migrate()                                   # alembic upgrade head, no alembic.ini needed
    store.images.get(image_id)

`Store` holds one object per resource, each in its own module, each method one transaction:
`registries` (API registries, attached registries and what a sync or push observed), `repositories`
(`add` is get-or-create), `images`, `scans` (`start`/`enqueue`: RUNNING result + Operation + queued job in one
transaction; `finish`/`fail`/`cancel`, the pipeline's `ScanSink`), `operations`, `jobs` (leased scan jobs),
`layer_cache` and `inventories`. Listing: `page(...)` returns one keyset `Page`.
The store speaks no wire format: it returns rows and its own enums, and operation payloads are serialized by
the `OperationCodec` the entry point passes (crscan.api.messages.OPERATION_CODEC).
Every error is a `StoreError` (`NotFound`, `ScanNotRunning`, `StaleCursor`); api/ maps them to gRPC codes.
"""

from crscan.store import console as _console  # noqa: F401  registers the console_sessions table on the metadata
from crscan.store import tokens as _tokens  # noqa: F401  registers the token tables on the metadata
from crscan.store.images import Layer
from crscan.store.interface import (
    InventoryRecord,
    NotFound,
    OperationCodec,
    OperationError,
    ScanAlreadyRunning,
    ScanNotRunning,
    ScanSink,
    ScanStatus,
    StaleCursor,
    StoreError,
    StoreUnavailable,
)
from crscan.store.paging import Order, Page
from crscan.store.scans import scan_sort_values
from crscan.store.store import Store

__all__ = [
    "InventoryRecord",
    "Layer",
    "NotFound",
    "OperationCodec",
    "OperationError",
    "Order",
    "Page",
    "ScanAlreadyRunning",
    "ScanNotRunning",
    "ScanSink",
    "ScanStatus",
    "StaleCursor",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "scan_sort_values",
]
