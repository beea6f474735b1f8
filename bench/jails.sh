#!/usr/bin/env bash
# Jail figures for bench/run (`bench/run --only jails`; run by it, inside a
# private mount namespace with cgroup2 at /sys/fs/cgroup because crun
# refuses a hybrid-cgroup host):
#   jail_start_bwrap, jail_start_crun: an unprivileged jail from start to the
#     exit of /bin/true, initos vs each peer on the same busybox rootfs, the
#     three sides interleaved run by run (initos, bwrap, crun, initos, ...).
#     All get a new user (root mapped to host uid 100000), mount, pid, ipc,
#     uts and network namespace.
#       initos: `initos jail run --once` (config, uid range, pty console,
#               cgroup, mounts, pivot_root, capabilities, seccomp, exec)
#       bwrap:  bwrap --unshare-all --uid 0 --gid 0 --bind ROOT / --proc --dev
#       crun:   crun run of an OCI bundle (`crun spec --rootless`, uid map 100000)
#   jail_supervisor_rss: Rss of `initos jail run` per extra running jail
#     ((Rss with 9 jails - Rss with 1) / 8).
# Usage: bench/jails.sh --raw DIR -n N --initos BINARY --work DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_args "$@"
rm -rf "$work" && mkdir -p "$work"
chmod 755 "$work"
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true sleep; do ln -s busybox "$root/bin/$a"; done

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
c["linux"].pop("resources", None)
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
json.dump(c, open(p, "w"))
PY

run_initos() { "$initos" jail run --once "$work/jail.toml" >/dev/null 2>&1; }
run_bwrap() { bwrap --unshare-all --uid 0 --gid 0 --bind "$root" / --proc /proc --dev /dev /bin/true; }
i=0
# crun makes the container's stdio its root's (fchown to the mapped uid 100000):
# pipes, so it never takes over the caller's /dev/null or log file.
run_crun() {
  i=$((i + 1))
  true | crun run --bundle "$work/oci" "bench-$$-$i" 2>&1 | cat >/dev/null
}
for v in initos bwrap crun; do "run_$v"; done  # each works, and caches are warm

figure jail_start_bwrap "title=unprivileged jail: start to exit of /bin/true" unit=ms \
  better=lower a=initos b=bwrap "command=initos jail run --once J.toml | bwrap --unshare-all ... /bin/true"
figure jail_start_crun "title=unprivileged jail: start to exit of /bin/true" unit=ms \
  better=lower a=initos b=crun "command=initos jail run --once J.toml | crun run --bundle B (rootless spec)"
for ((r = 0; r < n; r++)); do
  for v in initos bwrap crun; do
    t0=$(now_ns); "run_$v"; t1=$(now_ns)
    ms=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e6 }')
    case $v in
      initos) sample jail_start_bwrap a "$ms"; sample jail_start_crun a "$ms" ;;
      bwrap) sample jail_start_bwrap b "$ms" ;;
      crun) sample jail_start_crun b "$ms" ;;
    esac
  done
done
done_figure jail_start_bwrap
done_figure jail_start_crun

# Rss of a supervisor running `jails` sleeping jails.
rss_with() {
  local count=$1 cfg=$work/mem-$1.toml j w pid
  printf '[jails]\nsocket = "%s/ctl/mem.sock"\n' "$work" >"$cfg"
  for ((j = 0; j < count; j++)); do
    printf '[[jail]]\nname = "m%d"\nrootfs = "%s"\ncommand = ["/bin/sleep", "30"]\nrestart = "never"\n' \
      "$j" "$root" >>"$cfg"
  done
  "$initos" jail run "$cfg" >"$work/mem-$count.log" 2>&1 &
  pid=$!
  for ((w = 0; w < 200; w++)); do
    (($(grep -c ' started (' "$work/mem-$count.log" || true) >= count)) && break
    sleep 0.05
  done
  sleep 0.5
  awk '/^Rss:/ { print $2 }' "/proc/$pid/smaps_rollup"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
figure jail_supervisor_rss "title=jail supervisor Rss per extra running jail" unit=kB better=lower \
  a="initos jail run" "command=(Rss with 9 sleeping jails - Rss with 1) / 8, smaps_rollup"
for ((r = 0; r < n; r++)); do
  one=$(rss_with 1)
  nine=$(rss_with 9)
  sample jail_supervisor_rss a "$(awk -v a="$one" -v b="$nine" 'BEGIN { printf "%.1f", (b - a) / 8 }')"
done
done_figure jail_supervisor_rss
