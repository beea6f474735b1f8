#!/usr/bin/env bash
# The one test command: installs what is needed, builds, and runs every test
# (labels unit, root, qemu). Exits non-zero if anything fails, and also when a
# test that should have run did not: after each ctest run every skipped or
# not-run test must be listed with its reason in tests/skip-allowlist.txt, and
# ctest must have run every test `ctest -N` lists (and every test the gtest
# binaries list). Run as root (directly or with sudo); it never calls sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: run as root (or with sudo): root and qemu tests need it" >&2
  exit 1
fi

./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

# Unit and root tests are short; QEMU boots are one TCG vCPU each, so two at a
# time keep both cores busy without starving the emulated kernels.
jobs=$(nproc)
rc=0
allowlist=tests/skip-allowlist.txt
results=$PWD/build/Testing/results
mkdir -p "$results"

# gtest_names BINARY OUT: every test BINARY's --gtest_list_tests lists, as
# Suite.Test (what gtest_discover_tests names the ctest tests).
gtest_names() {
  local out
  out=$("$1" --gtest_list_tests) || { echo "test.sh: $1 --gtest_list_tests failed" >&2; return 1; }
  awk '/^[^ ]/ {suite=$1; next} /^  [^ ]/ {print suite $1}' <<<"$out" >"$2"
}

# run_label NAME REGEX [GTEST_BINARY...]: ctest -L REGEX, then the skip and
# count checks on its junit file.
run_label() {
  local name=$1 regex=$2 b listed
  local junit=$results/$name.xml names=$results/$name.names
  shift 2
  listed=$(ctest --test-dir build -N -L "$regex" | sed -n 's/^Total Tests: \([0-9]*\).*/\1/p' || true)
  : >"$names"
  for b in "$@"; do
    gtest_names "build/$b" "$results/$b.names" || { rc=1; echo "MISSING-DISCOVERY.$b" >>"$names"; continue; }
    cat "$results/$b.names" >>"$names"
  done
  rm -f "$junit"
  ctest --test-dir build --output-on-failure -j"$jobs" -L "$regex" --output-junit "$junit" || rc=1
  ./scripts/check-skip-policy.py --allowlist "$allowlist" --results "$junit" \
    --expected "${listed:-0}" --expect-names "$names" --label "$name" || rc=1
}

echo "== unit and root tests"
run_label unit+root 'unit|root' unit_tests root_tests
echo "== benchmarks, quick mode (bench/run --quick: every figure must run; goals are reported, not asserted)"
./bench/run --quick || { echo "test.sh: bench/run --quick FAILED" >&2; rc=1; }
echo "== LTO build with ODR violations as errors (build-odr/, log in build-odr/build.log)"
mkdir -p build-odr
if cmake -S . -B build-odr -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINITOS_ODR_CHECK=ON >build-odr/build.log 2>&1 &&
  cmake --build build-odr -j"$jobs" --target initos unit_tests root_tests qemu_tests >>build-odr/build.log 2>&1; then
  echo "odr: initos and the test binaries link with -Werror=odr"
else
  grep -E -A8 'violates|error' build-odr/build.log | head -80 >&2 || true
  echo "test.sh: LTO/ODR build FAILED (build-odr/build.log)" >&2
  rc=1
fi
echo "== fuzz targets, briefly (scripts/fuzz.sh SECONDS for longer runs)"
./scripts/fuzz.sh 20 || rc=1
echo "== qemu tests (console logs: build/qemu-logs/)"
run_label qemu qemu qemu_tests

if ((rc)); then
  echo "test.sh: FAILED (see the output above; QEMU console logs in build/qemu-logs/)" >&2
else
  echo "test.sh: all tests passed"
fi
exit "$rc"
