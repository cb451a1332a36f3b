"""The `crscan` command: one typer app; each verb group lives in its own module and is registered here."""

from __future__ import annotations

import typer

from crscan.cli import client as client_cli
from crscan.cli import db as db_cli
from crscan.cli import registry as registry_cli
from crscan.cli import scan as scan_cli
from crscan.cli import rescan as rescan_cli
from crscan.cli import serve as serve_cli
from crscan.cli import worker as worker_cli
from crscan.cli import token as token_cli

app = typer.Typer(
    name="crscan",
    help="Self-hosted container image vulnerability scanner with the Yandex Cloud Container Registry scanner API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """crscan: scan images, serve the scanner API, manage feeds and registries."""


app.add_typer(db_cli.app, name="db")
app.add_typer(token_cli.app, name="token")
app.add_typer(client_cli.app, name="image")
app.add_typer(registry_cli.app, name="registry")
app.command("serve")(serve_cli.serve)
app.command("worker")(worker_cli.worker)
app.command("rescan")(rescan_cli.rescan)
app.command("scan")(scan_cli.scan)
app.command("sbom")(scan_cli.sbom)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
