"""Where crscan keeps its local data; one place so the CLI, the service and the scanner agree."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """`$CRSCAN_DATA_DIR`, else `~/.local/share/crscan` (XDG's default data home)."""
    configured = os.environ.get("CRSCAN_DATA_DIR")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "crscan"


def default_db_path() -> Path:
    return data_dir() / "feeds.db"


def feeds_mirror() -> str:
    """`$CRSCAN_FEEDS_MIRROR` (a directory or base URL laid out like upstream), else "" for upstream."""
    return os.environ.get("CRSCAN_FEEDS_MIRROR", "")
