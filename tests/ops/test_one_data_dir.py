"""One data dir for every verb: with no flag, `db`, `scan`, `token`, `registry` and `serve` all use
`$CRSCAN_DATA_DIR`, else `$XDG_DATA_HOME/crscan`, else `~/.local/share/crscan` — what one writes the others find."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from crscan.config import Settings, default_data_dir
from tests.api.test_serve_cli import CRSCAN, serve
from tests.registry.test_local_sources import docker_archive


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, env=env, input=stdin, timeout=300)
    assert done.returncode == 0, (args, done.stderr)
    return done


@pytest.mark.parametrize("rule", ["home", "xdg", "crscan"])
def test_every_verb_finds_what_another_wrote_in_the_default_data_dir(tmp_path, shared_data, rule):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRSCAN_", "XDG_"))} | {
        "HOME": str(home), "NO_COLOR": "1"}
    expected = {"home": home / ".local/share/crscan", "xdg": tmp_path / "xdg/crscan", "crscan": tmp_path / "mine"}[rule]
    if rule == "xdg":
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    if rule == "crscan":
        env["CRSCAN_DATA_DIR"] = str(expected)
    assert default_data_dir(env) == expected == Settings.resolve({}, environ=env).data_dir

    run("db", "update", "--mirror", str(shared_data / "feeds"), env=env)
    assert (expected / "feeds.db").is_file()
    assert f"path: {expected / 'feeds.db'}" in run("db", "status", env=env).stdout
    archive = tmp_path / "app.tar"
    docker_archive(archive, {"one/dir:1": {"etc/hostname": b"one\n"}})
    run("scan", f"docker-archive:{archive}", "--skip-db-update", "--quiet", env=env)  # found the DB db wrote
    assert (expected / "cache" / "layers").is_dir()

    token = run("token", "create", "--role", "admin", env=env).stdout.strip()
    assert (expected / "crscan.db").is_file()
    run("registry", "add", "local", "http://127.0.0.1:1", env=env)
    assert "local" in run("registry", "list", env=env).stdout

    served = serve("--http-port", "0", "--grpc-port", "0", env=env)
    try:
        bearer = {"Authorization": f"Bearer {token}"}  # the token `token create` wrote
        ready = httpx.get(served.rest_url + "/readyz", headers=bearer, timeout=10)
        registries = httpx.get(served.rest_url + "/container-registry/v1/registries",
                               params={"folderId": "default"}, headers=bearer, timeout=10)
    finally:
        served.stop(signal.SIGTERM)
    assert ready.status_code == 200, ready.text  # the feed DB `db update` wrote
    assert registries.status_code == 200, registries.text
    assert [r["name"] for r in registries.json()["registries"]] == ["local"]
    assert Path(served.ca_file).parent.parent == expected
