"""The `crscan` command: one typer app; each verb group lives in its own module and is registered here.

Every failure of every verb leaves through `main`: one line `crscan <verb>: error: <message>` on stderr and exit
status 2 (`--debug` adds the traceback). 0 is success and `scan --exit-code N` the findings code, so 1 is unused.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer

try:  # newer typer ships its own copy of click's exceptions; older ones use click itself
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]  # the same classes

import crscan
from crscan.cli import client as client_cli
from crscan.cli import db as db_cli
from crscan.cli import policy as policy_cli
from crscan.cli import registry as registry_cli
from crscan.cli import rescan as rescan_cli
from crscan.cli import scan as scan_cli
from crscan.cli import serve as serve_cli
from crscan.cli import token as token_cli
from crscan.cli import worker as worker_cli
from crscan.cli.interface import CliError

ERROR_EXIT = 2
INTERRUPTED_EXIT = 130  # the shell's code for SIGINT

app = typer.Typer(
    name="crscan",
    help="Self-hosted container image vulnerability scanner with the Yandex Cloud Container Registry scanner API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts are plain: `[/variant]` in them is not markup
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every sub-command
)


@app.callback()
def _root() -> None:
    """crscan: scan images, serve the scanner API, manage feeds and registries."""


app.add_typer(db_cli.app, name="db")
app.add_typer(token_cli.app, name="token")
app.add_typer(client_cli.app, name="image")
app.add_typer(registry_cli.app, name="registry")
app.add_typer(policy_cli.app, name="policy")
app.command("serve")(serve_cli.serve)
app.command("worker")(worker_cli.worker)
app.command("rescan")(rescan_cli.rescan)
app.command("scan")(scan_cli.scan)
app.command("sbom")(scan_cli.sbom)


def walk(command: Any, path: tuple[str, ...] = ("crscan",)) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (click) command of the tree with its path, the root first."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def _print_version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        typer.echo(f"crscan {crscan.__version__}")
        raise typer.Exit()


def _common_options(
    version: Annotated[bool, typer.Option("--version", is_eager=True, expose_value=False, callback=_print_version,
                                          help="Print crscan's version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", expose_value=False,
                                        help="On an error, print the traceback too.")] = False,
) -> None:
    """Declares the options every command takes; `main` reads --debug from the arguments, as it must after a failure."""


def command() -> Any:
    """The click command tree, with `--version` and `--debug` on every command (new verbs get them too)."""
    common = typer.Typer(add_completion=False)
    common.command()(_common_options)
    options = typer.main.get_command(common).params
    root = typer.main.get_command(app)
    help_names = root.context_settings["help_option_names"]
    for _path, each in walk(root):
        each.params.extend(options)
        # typer's help option defaults to None, and coercing that None imports pydantic (a third of the start-up)
        # whenever the option is not given, as the parent's on `crscan scan --help`: default it to False.
        help_option = each.get_help_option(typer.Context(each, help_option_names=help_names))
        if help_option is not None:
            help_option.default = False
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    root = command()
    try:
        code = root.main(args, prog_name="crscan", standalone_mode=False)
    except UsageError as error:  # bad flag, missing argument, unknown verb
        if type(error).__name__ == "NoArgsIsHelpError":  # `crscan`, `crscan db`: the help, as click prints it
            error.show()
            sys.exit(ERROR_EXIT)
        _exit_with_error(args, root, error, error.format_message(), debug=False)
    except ClickException as error:
        _exit_with_error(args, root, error, error.format_message(), debug=False)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(INTERRUPTED_EXIT)
    except Exception as error:  # every verb's failures, expected or not
        _exit_with_error(args, root, error, describe(error), debug=_debug(args))
    sys.exit(code if isinstance(code, int) else 0)


def describe(error: BaseException) -> str:
    """One line for the user: crscan's own errors carry their message, others are named by type."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(error, CliError) or type(error).__module__.startswith("crscan."):
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _exit_with_error(args: list[str], root: Any, error: BaseException, message: str, *, debug: bool) -> None:
    if debug:
        traceback.print_exception(error)
    line = " ".join(part.strip() for part in message.splitlines() if part.strip()) or type(error).__name__
    typer.echo(f"{_verb(args, root)}: error: {line}", err=True)
    sys.exit(ERROR_EXIT)


def _verb(args: list[str], root: Any) -> str:
    """`crscan <verb>` as the user typed it: the first argument that is not an option, when it names a command."""
    verb = next((arg for arg in args if not arg.startswith("-")), "")
    return f"crscan {verb}" if verb in getattr(root, "commands", {}) else "crscan"


def _debug(args: list[str]) -> bool:
    return "--debug" in (args[: args.index("--")] if "--" in args else args)


if __name__ == "__main__":
    main()
