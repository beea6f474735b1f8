#!/usr/bin/env bash
# Jail benchmark (issue 10): an unprivileged jail from start to the exit of
# /bin/true, InitOS vs bubblewrap vs crun on the same busybox rootfs, the
# three interleaved run by run (A B C A B C ...), plus the supervisor's
# memory per extra jail. All three get a new user (mapped to host uid
# 100000), mount, pid, ipc, uts and network namespace.
#   initos: `initos jail run --once` (parse config, uid range, pty, cgroup
#           when cgroup2 exists, mounts, pivot_root, caps, seccomp, exec)
#   bwrap:  bwrap --unshare-all --uid 0 --gid 0 --bind ROOT / --proc --dev
#   crun:   crun run of an OCI bundle (`crun spec --rootless`, uid map 100000)
# Usage: bench/jails.sh [N] (as root; BUILD=build dir). Prints a markdown
# table and writes BUILD/bench/jails.json.
set -euo pipefail
# crun refuses a hybrid-cgroup host: run the whole benchmark (all three
# sides alike) in a private mount namespace with cgroup2 at /sys/fs/cgroup.
if [[ $(stat -f -c %T /sys/fs/cgroup) != cgroup2fs && -z ${INITOS_BENCH_NS:-} ]]; then
  exec unshare -m env INITOS_BENCH_NS=1 bash -c \
    'mount --make-rprivate / && mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@"' "$0" "$@"
fi
cd "$(dirname "$0")/.."
N=${1:-20}
BUILD=${BUILD:-build}
initos=$(realpath "$BUILD/initos")
work=$(realpath -m "$BUILD/bench/jails")
rm -rf "$work" && mkdir -p "$work"
for tool in bwrap crun; do
  command -v "$tool" >/dev/null || { echo "bench/jails.sh: $tool missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc}
cp /bin/busybox "$root/bin/"
for a in sh true sleep; do ln -s busybox "$root/bin/$a"; done
chmod 755 "$work" "$BUILD/bench" 2>/dev/null || true

cat >"$work/jail.toml" <<EOT
[jails]
socket = "$work/ctl/jails.sock"
[[jail]]
name = "bench"
kind = "unprivileged"
rootfs = "$root"
command = ["/bin/true"]
restart = "never"
uid-map = { host = 100000, count = 65536 }
EOT

mkdir -p "$work/oci"
(cd "$work/oci" && crun spec --rootless >/dev/null)
python3 - "$work/oci/config.json" "$root" <<'PY'
import json, sys
p, root = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["root"] = {"path": root, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"].pop("resources", None)  # a hybrid-cgroup host: no controllers
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
json.dump(c, open(p, "w"))
PY

now() { date +%s%N; }
run_initos() { "$initos" jail run --once "$work/jail.toml" >/dev/null 2>&1; }
run_bwrap() {
  bwrap --unshare-all --uid 0 --gid 0 --bind "$root" / --proc /proc --dev /dev /bin/true
}
i=0
run_crun() { i=$((i + 1)); crun --cgroup-manager=disabled run --bundle "$work/oci" "bench-$$-$i" >/dev/null; }

for v in initos bwrap crun; do : >"$work/$v.ns"; "run_$v"; done  # warm caches
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < N; r++)); do
  for v in initos bwrap crun; do
    t0=$(now); "run_$v"; t1=$(now)
    echo $((t1 - t0)) >>"$work/$v.ns"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Supervisor memory: Rss of `initos jail run` with 1 and with 9 sleeping jails.
rss_with() {
  local n=$1 cfg=$work/mem-$1.toml
  echo "[jails]"$'\n'"socket = \"$work/ctl/mem.sock\"" >"$cfg"
  for ((j = 0; j < n; j++)); do
    printf '[[jail]]\nname = "m%d"\nrootfs = "%s"\ncommand = ["/bin/sleep", "60"]\nrestart = "never"\n' "$j" "$root" >>"$cfg"
  done
  "$initos" jail run "$cfg" >/dev/null 2>&1 &
  local pid=$!
  for ((w = 0; w < 100; w++)); do
    [[ $(ls /proc/"$pid"/task 2>/dev/null | wc -l) -ge 1 && $(pgrep -c -P "$pid" || true) -ge "$n" ]] && break
    sleep 0.05
  done
  sleep 0.3
  awk '/^Rss:/ {print $2}' /proc/"$pid"/smaps_rollup
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
rss1=$(rss_with 1)
rss9=$(rss_with 9)

python3 - "$work" "$N" "$load_before" "$load_after" "$rss1" "$rss9" <<'PY'
import json, statistics, sys, platform
work, n, lb, la, rss1, rss9 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
res = {}
for v in ("initos", "bwrap", "crun"):
    xs = [int(l) / 1e6 for l in open(f"{work}/{v}.ns") if l.strip()]
    res[v] = {"min_ms": min(xs), "median_ms": statistics.median(xs), "max_ms": max(xs), "runs": len(xs)}
per_jail = (rss9 - rss1) / 8
out = {"runs": n, "load_before": lb, "load_after": la, "kernel": platform.release(),
       "start_to_exit_ms": res, "supervisor_rss_kb": {"1_jail": rss1, "9_jails": rss9, "per_extra_jail": per_jail}}
json.dump(out, open(f"{work}.json", "w"), indent=2)
print(f"jail start to exit of /bin/true, {n} interleaved runs each, load {lb} -> {la}, kernel {platform.release()}\n")
print("| peer | min ms | median ms | max ms | initos/peer (median) |")
print("| --- | ---: | ---: | ---: | ---: |")
for v in ("initos", "bwrap", "crun"):
    r = res[v]
    ratio = res["initos"]["median_ms"] / r["median_ms"]
    print(f"| {v} | {r['min_ms']:.2f} | {r['median_ms']:.2f} | {r['max_ms']:.2f} | {ratio:.2f} |")
print(f"\nsupervisor Rss: {rss1} kB with 1 jail, {rss9} kB with 9: {per_jail:.0f} kB per extra jail")
PY
