#!/usr/bin/env bash
# Runs build/root_tests inside QEMU (TCG) on the Debian test kernel, whose
# dm-mod/dm-verity/loop/erofs modules the host kernel may lack. Boots a
# throwaway initramfs: busybox, root_tests, mkfs.erofs, veritysetup and their
# shared libraries. Usage: scripts/root-tests-in-vm.sh [BUILD_DIR [GTEST_FILTER]]
set -euo pipefail

build=$(realpath "${1:-build}")
# Only the tests that need the test kernel's device-mapper/loop/erofs modules.
filter=${2:-*Verity*:RootImageTest.*}
. "$(dirname "$0")/vm-lib.sh"
vm_kernel
mods=(loop dm-mod dm-bufio reed_solomon dm-verity libcrc32c erofs overlay)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
vm_root "$root" "${mods[@]}"
cp "$build/root_tests" "$root/bin/"
# GNU tar and util-linux losetup: `initos image build` and the tests need
# options busybox lacks. The tests' shell is dash: busybox's sh would run its
# own applets before anything on PATH.
vm_add_bins "$root" "$(command -v mkfs.erofs)" "$(command -v veritysetup)" \
  "$(command -v tar)" "$(command -v losetup)" "$(readlink -f /bin/sh)"
vm_add_libs "$root" "$root/bin/root_tests"
# Tests run INITOS_BINARY by its absolute build path; it is static.
[[ -x "$build/initos" ]] && vm_add_bins "$root" "$build/initos"
cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
ln -sf $(readlink -f /bin/sh) /bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys
# No tmpfs on /tmp: the initramfs is already RAM, and a build dir under /tmp
# (a CI clone) holds the initos binary the tests run.
mount -t devtmpfs dev /dev
for m in ${mods[*]}; do insmod /mods/\$m.ko; done
export PATH=/usr/sbin:/usr/bin:/bin
/bin/root_tests --gtest_color=no --gtest_filter="${filter}" 2>&1
echo "ROOT_TESTS_RC=\$?"
echo "LEFT_IN_SYS_BLOCK: \$(ls /sys/block | tr "\\n" " ")"
poweroff -f
INIT
chmod +x "$root/init"
vm_pack "$root" "$work/initrd.gz"

vm_boot "$work/initrd.gz" "$work/log" 600 || true
grep -q "ROOT_TESTS_RC=0" "$work/log"
