#!/usr/bin/env bash
# Refresh the hash-pinned locks that scripts/install.sh installs, from pyproject.toml's dependencies and extras:
#   requirements/test.lock     runtime + every extra (the test extra and any other: what the suite runs on)
#   requirements/runtime.lock  runtime only, constrained to test.lock so the service runs exactly what was tested
# Pins already in the locks are kept; only what pyproject.toml's changes need is (re)resolved, so re-running after
# adding a dependency is a small diff. `scripts/lock.sh --upgrade` moves every pin to the newest allowed version;
# `--upgrade-package NAME` moves one. Resolved for the supported target (CPython 3.11, Linux x86_64, glibc 2.36 =
# Debian 12) whatever machine runs this. Needs PyPI (uv does not read pip's config).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8  # pinned so the lock files' format does not drift between refreshes
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
uv=("$tools/venv/bin/uv" pip compile pyproject.toml --quiet --generate-hashes
    --python-version 3.11 --python-platform x86_64-manylinux_2_36
    --custom-compile-command "scripts/lock.sh")

mkdir -p requirements
"${uv[@]}" --all-extras -o requirements/test.lock "$@"
"${uv[@]}" -c requirements/test.lock -o requirements/runtime.lock "$@"
echo "locked: requirements/test.lock ($(grep -c '==' requirements/test.lock) packages)," \
     "requirements/runtime.lock ($(grep -c '==' requirements/runtime.lock) packages)"
