"""The README is a script that works: its Quick start is the two commands CI and a server need, and the fenced
blocks of its tour run verbatim, in order, in one bash (as a reader pastes them into one terminal), in a fresh checkout-like directory with a fresh HOME; a `python`
block runs as `python -` (the venv's, as the README says) with that shell's environment.

What differs from a reader's fresh machine, all through the environment, never by editing a command:
- `bash scripts/install.sh` is not run: it would `pip install -e` the temporary checkout into the venv these
  tests run in. The checkout's `.venv` is that venv (a symlink), which is what install.sh would have made;
  `PYTHONPATH` (inherited) keeps the code under test first. The Debian packages it adds for the tour (curl,
  skopeo) are here already: `scripts/install.sh --test` installs a superset.
- The tour's variables are set to this suite's local registries instead of their defaults (Docker Hub's
  alpine:3.19, localhost:5000, ports 8080/8443): `IMAGE` is the bookworm test image on the session's local
  registry, `REGISTRY` a fresh empty registry, the ports free ones.
- `CRSCAN_FEEDS_MIRROR` is the shared offline feeds mirror (the test machine has no route to upstream).
- `skopeo` on the PATH is the real skopeo given a registries.conf that marks the two loopback registries plain
  HTTP (what a reader with such a registry configures in /etc/containers; Debian's skopeo 1.9 reads no
  environment variable for it, so a two-line wrapper passes `--registries-conf`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.registry

INSTALL = "bash scripts/install.sh"
TOUR_TIMEOUT = 900  # seconds; the feed DB build, six scans and a served scan


def readme_script(readme: str) -> tuple[str, list[str]]:
    """The blocks of `## A tour` (up to the next `##` section) as one bash script, and the shell commands in it."""
    tour = readme.index("## A tour\n")
    after = readme.find("\n## ", tour + 1)
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", readme[tour:after if after != -1 else len(readme)], re.S | re.M)
    assert {language for language, _ in blocks} == {"sh", "python"}, blocks  # any other block: run it here too
    script = "".join(
        block if language == "sh" else f"python - <<'README_PYTHON'\n{block}README_PYTHON\n"
        for language, block in blocks
    )
    shell = [line for language, block in blocks if language == "sh" for line in block.splitlines() if line.strip()]
    return script, shell


def test_the_quick_start_is_the_server_command_and_the_ci_test_command():
    readme = (REPO / "README.md").read_text()
    quick = readme[readme.index("## Quick start\n"):readme.index("## A tour\n")]
    blocks = re.findall(r"^```sh\n(.*?)^```$", quick, re.S | re.M)
    commands = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    assert "exec bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()  # CI runs the README's test command
    assert "crscan serve" in (REPO / "scripts" / "run.sh").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def checkout_copy(destination: Path) -> None:
    """The tracked files as a fresh clone has them (no venv, no data, no build products)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)


@pytest.mark.timeout(TOUR_TIMEOUT + 300)
def test_the_quick_start_and_the_tour_run_verbatim(tmp_path, shared_data, test_images, scratch_registry):
    script, commands = readme_script((REPO / "README.md").read_text())
    assert commands[0].startswith(INSTALL + " "), commands[0]  # the one line substituted (see the docstring)
    script = script.replace(commands[0] + "\n", "", 1)

    checkout = tmp_path / "crscan"
    checkout.mkdir()
    checkout_copy(checkout)
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)
    home = tmp_path / "home"
    home.mkdir()
    image = test_images["bookworm"].tag_ref
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "registries.conf").write_text("".join(
        f'[[registry]]\nlocation = "{host}"\ninsecure = true\n'
        for host in (image.split("/", 1)[0], scratch_registry.host)
    ))
    skopeo = shutil.which("skopeo")
    (tools / "skopeo").write_text(f'#!/bin/sh\nexec {skopeo} --registries-conf {tools / "registries.conf"} "$@"\n')
    (tools / "skopeo").chmod(0o755)
    http_port, grpc_port = free_port(), free_port()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("CRSCAN_", "XDG_", "VIRTUAL_ENV"))
    } | {
        "HOME": str(home),
        "IMAGE": image,
        "REGISTRY": scratch_registry.host,
        "CRSCAN_HTTP_PORT": str(http_port),
        "CRSCAN_GRPC_PORT": str(grpc_port),
        "CRSCAN_FEEDS_MIRROR": str(shared_data / "feeds"),
        "PATH": f"{tools}:{os.environ['PATH']}",
        "NO_COLOR": "1",
    }
    transcript = tmp_path / "tour.log"  # `bash -x`: each command as it ran, then its output
    with transcript.open("w") as log:
        tour = subprocess.Popen(["bash", "-e", "-x", "-o", "pipefail", "-c", script], cwd=checkout, env=env,
                                start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        try:
            code = tour.wait(timeout=TOUR_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError):  # the tour's `crscan serve &`, anything else it left
                os.killpg(tour.pid, signal.SIGTERM)
            tour.wait()
    output = transcript.read_text()
    serve_log = checkout / "serve.log"
    last = "\n".join(output.splitlines()[-200:])  # where it stopped (the whole transcript is in tour.log)
    assert code == 0, f"{last}\n--- serve.log ---\n{serve_log.read_text() if serve_log.exists() else ''}"

    data_dir = home / ".local" / "share" / "crscan"
    assert (data_dir / "feeds.db").is_file()  # the one data dir every verb used, with no --data-dir anywhere
    assert (checkout / "app.tar").is_file() and (checkout / "layout" / "index.json").is_file()
    assert '"version": "2.1.0"' in (checkout / "report.sarif").read_text()
    assert '"bomFormat": "CycloneDX"' in (checkout / "bom.json").read_text()
    assert '"spdxVersion": "SPDX-2.3"' in (checkout / "bom.spdx.json").read_text()
    assert "registry corp: 1 repositories, 1 tags; images added 1," in output
    assert "\nREADY " in output  # the SDK's scan, waited for
    assert '"status":"READY"' in output  # the REST queries
    assert '"@type":"type.googleapis.com/yandex.cloud.containerregistry.v1.ScanMetadata"' in output  # REST's scan
