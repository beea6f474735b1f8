#!/usr/bin/env bash
# Switch-root figures (docs/benchmarks-switch-root.md): boots the demo's
# signed Debian image N times under QEMU (TCG) and reports, as medians,
#   - /init start -> exec of the OS init (systemd), from initos' own stage
#     timestamps (kernel monotonic clock, "init starting t=" / "exec OS init: ... t=");
#   - QEMU start -> the sidecar accepts an SSH login (wall clock, host side);
#   - the sidecar's resident memory while the OS runs: sum of Rss in
#     /proc/PID/smaps_rollup of @initos-sidecar and @sshd (read over ssh);
#   - QEMU start -> systemd reports the boot finished (is-system-running --wait).
# usage: sudo bench/switch_root.sh [N]   (default 3; each run ~1-3 min)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
port=${INITOS_BENCH_PORT:-2223}
INITOS_DEMO_PREPARE_ONLY=1 INITOS_SKIP_SETUP=${INITOS_SKIP_SETUP:-} ./scripts/demo/debian.sh >/dev/null
d=build/demo
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
ssh_cmd=(ssh -p "$port" -i "$d/id_demo" -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no
  -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR root@127.0.0.1)
wait_systemd='for i in $(seq 120); do s=$(nsenter -t 1 -m -r -w -- systemctl is-system-running --wait 2>&1); case "$s" in running|degraded) break;; esac; sleep 0.5; done; echo "$s"'
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$d/bench.tsv"
echo "run	kernel->exec(s)	/init->exec(s)	qemu->ssh(s)	sidecar-rss(kB)	qemu->systemd-up(s)"
for i in $(seq 1 "$n"); do
  log="$d/bench-console-$i.log"
  start=$(date +%s.%N)
  qemu-system-x86_64 -accel "${INITOS_QEMU_ACCEL:-tcg}" -M q35 -m 768 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$d/initramfs.img" -append "console=ttyS0 panic=-1" \
    -drive "file=$d/disk.img,format=raw,if=virtio" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
    </dev/null >"$log" 2>&1 &
  qpid=$!
  until "${ssh_cmd[@]}" true 2>/dev/null; do
    kill -0 $qpid 2>/dev/null || { echo "bench: QEMU exited early; see $log" >&2; exit 1; }
    sleep 0.5
  done
  ssh_s=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {printf "%.2f", a - b}')
  # Early in the boot systemctl may not reach systemd yet: retry until it answers.
  state=$("${ssh_cmd[@]}" "$wait_systemd" || true)
  up_s=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {printf "%.2f", a - b}')
  # The supervisor and its sshd listener (sessions are forks of the listener).
  rss=$("${ssh_cmd[@]}" 'for d in /proc/[0-9]*; do case "$(tr "\0" " " 2>/dev/null <$d/cmdline)" in @initos-sidecar*) sup=${d#/proc/};; esac; done; for d in /proc/[0-9]*; do case "$(tr "\0" " " 2>/dev/null <$d/cmdline)" in @sshd*) set -- $(cat $d/stat 2>/dev/null); [ "$4" = "$sup" ] || continue;; @initos-sidecar*) ;; *) continue;; esac; awk "/^Rss:/ {print \$2}" $d/smaps_rollup; done' | awk '{s+=$1} END {print s}')
  # ("Failed to connect to bus" is systemctl's logind inhibitor check: no D-Bus in the image)
  "${ssh_cmd[@]}" 'nsenter -t 1 -m -r -w -- systemctl --no-block poweroff' 2>/dev/null || true
  wait $qpid || true
  t0=$(grep -o 'init starting t=[0-9.]*' "$log" | head -n1 | cut -d= -f2)
  t1=$(grep -o 'exec OS init: [^ ]* t=[0-9.]*' "$log" | head -n1 | sed 's/.*t=//')
  handover=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.3f", a - b}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$t1" "$handover" "$ssh_s" "$rss" "$up_s $state" |
    tee -a "$d/bench.tsv"
done
echo
echo "runs: $n (accel ${INITOS_QEMU_ACCEL:-tcg}, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo "median kernel boot -> exec OS init: $(cut -f2 "$d/bench.tsv" | median) s"
echo "median /init -> exec OS init:       $(cut -f3 "$d/bench.tsv" | median) s"
echo "median QEMU start -> SSH login:     $(cut -f4 "$d/bench.tsv" | median) s"
echo "median QEMU start -> systemd up:     $(cut -f6 "$d/bench.tsv" | median) s (is-system-running --wait)"
echo "median sidecar RSS (initos+sshd):   $(cut -f5 "$d/bench.tsv" | median) kB"
