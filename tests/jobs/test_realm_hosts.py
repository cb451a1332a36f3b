"""`crscan registry add --auth-realm-host` is stored with the registry and reaches the scan's registry client
(issue 13, item 6): a hostile registry whose Bearer realm is on another host gets the stored password only when
the operator listed that host; otherwise the scan fails saying which host and which flag."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crscan.jobs import ScanRunner
from crscan.secrets import load_secret_box
from crscan.store import Layer
from tests.jobs.conftest import FOLDER
from tests.support.hostile import OTHER_HOST, HostileRegistry, RecordingServer, digest, token_service

CRSCAN = Path(sys.executable).parent / "crscan"
USER, PASSWORD = "crscan", "realm-test-password"


@pytest.fixture
def hostile() -> Iterator[tuple[HostileRegistry, RecordingServer]]:
    realm_host = token_service(RecordingServer(OTHER_HOST), {USER: PASSWORD}, anonymous=False).start()
    registry = HostileRegistry(realm=f"{realm_host.url}/token").start()
    yield registry, realm_host
    registry.stop()
    realm_host.stop()


def registry_add(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    return subprocess.run(
        [str(CRSCAN), "registry", "add", *args, "--folder-id", FOLDER, "--data-dir", str(data_dir),
         "--database-url", database_url],
        input=PASSWORD, capture_output=True, text=True, env=environ, timeout=60,
    )


def scan(store, data_dir: Path, feed_db_path: Path, name: str, registry: HostileRegistry):
    row = store.registries.find_by_name(name, FOLDER)
    repository = store.repositories.add(row.id, "app")
    image = store.images.add(repository.id, digest(registry.image.manifest), tags=["1"],
                            layers=[Layer(digest(registry.image.layer), len(registry.image.layer))])
    operation = store.scans.enqueue(image.id)
    job = store.jobs.claim(lease_seconds=60)
    runner = ScanRunner(store, feed_db_path, box=load_secret_box("", data_dir))
    return runner.run(job), store.scans.get(operation.resource_id)


def test_the_stored_realm_host_decides_where_the_password_goes(store, database_url, tmp_path, feed_db_path,
                                                              hostile):
    registry, realm_host = hostile
    data_dir = tmp_path / "data"
    added = registry_add(database_url, data_dir, "unlisted", registry.url, "--username", USER, "--password-stdin")
    assert added.returncode == 0, added.stderr
    outcome, result = scan(store, data_dir, feed_db_path, "unlisted", registry)
    assert outcome == "error"
    assert f"--auth-realm-host {OTHER_HOST}" in result.error_message
    assert [seen.authorization for seen in realm_host.seen] == [None]

    # One registry per host: the same registry attached again, now with the realm host listed.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    removed = subprocess.run([str(CRSCAN), "registry", "remove", "unlisted", "--folder-id", FOLDER, "--data-dir",
                              str(data_dir), "--database-url", database_url],
                             capture_output=True, text=True, env=environ, timeout=60)
    assert removed.returncode == 0, removed.stderr
    added = registry_add(database_url, data_dir, "listed", registry.url, "--username", USER, "--password-stdin",
                         "--auth-realm-host", OTHER_HOST)
    assert added.returncode == 0, added.stderr
    realm_host.seen.clear()
    outcome, result = scan(store, data_dir, feed_db_path, "listed", registry)
    assert outcome == "ready", result.error_message
    assert realm_host.seen and all(seen.authorization for seen in realm_host.seen)


def test_a_malformed_realm_host_is_refused_in_one_line_naming_it(database_url, tmp_path):
    added = registry_add(database_url, tmp_path / "data", "bad", "https://registry.example",
                         "--auth-realm-host", "https://auth.example/token")
    assert added.returncode == 2
    [line] = added.stderr.strip().splitlines()
    assert line.endswith("error: invalid --auth-realm-host 'https://auth.example/token': expected host or host:port")
