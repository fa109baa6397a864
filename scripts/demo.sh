#!/usr/bin/env bash
# First command of the README: set everything up, generate the demo council's data if
# missing, and publish the demo reports into reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -f data/demo/council.json ]; then
  echo "== generating the demo council's data into data/demo/"
  .venv/bin/python -m helpers.demo --out data/demo
fi
echo "== publishing the demo reports"
.venv/bin/python -m helpers.publishing --config configs/demo.toml --out reports "$@"
echo "== done: open reports/index.html"
