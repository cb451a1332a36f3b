#!/usr/bin/env bash
# Install crscan and run the service on embedded defaults (SQLite store, feed DB and in-process workers in the data
# dir every verb defaults to: $CRSCAN_DATA_DIR, else $XDG_DATA_HOME/crscan, else ~/.local/share/crscan).
# Auth is on (docs/auth.md). On first start, when no active admin token exists, one is created and written to
# $DATA_DIR/admin-token (mode 600) instead of the terminal, so the secret never lands in captured output.
# CRSCAN_NO_AUTH=1 serves without authentication (logged loudly by the server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The same rule as crscan.config.default_data_dir, exported so every verb below (and in this shell's children) agrees.
export CRSCAN_DATA_DIR="${CRSCAN_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/crscan}"
DATA_DIR="$CRSCAN_DATA_DIR"
if [[ "${CRSCAN_NO_AUTH:-}" == "1" ]]; then
    exec .venv/bin/crscan serve --data-dir "$DATA_DIR" --no-auth "$@"
fi
mkdir -p "$DATA_DIR"
has_admin=$(.venv/bin/crscan token list --data-dir "$DATA_DIR" --json | .venv/bin/python -c \
    'import json, sys; print(any(t["role"] == "admin" and t["state"] == "active" for t in json.load(sys.stdin)))')
if [[ "$has_admin" == "False" ]]; then
    (umask 077 && .venv/bin/crscan token create --role admin --data-dir "$DATA_DIR" \
        --description "first admin (scripts/run.sh)" > "$DATA_DIR/admin-token")
    echo "created an admin token: $DATA_DIR/admin-token (use it as: Authorization: Bearer \$(cat $DATA_DIR/admin-token))"
fi
exec .venv/bin/crscan serve --data-dir "$DATA_DIR" "$@"
