# Shared helpers for throwaway QEMU (TCG) guests on the Debian test kernel:
# an initramfs with busybox, kernel modules and host tools (with their shared
# libraries), booted with the console on stdout. Source it from bash:
#   . scripts/vm-lib.sh
#   vm_kernel; vm_root "$root" loop dm-mod ...; vm_add_bins "$root" /usr/sbin/veritysetup
#   (write "$root/init"); vm_pack "$root" initrd.gz; vm_boot initrd.gz log 600 -drive ...
# Used by scripts/root-tests-in-vm.sh and bench/rootfs.sh.

# Sets $kernel (newest /boot/vmlinuz-*-cloud-amd64) and $kver.
vm_kernel() {
  kernel=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -1)
  [[ -n "$kernel" ]] || { echo "vm-lib: no /boot/vmlinuz-*-cloud-amd64 test kernel" >&2; return 1; }
  kver=${kernel#/boot/vmlinuz-}
}

# vm_root ROOT MODULE...: skeleton dirs, busybox as /bin/busybox, the modules'
# .ko files (for $kver) in /mods in the order given (insmod them in that order).
vm_root() {
  local root=$1 m; shift
  mkdir -p "$root"/{bin,proc,sys,dev,tmp,var/tmp,mods,usr/bin,usr/sbin}
  cp "$(command -v busybox)" "$root/bin/busybox"
  for m in "$@"; do cp "$(modinfo -k "$kver" -n "$m")" "$root/mods/"; done
}

# vm_add_bins ROOT PATH...: copies each binary to the same path under ROOT,
# plus its shared libraries.
vm_add_bins() {
  local root=$1 b; shift
  for b in "$@"; do
    mkdir -p "$root$(dirname "$b")"
    cp "$b" "$root$b"
  done
  vm_add_libs "$root" "$@"
}

# vm_add_libs ROOT BINARY...: copies the shared libraries ldd lists for the
# binaries to the same paths under ROOT (static binaries have none).
vm_add_libs() {
  local root=$1 b lib; shift
  for b in "$@"; do
    ldd "$b" 2>/dev/null | grep -o '/[^ ]*' || true
  done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# A q35 guest with QEMU's emulated VT-d IOMMU (interrupt remapping needs the
# split irqchip) and one emulated NIC at PCI $vm_iommu_nic, for VFIO tests:
# vmxnet3, whose guest driver is a single module (vmxnet3) in the cloud
# kernel. Pass "${vm_iommu_args[@]}" to vm_boot and add intel_iommu=on to
# VM_APPEND.
# shellcheck disable=SC2034  # used by the scripts sourcing this file
vm_iommu_nic=0000:00:05.0
# shellcheck disable=SC2034,SC2054
vm_iommu_args=(-machine q35,kernel-irqchip=split -device intel-iommu,intremap=on
  -netdev user,id=nic0,restrict=on -device vmxnet3,netdev=nic0,addr=05.0)
# Their guest modules, in insmod order: the NIC's driver, then VFIO.
# shellcheck disable=SC2034
vm_iommu_mods=(vmxnet3 vfio vfio_iommu_type1 vfio_virqfd irqbypass vfio-pci-core vfio-pci)

# vm_pack ROOT OUT: newc cpio, gzip -1.
vm_pack() {
  (cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}

# vm_boot INITRD LOG TIMEOUT_S [QEMU ARGS...]: boots $kernel with INITRD under
# TCG, console to stdout and LOG (CRs stripped). Returns QEMU's status (124 on timeout).
vm_boot() {
  local initrd=$1 log=$2 secs=$3; shift 3
  timeout "$secs" qemu-system-x86_64 -accel tcg -m "${VM_MEMORY_MB:-1024}" -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 ${VM_APPEND:-}" "$@" </dev/null | tr -d '\r' | tee "$log"
  return "${PIPESTATUS[0]}"
}
