#!/usr/bin/env bash
# Boot benchmark: InitOS vs a plain busybox /init script, N boots each under
# QEMU (TCG), alternating. Both run the same marker program, which logs to
# /dev/kmsg (so it gets a kernel timestamp) and prints PID 1's VmRSS.
# Reported per variant (median of N):
#   handover: kernel "Run /init as init process" -> marker program running
#   boot:     kernel start -> marker program running
#   rss:      resident memory of PID 1 while the marker program runs: Rss from
#             /proc/1/smaps_rollup (VmRSS in /proc/1/status comes from per-task
#             counters the kernel syncs lazily; for a PID 1 sleeping in poll it
#             showed 4 kB while its page tables mapped 2 MB)
# Usage: sudo bench/run.sh [N]   (env: BUILD=build dir, INITOS_QEMU_ACCEL)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
BUILD=${BUILD:-build}
if [[ ! -x $BUILD/initos ]]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target initos
fi
initos=$BUILD/initos
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
work=$BUILD/bench
rm -rf "$work" && mkdir -p "$work"

# The marker program, shared by both variants; $1 is how it powers off.
marker='#!/bin/busybox sh
echo "bench: marker running" > /dev/kmsg
echo "BENCH-RSS $(/bin/busybox grep "^Rss:" /proc/1/smaps_rollup)"
'
printf '%s%s\n' "$marker" 'exec /init poweroff' >"$work/marker-initos.sh"
printf '%s%s\n' "$marker" 'exec /bin/busybox poweroff -f' >"$work/marker-busybox.sh"
cat >"$work/initos.toml" <<'EOT'
[init]
main = ["/bin/busybox", "sh", "/bench/marker.sh"]
on-exit = "poweroff"
EOT
"$initos" image initramfs -o "$work/initos.img" --config "$work/initos.toml" \
  --file /bin/busybox=/bin/busybox --file "$work/marker-initos.sh=/bench/marker.sh"

# Baseline: busybox sh as /init doing the usual early mounts, then the marker.
mkdir -p "$work/bb/bin" "$work/bb/bench"
cp /bin/busybox "$work/bb/bin/busybox"
cp "$work/marker-busybox.sh" "$work/bb/bench/marker.sh"
cat >"$work/bb/init" <<'EOT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tmpfs tmpfs /run
/bin/busybox sh /bench/marker.sh
EOT
chmod +x "$work/bb/init"
(cd "$work/bb" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 >../busybox.img)

boot() {  # $1 = initramfs; prints the console log
  timeout 180 qemu-system-x86_64 -accel "${INITOS_QEMU_ACCEL:-tcg}" -M q35 -m 512 \
    -nographic -no-reboot -monitor none -serial stdio -nic none -kernel "$kernel" \
    -initrd "$1" -append "console=ttyS0 panic=-1" </dev/null 2>&1 | tr -d '\r'
}

# One line per boot: handover_ms boot_ms rss_kb
measure() {
  awk '
    function ts(line, s) {
      if (!match(line, /\[ *[0-9]+\.[0-9]+\]/)) return ""
      s = substr(line, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); return s
    }
    /Run \/init as init process/ { run = ts($0) }
    /bench: marker running/ { mark = ts($0) }
    /BENCH-RSS/ { rss = $(NF-1) }
    END { if (run == "" || mark == "") exit 1; printf "%.1f %.1f %d\n", (mark-run)*1000, mark*1000, rss }'
}

: >"$work/initos.txt"
: >"$work/busybox.txt"
for ((i = 1; i <= N; i++)); do
  for v in initos busybox; do
    log=$work/$v-$i.log
    boot "$work/$v.img" >"$log"
    if ! measure <"$log" >>"$work/$v.txt"; then
      echo "bench: boot $i of $v did not reach the marker; log: $log" >&2
      exit 1
    fi
  done
  echo "bench: boot $i/$N done" >&2
done

median() {  # column $1 of file $2
  sort -n -k"$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'
}
ih=$(median 1 "$work/initos.txt"); bh=$(median 1 "$work/busybox.txt")
ib=$(median 2 "$work/initos.txt"); bb=$(median 2 "$work/busybox.txt")
ir=$(median 3 "$work/initos.txt"); br=$(median 3 "$work/busybox.txt")
isz=$(stat -c %s "$initos"); bsz=$(stat -c %s /bin/busybox)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "InitOS boot benchmark: $N boots each, $(basename "$kernel"), accel ${INITOS_QEMU_ACCEL:-tcg}"
printf '%-36s %12s %12s %8s\n' "metric (median)" "initos" "busybox" "ratio"
printf '%-36s %12s %12s %8s\n' "/init start -> main program (ms)" "$ih" "$bh" "$(ratio "$ih" "$bh")"
printf '%-36s %12s %12s %8s\n' "kernel start -> main program (ms)" "$ib" "$bb" "$(ratio "$ib" "$bb")"
printf '%-36s %12s %12s %8s\n' "PID 1 Rss (kB)" "$ir" "$br" "$(ratio "$ir" "$br")"
printf '%-36s %12s %12s %8s\n' "binary size (bytes, static)" "$isz" "$bsz" "$(ratio "$isz" "$bsz")"
echo "raw per-boot figures: $work/initos.txt $work/busybox.txt (handover_ms boot_ms rss_kb)"
