#!/usr/bin/env bash
# Installs what kvraft needs, builds it, and runs the whole test suite:
#   1. an ASan+UBSan build (build-asan/, -O1, target sanitize_tests) runs
#      the tests labelled "sanitize": the core's unit tests, the simulator
#      scenarios (all but one long repeat, see tests/CMakeLists.txt), a few
#      hundred seeds, and kvd itself;
#   2. the default RelWithDebInfo build (build/) runs every test, ending with
#      ctest's summary line.
# Run as root on Debian 12 (it calls apt-get). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
jobs=$(nproc)

echo "== sanitizer build (ASan+UBSan): build-asan/"
cmake -S . -B build-asan -G Ninja -DKVRAFT_SANITIZE=address -DRAFTSIM_SEEDS=200 >/dev/null
cmake --build build-asan -j "$jobs" --target sanitize_tests
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest -L sanitize --output-on-failure -j "$jobs")

echo "== release build: build/"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAFTSIM_SEEDS=2000 >/dev/null
cmake --build build -j "$jobs"
cd build && ctest --output-on-failure -j "$jobs"
