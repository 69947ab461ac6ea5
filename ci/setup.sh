#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for the harness: build tools, Python and the Docker engine
# from apt (started if it is not running), the harness in .venv, then every target's cross compiler
# and QEMU for the host backend (via `invoke toolchain.install`), the fallback when Docker is absent.
# Run as root or as a user with sudo. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

echo "== apt: build tools, Python, Docker engine, debootstrap"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends cmake ninja-build python3 python3-venv python3-pip \
  docker.io debootstrap >/dev/null
bash ci/start-docker.sh

echo "== .venv: the harness and its Python dependencies"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .

echo "== toolchains: cross compilers and QEMU for every target"
.venv/bin/invoke toolchain.install --arch all
