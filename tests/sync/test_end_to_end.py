"""The whole path as a user runs it: `crscan registry add|list|sync` subprocesses, a running `crscan serve`, and a
Basic-auth registry whose `notifications:` POST to the server's webhook while `skopeo copy` pushes.

The registry password is a known string; every captured stdout/stderr (server at debug level included) and
every API answer is searched for it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx
import pytest

from tests.api.test_serve_cli import CRSCAN, serve
from tests.support.registry import skopeo_copy, start_registry

PASSWORD = "Kn0wn-Registry-Passw0rd"
WEBHOOK_SECRET = "e2e-webhook-secret-of-corp"


def crscan(*args: str, data_dir, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")} | (env or {})
    return subprocess.run([str(CRSCAN), "registry", *args, "--data-dir", str(data_dir)], input=stdin,
                          capture_output=True, text=True, env=environ, timeout=120)


@pytest.fixture
def server(tmp_path):
    served = serve("--data-dir", str(tmp_path / "data"), "--http-port", "0", "--grpc-port", "0", "--no-auth",
                   "--log-level", "debug")
    yield served
    if served.process.poll() is None:
        served.stop(signal.SIGTERM)


def test_attach_sync_and_push_webhook_without_leaking_the_password(tmp_path, server, built_images):
    data_dir = tmp_path / "data"
    registry = start_registry("htpasswd", password=PASSWORD,
                              notify=(f"{server.rest_url}/hooks/distribution", WEBHOOK_SECRET))
    outputs: list[str] = []
    try:
        creds = f"{registry.username}:{PASSWORD}"
        synced_digest = skopeo_copy(built_images["bullseye"].oci_ref, f"docker://{registry.host}/team/synced:1",
                                    creds=creds)

        added = crscan("add", "corp", registry.url, "--username", registry.username, "--password-stdin",
                       data_dir=data_dir, stdin=PASSWORD + "\n", env={"CRSCAN_REGISTRY_WEBHOOK_SECRET": WEBHOOK_SECRET})
        assert "webhook secret" not in added.stdout  # given, so none is generated
        outputs += [added.stdout, added.stderr]
        assert added.returncode == 0, added.stderr
        registry_id = added.stdout.split("id ")[1].split(",")[0]

        listed = crscan("list", data_dir=data_dir)
        outputs += [listed.stdout, listed.stderr]
        assert "corp" in listed.stdout and "stored" in listed.stdout

        synced = crscan("sync", "corp", data_dir=data_dir)
        outputs += [synced.stdout, synced.stderr]
        assert synced.returncode == 0, synced.stderr
        # The push before `add` was refused (no registry had that secret yet), so the registry redelivers it: the
        # image may have arrived through the webhook before this sync did.
        assert re.match(r"registry corp: 1 repositories, 1 tags; images added [01], updated 0, removed 0",
                        synced.stdout), synced.stdout
        assert images_of(server.rest_url, registry_id) == {("team/synced", synced_digest): ["1"]}

        # a push reaches the server through the registry's notification, with no sync
        pushed_digest = skopeo_copy(built_images["bookworm"].oci_ref, f"docker://{registry.host}/team/pushed:v1",
                                    creds=creds)
        deadline = time.monotonic() + 30
        while ("team/pushed", pushed_digest) not in images_of(server.rest_url, registry_id):
            assert time.monotonic() < deadline, "the pushed image never appeared through ImageService.List"
            time.sleep(0.2)
        assert images_of(server.rest_url, registry_id)[("team/pushed", pushed_digest)] == ["v1"]

        resync = crscan("sync", "corp", data_dir=data_dir)  # the webhook left nothing for the sync to fix
        outputs += [resync.stdout, resync.stderr]
        assert "images added 0, updated 0, removed 0" in resync.stdout

        api = [httpx.get(f"{server.rest_url}/container-registry/v1/registries/{registry_id}").text,
               httpx.get(f"{server.rest_url}/container-registry/v1/registries", params={"folderId": "default"}).text]
        assert registry_id in api[0] and registry_id in api[1]
        outputs += api

        wrong = crscan("add", "bad", f"http://{registry.username}:{PASSWORD}@{registry.host}", data_dir=data_dir)
        outputs += [wrong.stdout, wrong.stderr]
        assert wrong.returncode == 2 and "must not contain credentials" in wrong.stderr
    finally:
        registry.stop()
    code, rest = server.stop(signal.SIGTERM)
    outputs += [*server.lines, rest, server.stderr_text()]
    assert any("POST /hooks/distribution" in text for text in outputs)  # the debug log did see the webhook
    leaks = [text for text in outputs if PASSWORD in text]
    assert leaks == []


def test_wrong_credentials_fail_the_sync_with_a_clear_error(tmp_path, auth_registry):
    added = crscan("add", "reg", auth_registry.url, "--username", auth_registry.username, "--password-stdin",
                   data_dir=tmp_path, stdin="not-the-password")
    assert added.returncode == 0
    synced = crscan("sync", "reg", data_dir=tmp_path)
    assert synced.returncode == 2
    assert synced.stderr.startswith("crscan registry: error: sync of registry 'reg' failed: ")
    assert "not-the-password" not in synced.stderr + synced.stdout


@pytest.mark.parametrize("args, stdin, message", [
    (["add", "reg", "http://registry.example.com"], "", "plain http:// .* --insecure"),
    (["add", "reg", "127.0.0.1:5000", "--password-stdin"], "x", "--password-stdin needs --username"),
    (["add", "reg", "127.0.0.1:5000", "--username", "u", "--password-stdin"], "", "stdin was empty"),
    (["add", "bad name!", "127.0.0.1:5000"], "", "registry name 'bad name!' is invalid: 3-63 lowercase"),
    (["add", "regA", "127.0.0.1:5000"], "", "registry name 'regA' is invalid"),
    (["add", "é", "127.0.0.1:5000"], "", "registry name 'é' is invalid"),
    (["add", "reg", "127.0.0.1:5000", "--webhook-secret", "short"], "", "at least 16 printable characters"),
    (["remove", "missing"], "", "registry 'missing' in folder default not found"),
    (["add", "reg", "https://127.0.0.1:5000", "--ca-file", "/nonexistent/ca.pem"], "", "cannot load CA bundle"),
    (["sync", "missing"], "", "registry 'missing' in folder default not found"),
])
def test_bad_input_is_named(tmp_path, args, stdin, message):
    result = crscan(*args, data_dir=tmp_path, stdin=stdin)
    assert result.returncode != 0
    assert result.stderr.startswith("crscan registry: error: ")
    assert re.search(message, result.stderr), result.stderr


def test_a_second_add_with_the_same_name_is_refused(tmp_path):
    assert crscan("add", "reg", "127.0.0.1:5000", data_dir=tmp_path).returncode == 0
    again = crscan("add", "reg", "127.0.0.1:5001", data_dir=tmp_path)
    assert again.returncode == 2 and "registry 'reg' already exists in folder default" in again.stderr


def images_of(rest_url: str, registry_id: str) -> dict[tuple[str, str], list[str]]:
    """{(repository path, digest): tags} through the REST ImageService.List."""
    response = httpx.get(f"{rest_url}/container-registry/v1/images", params={"registryId": registry_id})
    response.raise_for_status()
    prefix = registry_id + "/"
    return {(image["name"].removeprefix(prefix), image["digest"]): sorted(image.get("tags", []))
            for image in response.json().get("images", [])}


def test_the_configured_key_is_used_and_a_changed_key_is_named(tmp_path, auth_registry):
    from cryptography.fernet import Fernet

    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    added = crscan("add", "reg", auth_registry.url, "--username", auth_registry.username, "--password-stdin",
                   data_dir=tmp_path, stdin=auth_registry.password, env={"CRSCAN_SECRET_KEY": key})
    assert added.returncode == 0, added.stderr
    assert not (tmp_path / "secret.key").exists()  # the configured key, not a generated one
    assert crscan("sync", "reg", data_dir=tmp_path, env={"CRSCAN_SECRET_KEY": key}).returncode == 0
    changed = crscan("sync", "reg", data_dir=tmp_path, env={"CRSCAN_SECRET_KEY": other})
    assert changed.returncode == 2
    assert "the password of registry 'reg' cannot be decrypted" in changed.stderr
    assert key not in changed.stderr and other not in changed.stderr and auth_registry.password not in changed.stderr


def test_a_second_registry_on_the_same_host_is_refused(tmp_path):
    assert crscan("add", "first", "127.0.0.1:5000", data_dir=tmp_path).returncode == 0
    again = crscan("add", "second", "http://127.0.0.1:5000", data_dir=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == ("crscan registry: error: registry 'first' already has the host 127.0.0.1:5000: "
                                    "one registry per host")


def test_names_the_cli_accepts_are_the_names_the_api_filter_accepts(tmp_path, server):
    data_dir = tmp_path / "data"
    added = crscan("add", "team-a1", "127.0.0.1:5000", data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    generated = added.stdout.splitlines()[-1]
    assert generated.startswith("webhook secret (shown once; send it as Authorization: Bearer): ")
    secret = generated.rsplit(" ", 1)[1]
    assert len(secret) >= 40 and secret not in crscan("list", data_dir=data_dir).stdout

    def listed(name: str) -> httpx.Response:
        return httpx.get(f"{server.rest_url}/container-registry/v1/registries",
                         params={"folderId": "default", "filter": f'name="{name}"'})

    assert [r["name"] for r in listed("team-a1").json()["registries"]] == ["team-a1"]
    refused = crscan("add", "regA", "127.0.0.2:5000", data_dir=data_dir)
    assert refused.returncode == 2
    rejected = listed("regA")
    assert rejected.status_code == 400
    assert refused.stderr.split("error: ", 1)[1].strip() in rejected.json()["message"]  # one grammar, one message

    # the generated secret is the registry's: a push for its host is accepted (and fails only at the fetch)
    event = {"action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "app", "tag": "1",
        "digest": "sha256:" + "a" * 64, "url": "http://127.0.0.1:5000/v2/app/manifests/sha256:" + "a" * 64}}
    pushed = httpx.post(f"{server.rest_url}/hooks/distribution", json={"events": [event]},
                        headers={"Authorization": f"Bearer {secret}"}, timeout=120)  # the fetch retries
    assert pushed.status_code == 200 and pushed.json()["received"] == 1, pushed.text
    wrong = httpx.post(f"{server.rest_url}/hooks/distribution", json={"events": [event]},
                       headers={"Authorization": "Bearer " + "x" * 43})
    assert wrong.status_code == 401


def test_remove_deletes_the_registry_with_its_images_and_aborts_its_running_scans(tmp_path):
    from crscan.api.messages import OPERATION_CODEC
    from crscan.store import Layer, NotFound, Store

    assert crscan("add", "doomed", "127.0.0.1:5000", data_dir=tmp_path).returncode == 0
    assert crscan("add", "kept", "127.0.0.1:5001", data_dir=tmp_path).returncode == 0
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    try:
        doomed = store.registries.find_by_name("doomed", "default")
        kept = store.registries.find_by_name("kept", "default")
        images = []
        for registry in (doomed, kept):
            repository = store.repositories.add(registry.id, "team/app")
            layers = [Layer("sha256:" + "cd" * 32, 1)]
            images.append(store.images.add(repository.id, "sha256:" + "ab" * 32, layers=layers))
        running = store.scans.start(images[0].id)
        removed = crscan("remove", "doomed", data_dir=tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert removed.stdout.strip() == ("registry doomed removed with 1 repositories and 1 images; "
                                          "1 running scans aborted")
        with pytest.raises(NotFound):
            store.registries.get(doomed.id)
        with pytest.raises(NotFound):
            store.images.get(images[0].id)
        assert store.images.get(images[1].id).id == images[1].id
        operation = store.operations.get(running.id)
        assert operation.done and b"registry doomed was removed" in operation.error_status
        assert "doomed" not in crscan("list", data_dir=tmp_path).stdout
        again = crscan("add", "doomed", "127.0.0.1:5000", data_dir=tmp_path)  # the host is free again
        assert again.returncode == 0, again.stderr
    finally:
        store.close()
