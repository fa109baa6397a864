#!/usr/bin/env bash
# First command of the README: set everything up, generate the demo council's data if
# missing or made by another version of the generator, and publish the demo reports into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== demo council's data in data/demo/"
.venv/bin/python -m helpers.demo --out data/demo --if-stale
echo "== publishing the demo reports"
.venv/bin/python -m helpers.publishing --config configs/demo.toml --out reports "$@"
echo "== done: open reports/index.html"
