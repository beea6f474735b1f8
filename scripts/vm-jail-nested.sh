#!/usr/bin/env bash
# A VM jail end to end over vsock (issue 11: readiness, `initos jail exec`
# into the guest, a clean stop). The project's hosts have no
# /dev/vhost-vsock, so it runs one level down: the Debian test kernel boots
# under TCG (the "outer" guest) with QEMU, its firmware, vhost_vsock, the
# static initos and a GPT disk whose partition "nestroot" holds a signed
# busybox bundle (built here, with its key). The outer /init runs
# `initos jail run` with one VM jail (kind vm, the same kernel, accel tcg,
# vsock = true) and checks through `initos jail status/list/exec/stop`:
#   - the guest reports READY over vsock (status "ready: yes", list
#     "running+ready", the supervisor's "jail nested ready" line);
#   - `jail exec nested -- /bin/echo hi-from-guest` prints it and exits 0,
#     and a guest command's nonzero exit code (7) comes back as is;
#   - `jail stop nested` powers the guest down: the jail is stopped and no
#     QEMU process is left.
# The bundle sits on a partition, so QEMU gets a block device fd (its
# host_device driver, jail/qemu_command.h). Each check prints "NESTED_OK
# what" or "NESTED_FAIL what"; the verdict comes back over the second
# serial port. Usage: scripts/vm-jail-nested.sh [BUILD_DIR]
set -euo pipefail

build=$(realpath "${1:-build}")
. "$(dirname "$0")/vm-lib.sh"
vm_kernel
initos=$build/initos
[[ -x $initos ]] || { echo "vm-jail-nested: no $initos (cmake --build $build --target initos)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)

# The jail's OS: static busybox, signed.
tree=$work/tree
mkdir -p "$tree"/{bin,proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$tree/bin/busybox"
for app in sh echo sleep cat true false; do ln -s busybox "$tree/bin/$app"; done
"$initos" image keygen -o "$work/keys" >/dev/null 2>&1
"$initos" image build --rootfs "$tree" --key "$work/keys/signing.key" --name testos \
  --version 3 -o "$work/os.bundle" --tmpdir "$work" >/dev/null
# A GPT disk with the bundle in partition "nestroot" (PARTLABEL=nestroot).
bundle_mib=$((($(stat -c %s "$work/os.bundle") + (1 << 20) - 1) >> 20))
truncate -s $((bundle_mib + 2))M "$work/disk.img"
sgdisk -o -n "1:2048:+${bundle_mib}M" -c 1:nestroot "$work/disk.img" >/dev/null  # (-q writes nothing)
dd if="$work/os.bundle" of="$work/disk.img" bs=1M seek=1 conv=notrunc status=none

# The outer guest.
outer=$work/outer
outer_mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
  vsock vmw_vsock_virtio_transport_common vhost_iotlb vhost vhost_vsock)
vm_root "$outer" "${outer_mods[@]}"
vm_add_bins "$outer" "$(command -v qemu-system-x86_64)" \
  /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$initos"
mkdir -p "$outer/usr/share/qemu" "$outer/boot" "$outer/etc/initos" "$outer/run"
for f in bios-256k.bin bios-microvm.bin linuxboot_dma.bin kvmvapic.bin efi-virtio.rom \
  multiboot_dma.bin; do
  for d in /usr/share/qemu /usr/share/seabios; do
    if [[ -e $d/$f ]]; then
      cp -L "$d/$f" "$outer/usr/share/qemu/"
      break
    fi
  done
done
cp "$kernel" "$outer/boot/vmlinuz"
cp "$work/keys/signing.pub" "$outer/etc/initos/nested.pub"
# The guest kernel's modules the VM jail's initramfs takes (jail/vm_guest.h
# GuestModules, with their dependencies) and modules.dep.
gmods=$outer/lib/modules/$kver
mkdir -p "$gmods"
cp "/lib/modules/$kver/modules.dep" "/lib/modules/$kver/modules.builtin" "$gmods/"
# Keep in step with GuestModules: a module missing here fails the jail's
# start with "guest initramfs: VM guest modules: stat ...".
for m in pvpanic-pci pvpanic-mmio virtio_pci virtio_mmio virtio_blk dm-mod dm-verity erofs overlay \
  button evdev vsock vmw_vsock_virtio_transport; do
  modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}'
done | sort -u | while read -r ko; do
  mkdir -p "$outer$(dirname "$ko")"
  cp "$ko" "$outer$ko"
done
cat >"$outer/etc/initos/initos.toml" <<TOML
[rootfs]
keys = ["/etc/initos/nested.pub"]
[jails]
socket = "/run/initos/control/jails.sock"
uid-pool-start = 300000
[[jail]]
name = "nested"
kind = "vm"
rootfs = "PARTLABEL=nestroot"
rootfs-name = "testos"
command = ["/bin/sh", "-c", "echo NESTED-JAIL-UP-\$((6*7)); while :; do sleep 1; done"]
kernel = "/boot/vmlinuz"
kernel-modules = "/lib/modules/$kver"
accel = "tcg"
memory = "256M"
vsock = true
restart = "never"
stop-timeout-ms = 30000
TOML

