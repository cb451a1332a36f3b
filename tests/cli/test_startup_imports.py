"""`crscan --help`, `crscan scan --help`, `crscan --version` and every verb's help start without the heavy
dependencies (gRPC, SQLAlchemy, cyclonedx, procrastinate, the yandexcloud protos, httpx, rich, pydantic, ...):
the verbs that need them import them. This keeps the start-up gain of bench/cli_startup.py from regressing
silently; the time itself is measured there, not here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Top-level packages that only the verbs doing real work may import.
HEAVY = frozenset({
    "alembic", "cyclonedx", "google", "grpc", "httpx", "packageurl", "procrastinate", "psycopg", "pydantic", "rich",
    "sqlalchemy", "starlette", "uvicorn", "yaml", "yandex", "yandexcloud",
})

# Runs `crscan ARGS` in this fresh interpreter, then prints the heavy packages it imported.
RUN_MAIN = """
import json, runpy, sys
heavy = set(json.loads(sys.argv[1]))
sys.argv = ["crscan", *sys.argv[2:]]
try:
    runpy.run_module("crscan.cli.main", run_name="__main__")
except SystemExit as done:
    assert done.code in (0, None), done.code
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""

# Builds the whole command tree and renders every command's help, in one interpreter.
EVERY_HELP = """
import json, sys
import typer
from crscan.cli.main import command, walk
heavy = set(json.loads(sys.argv[1]))
root = command()
for path, each in walk(root):
    with typer.Context(each, info_name=" ".join(path)) as context:
        assert each.get_help(context)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def heavy_imported(code: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, json.dumps(sorted(HEAVY)), *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("scan", "--help"), ("--version",)], ids=" ".join)
def test_start_up_imports_no_heavy_module(args):
    assert heavy_imported(RUN_MAIN, *args) == []


def test_every_help_text_imports_no_heavy_module():
    assert heavy_imported(EVERY_HELP) == []


def test_the_check_sees_a_heavy_import():
    """The probe itself works: run in place of the CLI, imports of heavy modules are reported."""
    code = RUN_MAIN.replace('runpy.run_module("crscan.cli.main", run_name="__main__")',
                            'import crscan.report.table, httpx')
    assert {"httpx", "rich"} <= set(heavy_imported(code))
