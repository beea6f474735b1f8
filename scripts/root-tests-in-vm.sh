#!/usr/bin/env bash
# Runs build/root_tests inside QEMU (TCG) on the Debian test kernel, whose
# dm-mod/dm-verity/loop/erofs modules the host kernel may lack. Boots a
# throwaway initramfs: busybox, root_tests, mkfs.erofs, veritysetup, dmsetup
# and their shared libraries. Usage: scripts/root-tests-in-vm.sh [BUILD_DIR [GTEST_FILTER]]
#
# In the VM a missing kernel feature is a failure, not a skip
# (INITOS_REQUIRE_KERNEL_FEATURES=1, base/testing/require.h), and no test may
# skip at all. The filter always includes every test tests/skip-allowlist.txt
# marks `[vm]` (allowed to skip on the host because it runs here). The
# googletest XML comes back over a second serial port and is checked by
# scripts/check-skip-policy.py: every selected test ran, none skipped.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-build}")
# The tests that need the test kernel's device-mapper/loop/erofs modules, and
# those the allow-list lets skip on the host because they run here.
filter=${2:-*Verity*:RootImageTest.*:Container*:JailRun*:NetRoot.*:SeccompRoot.*:CapabilitiesRoot.*:SpawnClone*}
vm_tests=$(awk '!/^[[:space:]]*#/ && $2 == "[vm]" {print $1}' "$src/tests/skip-allowlist.txt" | paste -sd: -)
[[ -n "$vm_tests" ]] && filter="$filter:$vm_tests"
. "$(dirname "$0")/vm-lib.sh"
vm_kernel
# The VFIO tests (jail/vfio_root_test.cpp) get an emulated IOMMU and NIC
# (vm_iommu_args), the vsock ones (jail/vm_channel_host_root_test.cpp) the
# loopback transport and vhost-vsock.
mods=(loop dm-mod dm-bufio reed_solomon dm-verity libcrc32c erofs overlay veth
  "${vm_iommu_mods[@]}" vsock vmw_vsock_virtio_transport_common vsock_loopback vhost_iotlb vhost
  vhost_vsock)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# What the filter selects here is what must run there.
"$build/root_tests" --gtest_list_tests --gtest_filter="$filter" |
  awk '/^[^ ]/ {suite=$1; next} /^  [^ ]/ {print suite $1}' >"$work/expected"
expected=$(wc -l <"$work/expected")
echo "root-tests-in-vm: $expected tests selected by --gtest_filter=$filter"
root=$work/root
vm_root "$root" "${mods[@]}"
cp "$build/root_tests" "$root/bin/"
# /lib/modules/$kver with modules.dep and some of its modules, for LoadModules
# on the running kernel (ModulesRoot.*; veth and macvlan for NetRoot.*).
mkdir -p "$root/lib/modules/$kver"
cp "/lib/modules/$kver/modules.dep" "/lib/modules/$kver/modules.builtin" "$root/lib/modules/$kver/"
for m in loop dm-mod veth macvlan; do
  ko=$(modinfo -k "$kver" -n "$m")
  mkdir -p "$root$(dirname "$ko")"
  cp "$ko" "$root$ko"
done
# GNU tar and util-linux losetup: `initos image build` and the tests need
# options busybox lacks. The tests' shell is dash: busybox's sh would run its
# own applets before anything on PATH.
vm_add_bins "$root" "$(command -v mkfs.erofs)" "$(command -v veritysetup)" \
  "$(command -v tar)" "$(command -v losetup)" "$(command -v dmsetup)" "$(readlink -f /bin/sh)"
vm_add_libs "$root" "$root/bin/root_tests"
# Tests run INITOS_BINARY by its absolute build path; it is static.
[[ -x "$build/initos" ]] && vm_add_bins "$root" "$build/initos"
cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
ln -sf $(readlink -f /bin/sh) /bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys
# cgroup2 for the jails' limits (jail/container_root_test.cpp).
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# No tmpfs on /tmp: the initramfs is already RAM, and a build dir under /tmp
# (a CI clone) holds the initos binary the tests run.
mount -t devtmpfs dev /dev
# ptys for the jails' console tests.
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
mkdir -p /run/cryptsetup
for m in ${mods[*]}; do insmod /mods/\$m.ko; done
export PATH=/usr/sbin:/usr/bin:/bin
export INITOS_REQUIRE_KERNEL_FEATURES=1
export INITOS_VFIO_TEST_NIC=$vm_iommu_nic
/bin/root_tests --gtest_color=no --gtest_filter="${filter}" --gtest_output=xml:/tmp/root_tests.xml 2>&1
echo "ROOT_TESTS_RC=\$?"
cat /tmp/root_tests.xml > /dev/ttyS1
echo "LEFT_IN_SYS_BLOCK: \$(ls /sys/block | tr "\\n" " ")"
poweroff -f
INIT
chmod +x "$root/init"
vm_pack "$root" "$work/initrd.gz"

# serial0: the console (stdout and the log); serial1: the googletest XML.
VM_APPEND="intel_iommu=on ${VM_APPEND:-}" vm_boot "$work/initrd.gz" "$work/log" 600 \
  "${vm_iommu_args[@]}" -serial mon:stdio -serial "file:$work/xml.raw" || true
tr -d '\r' <"$work/xml.raw" >"$work/root_tests.xml"
[[ -d "$build/Testing" ]] && cp "$work/root_tests.xml" "$build/Testing/root_tests_in_vm.xml"
status=0
grep -q "ROOT_TESTS_RC=0" "$work/log" || { echo "root-tests-in-vm: root_tests failed in the VM" >&2; status=1; }
"$src/scripts/check-skip-policy.py" --allowlist /dev/null --results "$work/root_tests.xml" \
  --expected "$expected" --expect-names "$work/expected" --label root_tests_in_vm || status=1
exit "$status"
