#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for the harness: Python from apt, the harness in .venv, then
# (through `invoke toolchain.install`) every program the harness runs (small_harness/core/tools.toml:
# cmake, ninja, git, binutils, llvm, debootstrap, the Docker engine) and the cross compilers, sysroots
# and QEMU of the targets for the host backend; finally starts the Docker engine if none runs.
#
#   bash ci/setup.sh [--arch A]   A: the targets whose host toolchains to install: all (default),
#                                 a name, an alias, a comma list, or none
#
# Run as root or as a user with sudo. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=all
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    --arch=*) arch="${1#*=}"; shift ;;
    *) echo "usage: bash ci/setup.sh [--arch all|none|TARGETS]" >&2; exit 2 ;;
  esac
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

echo "== apt: Python for the harness"
$sudo apt-get update -qq
# python3-venv brings pip into the venv (ensurepip); Debian's python3-pip is not needed.
$sudo apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null

echo "== .venv: the harness and its Python dependencies"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .

echo "== apt: the programs the harness runs, and the toolchains of: $arch"
$sudo .venv/bin/invoke toolchain.install --arch "$arch"

if ! bash ci/start-docker.sh; then
  echo "warning: no Docker engine runs here; the harness will use the host toolchains (--toolchain host)" >&2
fi
