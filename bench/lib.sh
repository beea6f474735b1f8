# Helpers bench/run and the benchmarks it runs in a child (bench/jails.sh)
# share: the raw figure records bench/report.py reads ($raw/ID/meta, a, b).
# Needs $raw set.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# figure ID KEY=VALUE...: starts a figure's record (raw/ID/meta) and
# notes the load before it.
figure() {
  local id=$1; shift
  mkdir -p "$raw/$id"
  printf '%s\n' "$@" >"$raw/$id/meta"
  echo "load_before=$(load)" >>"$raw/$id/meta"
  : >"$raw/$id/a"
  : >"$raw/$id/b"
}
done_figure() { echo "load_after=$(load)" >>"$raw/$1/meta"; }
sample() { echo "$3" >>"$raw/$1/$2"; }  # sample ID a|b VALUE
now_ns() { date +%s%N; }
