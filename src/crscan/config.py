"""Server settings: one frozen `Settings`, resolved from command-line flags > environment > config file > defaults.

Every source is reduced to the same `{field: raw value}` mapping before validation. The config file is TOML with
one top-level key per field, named like the flags (`http_port` ↔ `--http-port` ↔ `CRSCAN_HTTP_PORT`); see
`docs/config.example.toml`. Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_HTTP_PORT = 8080
DEFAULT_GRPC_PORT = 8443
CONFIG_VARIABLE = "CRSCAN_CONFIG"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
MAX_WORKER_CONCURRENCY = 256
DEFAULT_FEEDS_UPDATE_HOURS = 12  # as Harbor schedules Trivy's DB
MAX_FEEDS_UPDATE_HOURS = 24 * 366

# Environment variable → Settings field. Flags and config-file keys use the field names directly.
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
    "CRSCAN_FEED_DB": "feed_db",
    "CRSCAN_FEEDS_MIRROR": "feeds_mirror",
    "CRSCAN_FEEDS_UPDATE_HOURS": "feeds_update_hours",
    "CRSCAN_LOG_LEVEL": "log_level",
    "CRSCAN_LOG_FORMAT": "log_format",
    "CRSCAN_WORKER_CONCURRENCY": "worker_concurrency",
    "CRSCAN_METRICS_PORT": "metrics_port",
    "CRSCAN_SECRET_KEY": "secret_key",
    "CRSCAN_WEBHOOK_SECRET": "webhook_secret",
}

_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The one data dir every verb (serve, worker, scan, sbom, db, token, registry, rescan) defaults to:
    `$CRSCAN_DATA_DIR`, else `$XDG_DATA_HOME/crscan`, else `~/.local/share/crscan` (XDG's default data home)."""
    environ = os.environ if environ is None else environ
    if environ.get("CRSCAN_DATA_DIR", ""):
        return Path(environ["CRSCAN_DATA_DIR"]).expanduser()
    if environ.get("XDG_DATA_HOME", ""):
        return Path(environ["XDG_DATA_HOME"]).expanduser() / "crscan"
    home = Path(environ["HOME"]) if environ.get("HOME", "") else Path.home()
    return home / ".local" / "share" / "crscan"


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
    feed_db: Path | None = None  # none: <data_dir>/feeds.db, where `crscan db update` writes by default
    feeds_mirror: str = ""  # directory or URL laid out like upstream; empty: the feeds' upstream URLs
    # `crscan serve` builds a missing feed DB at start and refreshes it this often; 0: never, by hand only.
    feeds_update_hours: int = DEFAULT_FEEDS_UPDATE_HOURS
    log_level: str = "info"
    log_format: str = "text"  # "json": one JSON object per line, for log shippers
    worker_concurrency: int = 1  # scans run at once by this process's job workers
    # `crscan worker`'s /healthz and /metrics port (0 picks a free one); None: the worker serves no HTTP.
    # `crscan serve` has both on http_port and ignores this.
    metrics_port: int | None = None
    # Fernet key for registry passwords at rest; empty: generated once into <data_dir>/secret.key (crscan.secrets).
    secret_key: str = field(default="", repr=False)
    # fallback bearer secret of POST /hooks/distribution, for registries without their own; empty: none
    webhook_secret: str = field(default="", repr=False)

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, object],
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Flags (None = not given) override the environment, which overrides the config file, then defaults.

        The config file is `config_file`, else `$CRSCAN_CONFIG`, else none.
        """
        environ = os.environ if environ is None else environ
        if config_file is None and environ.get(CONFIG_VARIABLE, "") != "":
            config_file = Path(environ[CONFIG_VARIABLE])
        raw: dict[str, tuple[object, str]] = {}
        if config_file is not None:
            raw.update(read_config_file(config_file))
        for variable, name in ENVIRONMENT.items():
            if environ.get(variable, "") != "":
                raw[name] = (environ[variable], f"environment variable {variable}")
        for name, value in flags.items():
            if name not in _FIELD_TYPES:
                raise ConfigError(f"unknown setting {name!r}")
            if value is not None:
                raw[name] = (value, f"option --{name.replace('_', '-')}")
        values = {name: _convert(name, value, source) for name, (value, source) in raw.items()}
        values.setdefault("data_dir", default_data_dir(environ))
        settings = cls(**values)  # type: ignore[arg-type]  # _convert gives each field its declared type
        settings._check()
        return settings

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'crscan.db'}"

    @property
    def effective_feed_db(self) -> Path:
        return self.feed_db or self.data_dir / "feeds.db"

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


def read_config_file(path: Path) -> dict[str, tuple[object, str]]:
    """The file's `{field: (value, source)}`; unknown keys, tables and wrongly typed values are refused by name."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    raw: dict[str, tuple[object, str]] = {}
    for key, value in document.items():
        source = f"config file {path}: key {key!r}"
        kind = _FIELD_TYPES.get(key)
        if kind is None:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        expected, described = _TOML_TYPES.get(kind, (str, "string"))
        if type(value) is not expected:  # bool is an int subclass; `http_port = true` is a mistake, not 1
            raise ConfigError(f"{source} must be a TOML {described}, got {type(value).__name__}")
        if kind == "path":
            value = path.parent / Path(str(value)).expanduser()  # a str: its type was checked above
        raw[key] = (value, source)
    return raw


