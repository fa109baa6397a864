#!/usr/bin/env bash
# The browser tests open every published page in Debian's Chromium (Playwright's own
# browser download cannot work on locked-down networks). Install it if it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "== installing Debian's chromium for the browser tests"
if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "error: /usr/bin/chromium is missing and this user cannot install it; ask for the 'chromium' package" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
