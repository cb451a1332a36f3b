"""Storage: SQLAlchemy 2 models, migrations shipped in the package, and `Store`, the one access point."""

from crscan.store.interface import NotFound, ScanNotRunning, ScanSink, StaleCursor, StoreError
from crscan.store.store import Layer, Order, Page, Store, scan_sort_values

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
