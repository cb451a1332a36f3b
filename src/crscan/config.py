"""Server settings: one frozen `Settings`, resolved from command-line flags > environment > defaults.

Every source is reduced to the same `{field: raw value}` mapping before validation, so a TOML config file (a
later issue) slots in as one more layer between the environment and the defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.local/share/crscan")
DEFAULT_HTTP_PORT = 8080
DEFAULT_GRPC_PORT = 8443

# Environment variable → Settings field. Flags use the field names directly.
ENVIRONMENT = {
    "CRSCAN_DATA_DIR": "data_dir",
    "CRSCAN_HOST": "host",
    "CRSCAN_HTTP_PORT": "http_port",
    "CRSCAN_GRPC_PORT": "grpc_port",
    "CRSCAN_DATABASE_URL": "database_url",
    "CRSCAN_PUBLIC_ADDRESS": "public_address",
    "CRSCAN_AUTH_ENABLED": "auth_enabled",
    "CRSCAN_TLS_CERT": "tls_cert",
    "CRSCAN_TLS_KEY": "tls_key",
    "CRSCAN_HTTP_TLS_CERT": "http_tls_cert",
    "CRSCAN_HTTP_TLS_KEY": "http_tls_key",
}

_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing, malformed or inconsistent; the message names the setting and where it came from."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT  # 0 picks a free port
    grpc_port: int = DEFAULT_GRPC_PORT
    database_url: str = ""  # empty: SQLite file <data_dir>/crscan.db
    # The host:port clients reach the gRPC server at; ApiEndpointService answers it. Empty: derived from host/port.
    public_address: str = ""
    auth_enabled: bool = True  # only an explicit setting (`--no-auth`, CRSCAN_AUTH_ENABLED=false) turns it off
    tls_cert: Path | None = None  # gRPC server certificate chain (PEM); none: a self-signed one in data_dir
    tls_key: Path | None = None
    http_tls_cert: Path | None = None  # REST is plain HTTP unless both are set
    http_tls_key: Path | None = None

    @classmethod
    def resolve(cls, flags: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
        """Flags (None = not given) override the environment, which overrides the defaults."""
        environ = os.environ if environ is None else environ
        raw: dict[str, tuple[object, str]] = {}
        for variable, name in ENVIRONMENT.items():
            if environ.get(variable, "") != "":
                raw[name] = (environ[variable], f"environment variable {variable}")
        for name, value in flags.items():
            if name not in _FIELD_TYPES:
                raise ConfigError(f"unknown setting {name!r}")
            if value is not None:
                raw[name] = (value, f"option --{name.replace('_', '-')}")
        values = {name: _convert(name, value, source) for name, (value, source) in raw.items()}
        values.setdefault("data_dir", DEFAULT_DATA_DIR.expanduser())
        settings = cls(**values)
        settings._check()
        return settings

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'crscan.db'}"

    @property
    def http_tls(self) -> bool:
        return self.http_tls_cert is not None

    def _check(self) -> None:
        if self.public_address and not _HOST_PORT.fullmatch(self.public_address):
            raise ConfigError(f"public_address {self.public_address!r} must be host:port, e.g. scanner.example:443")
        for cert, key, what in (
            ("tls_cert", "tls_key", "gRPC"),
            ("http_tls_cert", "http_tls_key", "REST"),
        ):
            if (getattr(self, cert) is None) != (getattr(self, key) is None):
                raise ConfigError(f"{what} TLS needs both {cert} and {key}; only one was given")
            for name in (cert, key):
                path = getattr(self, name)
                if path is not None and not path.is_file():
                    raise ConfigError(f"{name}: {path} is not a readable file")


def _convert(name: str, value: object, source: str) -> object:
    kind = _FIELD_TYPES[name]
    if kind == "int":
        try:
            port = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {value!r} is not a port number") from None
        if not 0 <= port <= 65535:
            raise ConfigError(f"{source}: port {port} is outside 0-65535")
        return port
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(f"{source}: {value!r} is not a boolean (use true or false)")
    if kind == "path":
        return Path(str(value)).expanduser()
    return str(value)


def _field_kind(annotation: str) -> str:
    if annotation == "int":
        return "int"
    if annotation == "bool":
        return "bool"
    if "Path" in annotation:
        return "path"
    return "str"


_FIELD_TYPES = {f.name: _field_kind(str(f.type)) for f in fields(Settings)}
