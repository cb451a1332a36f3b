"""Settings resolution for `crscan serve`: flags > environment > defaults, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.api.auth import AllowAll
from crscan.api.messages import OPERATION_CODEC
from crscan.auth import TokenAuthenticator
from crscan.cli.serve import authenticator_for
from crscan.config import DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, ConfigError, Settings
from crscan.store import Store


def test_defaults_apply_when_nothing_is_given(tmp_path):
    settings = Settings.resolve({"data_dir": tmp_path}, environ={})
    assert (settings.http_port, settings.grpc_port) == (DEFAULT_HTTP_PORT, DEFAULT_GRPC_PORT)
    assert settings.host == "127.0.0.1"
    assert settings.auth_enabled is True
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'crscan.db'}"
    assert not settings.http_tls


def test_environment_overrides_defaults_and_flags_override_environment(tmp_path):
    environ = {
        "CRSCAN_DATA_DIR": str(tmp_path / "env"),
        "CRSCAN_HTTP_PORT": "9001",
        "CRSCAN_GRPC_PORT": "9002",
        "CRSCAN_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "CRSCAN_AUTH_ENABLED": "false",
    }
    from_env = Settings.resolve({"data_dir": None, "http_port": None}, environ=environ)
    assert from_env.data_dir == tmp_path / "env"
    assert (from_env.http_port, from_env.grpc_port) == (9001, 9002)
    assert from_env.effective_database_url == "postgresql+psycopg://u@h/db"
    assert from_env.auth_enabled is False

    from_flags = Settings.resolve({"data_dir": tmp_path / "flag", "http_port": 7001}, environ=environ)
    assert from_flags.data_dir == tmp_path / "flag"
    assert (from_flags.http_port, from_flags.grpc_port) == (7001, 9002)


def test_public_address_accepts_names_and_bracketed_ipv6(tmp_path):
    for address in ("scanner.example:443", "10.0.0.5:8443", "[::1]:8443"):
        assert Settings.resolve({"data_dir": tmp_path, "public_address": address}, environ={}).public_address == address


def test_empty_environment_values_count_as_unset(tmp_path):
    settings = Settings.resolve({"data_dir": tmp_path}, environ={"CRSCAN_HTTP_PORT": ""})
    assert settings.http_port == DEFAULT_HTTP_PORT


@pytest.mark.parametrize(
    ("flags", "environ", "problem"),
    [
        ({}, {"CRSCAN_HTTP_PORT": "eighty"}, "CRSCAN_HTTP_PORT: 'eighty' is not a port number"),
        ({"grpc_port": 70000}, {}, "--grpc-port: port 70000 is outside 0-65535"),
        ({}, {"CRSCAN_AUTH_ENABLED": "maybe"}, "CRSCAN_AUTH_ENABLED: 'maybe' is not a boolean"),
        ({"tls_cert": "cert.pem"}, {}, "needs both tls_cert and tls_key"),
        ({"http_tls_key": "key.pem"}, {}, "needs both http_tls_cert and http_tls_key"),
        ({"tls_cert": "/nonexistent/c.pem", "tls_key": "/nonexistent/k.pem"}, {}, "not a readable file"),
        ({"colour": "red"}, {}, "unknown setting 'colour'"),
        ({}, {"CRSCAN_PUBLIC_ADDRESS": "scanner.example"}, "must be host:port"),
        ({"public_address": "https://scanner.example:443"}, {}, "must be host:port"),
    ],
)
def test_bad_settings_are_refused_naming_the_source(tmp_path, flags, environ, problem):
    with pytest.raises(ConfigError) as refused:
        Settings.resolve({"data_dir": tmp_path, **flags}, environ=environ)
    assert problem in str(refused.value)


def test_auth_is_only_off_when_explicitly_disabled(tmp_path, caplog):
    store = Store(f"sqlite:///{tmp_path / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    enabled = authenticator_for(Settings.resolve({"data_dir": tmp_path}, environ={}), store)
    assert isinstance(enabled, TokenAuthenticator)
    assert "AUTHENTICATION IS DISABLED" not in caplog.text
    disabled = authenticator_for(Settings.resolve({"data_dir": tmp_path, "auth_enabled": False}, environ={}), store)
    assert type(disabled) is AllowAll
    assert "AUTHENTICATION IS DISABLED" in caplog.text
    store.close()


def test_data_dir_defaults_to_the_user_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings.resolve({}, environ={}).data_dir == Path(tmp_path) / ".local/share/crscan"
