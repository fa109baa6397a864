#!/usr/bin/env bash
# Speed and memory benchmarks (not part of the test suite). Generates demo data at scales
# 1, 10 and 150 under data/bench/ (git-ignored) on first use, then measures; writes the table
# into README.md. Exits non-zero only when a step fails or results differ.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m benchmarks.run "$@"
