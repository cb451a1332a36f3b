#!/usr/bin/env bash
# Install crscan and run the service on embedded defaults (SQLite store and in-process workers under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Token auth is not built yet (issue 8): the server refuses to start without the explicit --no-auth.
exec .venv/bin/crscan serve --data-dir "${CRSCAN_DATA_DIR:-./data}" --no-auth "$@"
