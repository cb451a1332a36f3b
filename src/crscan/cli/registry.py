"""`crscan registry add|list|sync`: attach registries to the local store and mirror their images.

These verbs work on the database directly (like `crscan serve`, with the same `--data-dir`/`--database-url`),
so they run where the server's data lives. Passwords are read only from stdin, stored encrypted
(crscan.secrets) and never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crscan.config import ConfigError, Settings

app = typer.Typer(name="registry", help="Attach OCI registries and sync their repositories and images.",
                  no_args_is_help=True)

DEFAULT_FOLDER = "default"  # the folder CLI-attached registries live in unless --folder-id says otherwise

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML config file (env CRSCAN_CONFIG).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Database and secret.key location (env CRSCAN_DATA_DIR).")
]
DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (env CRSCAN_DATABASE_URL).")
]
FolderOption = Annotated[str, typer.Option("--folder-id", help="Folder the registry belongs to.")]


class _Context:
    """Settings, store and secret box opened for one command; errors become one line and exit status."""

    def __init__(self, config: Path | None, data_dir: Path | None, database_url: str | None):
        from crscan.secrets import SecretError, load_secret_box
        from crscan.api.messages import OPERATION_CODEC
        from crscan.store import Store, StoreError

        try:
            self.settings = Settings.resolve({"data_dir": data_dir, "database_url": database_url}, config_file=config)
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
        try:
            self.box = load_secret_box(self.settings.secret_key, self.settings.data_dir)
            self.store = Store(self.settings.effective_database_url, OPERATION_CODEC)
            self.store.migrate()
        except (SecretError, StoreError) as exc:
            raise _fail(str(exc)) from None
        except Exception as exc:  # the database is unreachable (SQLAlchemy's OperationalError, OSError, …)
            raise _fail(f"cannot open the database: {_first_line(exc)}") from None

    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.close()


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Registry name, unique in its folder.")],
    url: Annotated[str, typer.Argument(help="registry.example.com, https://host:5000 or http://127.0.0.1:5000.")],
    username: Annotated[str, typer.Option("--username", help="User for Basic or token auth.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow plain http:// to a non-loopback host.")] = False,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="PEM CA bundle for the registry's TLS certificate.")
    ] = None,
    folder_id: FolderOption = DEFAULT_FOLDER,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Attach a registry; then `crscan registry sync NAME` mirrors its images."""
    from crscan import ids
    from crscan.registry import RegistryClient, RegistryError
    from crscan.store import StoreError
    from crscan.sync import SyncError, parse_registry_url

    if not 1 <= len(name) <= 63 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise _fail(f"registry name {name!r} must be 1-63 letters, digits, '-', '_' or '.'")
    try:
        ids.check_id(folder_id, "--folder-id")
    except ids.InvalidId as exc:
        raise _fail(str(exc)) from None
    try:
        address = parse_registry_url(url, insecure)
    except SyncError as exc:
        raise _fail(str(exc)) from None
    if password_stdin and not username:
        raise _fail("--password-stdin needs --username")
    password = ""
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            raise _fail("--password-stdin: stdin was empty")
    ca_path = ""
    if ca_file is not None:
        if address.plain_http:
            raise _fail("--ca-file is for https:// registries; this one is plain http://")
        ca_path = str(ca_file.resolve())
        try:  # fails early on an unreadable or malformed bundle, the way a sync would
            RegistryClient(address.host, ca_file=ca_path).close()
        except RegistryError as exc:
            raise _fail(str(exc)) from None
    with _Context(config, data_dir, database_url) as context:
        try:
            row = context.store.registries.add(
                name, address.url, folder_id=folder_id, insecure=address.plain_http,
                username=username, encrypted_password=context.box.encrypt(password) if password else None,
                ca_file=ca_path,
            )
        except StoreError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"registry {row.name} added: id {row.id}, {row.url}" + (f", user {username}" if username else ""))


@app.command("list")
def list_(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Attached registries (credentials show only as stored or not)."""

    with _Context(config, data_dir, database_url) as context:
        rows = context.store.registries.all()
    columns = ("ID", "FOLDER", "NAME", "URL", "USER", "PASSWORD", "CA FILE")
    table = [columns] + [
        (r.id, r.folder_id, r.name, r.url, r.username or "-", "stored" if r.encrypted_password else "-",
         r.ca_file or "-")
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


@app.command()
def sync(
    name: Annotated[str, typer.Argument(help="Registry name, as given to `registry add`.")],
    folder_id: FolderOption = DEFAULT_FOLDER,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Walk the registry's catalog and tags; add, re-tag and remove repositories and images to match."""
    from sqlalchemy.exc import SQLAlchemyError

    from crscan.secrets import SecretError
    from crscan.store import NotFound, StoreError
    from crscan.policies import scan_on_push
    from crscan.sync import SyncError, open_view, sync_registry

    with _Context(config, data_dir, database_url) as context:
        try:
            registry = context.store.registries.find_by_name(name, folder_id)
            view = open_view(registry, context.box)
            try:
                summary = sync_registry(context.store, registry, view)
            finally:
                view.close()
            queued = scan_on_push(context.store, summary.changed_image_ids)  # run by serve/worker processes
        except (NotFound, SyncError, SecretError, StoreError) as exc:
            raise _fail(str(exc)) from None
        except SQLAlchemyError as exc:
            raise _fail(f"database error: {_first_line(exc)}") from None
    for skipped in summary.skipped:
        typer.echo(f"skipped {skipped}", err=True)
    typer.echo(summary.line())
    if queued:
        typer.echo(f"queued {len(queued)} scans (scan policy push rule)")


def _fail(message: str, status: int = 1) -> typer.Exit:
    typer.echo(f"crscan registry: error: {message}", err=True)
    return typer.Exit(status)


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
