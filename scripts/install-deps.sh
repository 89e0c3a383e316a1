#!/usr/bin/env bash
# Installs the Debian 12 packages noxsync needs to build, test and benchmark.
# Idempotent: asks apt only for what is missing, so a second run is instant.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  libsqlite3-dev
  libjemalloc-dev
  openssl ca-certificates tzdata curl
  dpkg-dev file
  python3  # scripts/check-chain.py (run by the serve tests) and scripts/serve-stress.py (make soak)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "noxsync: installing missing Debian packages: ${missing[*]}" >&2

if ! command -v apt-get >/dev/null 2>&1; then
  echo "noxsync: apt-get not found; this script supports Debian 12 only." >&2
  echo "         Install these packages with your system's package manager: ${missing[*]}" >&2
  exit 2
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "noxsync: need root to install packages (not root, and no sudo)." >&2
    echo "         Run as root: apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get update -q >&2; then
  echo "noxsync: 'apt-get update' failed; check the network or /etc/apt/sources.list." >&2
  exit 2
fi
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
  echo "noxsync: could not install: ${missing[*]}" >&2
  echo "         Check 'apt-cache policy <package>' for each, then run this script again." >&2
  exit 2
fi
