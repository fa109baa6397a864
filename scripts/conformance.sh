#!/usr/bin/env bash
# Validator conformance: run the DfE validators' own rules (Data to Insight's PyPI packages
# csc-validator-be-cin 0.1.13 and csc-validator-be-903 0.1.17) over a fresh demo council.
#
#   bash scripts/conformance.sh [OUT_DIR] [SEED] [FAULTS] [SCALE]
#
# FAULTS (default none) and SCALE (default 1) are passed to the generator: `none` must leave only
# the allow-listed rules; `normal`/`high` inject the faults of helpers/demo/faults.py, each of which
# should trip its rule (tests/test_conformance.py).
#
# The validators pin pandas<2 and numpy<1.25, so they live in their own virtual environment,
# .venv-validators/ (Python 3.9-3.11; created here with `python3 -m venv`, re-created only
# when the pins below change). Their code imports pytest, which they do not declare, so it is
# installed too. The demo is generated with the bundle's own .venv (scripts/bootstrap.sh),
# at scale 1 with --faults none, into OUT_DIR/demo; the per-rule table is OUT_DIR/rules.csv.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-build/conformance}"
SEED="${2:-1}"
FAULTS="${3:-none}"
SCALE="${4:-1}"
VENV="${CONFORMANCE_VENV:-.venv-validators}"
PINS='csc-validator-be-cin==0.1.13 csc-validator-be-903==0.1.17 pandas<2 numpy<1.25 pytest'

PY=""
for cand in "${CONFORMANCE_PYTHON:-}" python3.11 python3.10 python3.9 python3; do
  [ -n "$cand" ] || continue
  if command -v "$cand" >/dev/null 2>&1 && \
     "$cand" -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 11) else 1)'; then
    PY="$cand"; break
  fi
done
if [ -z "$PY" ]; then
  echo "error: the validators need Python 3.9, 3.10 or 3.11 (set CONFORMANCE_PYTHON=...)" >&2
  exit 1
fi

stamp="$VENV/.installed-$(echo "$PINS" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "== creating the validators' environment in $VENV/ (pandas<2; first run takes a minute or two)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet $PINS
  touch "$stamp"
fi

bash scripts/bootstrap.sh
mkdir -p "$OUT"
rm -rf "$OUT/demo"
echo "== generating the demo council (seed $SEED, scale $SCALE, faults $FAULTS) into $OUT/demo"
.venv/bin/python -m helpers.demo --out "$OUT/demo" --seed "$SEED" --scale "$SCALE" --faults "$FAULTS"
echo "== running the validators"
"$VENV/bin/python" scripts/conformance_run.py "$OUT/demo" "$OUT/rules.csv"
