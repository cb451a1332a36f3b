"""Where crscan keeps its local data; one place so the CLI, the service and the scanner agree."""

from __future__ import annotations

import os
from pathlib import Path

from crscan.config import default_data_dir


def data_dir() -> Path:
    """The data dir every verb defaults to (`crscan.config.default_data_dir`): `$CRSCAN_DATA_DIR`, else
    `$XDG_DATA_HOME/crscan`, else `~/.local/share/crscan`."""
    return default_data_dir()


def default_db_path() -> Path:
    return data_dir() / "feeds.db"


def feeds_mirror() -> str:
    """`$CRSCAN_FEEDS_MIRROR` (a directory or base URL laid out like upstream), else "" for upstream."""
    return os.environ.get("CRSCAN_FEEDS_MIRROR", "")
