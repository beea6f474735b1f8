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

# bench_args "$@": the options bench/run passes every benchmark child
# (--raw DIR -n N --initos BINARY --work DIR), into raw, n, initos, work.
# --quick (quick=1) only for a script that set `quick=0` before: any other
# argument, or --quick elsewhere, is an error naming the script.
bench_args() {
  while (($#)); do
    case $1 in
      --raw) raw=$2; shift 2 ;;
      -n) n=$2; shift 2 ;;
      --initos) initos=$2; shift 2 ;;
      --work) work=$2; shift 2 ;;
      --quick) [[ -v quick ]] || bench_bad_arg "$1"; quick=1; shift ;;
      *) bench_bad_arg "$1" ;;
    esac
  done
}
bench_bad_arg() { echo "bench/$(basename "$0"): unknown argument '$1'" >&2; exit 2; }
