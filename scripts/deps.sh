#!/bin/sh
# Install galley's build, test and bench dependencies from Debian packages.
# Idempotent: installs only what is missing. Runs as root, or through sudo.
set -eu

PKGS="build-essential pkg-config meson ninja-build git tmux clang clang-format
libclang-rt-dev
libuv1-dev libvterm-dev libncurses-dev libjansson-dev libsqlite3-dev
liblua5.4-dev libyaml-dev libcmocka-dev
python3 python3-pytest python3-pytest-xdist python3-pexpect util-linux procps
dtach hyperfine bubblewrap slurm-wlm"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

# the claude CLI the e2e tests drive comes from npm (scripts/claude-install.sh);
# Debian's npm only when no npm is on PATH (a NodeSource one will do)
if ! command -v npm >/dev/null 2>&1; then
	missing="$missing npm"
fi

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "deps: need root or sudo to install:$missing" >&2
		exit 1
	fi
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
