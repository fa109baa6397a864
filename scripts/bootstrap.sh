#!/usr/bin/env bash
# Create .venv (if missing) and install the bundle with its test tools into it.
# Re-installs only when pyproject.toml has changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python 3.11 or newer (or set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: $("$PY" --version 2>&1) is too old; this bundle needs Python 3.11 or newer (set PYTHON=...)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "== creating virtual environment in .venv/"
  if ! "$PY" -m venv .venv; then
    echo "error: could not create a virtual environment; on Debian/Ubuntu install python3-venv" >&2
    exit 1
  fi
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "== installing the bundle and its dependencies into .venv/ (first run takes a minute or two)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  # Register the environment's own kernel inside .venv so JupyterLab and papermill use it,
  # never a globally installed one.
  .venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (csc-notebooks .venv)" >/dev/null
  # Strip notebook outputs on commit (outputs can hold child-level data).
  if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
    .venv/bin/nbstripout --install >/dev/null 2>&1 || true
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
