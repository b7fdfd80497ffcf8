#!/usr/bin/env bash
# The IVOA data centre the DataLink tests run: GAVO DaCHS from Debian (gavodachs2-server, which pulls
# PostgreSQL 15 and pgsphere). Its package set-up needs a running PostgreSQL, which nothing starts in a
# container: the first install stops half-configured, so start the cluster and finish the set-up.
# Safe to run again.
set -euo pipefail
if command -v dachs >/dev/null && dpkg -s gavodachs2-server 2>/dev/null | grep -q '^Status: install ok installed'; then
  exit 0
fi
. "$(dirname "$0")/apt.sh"
need_root "GAVO DaCHS is needed for the DataLink tests: apt-get install gavodachs2-server (as root)"
# its set-up step fails until PostgreSQL runs (below), so a failure here is not the end
apt_install gavodachs2-server || true
# the package's postinst creates the DaCHS database: it needs the server running
for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
  "${SUDO[@]}" pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start 2>/dev/null || true
done
for _ in $(seq 120); do
  if DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" dpkg --configure -a; then
    break
  fi
  sleep 5  # dpkg's lock is held by another install: try again
done
dpkg -s gavodachs2-server | grep -q '^Status: install ok installed'
dachs --version
