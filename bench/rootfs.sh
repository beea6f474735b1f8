#!/usr/bin/env bash
# Figures for signed root filesystem images, each against a peer measured in
# the same run (see docs/benchmarks-rootfs.md):
#   read: sequential read MB/s of a random image through dm-verity (mapped by
#         `veritysetup open` and by our own ioctls, bench/dm_verity_open) vs
#         the raw virtio disk, inside QEMU (TCG) on the Debian test kernel.
#   boot: time the verified-root stage adds to boot (needs the rootfs stage
#         of PID 1; prints SKIP when this tree does not have it).
# Usage: bench/rootfs.sh [all|read|boot] [REPS=5] [SIZE_MIB=256]
# Env: BUILD_DIR (default <repo>/build). Not part of the test suite.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
part=${1:-all}
reps=${2:-5}
size_mib=${3:-256}
case "$part" in all | read | boot) ;; *) echo "usage: bench/rootfs.sh [all|read|boot] [REPS] [SIZE_MIB]" >&2; exit 2 ;; esac

. "$repo/scripts/vm-lib.sh"
vm_kernel
for t in qemu-system-x86_64 veritysetup busybox cpio; do
  command -v $t >/dev/null || { echo "rootfs.sh: $t not installed (scripts/setup.sh)" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/rootfs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# median FILE COLUMN: median of a numeric column.
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {if (!NR) {print "nan"; exit} m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f", m}'; }
minmax() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.1f-%.1f", lo, hi}'; }

machine_notes() {
  echo "host: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); guest: $kver, QEMU $(qemu-system-x86_64 --version | awk 'NR==1 {print $4}') TCG"
}

# ---- part 1: sequential read through dm-verity vs raw -----------------------
bench_read() {
  local mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
    dm-mod dm-bufio reed_solomon dm-verity)
  (cd "$build" && cmake "$repo" >/dev/null && make -j2 verity_format dm_verity_open >/dev/null)
  local bytes=$((size_mib << 20))
  local disk=$work/read.img salt root_hash
  head -c "$bytes" /dev/urandom >"$disk"
  salt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # Tree appended to the data (veritysetup --hash-offset layout), built by ours.
  root_hash=$("$build/bench/verity_format" "$disk" "$disk" --hash-offset "$bytes" --salt "$salt" 2>/dev/null |
    awk '/Root hash/ {print $NF}')
  [[ -n "$root_hash" ]] || { echo "rootfs.sh: verity_format failed" >&2; exit 1; }
  veritysetup verify "$disk" "$disk" "$root_hash" --hash-offset="$bytes" >/dev/null

  local r=$work/read-root
  vm_root "$r" "${mods[@]}"
  vm_add_bins "$r" "$(command -v veritysetup)"
  cp "$build/bench/dm_verity_open" "$r/bin/"
  cat >"$r/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in ${mods[*]}; do insmod /mods/\$m.ko; done
export PATH=/bin:/usr/bin:/usr/sbin
i=0; while [ ! -b /dev/vda ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
# Monotonic ns (timer_list), else /proc/uptime's 10 ms ticks.
now() {
  if [ -r /proc/timer_list ]; then awk '/^now at/ {print \$3; exit}' /proc/timer_list
  else awk '{printf "%d\n", \$1 * 1000000000}' /proc/uptime; fi
}
echo "BENCH sha256 driver: \$(awk '/^name/ {n=\$3} /^driver/ && n=="sha256" {print \$3; exit}' /proc/crypto)"
veritysetup open /dev/vda vs /dev/vda $root_hash --hash-offset=$bytes || echo "BENCH FAIL veritysetup open"
ours=\$(dm_verity_open open vo /dev/vda $bytes $root_hash $salt) || echo "BENCH FAIL dm_verity_open"
for rep in \$(seq $reps); do
  for mode in direct cached; do
    flag=; [ \$mode = direct ] && flag=iflag=direct
    # Rotate the order every rep so no device always goes first.
    case \$((rep % 3)) in
      1) devs="raw:/dev/vda veritysetup:/dev/mapper/vs ours:\$ours" ;;
      2) devs="veritysetup:/dev/mapper/vs ours:\$ours raw:/dev/vda" ;;
      0) devs="ours:\$ours raw:/dev/vda veritysetup:/dev/mapper/vs" ;;
    esac
    for dev in \$devs; do
      sync; echo 3 > /proc/sys/vm/drop_caches
      t0=\$(now)
      dd if=\${dev#*:} of=/dev/null bs=1M count=$size_mib \$flag 2>/dev/null || echo "BENCH FAIL read \$dev"
      t1=\$(now)
      echo "BENCH read \$mode \${dev%%:*} \$rep \$((t1 - t0))"
    done
  done
done
echo "BENCH status veritysetup=\$(dm_verity_open status vs) ours=\$(dm_verity_open status vo)"
veritysetup close vs; dm_verity_open remove vo
echo BENCH_DONE
poweroff -f
INIT
  chmod +x "$r/init"
  vm_pack "$r" "$work/read.gz"
  # cache=unsafe: QEMU reads the image through the host page cache (warm after
  # building the tree), so the guest's reads do reach its virtio device but the
  # host disk is out of the picture; direct I/O in the guest bypasses its own cache.
  vm_boot "$work/read.gz" "$work/read.log" 3600 \
    -drive "file=$disk,format=raw,if=virtio,cache=unsafe,readonly=on" >/dev/null || true
  grep -q BENCH_DONE "$work/read.log" || { echo "rootfs.sh: read guest did not finish, log:" >&2; tail -30 "$work/read.log" >&2; exit 1; }
  if grep "BENCH FAIL" "$work/read.log" >&2 || ! grep -q "BENCH status veritysetup=V ours=V" "$work/read.log"; then
    echo "rootfs.sh: read bench failed, guest log:" >&2; tail -40 "$work/read.log" >&2; exit 1
  fi

  echo "== sequential read, ${size_mib} MiB random data, dd bs=1M, $reps reps, medians (MB/s = 10^6 B/s)"
  echo "   $(machine_notes)"
  echo "   guest: 1 vCPU, $(grep -o 'sha256 driver: .*' "$work/read.log"), virtio-blk cache=unsafe, caches dropped before each read"
  printf '   %-8s %-12s %9s %15s %12s\n' mode device "MB/s" "range" "vs raw"
  local mode dev raw f
  for mode in direct cached; do
    for dev in raw veritysetup ours; do
      f=$work/read-$mode-$dev
      awk -v m=$mode -v d=$dev -v b=$bytes '$2=="read" && $3==m && $4==d {printf "%.3f\n", b / ($6 / 1e9) / 1e6}' "$work/read.log" >"$f"
    done
    raw=$(median "$work/read-$mode-raw" 1)
    for dev in raw veritysetup ours; do
      f=$work/read-$mode-$dev
      printf '   %-8s %-12s %9.1f %15s %12s\n' $mode $dev "$(median "$f" 1)" "$(minmax "$f" 1)" \
        "$(awk -v a="$(median "$f" 1)" -v b="$raw" 'BEGIN {printf "x%.3f", a / b}')"
    done
  done
}

# ---- part 2: boot time added by the verified-root stage --------------------
bench_boot() {
  if ! grep -q '"rootfs"' "$repo"/init/*.cpp 2>/dev/null; then
    echo "== boot: SKIP: this tree has no verified-root (rootfs) stage in PID 1 yet (branch rootfs); merge it and rerun"
    return 0
  fi
  . "$repo/bench/rootfs-boot.sh"
}

[[ $part == read || $part == all ]] && bench_read
[[ $part == boot || $part == all ]] && bench_boot
exit 0
