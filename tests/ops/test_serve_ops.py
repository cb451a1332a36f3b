"""`crscan serve --config` as a real subprocess: file < env < flags, JSON logs, and the ops pages answering."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx

from tests.api.test_serve_cli import CRSCAN, serve
from tests.ops.exposition import parse
from tests.support.postgres import free_port


def test_serve_reads_the_config_file_under_env_and_flags_and_logs_json(tmp_path, feed_db):
    file_http, env_grpc, flag_http = free_port(), free_port(), free_port()
    config = tmp_path / "crscan.toml"
    config.write_text(f"""
data_dir = "data"
http_port = {file_http}
grpc_port = 1
auth_enabled = false
log_format = "json"
feed_db = "{feed_db}"
""")
    served = serve("--config", str(config), "--http-port", str(flag_http),
                   env={"CRSCAN_GRPC_PORT": str(env_grpc)})
    try:
        assert served.rest_url == f"http://localhost:{flag_http}"  # flag over file
        assert served.grpc_address == f"localhost:{env_grpc}"  # env over file
        assert (tmp_path / "data" / "crscan.db").is_file()  # relative to the file
        ready = httpx.get(served.rest_url + "/readyz")
        assert ready.status_code == 200, ready.text
        families = parse(httpx.get(served.rest_url + "/metrics").text)
        assert families["crscan_queue_depth"].value() == 0
        assert "crscan_feed_age_seconds" in families
        assert httpx.get(served.rest_url + "/openapi.json").json()["paths"]
    finally:
        code, _ = served.stop(signal.SIGTERM)
    assert code == 0
    logged = [json.loads(line) for line in served.stderr_text().splitlines() if line.strip()]
    assert any(entry["message"].startswith("AUTHENTICATION IS DISABLED") and entry["level"] == "warning"
               for entry in logged), logged


def test_serve_refuses_an_unknown_config_key_in_one_line(tmp_path):
    config = tmp_path / "crscan.toml"
    config.write_text('http_prot = 8080\n')
    result = subprocess.run([str(CRSCAN), "serve", "--config", str(config), "--no-auth"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"crscan serve: error: config file {config}: unknown key 'http_prot'\n"


def test_serve_reports_unready_over_http_when_its_feed_db_is_missing(tmp_path):
    served = serve("--data-dir", str(tmp_path), "--http-port", "0", "--grpc-port", "0", "--no-auth")
    try:
        ready = httpx.get(served.rest_url + "/readyz")
    finally:
        served.stop(signal.SIGTERM)
    assert ready.status_code == 503
    assert ready.json()["checks"]["feed_db"]["error"].startswith(f"feed DB {tmp_path / 'feeds.db'} does not exist")
