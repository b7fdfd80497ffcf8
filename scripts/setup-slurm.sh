#!/usr/bin/env bash
# The batch scheduler the Slurm tests run: Debian's slurm-wlm (slurmctld, slurmd and the command line tools)
# and munge (its authentication daemon). The test fixtures start the daemons themselves, with a slurm.conf
# of their own in a temporary folder; nothing here starts a service. Safe to run again.
set -euo pipefail
# the daemons are in /usr/sbin, which is not on every PATH (not on a CI runner's bare one)
export PATH="$PATH:/usr/sbin:/sbin"
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo)
else
  echo "slurm-wlm and munge are needed for the Slurm tests: apt-get install slurm-wlm munge (as root)" >&2
  exit 1
fi
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq slurm-wlm munge >/dev/null
slurmctld -V
