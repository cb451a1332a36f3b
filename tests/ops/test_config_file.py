"""The TOML config layer: file < environment < flags, unknown keys and bad types refused in one line naming them."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from pathlib import Path

import pytest

from crscan.config import ENVIRONMENT, ConfigError, JsonLogFormatter, Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "config.example.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_is_overridden_by_environment_which_is_overridden_by_flags(tmp_path):
    config = write(tmp_path / "crscan.toml", f"""
data_dir = "{tmp_path / 'file-data'}"
http_port = 9100
grpc_port = 9101
host = "0.0.0.0"
log_format = "json"
worker_concurrency = 4
""")
    from_file = Settings.resolve({}, environ={}, config_file=config)
    assert (from_file.data_dir, from_file.http_port, from_file.grpc_port) == (tmp_path / "file-data", 9100, 9101)
    assert (from_file.host, from_file.log_format, from_file.worker_concurrency) == ("0.0.0.0", "json", 4)

    environ = {"CRSCAN_HTTP_PORT": "9200", "CRSCAN_LOG_FORMAT": "text"}
    from_env = Settings.resolve({}, environ=environ, config_file=config)
    assert (from_env.http_port, from_env.grpc_port, from_env.log_format) == (9200, 9101, "text")

    from_flags = Settings.resolve({"http_port": 9300, "worker_concurrency": 2}, environ=environ, config_file=config)
    assert (from_flags.http_port, from_flags.grpc_port, from_flags.worker_concurrency) == (9300, 9101, 2)


def test_crscan_config_names_the_file_when_no_flag_does(tmp_path):
    config = write(tmp_path / "c.toml", 'log_level = "debug"\n')
    other = write(tmp_path / "other.toml", 'log_level = "error"\n')
    environ = {"CRSCAN_CONFIG": str(config)}
    assert Settings.resolve({"data_dir": tmp_path}, environ=environ).log_level == "debug"
    assert Settings.resolve({"data_dir": tmp_path}, environ=environ, config_file=other).log_level == "error"


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path):
    (tmp_path / "etc").mkdir()
    config = write(tmp_path / "etc" / "crscan.toml", 'data_dir = "state"\nfeed_db = "../feeds/feeds.db"\n')
    settings = Settings.resolve({}, environ={}, config_file=config)
    assert settings.data_dir == tmp_path / "etc" / "state"
    assert settings.effective_feed_db.resolve() == (tmp_path / "feeds" / "feeds.db").resolve()


def test_feed_db_defaults_next_to_the_database_in_the_data_dir(tmp_path):
    assert Settings.resolve({"data_dir": tmp_path}, environ={}).effective_feed_db == tmp_path / "feeds.db"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('colour = "red"\n', "unknown key 'colour'"),
        ("[http]\nport = 80\n", "unknown key 'http'"),
        ('http_port = "80"\n', "key 'http_port' must be a TOML integer, got str"),
        ("http_port = true\n", "key 'http_port' must be a TOML integer, got bool"),
        ('auth_enabled = "no"\n', "key 'auth_enabled' must be a TOML boolean, got str"),
        ("host = 5\n", "key 'host' must be a TOML string, got int"),
        ('data_dir = ["a"]\n', "key 'data_dir' must be a TOML string, got list"),
        ("http_port = 70000\n", "port 70000 is outside 0-65535"),
        ("worker_concurrency = 0\n", "0 is outside 1-256"),
        ('log_format = "xml"\n', "'xml' is not one of text, json"),
        ('log_level = "verbose"\n', "'verbose' is not one of debug, info, warning, error"),
        ("http_port = \n", "is not valid TOML"),
        ("\xff\xfe", "is not valid TOML"),
    ],
)
def test_bad_files_are_refused_in_one_line_naming_the_key(tmp_path, text, problem):
    config = tmp_path / "bad.toml"
    config.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as refused:
        Settings.resolve({"data_dir": tmp_path}, environ={}, config_file=config)
    message = str(refused.value)
    assert problem in message
    assert str(config) in message
    assert "\n" not in message


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*absent\.toml does not exist"):
        Settings.resolve({}, environ={"CRSCAN_CONFIG": str(tmp_path / "absent.toml")})


def test_the_example_file_documents_every_setting_and_every_variable(tmp_path):
    text = EXAMPLE.read_text()
    # Uncommenting every `# key = value` line yields a file Settings accepts, with every field in it.
    uncommented = "\n".join(line[2:] for line in text.splitlines() if re.match(r"# [a-z_]+ = ", line))
    document = tomllib.loads(uncommented)
    assert set(document) == set(Settings.__dataclass_fields__)
    for variable in ENVIRONMENT:
        assert variable in text, variable
    paths = tmp_path / "example.toml"
    paths.write_text(uncommented.replace("/etc/crscan/tls/", str(tmp_path) + "/"))
    for name in ("grpc.pem", "grpc-key.pem", "rest.pem", "rest-key.pem"):
        (tmp_path / name).write_text("placeholder")
    settings = Settings.resolve({}, environ={}, config_file=paths)
    assert settings.log_format == document["log_format"]
    # As shipped (all commented) the example is an empty, valid config.
    assert Settings.resolve({"data_dir": tmp_path}, environ={}, config_file=EXAMPLE).http_port == 8080


def test_json_log_lines_are_one_object_each_with_the_exception():
    formatter = JsonLogFormatter()
    record = logging.LogRecord("crscan.serve", logging.WARNING, __file__, 1, 'quote " and\nnewline %s', ("x",), None)
    entry = json.loads(formatter.format(record))
    assert entry["level"] == "warning" and entry["logger"] == "crscan.serve"
    assert entry["message"] == 'quote " and\nnewline x'
    assert entry["time"].endswith("Z") and "T" in entry["time"]
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failing = logging.LogRecord("crscan", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = formatter.format(failing)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]
