#!/usr/bin/env bash
# The browser the lab panel's tests drive: Debian's chromium (Playwright cannot download browsers here,
# and does not need to: the tests give it /usr/bin/chromium). Safe to run again.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
need_root "chromium is needed for the browser tests: apt-get install chromium (as root)"
apt_install chromium
chromium --version
