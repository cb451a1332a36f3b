"""Attached registries: mirror a registry's repositories, tags and images into the store (`sync_registry`),
and upsert pushed images reported by the CNCF distribution notification webhook (`WebhookHandler`; its HTTP
endpoint is `crscan.api.webhook`).

Both report the ids of images that were added or gained a tag, for scan-on-push.
"""

from crscan.sync.interface import RegistryView, SyncError
from crscan.sync.sync import (
    DistributionView,
    RegistryAddress,
    SyncSummary,
    open_view,
    parse_registry_url,
    sync_registry,
)
from crscan.sync.webhook import WebhookHandler

__all__ = [
    "DistributionView", "RegistryAddress", "RegistryView", "SyncError", "SyncSummary", "WebhookHandler",
    "open_view", "parse_registry_url", "sync_registry",
]
