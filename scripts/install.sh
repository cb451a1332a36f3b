#!/usr/bin/env bash
# Install crscan into ./.venv on Debian 12. With --test, also the system packages and Python
# packages the test suite needs (PostgreSQL, the CNCF registry, image-building tools).
# Python packages come from the hash-pinned locks (requirements/*.lock, refreshed by scripts/lock.sh), so an install
# gets exactly the versions the tests ran on; crscan itself goes on top without resolving anything.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages="python3 python3-venv python3-dev gcc curl skopeo"  # curl, skopeo: the README tour
lock=requirements/runtime.lock
testing=""
if [ "${1:-}" = "--test" ]; then
  apt_packages="$apt_packages postgresql mmdebstrap umoci docker-registry apache2-utils golang-go rpm tmux gzip db5.3-util nodejs node-semver default-jre-headless libmaven3-core-java ruby php-cli php-composer-semver chromium"
  lock=requirements/test.lock
  testing=1
fi

missing=""
for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# The test images install old npm packages; Debian's nodejs ships without npm (NodeSource's includes it).
if [ -n "$testing" ] && ! command -v npm >/dev/null; then missing="$missing npm"; fi
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing Debian packages:$missing" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --require-hashes -r "$lock"
.venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
