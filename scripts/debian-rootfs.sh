#!/usr/bin/env bash
# Builds a minimal Debian 12 (bookworm) root filesystem with systemd for the
# switch-root demo (issue 5), cached outside git so it is built only once per
# recipe: the cache key is a hash of this script (which holds the package list).
#
# usage: scripts/debian-rootfs.sh [--cache DIR] [--tar] [--print-path]
#   --cache DIR   cache root (default /var/cache/initos); the tree goes to
#                 DIR/debian-<hash>/rootfs, plus rootfs.tar with --tar
#   --tar         also write DIR/debian-<hash>/rootfs.tar (for `initos image
#                 build --rootfs`, which accepts a directory or a tarball)
#   --print-path  print the rootfs directory (building it if needed) and exit
#
# The mirror comes from this machine's apt sources at run time
# (/etc/apt/sources.list and /etc/apt/sources.list.d/*.sources|*.list), so no
# host name is written in the repository. Override with INITOS_DEBIAN_MIRROR.
#
# The OS has no passwords: root is locked. Log in through the InitOS SSH
# sidecar (which is separate from the OS) or the serial getty on ttyS0 with
# a key-only setup added later.
set -euo pipefail

SUITE=bookworm
PACKAGES=(systemd systemd-sysv udev kmod e2fsprogs iproute2 openssh-client
  procps less)
HOSTNAME_OS=initos-debian

cache=/var/cache/initos
want_tar=0
print_only=0
while (($#)); do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --tar) want_tar=1; shift ;;
    --print-path) print_only=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "debian-rootfs: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[[ $(id -u) == 0 ]] || { echo "debian-rootfs: needs root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  echo "debian-rootfs: debootstrap missing; run scripts/setup.sh" >&2; exit 1; }

# The recipe is this file: any change to it (packages, steps) rebuilds.
hash=$(sha256sum "$0" | cut -c1-16)
out="$cache/debian-$hash"
rootfs="$out/rootfs"

# First "deb" URI for the main Debian archive in the host's apt sources.
find_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: "URIs: a b" lines; skip the security archive.
    uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" |
      grep -v -- '-security' | grep -i 'debian' | head -n1 || true)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f" |
      grep -v -- '-security' | grep -i 'debian' | head -n1 || true)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
}

if [[ -f $out/.complete ]]; then
  ((print_only)) && { echo "$rootfs"; exit 0; }
  echo "debian-rootfs: cached at $rootfs"
else
  mirror=${INITOS_DEBIAN_MIRROR:-$(find_mirror)}
  [[ -n $mirror ]] || {
    echo "debian-rootfs: no Debian mirror in /etc/apt/sources*; set INITOS_DEBIAN_MIRROR" >&2
    exit 1
  }
  start=$(date +%s)
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  echo "debian-rootfs: debootstrap $SUITE into $out.tmp/rootfs (mirror from apt sources)" >&2
  debootstrap --variant=minbase --include="$include" "$SUITE" "$out.tmp/rootfs" "$mirror" \
    >"$out.tmp/debootstrap.log" 2>&1 || {
    echo "debian-rootfs: debootstrap failed; see $out.tmp/debootstrap.log" >&2
    tail -n 20 "$out.tmp/debootstrap.log" >&2
    exit 1
  }
  r="$out.tmp/rootfs"
  echo "$HOSTNAME_OS" >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$HOSTNAME_OS" >"$r/etc/hosts"
  # No passwords anywhere: lock root ('!' in shadow; login only by key).
  chroot "$r" passwd -l root >/dev/null
  # Serial console login prompt for QEMU (-serial / console=ttyS0).
  mkdir -p "$r/etc/systemd/system/getty.target.wants"
  ln -sf /lib/systemd/system/serial-getty@.service \
    "$r/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
  # The root filesystem is a read-only verified image: no fsck/remount of /.
  printf '# InitOS mounts / (verified, read-only + overlay)\n' >"$r/etc/fstab"
  # machine-id is created at boot (empty file = first boot semantics).
  : >"$r/etc/machine-id"
  # Keep the image small: apt caches and docs are not needed to boot.
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/locale/*
  # A marker the end-to-end test reads through the sidecar (/sysroot/etc/...).
  echo "initos-debian $hash" >"$r/etc/initos-os-marker"
  mv "$out.tmp/debootstrap.log" "$out.tmp/rootfs.log"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  touch "$out/.complete"
  echo "debian-rootfs: built $rootfs in $(( $(date +%s) - start ))s ($(du -sh "$rootfs" | cut -f1))" >&2
  ((print_only)) && { echo "$rootfs"; exit 0; }
fi

if ((want_tar)) && [[ ! -f $out/rootfs.tar ]]; then
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$out/rootfs.tar.tmp" .
  mv "$out/rootfs.tar.tmp" "$out/rootfs.tar"
  echo "debian-rootfs: $out/rootfs.tar"
fi
echo "$rootfs"
