#!/usr/bin/env bash
# Figures for signed root filesystem images, each against a peer measured in
# the same run (see docs/benchmarks-rootfs.md):
#   read: sequential read MB/s of a random image through dm-verity (mapped by
#         `veritysetup open` and by our own ioctls, bench/dm_verity_open) vs
#         the raw virtio disk, inside QEMU (TCG) on the Debian test kernel.
#   boot: time the verified-root stage adds to boot.
# Usage: bench/rootfs.sh [all|read|boot] [REPS=5] [SIZE_MIB=256]
# Env: BUILD_DIR (default <repo>/build), BENCH_KEEP=1 (keep the work dir). Not part of the test suite.
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
# BENCH_KEEP=1 keeps the images and guest logs for debugging.
trap '[[ -n "${BENCH_KEEP:-}" ]] && echo "rootfs.sh: kept $work" >&2 || rm -rf "$work"' EXIT

# median FILE COLUMN: median of a numeric column.
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {if (!NR) {print "nan"; exit} m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f", m}'; }
# minmax FILE COLUMN [DECIMALS=1]: "lowest-highest" of a column.
minmax() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk -v d="${3:-1}" 'NR==1 {lo=$1} {hi=$1} END {printf "%.*f-%.*f", d, lo, d, hi}'; }

# build_targets TARGET...: quietly, showing the build log only when it fails.
build_targets() {
  mkdir -p "$build"
  (cd "$build" && cmake "$repo" >"$work/build.log" 2>&1 && make -j2 "$@" >>"$work/build.log" 2>&1) ||
    { tail -30 "$work/build.log" >&2; echo "rootfs.sh: building $* failed" >&2; exit 1; }
}

machine_notes() {
  echo "host: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); guest: $kver, QEMU $(qemu-system-x86_64 --version | awk 'NR==1 {print $4}') TCG"
}

