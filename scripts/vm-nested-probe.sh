#!/usr/bin/env bash
# The nested VM test of the VM-jail vsock channel (issue 11): the project's
# hosts have no vhost-vsock, so a VM jail's channel can only be tried one
# level down. Boots the Debian test kernel under TCG (the "outer" guest, with
# QEMU, its firmware, vhost_vsock and root_tests inside) and runs
# VsockNestedRoot.* there: the test claims a guest CID on /dev/vhost-vsock,
# boots the same kernel again under QEMU (the "inner" guest, a stand-in for
# a VM jail) with that fd, and gets the inner guest's READY line and an echo
# over vsock. The inner /init uses socat (Debian 12's 1.7.4 speaks
# VSOCK-CONNECT/LISTEN) until the guest agent exists. Prints sizes and times.
# Not part of root-tests-in-vm.sh: a TCG guest inside a TCG guest takes
# about 1.5 min to reach userspace.
# Usage: scripts/vm-nested-probe.sh [BUILD_DIR]
set -euo pipefail

build=$(realpath "${1:-build}")
. "$(dirname "$0")/vm-lib.sh"
vm_kernel
command -v socat >/dev/null || { echo "vm-nested-probe: needs socat (apt-get install socat)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The inner guest: busybox, socat, the virtio-vsock guest transport.
inner=$work/inner
inner_mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
  vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)
vm_root "$inner" "${inner_mods[@]}"
vm_add_bins "$inner" "$(command -v socat)"
cat >"$inner/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${inner_mods[*]}; do insmod /mods/\$m.ko; done
echo "INNER_UP \$(cut -d' ' -f1 /proc/uptime)"
# Stand-ins for the guest agent (echo on the agent port) and the READY report.
socat VSOCK-LISTEN:1024,fork EXEC:cat &
sleep 1
echo "READY nested 1" | socat - VSOCK-CONNECT:2:1025 && echo INNER_SENT
sleep 3600
INIT
chmod +x "$inner/init"
vm_pack "$inner" "$work/inner.gz"

# The outer guest: QEMU with its shared libraries, its TCG module and only
# the firmware a -kernel boot needs; vhost_vsock; root_tests; the kernel and
# the inner initramfs.
outer=$work/outer
outer_mods=(vsock vmw_vsock_virtio_transport_common vhost_iotlb vhost vhost_vsock)
vm_root "$outer" "${outer_mods[@]}"
vm_add_bins "$outer" "$(command -v qemu-system-x86_64)" \
  /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$build/root_tests"
mkdir -p "$outer/usr/share/qemu" "$outer/boot"
for f in bios-256k.bin bios-microvm.bin linuxboot_dma.bin kvmvapic.bin vgabios-stdvga.bin \
  efi-virtio.rom multiboot_dma.bin; do
  for d in /usr/share/qemu /usr/share/seabios; do
    if [[ -e $d/$f ]]; then
      cp -L "$d/$f" "$outer/usr/share/qemu/"
      break
    fi
  done
done
cp "$kernel" "$outer/boot/vmlinuz"
cp "$work/inner.gz" "$outer/boot/inner.gz"
cat >"$outer/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${outer_mods[*]}; do insmod /mods/\$m.ko; done
export PATH=/usr/bin:/bin
echo "OUTER_UP \$(cut -d' ' -f1 /proc/uptime)"
INITOS_NESTED_KERNEL=/boot/vmlinuz INITOS_NESTED_INITRD=/boot/inner.gz \\
  $build/root_tests --gtest_color=no --gtest_filter='VsockNestedRoot.*' 2>&1
echo "ROOT_TESTS_RC=\$?"
poweroff -f
INIT
chmod +x "$outer/init"
vm_pack "$outer" "$work/outer.gz"
echo "vm-nested-probe: inner initramfs $(du -k "$work/inner.gz" | cut -f1) KiB," \
  "outer initramfs $(du -k "$work/outer.gz" | cut -f1) KiB ($(du -sk "$outer" | cut -f1) KiB unpacked)"
t0=$(date +%s)
VM_MEMORY_MB=1024 vm_boot "$work/outer.gz" "$work/log" 1500 || true
echo "vm-nested-probe: whole run $(($(date +%s) - t0)) s"
grep -q "ROOT_TESTS_RC=0" "$work/log" || { echo "vm-nested-probe: VsockNestedRoot failed" >&2; exit 1; }
