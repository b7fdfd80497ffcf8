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
. "$(dirname "$0")/apt.sh"
need_root "slurm-wlm and munge are needed for the Slurm tests: apt-get install slurm-wlm munge (as root)"
apt_install slurm-wlm munge
slurmctld -V
