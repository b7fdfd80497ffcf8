# Sourced by the setup scripts that install Debian packages (setup-browser.sh, setup-slurm.sh,
# setup-dachs.sh): one way to become root and to install, waiting for dpkg's lock when another set-up
# script holds it.

# SUDO: nothing as root, else sudo; without either, print "$1" (what is needed and how) and stop.
need_root() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null; then
    SUDO=(sudo)
  else
    echo "$1" >&2
    exit 1
  fi
}

# Install the Debian packages named, quietly.
apt_install() {
  local apt=(apt-get -o DPkg::Lock::Timeout=600)
  "${SUDO[@]}" "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" "${apt[@]}" install -y -qq "$@" >/dev/null
}
