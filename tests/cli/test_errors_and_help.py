"""Every verb through the real `crscan` script: `--help`/`-h`/`--version` work, and every failure is one stderr line
`crscan <verb>: error: …` with exit status 2 (no traceback unless --debug)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crscan.cli.main import command, walk

CRSCAN = Path(sys.executable).with_name("crscan")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
COMMANDS = [path[1:] for path, _ in walk(command())]


def run(*args: str, tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**ENV, "CRSCAN_DATA_DIR": str(tmp_path / "data"), "CRSCAN_PROFILE": str(tmp_path / "profile.toml")}
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, timeout=120, env=env, input=stdin)


def assert_one_error_line(done: subprocess.CompletedProcess, verb: str, *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"crscan {verb}: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.smoke
def test_the_tree_has_every_verb():
    assert {path[0] for path in COMMANDS if path} >= {"scan", "sbom", "db", "image", "registry", "token", "rescan",
                                                       "serve", "worker"}


@pytest.mark.smoke
@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "crscan")
def test_help_and_version_of_every_command(path, tmp_path):
    for flag in ("--help", "-h"):
        done = run(*path, flag, tmp_path=tmp_path)
        assert done.returncode == 0 and done.stderr == "", (flag, done.stderr)
        assert done.stdout.startswith(f"Usage: crscan {' '.join(path)}".rstrip()), done.stdout
    version = run(*path, "--version", tmp_path=tmp_path)
    assert (version.returncode, version.stdout, version.stderr) == (0, "crscan 0.1.0\n", "")


def not_sqlite(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database\n" * 400)
    return path


def test_scan_with_a_corrupt_feed_db(tmp_path):
    feeds = tmp_path / "feeds.db"
    with sqlite3.connect(feeds) as db:  # a real SQLite file whose pages are then overwritten
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [("x" * 500,)] * 200)
    data = bytearray(feeds.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)
    feeds.write_bytes(bytes(data))
    done = run("scan", "--db", str(feeds), "docker-archive:/nonexistent.tar", tmp_path=tmp_path)
    assert_one_error_line(done, "scan", str(feeds))
    garbage = run("scan", "--db", str(not_sqlite(tmp_path / "g.db")), "x:y", tmp_path=tmp_path)
    assert_one_error_line(garbage, "scan", str(tmp_path / "g.db"), "not a crscan feed DB")


@pytest.mark.parametrize("args", [
    ("token", "list"), ("token", "create", "--role", "admin"), ("registry", "list"), ("rescan", "--all"),
    ("worker",), ("serve", "--no-auth", "--http-port", "0", "--grpc-port", "0"),
])
def test_a_store_that_is_not_sqlite(args, tmp_path):
    store = not_sqlite(tmp_path / "data" / "crscan.db")
    done = run(*args, tmp_path=tmp_path)
    assert_one_error_line(done, args[0], f"cannot open the database {store}", "not a database")


@pytest.mark.parametrize("args", [("token", "list"), ("registry", "list"), ("rescan", "--all"), ("worker",),
                                  ("serve", "--no-auth")])
def test_an_unreadable_config(args, tmp_path):
    config = tmp_path / "crscan.toml"
    config.write_text("log_level = 'info'\n")
    config.chmod(0)
    if os.access(config, os.R_OK):
        config.write_bytes(b"\xff\xfe not toml = [\n")  # root reads anything: a config that does not parse
    done = run(*args, "--config", str(config), tmp_path=tmp_path)
    assert_one_error_line(done, args[0], str(config))


@pytest.mark.parametrize("args, needle", [
    (("scan", "--no-such-flag", "x"), "--no-such-flag"),
    (("scan",), "IMAGE"),
    (("sbom", "--platform"), "--platform"),
    (("db", "status", "--db"), "--db"),
    (("image", "list", "--limit", "zero"), "--limit"),
    (("registry", "add"), "NAME"),
    (("token", "create"), "--role"),
    (("token", "create", "--role", "king"), "king"),
    (("rescan",), "--all"),
    (("rescan", "--image-id"), "--image-id"),
    (("serve", "--http-port", "eighty"), "--http-port"),
    (("worker", "--concurrency", "many"), "--concurrency"),
    (("nosuchverb",), "nosuchverb"),
])
def test_bad_flags(args, needle, tmp_path):
    done = run(*args, tmp_path=tmp_path)
    verb = args[0] if args[0] != "nosuchverb" else ""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"crscan{' ' + verb if verb else ''}: error: "), done.stderr
    assert needle.lower() in lines[0].lower(), lines[0]


@pytest.mark.parametrize("args, verb, needle", [
    (("db", "status", "--db", "{tmp}/missing.db"), "db", "missing.db"),
    (("image", "list", "--folder-id", "f"), "image", "no server endpoint"),
    (("image", "list", "--folder-id", "f", "--endpoint", "http://127.0.0.1:9"), "image", "127.0.0.1:9"),
    (("registry", "add", "reg", "http://user:pw@127.0.0.1:5000"), "registry", "credentials"),
    (("token", "revoke", "crknosuch"), "token", "not a token id"),
    (("rescan", "--image-id", "crpnosuch"), "rescan", "crpnosuch"),
    (("scan", "--format", "xml", "x:y"), "scan", "xml"),
    (("sbom", "docker-archive:{tmp}/missing.tar"), "sbom", "missing.tar"),
])
def test_runtime_errors(args, verb, needle, tmp_path):
    (tmp_path / "data").mkdir()
    done = run(*(arg.format(tmp=tmp_path) for arg in args), tmp_path=tmp_path)
    assert_one_error_line(done, verb, needle)


def test_debug_shows_the_traceback(tmp_path):
    not_sqlite(tmp_path / "data" / "crscan.db")
    done = run("token", "list", "--debug", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("crscan token: error: cannot open the database")
    quiet = run("token", "list", tmp_path=tmp_path)
    assert "Traceback" not in quiet.stderr
