#!/usr/bin/env bash
# The browser the lab panel's tests drive: Debian's chromium (Playwright cannot download browsers here,
# and does not need to: the tests give it /usr/bin/chromium). Safe to run again.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "chromium is needed for the browser tests: apt-get install chromium (as root)" >&2
  exit 1
fi
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium >/dev/null
chromium --version
