#!/bin/bash
# Times our BuildVerityTree (bench/verity_format) against `veritysetup format`
# on the same 256 MiB random image, same salt, in the same run.
#   bench/verity.sh [SIZE_MIB=256] [REPS=5]
# Env: BUILD_DIR (default <repo>/build). Page cache is warm for both tools.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
size_mib=${1:-256}
reps=${2:-5}

command -v veritysetup >/dev/null || { echo "verity.sh: veritysetup not installed (apt-get install cryptsetup-bin)" >&2; exit 1; }
mkdir -p "$build"
(cd "$build" && cmake "$repo" >/dev/null && make -j2 verity_format >/dev/null)
tool=$build/bench/verity_format

work=$(mktemp -d /var/tmp/verity-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c $((size_mib << 20)) /dev/urandom >"$work/data"
salt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat "$work/data" >/dev/null  # warm the page cache for everyone

# run NAME CMD...: appends "wall cpu" seconds to $work/NAME, prints the root hash
run() {
  local name=$1; shift
  rm -f "$work/hash"
  local times
  times=$( { TIMEFORMAT='%R %U %S'; time "$@" >"$work/out" 2>/dev/null; } 2>&1 )
  awk '{printf "%.4f %.4f\n", $1, $2 + $3}' <<<"$times" >>"$work/$name"
  awk '/Root hash/ {print $NF}' "$work/out"
}

for i in $(seq "$reps"); do
  a=$(run veritysetup veritysetup format "$work/data" "$work/hash" --salt="$salt")
  b=$(run ours1 "$tool" "$work/data" "$work/hash" --salt "$salt" --threads 1)
  c=$(run ours "$tool" "$work/data" "$work/hash" --salt "$salt")
  if [[ "$a" != "$b" || "$a" != "$c" ]]; then
    echo "verity.sh: root hash differs: veritysetup $a, ours $b / $c" >&2
    exit 1
  fi
done

# median COLUMN NAME (column 1: wall seconds, 2: CPU seconds, user+sys)
median() { awk -v c="$1" '{print $c}' "$work/$2" | sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "x%.2f", a / b}'; }
echo "image ${size_mib} MiB, sha256, 4 KiB blocks, ${reps} reps, medians (cpus: $(nproc), load: $(cut -d' ' -f1 /proc/loadavg))"
printf '  %-24s %8s %10s %9s %10s\n' tool "wall s" "speedup" "cpu s" "cpu ratio"
vs_w=$(median 1 veritysetup); vs_c=$(median 2 veritysetup)
for name in veritysetup ours1 ours; do
  w=$(median 1 $name); c=$(median 2 $name)
  label=$name; [[ $name == ours1 ]] && label="ours, 1 thread"; [[ $name == ours ]] && label="ours, default threads"
  [[ $name == veritysetup ]] && label="veritysetup format"
  printf '  %-24s %8s %10s %9s %10s\n' "$label" "$w" "$(ratio "$vs_w" "$w")" "$c" "$(ratio "$vs_c" "$c")"
done
