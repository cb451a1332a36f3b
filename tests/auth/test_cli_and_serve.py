"""`crscan token` and `crscan serve` with auth on, as real subprocesses: the secret is printed once on stdout
and nowhere else, the server takes tokens minted while it runs and refuses revoked ones at once, and neither the
server's stdout nor its debug-level stderr ever contains a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yandexcloud
from yandex.cloud.containerregistry.v1 import registry_service_pb2, registry_service_pb2_grpc

from tests.auth.conftest import ISSUED_SECRETS

CRSCAN = Path(sys.executable).parent / "crscan"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}


def crscan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, timeout=120, env=ENV)


def create(data_dir: Path, *args: str) -> str:
    result = crscan("token", "create", "--data-dir", str(data_dir), *args)
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n"  # stdout is the token alone
    ISSUED_SECRETS.append(secret)
    assert secret not in result.stderr
    return secret


def test_token_verbs(tmp_path):
    secret = create(tmp_path, "--role", "editor", "--expires-in", "30d", "--description", "ci pipeline")
    token_id = secret.partition(".")[0]
    listed = crscan("token", "list", "--data-dir", str(tmp_path), "--json")
    assert listed.returncode == 0
    [row] = json.loads(listed.stdout)
    assert row["id"] == token_id and row["role"] == "editor" and row["state"] == "active"
    assert row["registries"] == "all" and row["description"] == "ci pipeline" and row["expires_at"] != "never"
    table = crscan("token", "list", "--data-dir", str(tmp_path))
    assert token_id in table.stdout and secret.partition(".")[2] not in table.stdout + listed.stdout
    revoked = crscan("token", "revoke", token_id, "--data-dir", str(tmp_path))
    assert revoked.returncode == 0 and f"revoked token {token_id}" in revoked.stdout
    assert json.loads(crscan("token", "list", "--data-dir", str(tmp_path), "--json").stdout)[0]["state"] == "revoked"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["create", "--role", "root"], 2, "unknown role 'root'"),
        (["create", "--role", "viewer", "--expires-in", "soon"], 2, "is not a duration"),
        (["create", "--role", "viewer", "--registry", "crp0000000000000000"], 2,
         "registry crp0000000000000000 not found"),
        (["create", "--role", "viewer", "--registry", "UPPER"], 2, "registry id is malformed"),
        (["revoke", "crk00000000000000000"], 2, "token crk00000000000000000 not found"),
        (["revoke", "crkxyz.secret-pasted-here"], 2, "not a token id"),
        (["list", "--database-url", "mysql://x/y"], 2, "not supported"),
    ],
)
def test_token_errors_are_one_line(tmp_path, args, code, message):
    result = crscan("token", *args[:1], "--data-dir", str(tmp_path), *args[1:])
    assert result.returncode == code, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "secret-pasted-here" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def start_serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """`crscan serve` with auth on (the default) and debug logging to `log`; returns it and its printed lines."""
    out = log.with_suffix(".out")
    process = subprocess.Popen(
        [str(CRSCAN), "serve", "--data-dir", str(data_dir), "--http-port", "0", "--grpc-port", "0",
         "--log-level", "debug"],
        stdout=out.open("w"), stderr=log.open("w"), env=ENV,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = out.read_text()
        if "REST listening on" in text:
            lines = text.splitlines()
            return process, {
                "rest": next(line.split()[-1] for line in lines if line.startswith("REST listening on")),
                "grpc": next(line.split()[-1] for line in lines if "advertised as" in line),
                "ca": next(line.split()[-1] for line in lines if line.startswith("CA certificate")),
                "output": text,
            }
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"serve did not start: {out.read_text()} {log.read_text()}")


def test_serve_with_auth_on_takes_live_tokens_and_logs_no_secret(tmp_path):
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    process, served = start_serve(data_dir, log)
    try:
        assert "no active admin token yet: create one with `crscan token create --role admin`" in served["output"]
        http = httpx.Client(base_url=served["rest"], timeout=30)
        listing = "/container-registry/v1/registries"
        refused = http.get(listing, params={"folderId": "b1gf"})
        assert refused.status_code == 401 and "Authorization: Bearer" in refused.json()["message"]

        secret = create(data_dir, "--role", "viewer")  # minted while the server runs
        bearer = {"authorization": f"Bearer {secret}"}
        assert http.get(listing, params={"folderId": "b1gf"}, headers=bearer).json() == {}
        wrong = {"authorization": f"Bearer {secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"}
        assert http.get(listing, params={"folderId": "b1gf"}, headers=wrong).status_code == 401

        sdk = yandexcloud.SDK(endpoint=served["grpc"], iam_token=secret,
                              root_certificates=Path(served["ca"]).read_bytes())
        registries = sdk.client(registry_service_pb2_grpc.RegistryServiceStub)
        answer = registries.List(registry_service_pb2.ListRegistriesRequest(folder_id="b1gf"), timeout=10)
        assert list(answer.registries) == []

        assert crscan("token", "revoke", secret.partition(".")[0], "--data-dir", str(data_dir)).returncode == 0
        revoked = http.get(listing, params={"folderId": "b1gf"}, headers=bearer)
        assert revoked.status_code == 401 and "was revoked" in revoked.json()["message"]
        assert http.get("/healthz").status_code == 200  # the probe stays public
    finally:
        process.terminate()
        process.wait(timeout=30)
    everything = log.read_text() + log.with_suffix(".out").read_text()
    assert "refused" in everything  # debug logging did record the refusals …
    assert secret not in everything and secret.partition(".")[2] not in everything  # … without the secret
    assert "AUTHENTICATION IS DISABLED" not in everything