def configure_logging(level: str, log_format: str) -> None:
    """The process's root logging: plain lines, or one JSON object per line with `log_format="json"`."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if level != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # plugin chatter on every start


EVENT_FIELDS = "crscan_event"  # the LogRecord attribute `log_event` sets


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, /, **fields: object) -> None:
    """One line about a lifecycle event: `event key=value …` as text; in JSON, `event` and each field are keys
    of the object, so log pipelines filter on them without parsing the message."""
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    logger.log(level, f"{event} {text}".rstrip(), extra={EVENT_FIELDS: {"event": event, **fields}})


class JsonLogFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"[, "exception"]}` per record, UTC ISO 8601 time, plus the event
    and fields of a `log_event` record."""

    # A builtin function is not bound as a method, so this takes the timestamp as Formatter expects;
    # mypy assumes it binds.
    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, EVENT_FIELDS, None)
        if isinstance(event, dict):
            entry.update({key: value for key, value in event.items() if key not in entry})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _convert(name: str, value: object, source: str) -> object:
    kind = _FIELD_TYPES[name]
    if kind == "port":
        port = _integer(value, source, "a port number")
        if not 0 <= port <= 65535:
            raise ConfigError(f"{source}: port {port} is outside 0-65535")
        return port
    if kind == "count":
        count = _integer(value, source, "a whole number")
        if not 1 <= count <= MAX_WORKER_CONCURRENCY:
            raise ConfigError(f"{source}: {count} is outside 1-{MAX_WORKER_CONCURRENCY}")
        return count
    if kind == "hours":
        hours = _integer(value, source, "a whole number of hours")
        if not 0 <= hours <= MAX_FEEDS_UPDATE_HOURS:
            raise ConfigError(f"{source}: {hours} is outside 0-{MAX_FEEDS_UPDATE_HOURS} hours")
        return hours
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ConfigError(f"{source}: {value!r} is not a boolean (use true or false)")
    if kind == "path":
        return Path(str(value)).expanduser()
    if name in _CHOICES:
        text = str(value).strip().lower()
        if text not in _CHOICES[name]:
            raise ConfigError(f"{source}: {value!r} is not one of {', '.join(_CHOICES[name])}")
        return text
    return str(value)


def _integer(value: object, source: str, what: str) -> int:
    try:
        number: int = int(value)  # type: ignore[call-overload]  # any object: int() decides what it accepts
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {value!r} is not {what}") from None
    return number


_TOML_TYPES = {
    "port": (int, "integer"), "count": (int, "integer"), "hours": (int, "integer"), "bool": (bool, "boolean"),
}
_CHOICES = {"log_level": LOG_LEVELS, "log_format": LOG_FORMATS}


def _field_kind(name: str, annotation: str) -> str:
    if annotation in ("int", "int | None"):
        if name.endswith("_hours"):
            return "hours"
        return "port" if name.endswith("_port") else "count"
    if annotation == "bool":
        return "bool"
    if "Path" in annotation:
        return "path"
    return "str"


_FIELD_TYPES = {f.name: _field_kind(f.name, str(f.type)) for f in fields(Settings)}
