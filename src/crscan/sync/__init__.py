"""Attached registries: mirror a registry's repositories, tags and images into the store (`sync_registry`),
and upsert pushed images from the CNCF distribution notification webhook (`webhook_routes`).

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
from crscan.sync.webhook import EVENTS_MEDIA_TYPE, WEBHOOK_PATH, WebhookHandler, webhook_routes

__all__ = [
    "EVENTS_MEDIA_TYPE", "WEBHOOK_PATH", "DistributionView", "RegistryAddress", "RegistryView", "SyncError",
    "SyncSummary", "WebhookHandler", "open_view", "parse_registry_url", "sync_registry", "webhook_routes",
]
