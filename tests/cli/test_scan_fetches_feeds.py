"""`crscan scan` with no feed DB fetches one first, as `trivy image` does: from the configured mirror here, with a
progress line per source; `--skip-db-update` and `--offline` opt out and keep the one-line error. `crscan db update`
reads the same mirror setting."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.registry.test_local_sources import docker_archive
from tests.vulndb.support import CRSCAN

PACKAGE, VERSION = "urllib3", "1.26.4"  # several PyPI advisories in the shared mirror


@pytest.fixture
def archive(tmp_path):
    metadata = f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n".encode()
    path = tmp_path / "app.tar"
    docker_archive(path, {"first/use:1": {
        f"usr/lib/python3/dist-packages/{PACKAGE}-{VERSION}.dist-info/METADATA": metadata,
    }})
    return path


def scan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | env | {"NO_COLOR": "1"}
    return subprocess.run([str(CRSCAN), "scan", *args], capture_output=True, text=True, env=environ, timeout=300)


def test_scan_with_no_feed_db_builds_it_from_the_mirror_setting_then_scans(tmp_path, archive, shared_data):
    data = tmp_path / "data"
    mirror = shared_data / "feeds"
    done = scan(f"docker-archive:{archive}", "--format", "json",
                env={"CRSCAN_DATA_DIR": str(data), "CRSCAN_FEEDS_MIRROR": str(mirror)})
    assert done.returncode == 0, done.stderr
    assert (data / "feeds.db").is_file()
    lines = done.stderr.splitlines()
    assert lines[0] == (f"feed DB missing at {data / 'feeds.db'}: building it from mirror {mirror} "
                        "(--skip-db-update to opt out)")
    assert any(line.startswith("feed DB step ") and line.endswith("fetching osv/PyPI/all.zip") for line in lines)
    assert any(line.startswith("feed DB step ") and line.endswith("parsing osv/PyPI/all.zip") for line in lines)
    assert any(line.startswith("feed DB built: ") for line in lines), lines
    findings = json.loads(done.stdout)["findings"]
    assert findings and {(f["package"], f["version"]) for f in findings} == {(PACKAGE, VERSION)}

    again = scan(f"docker-archive:{archive}", "--format", "json", "--quiet",
                 env={"CRSCAN_DATA_DIR": str(data), "CRSCAN_FEEDS_MIRROR": str(tmp_path / "gone")})
    assert again.returncode == 0 and again.stderr == ""  # present now: not fetched again


def test_the_flag_names_the_mirror_over_the_environment(tmp_path, archive, shared_data):
    data = tmp_path / "data"
    done = scan(f"docker-archive:{archive}", "--feeds-mirror", str(shared_data / "feeds"), "--quiet",
                env={"CRSCAN_DATA_DIR": str(data), "CRSCAN_FEEDS_MIRROR": str(tmp_path / "gone")})
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and PACKAGE in done.stdout


@pytest.mark.parametrize("opt_out", ["--skip-db-update", "--offline"])
def test_opting_out_keeps_the_missing_db_error(tmp_path, archive, shared_data, opt_out):
    data = tmp_path / "data"
    done = scan(f"docker-archive:{archive}", opt_out,
                env={"CRSCAN_DATA_DIR": str(data), "CRSCAN_FEEDS_MIRROR": str(shared_data / "feeds")})
    assert done.returncode == 2
    assert done.stderr.startswith(f"crscan scan: error: feed DB missing at {data / 'feeds.db'}: run `crscan db update`")
    assert not (data / "feeds.db").exists()


def test_an_unusable_mirror_is_one_line(tmp_path, archive):
    done = scan(f"docker-archive:{archive}", "--quiet",
                env={"CRSCAN_DATA_DIR": str(tmp_path / "data"), "CRSCAN_FEEDS_MIRROR": str(tmp_path / "gone")})
    assert done.returncode == 2
    assert done.stderr == (f"crscan scan: error: mirror directory {tmp_path / 'gone'} does not exist or is not "
                           "a directory\n")


def test_db_update_reads_the_same_mirror_setting_and_the_flag_wins(tmp_path, shared_data):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | {
        "CRSCAN_DATA_DIR": str(tmp_path / "data"), "CRSCAN_FEEDS_MIRROR": str(tmp_path / "gone")}

    def db_update(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CRSCAN), "db", "update", *args], capture_output=True, text=True, env=environ,
                              timeout=300)

    from_env = db_update()
    assert from_env.returncode == 2
    assert from_env.stderr == (f"crscan db: error: mirror directory {tmp_path / 'gone'} does not exist or is not "
                               "a directory\n")
    from_flag = db_update("--mirror", str(shared_data / "feeds"))
    assert from_flag.returncode == 0, from_flag.stderr
    assert from_flag.stdout.startswith(f"{tmp_path / 'data' / 'feeds.db'}: built build ")
