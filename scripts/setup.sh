#!/usr/bin/env bash
# Installs everything InitOS needs to build, test and demo on Debian 12 (as root).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang clang-format lld
  libssl-dev libcap-dev libseccomp-dev libmnl-dev libtomlplusplus-dev
  zlib1g-dev libzstd-dev libgtest-dev googletest libblkid-dev
  # images and peers
  erofs-utils cryptsetup-bin busybox-static cpio zstd e2fsprogs dosfstools
  util-linux fdisk gdisk kmod file btrfs-progs dmsetup
  # CI checks (scripts/check-skip-policy.py, scripts/check-playbook.sh)
  python3 ansible-core
  # boots
  qemu-system-x86 qemu-utils linux-image-cloud-amd64 ovmf
  systemd-boot-efi sbsigntool efitools mtools swtpm swtpm-tools
  # sidecar and the Debian demo
  openssh-server openssh-client debootstrap
  # benchmarks
  hyperfine tini bubblewrap crun valgrind strace
  # scripts/vm-nested-probe.sh (by hand): the inner guest speaks vsock through socat
  socat
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
