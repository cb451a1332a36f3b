"""The client against `crscan serve` with authentication on (its default): tokens from `crscan token create`."""

from __future__ import annotations

import signal
import subprocess

from tests.api.test_serve_cli import CRSCAN, serve
from tests.cli_client.conftest import crscan_image


def test_a_viewer_token_lists_and_a_missing_or_wrong_token_is_one_line(tmp_path):
    created = subprocess.run([str(CRSCAN), "token", "create", "--role", "viewer", "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    served = serve("--data-dir", str(tmp_path), "--http-port", "0", "--grpc-port", "0")
    try:
        verb = ("list", "--folder-id", "b1gfolder", "--endpoint", served.rest_url, "--format", "json")
        allowed = crscan_image(*verb, "--token", token)
        from_env = crscan_image(*verb, env={"CRSCAN_TOKEN": token})
        anonymous = crscan_image(*verb)
        wrong = crscan_image(*verb, "--token", token[:-4] + "AAAA")
    finally:
        served.stop(signal.SIGTERM)
    assert allowed.returncode == 0 and allowed.stdout.strip() == "[]", allowed.stderr
    assert from_env.returncode == 0
    for refused in (anonymous, wrong):
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith("crscan image: error: ") and refused.stderr.count("\n") == 1
        assert token not in refused.stderr
    assert anonymous.stderr.rstrip().endswith("(give one with --token or CRSCAN_TOKEN)")
