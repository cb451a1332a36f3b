"""`crscan rescan`: re-match stored inventories against the current feed DB, without pulling.

Queues one scan per image (a new ScanResult each); running `crscan serve` / `crscan worker` processes run them,
from the cached layer indexes when every one is cached, else by pulling the image again.
"""

from __future__ import annotations

from pathlib import Path

import typer

from crscan.config import ConfigError, Settings


def rescan(
    all_images: bool = typer.Option(False, "--all", help="Every image that was scanned successfully before."),
    image_id: list[str] = typer.Option(None, "--image-id", help="This image (repeat for more)."),
    config: Path = typer.Option(None, help="TOML config file (env CRSCAN_CONFIG)."),
    data_dir: Path = typer.Option(None, help="Data directory (env CRSCAN_DATA_DIR)."),
    database_url: str = typer.Option(None, help="The server's database (env CRSCAN_DATABASE_URL)."),
) -> None:
    """Queue re-matches of stored inventories (e.g. after `crscan db update`)."""
    if all_images == bool(image_id):
        typer.echo("crscan rescan: error: give exactly one of --all and --image-id", err=True)
        raise typer.Exit(2)
    from crscan.api.messages import OPERATION_CODEC
    from crscan.store import NotFound, Store, StoreError

    try:
        settings = Settings.resolve({"data_dir": data_dir, "database_url": database_url}, config_file=config)
        store = Store(settings.effective_database_url, OPERATION_CODEC)
        store.migrate()
    except (ConfigError, StoreError) as e:
        typer.echo(f"crscan rescan: error: {e}", err=True)
        raise typer.Exit(2) from None
    try:
        targets = store.inventories.image_ids() if all_images else list(image_id)
        queued = []
        for target in targets:
            try:
                queued.append(store.scans.enqueue(target, rematch=True))
            except NotFound:
                typer.echo(f"crscan rescan: error: image {target} not found", err=True)
                raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(f"queued {len(queued)} re-match scans")
    for operation in queued:
        typer.echo(f"{operation.resource_id}\t{operation.id}")
