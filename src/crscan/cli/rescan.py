"""`crscan rescan`: re-match stored inventories against the current feed DB, without pulling.

Queues one scan per image (a new ScanResult each); running `crscan serve` / `crscan worker` processes run them,
from the cached layer indexes when every one is cached, else by pulling the image again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crscan.cli.interface import CliError
from crscan.cli.startup import open_store, resolve_settings

if TYPE_CHECKING:
    from crscan.store.schema import Operation


def rescan(
    all_images: bool = typer.Option(False, "--all", help="Every image that was scanned successfully before."),
    image_id: list[str] = typer.Option(None, "--image-id", help="This image (repeat for more)."),
    config: Path = typer.Option(None, help="TOML config file (env CRSCAN_CONFIG)."),
    data_dir: Path = typer.Option(None, help="Data directory (env CRSCAN_DATA_DIR)."),
    database_url: str = typer.Option(None, help="The server's database (env CRSCAN_DATABASE_URL)."),
) -> None:
    """Queue re-matches of stored inventories (e.g. after `crscan db update`)."""
    if all_images == bool(image_id):
        raise CliError("give exactly one of --all and --image-id")
    from crscan.store import NotFound

    store = open_store(resolve_settings({"data_dir": data_dir, "database_url": database_url}, config))
    try:
        targets = store.inventories.image_ids() if all_images else list(image_id)
        queued: list[tuple[str, Operation]] = []
        joined: list[tuple[str, Operation]] = []
        for target in targets:
            try:
                operation, started = store.scans.enqueue_or_join(target, rematch=True)
            except NotFound:
                raise CliError(f"image {target} not found") from None
            (queued if started else joined).append((target, operation))
    finally:
        store.close()
    typer.echo(f"queued {len(queued)} re-match scans")
    if queued:
        typer.echo("SCAN RESULT ID\tOPERATION ID")
    for _, operation in queued:
        typer.echo(f"{operation.resource_id}\t{operation.id}")
    for target, operation in joined:
        typer.echo(
            f"image {target} already has a running scan {operation.resource_id} (operation {operation.id}); "
            "not queued again"
        )
