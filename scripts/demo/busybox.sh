#!/usr/bin/env bash
# Busybox demo (`scripts/demo.sh --busybox`): builds initos, packs it as /init of an initramfs with a demo config and
# boots it in QEMU (TCG). Interactive console when run on a terminal (leave
# with `exit` or `/init poweroff`; Ctrl-A X kills QEMU), a scripted tour that
# powers off otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $EUID -ne 0 ]]; then
  echo "demo.sh: run as root (or with sudo): the kernel image in /boot is root-only" >&2
  exit 1
fi

./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target initos

kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -n1)}
if [[ -z $kernel ]]; then
  echo "demo.sh: no /boot/vmlinuz-*-cloud-amd64; install linux-image-cloud-amd64" >&2
  exit 1
fi
img=build/demo-initramfs.img
build/initos image initramfs -o "$img" --config scripts/demo/initos.toml \
  --file /bin/busybox=/bin/busybox --file scripts/demo/main.sh=/demo/main.sh
echo "demo.sh: built $img ($(stat -c %s "$img") bytes); booting $kernel"

append="console=ttyS0 panic=-1 quiet loglevel=4"
if [[ -t 0 && -t 1 ]]; then
  append+=" demo=interactive"
  echo "demo.sh: interactive; exit the shell to power off (Ctrl-A X kills QEMU)"
fi
exec qemu-system-x86_64 -accel "${INITOS_QEMU_ACCEL:-tcg}" -M q35 -m 512 -nographic \
  -no-reboot -nic none -kernel "$kernel" -initrd "$img" -append "$append"
