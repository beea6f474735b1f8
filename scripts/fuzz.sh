#!/usr/bin/env bash
# Builds every *_fuzz.cpp libFuzzer target with clang in its own build dir
# (build-fuzz/) and runs each for SECONDS (default 30). Exit status is non-zero
# if any target finds a crash; crash inputs are left in build-fuzz/crashes/.
set -euo pipefail

seconds="${1:-30}"
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$src/build-fuzz}"

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found: run scripts/setup.sh" >&2; exit 1; }

# The whole library is instrumented (fuzzer-no-link), not just the target
# file: libFuzzer is blind to code without coverage hooks.
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address" -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
mapfile -t targets < <(cd "$src" && find image init -name '*_fuzz.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
if ((${#targets[@]} == 0)); then
  echo "fuzz: no *_fuzz.cpp targets"
  exit 0
fi
cmake --build "$build" --target "${targets[@]}" -- -j2 >/dev/null

mkdir -p "$build/crashes"
status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  # Seed from checked-in examples if any exist beside the target.
  seeds="$src/format/testdata/$t"
  echo "fuzz: $t for ${seconds}s"
  if ! "$build/$t" -max_total_time="$seconds" -max_len=70000 -print_final_stats=0 \
      -artifact_prefix="$build/crashes/$t-" "$corpus" $( [[ -d "$seeds" ]] && echo "$seeds" ) \
      2>"$build/$t.log"; then
    echo "fuzz: $t FAILED; see $build/$t.log and $build/crashes/" >&2
    tail -n 30 "$build/$t.log" >&2
    status=1
  fi
done
exit $status
