#!/usr/bin/env bash
# Second command of the README (and what CI runs): the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/ensure_chromium.sh
exec .venv/bin/python -m pytest "$@"
