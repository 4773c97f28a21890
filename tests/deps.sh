#!/usr/bin/env bash
# Installs (as root, on Debian 12) every package that building, testing, benchmarking and the demo
# need. Idempotent. Not root: prints the command to run instead and fails.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git rsync clang-format
  postgresql-15 postgresql-server-dev-15 postgresql-contrib postgresql-15-repack libipc-run-perl
  librocksdb-dev libxsimd-dev libtbb-dev libgtest-dev libgmock-dev libbenchmark-dev libabsl-dev
  gnuplot-nox
)
if [ "$(id -u)" -ne 0 ]; then
  echo "omendb: installing dependencies needs root; run: sudo make ${1:-test}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
missing=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null | awk '$1!="installed"{print $2}' || true)
want=$(printf '%s\n' "${packages[@]}" | sort)
have=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null | awk '$1=="installed"{print $2}' | sort || true)
if [ "$want" != "$have" ] || [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
# The Debian package starts a cluster on 5432; our tests start their own and never touch it.
