"""Vulnerability feeds (OSV, Debian security tracker, Alpine secdb) and the local feed DB built from them.

    report = update(path, mirror="/srv/feeds")     # or mirror="https://…", or None for upstream
    with FeedDB.open(path) as db:
        db.build_id, db.sources
        db.advisories(namespaces.osv("PyPI"), namespaces.package_key("PyPI", "Jinja2"))
"""

from crscan.vulndb import namespaces
from crscan.vulndb.build import BuildReport, build, default_updaters, update
from crscan.vulndb.db import SCHEMA_VERSION, FeedDB, SourceInfo
from crscan.vulndb.fetch import Location
from crscan.vulndb.interface import Advisory, FeedDBError, FeedError, Tally, Updater, VulnDBError
from crscan.vulndb.paths import data_dir, default_db_path

__all__ = [
    "SCHEMA_VERSION", "Advisory", "BuildReport", "FeedDB", "FeedDBError", "FeedError", "Location", "SourceInfo",
    "Tally", "Updater", "VulnDBError", "build", "data_dir", "default_db_path", "default_updaters", "namespaces",
    "update",
]