# ---- part 1: sequential read through dm-verity vs raw -----------------------
bench_read() {
  local mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
    dm-mod dm-bufio reed_solomon dm-verity)
  build_targets verity_format dm_verity_open
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
ours=\$(dm_verity_open open vo /dev/vda $bytes $root_hash $salt CRYPT-VERITY-00000000000000000000000000000000-vo) || echo "BENCH FAIL dm_verity_open"
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
veritysetup status vs | grep -v -e 'is active' -e 'device:' -e 'size:' -e 'mode:' | sed 's/^/BENCH table vs /'
veritysetup status vo | grep -v -e 'is active' -e 'device:' -e 'size:' -e 'mode:' | sed 's/^/BENCH table vo /'
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
  # Both mappings must be the same verity table (veritysetup status decodes ours too).
  if ! diff <(grep '^BENCH table vs' "$work/read.log" | cut -d' ' -f4-) \
      <(grep '^BENCH table vo' "$work/read.log" | cut -d' ' -f4-) >&2; then
    echo "rootfs.sh: veritysetup's and our verity tables differ (above)" >&2; exit 1
  fi
  grep -q "^BENCH table vo *root hash: *$root_hash" "$work/read.log" ||
    { echo "rootfs.sh: no verity table decoded for our mapping" >&2; exit 1; }
  if grep "BENCH FAIL" "$work/read.log" >&2 || ! grep -q "BENCH status veritysetup=V ours=V" "$work/read.log"; then
    echo "rootfs.sh: read bench failed, guest log:" >&2; tail -40 "$work/read.log" >&2; exit 1
  fi

  echo "== sequential read, ${size_mib} MiB random data, dd bs=1M, $reps reps, medians (MB/s = 10^6 B/s)"
  echo "   $(machine_notes)"
  echo "   guest: 1 vCPU, $(grep -o 'sha256 driver: .*' "$work/read.log"), virtio-blk cache=unsafe, caches dropped before each read"
  echo "   both mappings have the same verity table (checked with veritysetup status)"
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
# The same small EROFS (busybox + /main.sh) booted by the same initos PID 1 and
# module list, (a) as a signed bundle on PARTLABEL=rootA through the rootfs
# stage (signature, dm-verity, mount), (b) as the bare EROFS on a partition
# that a busybox script (init.main, no [rootfs]) mounts and chroots into.
# /main.sh in the image first writes "bench: main.sh start" to /dev/kmsg, then
# prints the kmsg lines we time; all timestamps come from the kmsg clock.
bench_boot() {
  command -v sgdisk >/dev/null || { echo "rootfs.sh: sgdisk not installed (gdisk)" >&2; exit 1; }
  build_targets initos
  local initos=$build/initos w=$work/boot
  local mods='"virtio_pci", "virtio_blk", "dm-mod", "dm-verity", "erofs", "overlay", "loop"'
  mkdir -p "$w/tree"/{bin,etc,dev,proc,sys,run,tmp}
  cp "$(command -v busybox)" "$w/tree/bin/busybox"
  cat >"$w/tree/main.sh" <<'MAIN'
#!/bin/busybox sh
B=/bin/busybox
echo "bench: main.sh start" >/dev/kmsg
$B dmesg | $B grep -E 'Run /init|stage modules done|stage rootfs done|bench: main.sh start' | $B sed 's/^/BOOTLOG /'
$B sync
MAIN
  chmod 755 "$w/tree/main.sh"
  "$initos" image keygen -o "$w/key" >/dev/null 2>&1  # (its development-key warning)
  "$initos" image build --rootfs "$w/tree" --key "$w/key/signing.key" --name bench --version 1 \
    -o "$w/bench.bundle" >/dev/null
  local info data_offset data_size
  info=$("$initos" image info "$w/bench.bundle" --json)
  data_offset=$(grep -o '"data_offset": *[0-9]*' <<<"$info" | grep -o '[0-9]*$')
  data_size=$(grep -o '"data_size": *[0-9]*' <<<"$info" | grep -o '[0-9]*$')
  [[ -n "$data_offset" && -n "$data_size" ]] || { echo "rootfs.sh: no data_offset/data_size in: $info" >&2; exit 1; }
  dd if="$w/bench.bundle" of="$w/plain.erofs" iflag=skip_bytes,count_bytes skip="$data_offset" \
    count="$data_size" status=none

  # gpt_disk OUT PARTLABEL PAYLOAD: one partition at 1 MiB holding PAYLOAD.
  gpt_disk() {
    local kib=$((($(stat -c %s "$3") + (1 << 20) - 1) >> 20 << 10))
    truncate -s $(((kib + 2048) << 10)) "$1"
    sgdisk -n "1:2048:+${kib}K" -c "1:$2" "$1" >/dev/null 2>&1  # (-q silently creates nothing)
    dd if="$3" of="$1" bs=1M seek=1 conv=notrunc status=none
  }
  gpt_disk "$w/verified.img" rootA "$w/bench.bundle"
  gpt_disk "$w/plain.img" rootB "$w/plain.erofs"

  cat >"$w/verified.toml" <<CONF
[init]
main = ["/bin/busybox", "sh", "/main.sh"]
on-exit = "poweroff"
failure-delay-s = 0
modules = [$mods]
[rootfs]
image = "PARTLABEL=rootA"
name = "bench"
keys = ["/etc/initos/keys/bench.pub"]
CONF
  cat >"$w/plain.toml" <<CONF
[init]
main = ["/bin/busybox", "sh", "/plain-root.sh"]
on-exit = "poweroff"
failure-delay-s = 0
modules = [$mods]
CONF
  cat >"$w/plain-root.sh" <<'PLAIN'
#!/bin/busybox sh
# Unverified peer of the rootfs stage: mount the bare EROFS and run its /main.sh.
B=/bin/busybox
i=0
while [ ! -b /dev/vda1 ]; do
  [ $i -ge 1000 ] && { echo "plain-root: no /dev/vda1 after 10 s"; exit 1; }
  $B sleep 0.01; i=$((i + 1))
done
$B mkdir -p /sysroot
$B mount -t erofs -o ro /dev/vda1 /sysroot || exit 1
for d in dev proc sys; do $B mount -o bind /$d /sysroot/$d; done
exec $B chroot /sysroot /bin/busybox sh /main.sh
PLAIN
  "$initos" image initramfs -o "$w/verified.gz" --kver "$kver" --config "$w/verified.toml" \
    --file "$w/key/signing.pub=/etc/initos/keys/bench.pub" >/dev/null
  "$initos" image initramfs -o "$w/plain.gz" --kver "$kver" --config "$w/plain.toml" \
    --file "$(command -v busybox)=/bin/busybox" --file "$w/plain-root.sh=/plain-root.sh" >/dev/null

  # boot_once KIND REP: one boot; appends "init_to_main modules_to_main rootfs_stage" (s).
  boot_once() {
    local kind=$1 rep=$2 log=$w/$1-$2.log
    VM_MEMORY_MB=512 vm_boot "$w/$kind.gz" "$log" 300 \
      -drive "file=$w/$kind.img,format=raw,if=virtio,cache=unsafe" >/dev/null || true
    # BOOTLOG lines may start mid-line after the firmware's escape codes.
    awk -v kind="$kind" '
      { i = index($0, "BOOTLOG ["); if (!i) next; line = substr($0, i + 9)
        ts = line; sub(/\].*/, "", ts); ts += 0; n = split(line, f, " "); t = f[n]; sub(/^t=/, "", t) }
      line ~ /Run \/init/ { run = ts }
      line ~ /stage modules done/ { mod = ts; mt = t }
      line ~ /stage rootfs done/ { rt = t }
      line ~ /bench: main.sh start/ { main = ts }
      END {
        if (run == "" || mod == "" || main == "" || (kind == "verified" && rt == "")) exit 1
        printf "%.6f %.6f %.6f\n", main - run, main - mod, (kind == "verified") ? rt - mt : 0
      }' "$log" >>"$w/$kind.times" ||
      { echo "rootfs.sh: $kind boot $rep did not reach main.sh, log tail:" >&2; tail -30 "$log" >&2; exit 1; }
  }
  local rep
  for rep in $(seq "$reps"); do
    # Alternate which one goes first, so neither always boots on a cooler machine.
    if ((rep % 2)); then boot_once verified $rep; boot_once plain $rep
    else boot_once plain $rep; boot_once verified $rep; fi
  done

  echo "== boot: verified bundle vs the same EROFS mounted unverified, $reps boots each, medians (s)"
  echo "   $(machine_notes)"
  echo "   guest: 1 vCPU, 512 MiB, image $((data_size >> 10)) KiB EROFS (busybox + /main.sh), same initos + modules"
  printf '   %-34s %10s %10s %10s %8s\n' "" verified unverified "added" ratio
  local col name a b
  for col in 1 2; do
    name="Run /init -> image main start"; ((col == 2)) && name="modules done -> image main start"
    a=$(median "$w/verified.times" $col); b=$(median "$w/plain.times" $col)
    printf '   %-34s %10s %10s %10s %8s\n' "$name" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%+.3f", a - b}')" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "x%.2f", a / b}')"
  done
  printf '   %-34s %10s %10s   (range %s)\n' "rootfs stage (t= of PID 1)" "$(median "$w/verified.times" 3)" "-" \
    "$(minmax "$w/verified.times" 3 3)"
  echo "   ranges (Run /init -> main): verified $(minmax "$w/verified.times" 1 3), unverified $(minmax "$w/plain.times" 1 3)"
}

[[ $part == read || $part == all ]] && bench_read
[[ $part == boot || $part == all ]] && bench_boot
exit 0
