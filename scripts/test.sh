#!/usr/bin/env bash
# The one test command: installs what is needed, builds, and runs every test
# (labels unit, root, qemu). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: run as root (sudo ./scripts/test.sh): root and qemu tests need it" >&2
  exit 1
fi

./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

# Unit and root tests are short; QEMU boots are one TCG vCPU each, so two at a
# time keep both cores busy without starving the emulated kernels.
jobs=$(nproc)
rc=0
echo "== unit and root tests"
ctest --test-dir build --output-on-failure -j"$jobs" -L 'unit|root' || rc=1
echo "== fuzz targets, briefly (scripts/fuzz.sh SECONDS for longer runs)"
./scripts/fuzz.sh 20 || rc=1
echo "== qemu tests (console logs: build/qemu-logs/)"
ctest --test-dir build --output-on-failure -j"$jobs" -L qemu || rc=1

if ((rc)); then
  echo "test.sh: FAILED (see the output above; QEMU console logs in build/qemu-logs/)" >&2
else
  echo "test.sh: all tests passed"
fi
exit "$rc"