cat >"$outer/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /run/initos/control; mount -t devpts devpts /dev/pts
INIT
for m in "${outer_mods[@]}"; do echo "insmod /mods/$m.ko" >>"$outer/init"; done
cat >>"$outer/init" <<INIT
export PATH=/usr/bin:/bin
INITOS=$initos
INIT
cat >>"$outer/init" <<'INIT'
echo "OUTER_UP $(cut -d' ' -f1 /proc/uptime)"
ok() { echo "NESTED_OK $*"; echo "NESTED_OK $*" >/dev/ttyS1; }
fail() { echo "NESTED_FAIL $*"; echo "NESTED_FAIL $*" >/dev/ttyS1; }
$INITOS jail run /etc/initos/initos.toml >/tmp/run.log 2>&1 &
run=$!
# The CLI finds the socket in /etc/initos/initos.toml (jails.socket).
j() { $INITOS jail "$@"; }
ready=
i=0
while [ $i -lt 600 ]; do
  if j status nested 2>/dev/null | grep -q "^ready: yes"; then ready=1; break; fi
  if ! kill -0 $run 2>/dev/null; then break; fi
  st=$(j status nested 2>&1 | grep "^state:")
  case "$st" in *failed*|*stopped*) break ;; esac
  [ $((i % 40)) -eq 0 ] && echo "waiting for READY: $(cut -d' ' -f1 /proc/uptime) s, $st" && tail -3 /tmp/run.log
  sleep 0.5; i=$((i + 1))
done
t_ready=$(cut -d' ' -f1 /proc/uptime)
j status nested
j list
if [ -n "$ready" ]; then ok "ready at $t_ready s"; else fail "no READY"; fi
j list | grep -q "^nested .*running+ready" && ok "list running+ready" || fail "list"
grep -q "jail nested ready (version 3)" /tmp/run.log && ok "ready line" || fail "ready line"
out=$(j exec nested -- /bin/echo hi-from-guest 2>&1); rc=$?
echo "exec: rc $rc out [$out]"
[ $rc -eq 0 ] && [ "$out" = "hi-from-guest" ] && ok "exec echo" || fail "exec echo"
j exec nested -- /bin/sh -c "exit 7"; rc=$?
[ $rc -eq 7 ] && ok "exec exit 7" || fail "exec exit code $rc"
t_stop=$(cut -d' ' -f1 /proc/uptime)
j stop nested
i=0
while [ $i -lt 120 ]; do
  j status nested | grep -q "^state: stopped" && break
  sleep 0.5; i=$((i + 1))
done
j status nested
j status nested | grep -q "^state: stopped" && ok "stopped (asked at $t_stop s, now $(cut -d' ' -f1 /proc/uptime) s)" || fail "not stopped"
if pgrep -f qemu-system >/dev/null; then fail "QEMU left: $(pgrep -f qemu-system)"; else ok "no QEMU left"; fi
kill $run; wait $run
echo "--- initos jail run log:"
cat /tmp/run.log
cat /tmp/run.log >/dev/ttyS1
echo "NESTED_DONE" >/dev/ttyS1
poweroff -f
INIT
chmod +x "$outer/init"
vm_pack "$outer" "$work/outer.gz"
echo "vm-jail-nested: outer initramfs $(du -k "$work/outer.gz" | cut -f1) KiB, prepared in $(($(date +%s) - t0)) s"
t1=$(date +%s)
# The console straight to a file (unbuffered, `tail -f` it while it runs).
timeout "${VM_JAIL_NESTED_TIMEOUT:-420}" qemu-system-x86_64 -accel tcg -m 1024 -display none \
  -no-reboot -kernel "$kernel" -initrd "$work/outer.gz" -append "console=ttyS0 quiet panic=-1" \
  -drive "file=$work/disk.img,format=raw,if=virtio" -serial "file:${VM_JAIL_NESTED_LOG:-$work/log}" \
  -serial "file:$work/verdict.raw" </dev/null || true
tr -d '\r' <"${VM_JAIL_NESTED_LOG:-$work/log}" | grep -v "^.\[" | tail -n 80
echo "vm-jail-nested: boot and checks took $(($(date +%s) - t1)) s"
tr -d '\r' <"$work/verdict.raw" >"$work/verdict"
cat "$work/verdict"
if ! grep -q NESTED_DONE "$work/verdict" || grep -q NESTED_FAIL "$work/verdict" ||
  [[ $(grep -c NESTED_OK "$work/verdict") -lt 7 ]]; then
  echo "vm-jail-nested: FAILED" >&2
  exit 1
fi
echo "vm-jail-nested: passed"
