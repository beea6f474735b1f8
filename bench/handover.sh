#!/usr/bin/env bash
# Switch-root figures against Debian's own initramfs-tools, for bench/run
# (`bench/run --only handover`), issue 14:
#   handover_systemd: kernel `Run /init` -> systemd's first line ("systemd
#     252... running in system mode"), both from the kernel's printk clock on
#     the serial console. initos side: the demo's signed Debian bundle on a
#     GPT partition, verified (signature, dm-verity), overlay with the state
#     partition, sidecar started, switch-root. Peer: the same Debian tree on
#     a plain ext4 disk, booted by the kernel's initramfs-tools initrd from
#     /boot (root=/dev/vda), no verification.
#   power_on_ssh (full runs only): QEMU start -> an SSH login succeeds (host
#     wall clock). initos side: the sidecar's sshd. Peer: Debian's own
#     openssh-server, installed into a copy of the same tree, after systemd
#     has brought the network (systemd-networkd, DHCP) and ssh.service up.
# Same kernel, QEMU machine (q35, TCG, one vCPU, 768 MiB, a virtio-rng as
# cloud VMs have: QEMU's default CPU has no RDRAND), network and console on
# both sides (Debian's initrd carries no hw_random driver and the tree no
# modules, so only initos' config loads virtio-rng); disks are opened with snapshot=on, so every boot
# starts from the same bytes. The two sides are interleaved run by run.
# Usage: bench/handover.sh --raw DIR -n N --initos BINARY --work DIR [--quick]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
quick=0
bench_args "$@"
repo=$(cd "$(dirname "$0")/.." && pwd)
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
kver=${kernel##*/vmlinuz-}
initrd=/boot/initrd.img-$kver
accel=${INITOS_QEMU_ACCEL:-tcg}
port=${INITOS_BENCH_PORT:-2224}
[[ -f $initrd ]] || {
  echo "bench/handover.sh: $initrd missing: the peer is Debian's initramfs-tools initrd for $kver" \
    "(apt-get install --reinstall linux-image-$kver builds it)" >&2
  exit 1
}
rm -rf "$work" && mkdir -p "$work"

rootfs=$(cd "$repo" && ./scripts/debian-rootfs.sh --print-path | tail -n1)

# The peer's tree: the same Debian tree plus openssh-server and a DHCP
# network, cached beside the tree (whose path changes with its own recipe).
peer_tree=$(dirname "$rootfs")/peer-ssh-v1  # v: bump when the recipe below changes
if [[ ! -f $peer_tree.done ]]; then
  echo "bench/handover.sh: making the peer's tree (Debian + openssh-server) once: $peer_tree" >&2
  rm -rf "$peer_tree" && cp -a "$rootfs" "$peer_tree"
  cp /etc/resolv.conf "$peer_tree/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$peer_tree/usr/sbin/policy-rc.d"  # no service starts in the chroot
  chmod 755 "$peer_tree/usr/sbin/policy-rc.d"
  mount --bind /proc "$peer_tree/proc"
  mount --bind /dev "$peer_tree/dev"
  ok=0
  chroot "$peer_tree" sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
    --no-install-recommends openssh-server' >"$work/peer-apt.log" 2>&1 && ok=1
  umount "$peer_tree/proc" "$peer_tree/dev"
  rm -f "$peer_tree/usr/sbin/policy-rc.d"
  ((ok)) || { tail -n 20 "$work/peer-apt.log" >&2; echo "bench/handover.sh: apt in the peer's tree failed" >&2; exit 1; }
  mkdir -p "$peer_tree/etc/systemd/network" "$peer_tree/etc/systemd/system/multi-user.target.wants"
  printf '[Match]\nName=en*\n[Network]\nDHCP=yes\n' >"$peer_tree/etc/systemd/network/10-en.network"
  ln -sf /lib/systemd/system/systemd-networkd.service \
    "$peer_tree/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  touch "$peer_tree.done"
fi
# The initos side: the demo's image (build/demo, debootstrap tree cached in
# /var/cache/initos).
(cd "$repo" && INITOS_DEMO_PREPARE_ONLY=1 INITOS_SKIP_SETUP=1 ./scripts/demo/debian.sh >/dev/null)
demo=$repo/build/demo

mkdir -p "$work/peer/root/.ssh"
cp "$demo/id_demo.pub" "$work/peer/root/.ssh/authorized_keys"
size_mib=$(($(du -sm "$peer_tree" | cut -f1) * 3 / 2 + 256))
rm -f "$work/peer.ext4"
mkfs.ext4 -q -F -L peer-root -d "$peer_tree" "$work/peer.ext4" "${size_mib}M"
# The login key without touching the cached tree: debugfs writes it in.
debugfs -w -R "mkdir /root/.ssh" "$work/peer.ext4" >/dev/null 2>&1 || true
debugfs -w -R "write $work/peer/root/.ssh/authorized_keys /root/.ssh/authorized_keys" \
  "$work/peer.ext4" >/dev/null 2>&1

# The initos side's disk as the peer's is: booted before. The demo's
# disk.img is as built (an empty state partition), so a boot of it is the
# product's first boot: the sidecar generates its SSH host key (ssh-keygen
# blocks in getrandom until the kernel's crng is ready, the kernel's jitter
# entropy loop burning the one vCPU beside systemd), /var and /home get
# their upper directories, the booted version is recorded for the first
# time. The peer's tree got its host keys when openssh-server was installed.
# So one unmeasured boot of a copy, until an SSH login works and has synced
# the state partition; every measured boot starts from that copy
# (snapshot=on).
initos_disk=$work/initos-disk.img
cp "$demo/disk.img" "$initos_disk"

common=(qemu-system-x86_64 -accel "$accel" -M q35 -m 768 -smp 1 -nographic -no-reboot -kernel "$kernel"
  -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0
  -device virtio-rng-pci)
snapshot=on
side_args() {  # side_args a|b: the side's initrd, disk and kernel command line, into $args
  if [[ $1 == a ]]; then
    args=(-initrd "$demo/initramfs.img" -drive "file=$initos_disk,format=raw,if=virtio,snapshot=$snapshot"
      -append "console=ttyS0 panic=-1")
  else
    args=(-initrd "$initrd" -drive "file=$work/peer.ext4,format=raw,if=virtio,snapshot=$snapshot"
      -append "console=ttyS0 panic=-1 root=/dev/vda rw")
  fi
}
ssh_cmd=(ssh -p "$port" -i "$demo/id_demo" -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no
  -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR root@127.0.0.1)

qpid=
cleanup() { [[ -z $qpid ]] || kill "$qpid" 2>/dev/null || true; }
trap cleanup EXIT

# boot SIDE LOG UNTIL: starts QEMU and waits (at most 300 s) until UNTIL is
# "systemd" (its first line on the console) or "ssh" (a login succeeds);
# prints the seconds from QEMU start to that point, then stops QEMU.
boot() {
  local side=$1 log=$2 until=$3 start t i args
  side_args "$side"
  start=$(now_ns)
  "${common[@]}" "${args[@]}" </dev/null >"$log" 2>&1 &
  qpid=$!
  for ((i = 0; i < 3000; i++)); do
    kill -0 "$qpid" 2>/dev/null || { echo "bench/handover.sh: QEMU ($side) exited early; see $log" >&2; return 1; }
    if [[ $until == systemd ]]; then
      grep -q 'systemd\[1\]: systemd [0-9][^ ]* running in system mode' "$log" && break
    elif "${ssh_cmd[@]}" "${ssh_run:-true}" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  t=$(now_ns)
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  qpid=
  ((i < 3000)) || { echo "bench/handover.sh: ($side) $until not reached in 300 s; see $log" >&2; return 1; }
  awk -v a="$t" -v b="$start" 'BEGIN { printf "%.2f\n", (a - b) / 1e9 }'
}

# The first boot of the initos side's disk, kept (snapshot=off): until a
# login works, then sync the state partition (the sidecar's shell is busybox).
snapshot=off ssh_run=sync
boot a "$work/first-boot-a.log" ssh >/dev/null ||
  { echo "bench/handover.sh: the unmeasured first boot failed" >&2; exit 1; }
snapshot=on ssh_run=true

# Kernel printk seconds from `Run /init` to systemd's first line.
handover_ms() {
  awk '/Run \/init as init process/ && !a { gsub(/[][]/, "", $1); a = $1 + 0 }
       /systemd\[1\]: systemd [0-9][^ ]* running in system mode/ && a && !b {
         gsub(/[][]/, "", $1); b = $1 + 0 }
       END { if (a && b) printf "%.0f\n", (b - a) * 1000; else exit 1 }' \
    < <(sed 's/^\[ */[/' "$1")
}

figure handover_systemd \
  "title=/init -> systemd's first line (kernel \`Run /init\` to \`systemd ... running in system mode\`, printk clock)" \
  unit=ms "a=initos (verify + dm-verity + overlay + sidecar, switch-root)" \
  "b=Debian initramfs-tools (plain ext4 root, no verification)" \
  goal_ratio_max=0.25 better=lower \
  "command=qemu-system-x86_64 -accel $accel -M q35 -m 768 -kernel vmlinuz-$kver: -initrd initos' initramfs.img (demo) | -initrd $initrd root=/dev/vda"
for ((r = 1; r <= n; r++)); do
  for side in a b; do
    boot "$side" "$work/handover-$side-$r.log" systemd >/dev/null
    ms=$(handover_ms "$work/handover-$side-$r.log") ||
      { echo "bench/handover.sh: no 'Run /init' or systemd line in $work/handover-$side-$r.log" >&2; exit 1; }
    sample handover_systemd "$side" "$ms"
  done
done
done_figure handover_systemd

# Power-on to SSH login boots the whole OS on the peer's side (~20 s under
# TCG per boot): full runs only.
if ((quick)); then
  figure power_on_ssh "title=QEMU start -> SSH login" status=not-measured \
    "note=full runs only (bench/run without --quick): two whole boots per repetition"
  done_figure power_on_ssh
  exit 0
fi
figure power_on_ssh "title=QEMU start -> SSH login succeeds (host wall clock)" unit=s \
  "a=initos (sidecar sshd, OS booting beside it)" \
  "b=Debian initramfs-tools + Debian's openssh-server" \
  goal_ratio_max=0.4 better=lower \
  "command=as handover_systemd, then ssh -p $port root@127.0.0.1 true until it succeeds"
for ((r = 1; r <= n; r++)); do
  for side in a b; do
    s=$(boot "$side" "$work/ssh-$side-$r.log" ssh)
    sample power_on_ssh "$side" "$s"
  done
done
done_figure power_on_ssh
