#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what it needs, then runs pytest.
# The tests start their own throwaway PostgreSQL cluster and docker-registry instances.
# Then the newest-dependency smoke run: a scratch venv gets `.[test]` resolved afresh (no lock, so the newest
# versions pyproject.toml allows) and the `smoke` tests run there, so an upstream release that breaks crscan shows
# here before a user installs it. CRSCAN_SKIP_NEWEST=1 skips it (e.g. offline).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
newest_smoke() {
  local smoke_rc
  python3 -m venv --without-pip "$scratch/venv" || return 1
  echo "newest-dependency smoke run: installing .[test] without the lock into $scratch/venv" >&2
  # uv (from the test lock) resolves and installs this in seconds where pip takes minutes.
  .venv/bin/uv pip install -q --python "$scratch/venv/bin/python" ".[test]" || {
    echo "NEWEST DEPENDENCIES BROKE CRSCAN: installing .[test] fails without the lock" >&2; return 1; }
  .venv/bin/uv pip freeze -q --python "$scratch/venv/bin/python" --exclude crscan > "$scratch/resolved.txt"
  # PYTHONPATH unset: the scratch venv's installed crscan is the one under test, not a source tree.
  env -u PYTHONPATH "$scratch/venv/bin/python" -m pytest -m smoke -q -p no:cacheprovider tests
  smoke_rc=$?
  if [ "$smoke_rc" -eq 5 ]; then
    echo "NEWEST DEPENDENCIES: no smoke tests were collected (marker \`smoke\`)" >&2
  elif [ "$smoke_rc" -ne 0 ]; then
    echo "NEWEST DEPENDENCIES BROKE CRSCAN: the smoke tests fail with the newest versions pyproject.toml allows" \
         "(the locked run is above); pins that differ (lock -> newest):" >&2
    .venv/bin/python - requirements/test.lock "$scratch/resolved.txt" >&2 <<'PY'
import re, sys
pins = [dict(re.findall(r"^([A-Za-z0-9][\w.-]*)==([^\s\\]+)", open(p).read(), re.M)) for p in sys.argv[1:]]
norm = [{k.lower().replace("_", "-"): v for k, v in d.items()} for d in pins]
for name in sorted(set(norm[0]) | set(norm[1])):
    if norm[0].get(name) != norm[1].get(name):
        print(f"  {name}: {norm[0].get(name, '-')} -> {norm[1].get(name, '-')}")
PY
  fi
  return "$smoke_rc"
}

smoke_rc=0
if [ "${CRSCAN_SKIP_NEWEST:-}" != 1 ]; then
  newest_smoke
  smoke_rc=$?
fi
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
exit "$smoke_rc"
