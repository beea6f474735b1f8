#!/usr/bin/env bash
# Proves the INITOS_ODR_CHECK flags turn an ODR violation into a build error:
# tests/odr-probe/a.cpp + b.cpp define `struct Config` with two layouts and
# must FAIL to link with an ODR error; a.cpp + ok.cpp (one layout) must link.
# Usage: scripts/odr-probe.sh CXX FLAG... (the flags CMakeLists.txt uses).
set -euo pipefail
cxx=$1; shift
src="$(cd "$(dirname "$0")/.." && pwd)/tests/odr-probe"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if "$cxx" -std=c++20 -O2 "$@" "$src/a.cpp" "$src/b.cpp" -o "$work/bad" >"$work/bad.log" 2>&1; then
  echo "odr-probe: FAILED: the conflicting pair linked; ODR flags ($*) do not catch it" >&2
  exit 1
fi
if ! grep -q 'violates the C++ One Definition Rule' "$work/bad.log"; then
  echo "odr-probe: FAILED: the conflicting pair failed for another reason:" >&2
  cat "$work/bad.log" >&2
  exit 1
fi
if ! "$cxx" -std=c++20 -O2 "$@" "$src/a.cpp" "$src/ok.cpp" -o "$work/good" >"$work/good.log" 2>&1; then
  echo "odr-probe: FAILED: the consistent pair does not link with $*:" >&2
  cat "$work/good.log" >&2
  exit 1
fi
"$work/good"
echo "odr-probe: ok: ODR violation rejected ($(grep -m1 -o "type .* violates the C++ One Definition Rule" "$work/bad.log")), clean pair links"
