"""Helpers shared by the vulndb and match tests: mirrors written in the upstream layouts, the shared DB."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

# The entry point beside the running interpreter: the venv under test (the newest-dependency smoke run uses another).
CRSCAN = Path(sys.executable).with_name("crscan")


def write_mirror(root: Path, *, osv: dict[str, list] | None = None, debian: dict | None = None,
                 alpine: dict[tuple[str, str], dict] | None = None) -> Path:
    """A feeds mirror laid out like upstream: osv/<Eco>/all.zip, debian/json, alpine/<release>/<repo>.json."""
    for ecosystem, records in (osv or {}).items():
        target = root / "osv" / ecosystem / "all.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for number, record in enumerate(records):
                name = record.get("id", f"record-{number}") if isinstance(record, dict) else f"record-{number}"
                data = record if isinstance(record, bytes) else json.dumps(record).encode()
                archive.writestr(f"{name}.json", data)
    if debian is not None:
        (root / "debian").mkdir(parents=True, exist_ok=True)
        (root / "debian" / "json").write_text(json.dumps(debian))
    for (release, repository), document in (alpine or {}).items():
        target = root / "alpine" / release / f"{repository}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document))
    return root


def crscan(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `crscan` entry point."""
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, env=env, timeout=300)


def shared_feed_db(tmp_path_factory, shared_data: Path) -> Path:
    """The DB built from the whole shared mirror by `crscan db update`, once per test session."""
    path = tmp_path_factory.getbasetemp() / "shared-feeds" / "feeds.db"
    if not path.exists():
        done = crscan("db", "update", "--mirror", str(shared_data / "feeds"), "--db", str(path))
        assert done.returncode == 0, done.stderr
    return path


def risk_feed_db(tmp_path_factory, shared_data: Path) -> Path:
    """The shared mirror with the KEV and EPSS fixtures of tests/vulndb/testdata in place of the shared KEV
    catalog (some of their entries cover the test images' CVEs), built by `crscan db update` once per session."""
    from tests.vulndb.test_risk import risk_mirror

    path = tmp_path_factory.getbasetemp() / "risk-feeds" / "feeds.db"
    if not path.exists():
        root = path.parent / "mirror"
        root.mkdir(parents=True)
        for feed in (shared_data / "feeds").iterdir():
            if feed.name != "kev":
                (root / feed.name).symlink_to(feed)
        risk_mirror(root)
        done = crscan("db", "update", "--mirror", str(root), "--db", str(path))
        assert done.returncode == 0, done.stderr
    return path
