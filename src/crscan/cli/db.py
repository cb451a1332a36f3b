"""`crscan db`: build and inspect the local feed DB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crscan.cli.interface import CliError

app = typer.Typer(name="db", help="Vulnerability feed DB: update it from feeds, show what it holds.",
                  no_args_is_help=True, rich_markup_mode=None)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Feed DB file [default: $CRSCAN_DATA_DIR/feeds.db].", dir_okay=False)
]


@app.command()
def update(
    mirror: Annotated[
        str | None, typer.Option("--mirror", help="Feeds mirror: a directory or a base URL laid out like upstream [default: $CRSCAN_FEEDS_MIRROR, else upstream].")
    ] = None,
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-parse every source even if unchanged.")] = False,
) -> None:
    """Fetch the feeds (upstream, or --mirror) and atomically replace the feed DB.

    Upstream, NVD comes from its CVE API 2.0, incrementally after the first build; CRSCAN_NVD_API_KEY (optional)
    raises NVD's rate limit from 5 to 50 requests per 30 s.
    """
    from crscan.vulndb import default_db_path, update as update_db  # the feed parsers: only this verb needs them
    from crscan.vulndb.paths import feeds_mirror

    mirror = feeds_mirror() if mirror is None else mirror  # the same mirror rule as `serve` and `scan`

    path = db or default_db_path()
    try:
        report = update_db(path, mirror or None, force=force)
    except OSError as exc:
        raise CliError(f"cannot write the feed DB {path}: {exc.strerror or exc}") from exc
    state = "built" if report.rebuilt else "unchanged, kept"
    rows = sum(s.rows for s in report.sources)
    typer.echo(f"{report.path}: {state} build {report.build_id}: {len(report.sources)} sources, {rows} rows"
               f" ({len(report.reused)} unchanged, {len(report.missing)} not on the mirror)")


@app.command()
def status(db: DbOption = None) -> None:
    """Show the feed DB's schema version, build id, and per-source counts and fetch times."""
    from crscan.vulndb import FeedDB, default_db_path

    path = db or default_db_path()
    with FeedDB.open(path) as feeds:
        typer.echo(f"path: {path}")
        typer.echo(f"schema version: {feeds.schema_version}")
        typer.echo(f"build id: {feeds.build_id}")
        typer.echo(f"built at: {feeds.built_at}")
        typer.echo(f"{'source':<32} {'records':>8} {'skipped':>8} {'rows':>8}  fetched at            fingerprint")
        for s in feeds.sources:
            typer.echo(f"{s.name:<32} {s.records:>8} {s.skipped:>8} {s.rows:>8}  {s.fetched_at}  "
                       f"{s.fingerprint[:19]}")
