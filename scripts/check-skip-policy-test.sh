#!/usr/bin/env bash
# Unit test of scripts/check-skip-policy.py on canned results in
# tests/skip-policy/ (ctest --output-junit and googletest XML files): a skip
# that is not allow-listed fails with one line naming the test and its skip
# message, an allow-listed one passes, too few results fail. ctest label unit.
set -uo pipefail
cd "$(dirname "$0")/.."
check=scripts/check-skip-policy.py
d=tests/skip-policy
fails=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect WANT_STATUS DESCRIPTION [GREP_FOR_IN_OUTPUT] -- ARGS...
expect() {
  local want=$1 what=$2 pattern=$3; shift 4
  "$check" "$@" >"$out" 2>&1
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "FAIL: $what: exit $got, want $want"; sed 's/^/  | /' "$out"; fails=$((fails + 1)); return
  fi
  if [[ -n $pattern ]] && ! grep -qE -- "$pattern" "$out"; then
    echo "FAIL: $what: output lacks /$pattern/"; sed 's/^/  | /' "$out"; fails=$((fails + 1)); return
  fi
  echo "ok: $what"
}

j=$d/ctest-junit.xml
expect 1 "ctest junit: skip not allow-listed fails, names test and message" \
  '^check-skip-policy: unexpected skip: Suite.Skips: device-mapper unusable: ENOENT$' -- \
  --allowlist $d/allow-one.txt --results $j
expect 1 "ctest junit: executable missing (Not Run) is an unexpected skip" \
  '^check-skip-policy: unexpected skip: Suite.Missing: Unable to find executable: /nonexistent/bin$' -- \
  --allowlist /dev/null --results $j
expect 1 "ctest junit: one line per unexpected skip" \
  '' -- --allowlist /dev/null --results $j
[[ $(grep -c 'unexpected skip' "$out") -eq 2 ]] || { echo "FAIL: want 2 unexpected-skip lines"; fails=$((fails + 1)); }
expect 0 "ctest junit: every skip allow-listed passes" '' -- \
  --allowlist $d/allow-skips.txt --results $j --expected 4
expect 0 "allow-list patterns match with * and ?" '' -- \
  --allowlist $d/allow-glob.txt --results $j --expected 4
expect 1 "fewer results than ctest -N listed fails" 'ran 4 tests, 5 listed' -- \
  --allowlist $d/allow-skips.txt --results $j --expected 5 --label unit
expect 1 "nothing listed fails" 'no tests listed' -- \
  --allowlist $d/allow-skips.txt --results $j --expected 0 --label unit
expect 1 "a discovered test without a result fails" 'listed test did not run: Suite.Vanished' -- \
  --allowlist $d/allow-skips.txt --results $j --expect-names $d/names.txt
expect 2 "allow-list line without a reason is rejected" 'has no reason' -- \
  --allowlist $d/allow-noreason.txt --results $j

# Recorded from `INITOS_QEMU_KERNEL=/nonexistent/vmlinuz ctest -R Harness.Console...`:
# a QEMU test made to skip fails the qemu label.
expect 1 "ctest junit: a QEMU test made to skip fails" \
  '^check-skip-policy: unexpected skip: Harness.ConsoleRoundTripAndExitCode: cannot read kernel /nonexistent/vmlinuz$' -- \
  --allowlist tests/skip-allowlist.txt --results $d/ctest-qemu-skip.xml --expected 1 --label qemu

g=$d/gtest.xml
expect 1 "googletest XML (in-VM run): any skip fails when nothing is allow-listed" \
  '^check-skip-policy: unexpected skip: RootImageTest.MountsThroughLoop: no /dev/loop-control$' -- \
  --allowlist /dev/null --results $g --expected 3 --label vm
expect 0 "googletest XML: allow-listed skip passes, parameterized names" '' -- \
  --allowlist $d/allow-gtest.txt --results $g --expected 3 --label vm
expect 1 "googletest XML: fewer tests ran than the filter selected" 'vm: ran 3 tests, 4 listed' -- \
  --allowlist $d/allow-gtest.txt --results $g --expected 4 --label vm
expect 2 "unreadable results file" '' -- --allowlist /dev/null --results $d/does-not-exist.xml

# The real allow-list parses, and every entry has a reason.
expect 0 "tests/skip-allowlist.txt parses" '' -- --allowlist tests/skip-allowlist.txt --results $d/all-pass.xml

if ((fails)); then
  echo "check-skip-policy-test: $fails case(s) FAILED"
  exit 1
fi
echo "check-skip-policy-test: all cases passed"
