"""`crscan scan alpine:3.19` is Docker Hub's `docker.io/library/alpine:3.19`, pulled from registry-1.docker.io, as
every Docker tool reads it. The test machine has no route there, so the one-line error shows what was asked of whom."""

from __future__ import annotations

import os
import subprocess

from tests.vulndb.support import CRSCAN, shared_feed_db


def test_a_short_name_is_pulled_from_docker_hub(tmp_path_factory, shared_data, tmp_path):
    feeds = shared_feed_db(tmp_path_factory, shared_data)
    env = {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path)}
    done = subprocess.run([str(CRSCAN), "scan", "alpine:3.19", "--db", str(feeds), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("crscan scan: error: manifest docker.io/library/alpine:3.19: "
                                  "https://registry-1.docker.io "), done.stderr
