"""Where the client finds its endpoint and token, and how every failure reaches the user: one line, exit 1."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from tests.cli_client.conftest import crscan_image


def _last_token(shared_api) -> str | None:
    return shared_api.callers[-1].bearer_token


def _folder_listing(shared_api) -> str:
    registry = shared_api.http.get("/container-registry/v1/registries", params={"folderId": "b1gfolder"}).json()
    return registry["registries"][0]["id"]


def test_flags_override_environment_which_overrides_the_profile(shared_api, tmp_path):
    registry_id = _folder_listing(shared_api)
    url = shared_api.server.http_url
    profile = tmp_path / "profile.toml"
    profile.write_text(f'endpoint = "{url}"\ntoken = "from-profile"\n')
    verb = ("list", "--registry-id", registry_id, "--format", "json")

    assert crscan_image(*verb, profile=profile).returncode == 0
    assert _last_token(shared_api) == "from-profile"

    env = {"CRSCAN_TOKEN": "from-env"}
    assert crscan_image(*verb, profile=profile, env=env).returncode == 0
    assert _last_token(shared_api) == "from-env"

    done = crscan_image(*verb, "--token", "from-flag", profile=profile, env=env)
    assert done.returncode == 0 and json.loads(done.stdout)
    assert _last_token(shared_api) == "from-flag"

    # The endpoint follows the same order: a dead one lower down is never tried.
    profile.write_text('endpoint = "http://127.0.0.1:1"\n')
    assert crscan_image(*verb, profile=profile, env={"CRSCAN_ENDPOINT": url}).returncode == 0
    assert crscan_image(*verb, "--endpoint", url, profile=profile, env={"CRSCAN_ENDPOINT": "http://127.0.0.1:1"}
                        ).returncode == 0


def test_no_token_sends_no_authorization(shared_api):
    assert crscan_image("list", "--registry-id", _folder_listing(shared_api), "--endpoint",
                        shared_api.server.http_url).returncode == 0
    assert _last_token(shared_api) is None


def test_server_errors_are_the_servers_message_on_one_line(shared_api):
    url = shared_api.server.http_url
    expected = shared_api.http.get("/container-registry/v1/images/crp00000000000000000:lastScanResult").json()
    done = crscan_image("get-last-scan-result", "crp00000000000000000", "--endpoint", url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"crscan image: error: {expected['message']}\n"

    bad_filter = crscan_image("list-vulnerabilities", "--scan-result-id", "che00000000000000000",
                              "--filter", 'colour="red"', "--endpoint", url)
    assert bad_filter.returncode == 2 and bad_filter.stderr.count("\n") == 1 and "colour" in bad_filter.stderr


@pytest.mark.parametrize("hostile", ["../../registries", "a/b", "x:cancel", "%2e%2e", "id?pageSize=5"])
def test_ids_cannot_change_the_route(shared_api, hostile):
    done = crscan_image("get-last-scan-result", hostile, "--endpoint", shared_api.server.http_url)
    assert done.returncode == 2
    assert shared_api.callers[-1].method == "/yandex.cloud.containerregistry.v1.ScannerService/GetLast"
    assert done.stderr.startswith("crscan image: error: imageId is malformed")  # REST names fields as JSON does and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("profile_text", "env", "problem"),
    [
        (None, {}, "no server endpoint: pass --endpoint URL, set CRSCAN_ENDPOINT or add endpoint to "),
        (None, {"CRSCAN_ENDPOINT": "localhost:8080"}, "must be an http:// or https:// URL"),
        ('endpont = "http://x"\n', {}, "unknown key 'endpont'"),
        ("endpoint = 8080\n", {}, "key 'endpoint' must be a string"),
        ("endpoint = \n", {}, "is not valid TOML"),
        (None, {"CRSCAN_ENDPOINT": "http://127.0.0.1:1"}, "cannot reach http://127.0.0.1:1"),
    ],
)
def test_configuration_problems_are_one_line(tmp_path, profile_text, env, problem):
    profile = tmp_path / "profile.toml"
    if profile_text is not None:
        profile.write_text(profile_text)
    done = crscan_image("list", "--registry-id", "crr00000000000000000", profile=profile, env=env)
    assert done.returncode == 2
    assert problem in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


class _HostileServer(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the body and status the test put on the server."""

    def do_GET(self):
        status, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (502, b"<html>Bad Gateway</html>", "HTTP 502 from http://127.0.0.1"),
        (500, b'{"message": ""}', "HTTP 500"),
        (200, b"[1, 2]", "HTTP 200"),
        (200, b'{"images": [1, "two"]}', "unexpected answer from the server"),
        (200, b'{"images": [{"id": ["list"], "tags": 5}]}', "unexpected answer from the server"),
        (200, b'{"images": [], "nextPageToken": {"a": 1}}', "nextPageToken is not a string"),
        (200, b'{"images": [{"id": "x"}], "nextPageToken": "again"}', "repeated a page token"),
        (400, b'{"code": 3, "message": "line one\\nline two"}', "error: line one\n"),
    ],
)
def test_answers_not_shaped_like_the_api_are_one_line_not_a_crash(hostile_server, status, body, problem):
    hostile_server.answer = (status, body)
    url = f"http://127.0.0.1:{hostile_server.server_address[1]}"
    done = crscan_image("list", "--registry-id", "crr00000000000000000", "--endpoint", url)
    assert done.returncode == 2, done.stdout
    assert problem in done.stderr and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
