#!/usr/bin/env bash
# Deterministic counts for the boot figure (docs/performance.md, "PID 1
# under TCG"): boots IMG under QEMU TCG with -icount shift=0,sleep=off
# (virtual time = guest instructions, 1 ns each) and logs every translated
# block, page fault and serial byte; bench/tcg_blocks.py then counts what
# happened between `Run /init` and the marker line. Use the initramfs images
# `bench/run --only boot -n 1` leaves in build/bench/run/boot/.
#
#   bench/boot_trace.sh IMG OUT [--binary INITOS --other BUSYBOX]
# Writes OUT.log (console), prints the counts and the icount span in ms.
set -euo pipefail
img=$1 out=$2
shift 2
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
timeout 900 qemu-system-x86_64 -accel tcg -icount shift=0,sleep=off -M q35 -m 512 \
  -nographic -no-reboot -monitor none -serial stdio -nic none -kernel "$kernel" \
  -initrd "$img" -append "console=ttyS0 panic=-1" \
  -d in_asm,int,trace:serial_write -D "$out.trace" </dev/null 2>&1 | tr -d '\r' >"$out.log" || true
extra=()
(($#)) && extra=("$@" --symbols "$out.symbols")
python3 "$(dirname "$0")/tcg_blocks.py" "$out.trace" "${extra[@]}"
rm -f "$out.trace"
awk 'function ts(l, s) { if (!match(l, /\[ *[0-9]+\.[0-9]+\]/)) return ""
       s = substr(l, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); return s }
     /Run \/init as init process/ { run = ts($0) }
     /bench: marker running/ { mark = ts($0) }
     END { printf "icount span (guest instructions, ms) %.3f\n", (mark - run) * 1000 }' "$out.log"
