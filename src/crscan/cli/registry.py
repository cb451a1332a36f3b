"""`crscan registry add|list|sync|remove`: attach registries to the local store and mirror their images.

These verbs work on the database directly (like `crscan serve`, with the same `--data-dir`/`--database-url`),
so they run where the server's data lives. Passwords are read only from stdin, stored encrypted
(crscan.secrets) and never printed. Each registry's push-webhook secret is stored as a hash: `add` prints a
generated one once, and never again.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from crscan.cli.interface import CliError
from crscan.cli.startup import open_store, resolve_settings

app = typer.Typer(name="registry", help="Attach OCI registries and sync their repositories and images.",
                  no_args_is_help=True, rich_markup_mode=None)

DEFAULT_FOLDER = "default"  # the folder CLI-attached registries live in unless --folder-id says otherwise

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML config file (env CRSCAN_CONFIG).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Database and secret.key location (env CRSCAN_DATA_DIR).")
]
DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (env CRSCAN_DATABASE_URL).")
]
FolderOption = Annotated[str, typer.Option("--folder-id", help="Folder the registry belongs to.")]
NameArgument = Annotated[str, typer.Argument(help="Registry name, as given to `registry add`.")]
MIN_WEBHOOK_SECRET = 16


def _check_name(name: str) -> None:
    from crscan import ids

    try:
        ids.check_registry_name(name)
    except ids.InvalidName as exc:
        raise CliError(str(exc)) from None


class _Context:
    """Settings, migrated store and secret box for one command; failures raise `CliError` (one line, exit 2)."""

    def __init__(self, config: Path | None, data_dir: Path | None, database_url: str | None):
        from crscan.secrets import load_secret_box

        self.settings = resolve_settings({"data_dir": data_dir, "database_url": database_url}, config)
        self.box = load_secret_box(self.settings.secret_key, self.settings.data_dir)
        self.store = open_store(self.settings)

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
    auth_realm_host: Annotated[list[str] | None, typer.Option(
        "--auth-realm-host", help="HOST[:PORT] of the registry's token service, when not the registry's own host; "
        "it receives the credentials (https only). Repeatable.")] = None,
    webhook_secret: Annotated[str, typer.Option(
        "--webhook-secret", envvar="CRSCAN_REGISTRY_WEBHOOK_SECRET", show_envvar=False,
        help=f"The registry's push-webhook bearer secret (at least {MIN_WEBHOOK_SECRET} characters; prefer env "
             "CRSCAN_REGISTRY_WEBHOOK_SECRET). Default: one is generated and printed once.")] = "",
    folder_id: FolderOption = DEFAULT_FOLDER,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Attach a registry; then `crscan registry sync NAME` mirrors its images."""
    from crscan import ids
    from crscan.registry import RegistryClient
    from crscan.registry.auth import validate_realm_hosts
    from crscan.secrets import hash_secret
    from crscan.sync import parse_registry_url

    _check_name(name)
    ids.check_id(folder_id, "--folder-id")
    if webhook_secret and (len(webhook_secret) < MIN_WEBHOOK_SECRET or not webhook_secret.isprintable()
                           or " " in webhook_secret):
        raise CliError(f"--webhook-secret must be at least {MIN_WEBHOOK_SECRET} printable characters without spaces")
    generated = "" if webhook_secret else secrets.token_urlsafe(32)
    address = parse_registry_url(url, insecure)
    if password_stdin and not username:
        raise CliError("--password-stdin needs --username")
    password = ""
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: stdin was empty")
    ca_path = ""
    if ca_file is not None:
        if address.plain_http:
            raise CliError("--ca-file is for https:// registries; this one is plain http://")
        ca_path = str(ca_file.resolve())
        RegistryClient(address.host, ca_file=ca_path).close()  # fails early on a bad bundle, as a sync would
    realm_hosts = validate_realm_hosts(auth_realm_host or ())
    with _Context(config, data_dir, database_url) as context:
        row = context.store.registries.add(
            name, address.url, folder_id=folder_id, insecure=address.plain_http,
            username=username, encrypted_password=context.box.encrypt(password) if password else None,
            ca_file=ca_path, auth_realm_hosts=realm_hosts,
            webhook_secret_hash=hash_secret(webhook_secret or generated),
        )
    typer.echo(f"registry {row.name} added: id {row.id}, {row.url}" + (f", user {username}" if username else ""))
    if generated:
        typer.echo(f"webhook secret (shown once; send it as Authorization: Bearer): {generated}")


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
    name: NameArgument,
    folder_id: FolderOption = DEFAULT_FOLDER,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Walk the registry's catalog and tags; add, re-tag and remove repositories and images to match."""
    from crscan.policies import scan_on_push
    from crscan.sync import open_view, sync_registry

    with _Context(config, data_dir, database_url) as context:
        registry = context.store.registries.find_by_name(name, folder_id)
        view = open_view(registry, context.box)
        try:
            summary = sync_registry(context.store, registry, view)
        finally:
            view.close()
        queued = scan_on_push(context.store, summary.changed_image_ids)  # run by serve/worker processes
    for skipped in summary.skipped:
        typer.echo(f"skipped {skipped}", err=True)
    typer.echo(summary.line())
    if queued:
        typer.echo(f"queued {len(queued)} scans (scan policy push rule)")


@app.command()
def remove(
    name: NameArgument,
    folder_id: FolderOption = DEFAULT_FOLDER,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Detach a registry: delete it with its repositories, images, scan results and scan policy (running scans
    end ABORTED). The registry itself is not touched."""
    _check_name(name)
    with _Context(config, data_dir, database_url) as context:
        registry = context.store.registries.find_by_name(name, folder_id)
        removed = context.store.registries.remove(registry.id)
    typer.echo(f"registry {removed.name} removed with {removed.repositories} repositories and {removed.images} "
               f"images" + (f"; {removed.aborted_scans} running scans aborted" if removed.aborted_scans else ""))
