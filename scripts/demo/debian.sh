#!/usr/bin/env bash
# The main demo (`scripts/demo.sh`): a signed Debian 12 with systemd, booted
# through initos in QEMU (TCG), with the SSH sidecar reachable from this host.
#
#   1. debootstrap the Debian tree (cached in /var/cache/initos, ~3 min once);
#   2. pack and sign it with a development key (build/demo/dev, generated once);
#   3. GPT disk: the bundle (PARTLABEL=debian) + an ext4 state partition
#      (LABEL=initos-state; kept across runs, so the sidecar host key is stable);
#   4. initramfs with initos as /init, the sidecar (--with-sshd), the config;
#   5. boot. On a terminal you get the serial console (the OS's getty; root is
#      locked, log in through the sidecar from another terminal with the printed
#      ssh command; Ctrl-A X quits QEMU). Otherwise a scripted tour over ssh
#      that ends with `systemctl poweroff` in the OS.
#
# INITOS_DEMO_PORT (default 2222): host port forwarded to the sidecar's sshd.
# INITOS_DEMO_PREPARE_ONLY=1: build everything, do not boot (bench uses it).
# INITOS_SKIP_SETUP=1: do not run scripts/setup.sh (apt) first.
set -euo pipefail
cd "$(dirname "$0")/../.."

[[ $EUID -eq 0 ]] || { echo "demo: run as root (or with sudo)" >&2; exit 1; }
[[ -n ${INITOS_SKIP_SETUP:-} ]] || ./scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target initos

kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -n1)}
[[ -n $kernel ]] || { echo "demo: no /boot/vmlinuz-*-cloud-amd64; install linux-image-cloud-amd64" >&2; exit 1; }
kver=${kernel#*/vmlinuz-}
port=${INITOS_DEMO_PORT:-2222}
d=build/demo
mkdir -p "$d"

rootfs=$(./scripts/debian-rootfs.sh --tar | tail -n1)
tar=$(dirname "$rootfs")/rootfs.tar
[[ -f $d/dev/signing.key ]] || build/initos image keygen -o "$d/dev"
[[ -f $d/id_demo ]] || ssh-keygen -q -t ed25519 -N '' -C initos-demo -f "$d/id_demo"
if [[ ! -f $d/debian.bundle || $tar -nt $d/debian.bundle ]]; then
  echo "demo: packing and signing $tar"
  build/initos image build --rootfs "$tar" --key "$d/dev/signing.key" --name debian \
    --version 1 -o "$d/debian.bundle"
fi

# Disk: 1 MiB GPT header, the bundle, 64 MiB state, 1 MiB backup GPT.
part_mib=$(( ($(stat -c %s "$d/debian.bundle") + 1048575) / 1048576 ))
if [[ ! -f $d/disk.img || $d/debian.bundle -nt $d/disk.img ]]; then
  rm -f "$d/disk.img"
  truncate -s $(( part_mib + 66 ))M "$d/disk.img"
  sgdisk -n 1:2048:+${part_mib}M -c 1:debian -n 2:$(( (1 + part_mib) * 2048 )):+64M -c 2:state \
    "$d/disk.img" >/dev/null
  dd if="$d/debian.bundle" of="$d/disk.img" bs=1M seek=1 conv=notrunc status=none
  mkfs.ext4 -q -F -L initos-state "$d/state.ext4" 64M
  dd if="$d/state.ext4" of="$d/disk.img" bs=1M seek=$(( 1 + part_mib )) conv=notrunc status=none
  rm -f "$d/state.ext4" "$d/known_hosts"
fi

cat >"$d/initos.toml" <<TOML
# Demo: verify the signed Debian bundle, switch-root into its systemd, keep
# the SSH sidecar running beside it. See configs/initos.toml for every key.
[init]
mode = "switch-root"
modules = ["virtio_pci", "virtio_blk", "virtio_net", "virtio-rng", "dm-mod", "dm-verity", "erofs", "overlay", "loop"]
[rootfs]
image = "PARTLABEL=debian"
name = "debian"
keys = ["/etc/initos/keys/dev.pub"]
on-failure = "poweroff"
[state]
device = "LABEL=initos-state"
# /var and /home persist (the default); dpkg runs maintainer scripts from /var.
allow-exec = ["/var"]
[sidecar]
enable = true
authorized-keys = ["$(cat "$d/id_demo.pub")"]
TOML
build/initos image initramfs -o "$d/initramfs.img" --config "$d/initos.toml" --kver "$kver" \
  --with-sshd --file "$d/dev/signing.pub=/etc/initos/keys/dev.pub" \
  --file scripts/demo/network-up=/etc/initos/network-up \
  $(for m in virtio_pci virtio_blk virtio_net virtio-rng dm-mod dm-verity erofs overlay loop; do echo --module $m; done)

# bench/switch_root.sh reuses everything up to here.
if [[ -n ${INITOS_DEMO_PREPARE_ONLY:-} ]]; then
  echo "demo: prepared $d/initramfs.img $d/disk.img $d/id_demo"
  exit 0
fi

ssh_cmd="ssh -p $port -i $d/id_demo -o UserKnownHostsFile=$d/known_hosts -o StrictHostKeyChecking=accept-new root@127.0.0.1"
qemu=(qemu-system-x86_64 -accel "${INITOS_QEMU_ACCEL:-tcg}" -M q35 -m 768 -nographic -no-reboot
  -kernel "$kernel" -initrd "$d/initramfs.img"
  -append "console=ttyS0 panic=-1 systemd.show_status=1"
  -drive "file=$d/disk.img,format=raw,if=virtio"
  -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0
  -device virtio-rng-pci)

cat <<MSG

demo: booting Debian through initos (TCG: systemd needs 1-3 minutes).
demo: the SSH sidecar (initos + sshd beside the OS, key-only) from this host:

    $ssh_cmd

      cat /proc/1/comm                      # systemd
      cat /sysroot/etc/os-release           # the verified OS, read-only below an overlay
      nsenter -t 1 -m -r -w -- systemctl status     # the OS's own tools
      nsenter -t 1 -m -r -w -- systemctl poweroff   # clean shutdown via /run/initramfs/shutdown

MSG
if [[ -t 0 && -t 1 ]]; then
  echo "demo: serial console follows (root is locked: use the ssh command); Ctrl-A X quits QEMU"
  exec "${qemu[@]}"
fi

# Scripted tour: boot in the background, log in, look around, power off.
"${qemu[@]}" </dev/null >"$d/console.log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null || true' EXIT
run() { echo "+ $*"; $ssh_cmd -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR "$@"; }
for _ in $(seq 1 120); do
  $ssh_cmd -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR true 2>/dev/null && break
  kill -0 $qpid 2>/dev/null || { echo "demo: QEMU exited; see $d/console.log" >&2; exit 1; }
  sleep 2
done
grep -E 'initos: (stage|exec OS init)' "$d/console.log" || true
run 'echo "PID 1: $(cat /proc/1/comm)"; grep PRETTY /sysroot/etc/os-release; ls /sys/block; df -k / | tail -n1'
run 'for d in /proc/[0-9]*; do case "$(tr "\0" " " 2>/dev/null <$d/cmdline)" in @initos-sidecar*) sup=${d#/proc/};; esac; done; for d in /proc/[0-9]*; do case "$(tr "\0" " " 2>/dev/null <$d/cmdline)" in @sshd*) set -- $(cat $d/stat 2>/dev/null); [ "$4" = "$sup" ] || continue;; @initos-sidecar*) ;; *) continue;; esac; awk -v p=${d#/proc/} "/^Rss:/ {print \"sidecar pid \" p \" rss \" \$2 \" kB\"}" $d/smaps_rollup; done'
run 'for i in $(seq 120); do s=$(nsenter -t 1 -m -r -w -- systemctl is-system-running --wait 2>&1); case "$s" in running|degraded) break;; esac; sleep 0.5; done; echo "systemd: $s"' || true
run 'nsenter -t 1 -m -r -w -- systemctl --no-block poweroff 2>/dev/null' || true
wait $qpid
echo "demo: QEMU exited ($?); console log: $d/console.log"
grep -E 'initramfs-shutdown' "$d/console.log" || true
