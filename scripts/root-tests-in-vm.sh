#!/usr/bin/env bash
# Runs build/root_tests inside QEMU (TCG) on the Debian test kernel, whose
# dm-mod/dm-verity/loop/erofs modules the host kernel may lack. Boots a
# throwaway initramfs: busybox, root_tests, mkfs.erofs, veritysetup and their
# shared libraries. Usage: scripts/root-tests-in-vm.sh [BUILD_DIR [GTEST_FILTER]]
set -euo pipefail

build=$(realpath "${1:-build}")
# Only the tests that need the test kernel's device-mapper/loop/erofs modules.
filter=${2:-*Verity*:RootImageTest.*}
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)
kver=${kernel#/boot/vmlinuz-}
mods=(loop dm-mod dm-bufio reed_solomon dm-verity libcrc32c erofs overlay)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,var/tmp,mods,usr/bin,usr/sbin}
cp "$(command -v busybox)" "$root/bin/busybox"
for m in "${mods[@]}"; do cp "$(modinfo -k "$kver" -n "$m")" "$root/mods/"; done
cp "$build/root_tests" "$root/bin/"
cp "$(command -v mkfs.erofs)" "$root/usr/bin/"
cp "$(command -v veritysetup)" "$root/usr/sbin/"
for b in "$root/bin/root_tests" "$root/usr/bin/mkfs.erofs" "$root/usr/sbin/veritysetup"; do
  ldd "$b" | grep -o '/[^ ]*'
done | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in ${mods[*]}; do insmod /mods/\$m.ko; done
export PATH=/bin:/usr/bin:/usr/sbin
/bin/root_tests --gtest_color=no --gtest_filter="${filter}" 2>&1
echo "ROOT_TESTS_RC=\$?"
echo "LEFT_IN_SYS_BLOCK: \$(ls /sys/block | tr "\\n" " ")"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

timeout 600 qemu-system-x86_64 -accel tcg -m 1024 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1" | tee "$work/log" | tr -d '\r'
grep -q "ROOT_TESTS_RC=0" "$work/log"
