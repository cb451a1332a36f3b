"""`crscan token create|list|revoke`: API tokens for the server's bearer auth (docs/auth.md).

Like `crscan serve`, these work on the database directly (same `--data-dir`/`--database-url`), so only someone
with access to the server's data can mint a token. `create` prints the secret once, on stdout, and nothing else
there, so `TOKEN=$(crscan token create …)` captures exactly the token.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer

from crscan.cli.startup import open_store, resolve_settings

if TYPE_CHECKING:
    from crscan.auth import TokenRecord

app = typer.Typer(name="token", help="Create, list and revoke API tokens (roles viewer, editor, admin).",
                  no_args_is_help=True, rich_markup_mode=None)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML config file (env CRSCAN_CONFIG).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database lives (env CRSCAN_DATA_DIR).")
]
DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (env CRSCAN_DATABASE_URL).")
]


class _Tokens:
    """The token service on the configured store, for one command; failures raise `CliError` (one line, exit 2)."""

    def __init__(self, config: Path | None, data_dir: Path | None, database_url: str | None):
        from crscan.auth import SqlTokenRepository, TokenService

        settings = resolve_settings({"data_dir": data_dir, "database_url": database_url}, config)
        self.store = open_store(settings, create_data_dir=True)
        self.service = TokenService(SqlTokenRepository(self.store))

    def __enter__(self) -> _Tokens:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.close()


class _Row(TypedDict):
    """A token as `token list` shows it (and as its --json output holds it)."""

    id: str
    role: str
    registries: list[str] | str  # "all" when the token is not scoped
    state: str
    created_at: str
    expires_at: str
    description: str


def _row(record: TokenRecord, now: dt.datetime) -> _Row:
    return {
        "id": record.id,
        "role": record.role.label,
        "registries": sorted(record.registries) if record.registries is not None else "all",
        "state": record.state(now),
        "created_at": f"{record.created_at:%Y-%m-%dT%H:%M:%SZ}",
        "expires_at": f"{record.expires_at:%Y-%m-%dT%H:%M:%SZ}" if record.expires_at else "never",
        "description": record.description,
    }


@app.command()
def create(
    role: Annotated[str, typer.Option("--role", help="viewer, editor or admin.")],
    registry: Annotated[
        list[str] | None, typer.Option("--registry", help="Limit the token to this registry id (repeatable).")
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime like 30d, 12h, 90m, 2w; default: no expiry.")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="What the token is for.")] = "",
    key: Annotated[bool, typer.Option(
        "--key", help="Print a service-account key (JSON for the SDK's service_account_key=) instead of a secret."
    )] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a token and print its secret once (stdout); only its SHA-256 is stored. With --key, print its
    service-account key instead (the public half is stored): JWTs signed with it are exchanged for IAM tokens."""
    from crscan.auth import Role, parse_duration

    parsed_role = Role.parse(role)
    lifetime = parse_duration(expires_in) if expires_in is not None else None
    scope_of = registry or None
    with _Tokens(config, data_dir, database_url) as tokens:
        if key:
            keyed = tokens.service.create_with_key(parsed_role, registries=scope_of, expires_in=lifetime,
                                                   description=description)
            _describe(keyed.record)
            typer.echo(f"its key {keyed.key.id} is printed only this once, on stdout (the private key is not stored); "
                       "use it as yandexcloud.SDK(service_account_key=json.load(…)), see docs/auth.md", err=True)
            typer.echo(json.dumps(keyed.sdk_json(), indent=2))
            return
        issued = tokens.service.create(parsed_role, registries=scope_of, expires_in=lifetime, description=description)
    _describe(issued.record)
    typer.echo("the secret is printed only this once, on stdout; store it safely", err=True)
    typer.echo(issued.secret)


def _describe(record: TokenRecord) -> None:
    scope = ", ".join(sorted(record.registries)) if record.registries is not None else "every registry"
    expiry = f"expires {record.expires_at:%Y-%m-%d %H:%M:%S} UTC" if record.expires_at else "never expires"
    typer.echo(f"created token {record.id}: role {record.role.label}, {scope}, {expiry}", err=True)


@app.command("list")
def list_tokens(
    output_json: Annotated[bool, typer.Option("--json", help="One JSON array instead of a table.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """List tokens (ids, roles, scopes, states); secrets are never shown, they are not stored."""
    from crscan.auth.tokens import utcnow

    with _Tokens(config, data_dir, database_url) as tokens:
        records = tokens.service.list()
    now = utcnow()
    rows = [_row(r, now) for r in records]
    if output_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'id':<20}  {'role':<6}  {'state':<7}  {'expires':<20}  {'registries':<24}  description")
    for row in rows:
        registries = row["registries"] if isinstance(row["registries"], str) else ",".join(row["registries"])
        typer.echo(f"{row['id']:<20}  {row['role']:<6}  {row['state']:<7}  {row['expires_at']:<20}  "
                   f"{registries:<24}  {row['description']}")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (crk…), as `crscan token list` shows it.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a token: requests with it are refused from now on. The record stays for the audit trail."""
    with _Tokens(config, data_dir, database_url) as tokens:
        record = tokens.service.revoke(token_id)
    typer.echo(f"revoked token {record.id} ({record.role.label})")
