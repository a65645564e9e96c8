#!/usr/bin/env bash
# Installs every package kvraft needs to build, test and benchmark, from
# Debian 12's archive. Safe to run again: apt-get skips what is installed.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates g++ cmake ninja-build pkg-config git \
  librocksdb-dev libthrift-dev thrift-compiler libboost-dev libevent-dev \
  libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev \
  libbenchmark-dev nlohmann-json3-dev libgoogle-perftools-dev python3 python3-thrift procps \
  gnuplot-nox >/dev/null
echo "install-deps.sh: dependencies installed"
