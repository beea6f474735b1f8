#!/usr/bin/env bash
# VM jail figures for bench/run (`bench/run --only vm`), issue 11:
#   vm_jail_start: `initos jail run CONFIG` started -> the jail command's first
#     console line, against a plain qemu-system-x86_64 booting the same kernel
#     (same machine, accelerator, memory, cpus and kernel command line, taken
#     from the jail's own QEMU) and the same disk (the signed busybox bundle,
#     virtio-blk read-only) with a minimal busybox initramfs whose /init prints
#     the same marker. The two sides interleaved run by run.
#     The initos side includes what a VM jail does before and in the guest:
#     the host's full bundle verification, the guest initramfs built in
#     memory, QEMU's sandbox (namespaces, uid, seccomp), the guest initos
#     verifying the bundle again and setting up dm-verity, the switch-root.
#   vm_jail_rss / vm_jail_pss: host memory of one running VM jail (QEMU's
#     Rss/Pss + the supervisor's, `initos jail run` with this one jail) vs
#     the plain QEMU's, 2 s after the marker (smaps_rollup).
# Accelerator: $INITOS_QEMU_ACCEL (default tcg: KVM only where
# jail/kvm_probe says it works; nested KVM here does not).
# Usage: bench/vm.sh --raw DIR -n N --initos BINARY --work DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_args "$@"
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
accel=${INITOS_QEMU_ACCEL:-tcg}
pool=350000  # QEMU's uid: the pool's first
rm -rf "$work" && mkdir -p "$work"
chmod 755 "$work"

# The guest's root: static busybox, signed as a bundle.
tree=$work/tree
mkdir -p "$tree"/{bin,proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$tree/bin/busybox"
for a in sh echo sleep; do ln -s busybox "$tree/bin/$a"; done
"$initos" image keygen -o "$work/keys" >/dev/null
"$initos" image build --rootfs "$tree" --key "$work/keys/signing.key" --name benchos \
  --version 1 -o "$work/os.bundle" >/dev/null

# As on a real host: the bundle a file in a labelled ext4 (LABEL=fs:/file).
label=vmbench$$
mkdir -p "$work/imgs"
cp "$work/os.bundle" "$work/imgs/os.bundle"
mkfs.ext4 -q -F -L "$label" -d "$work/imgs" "$work/imgs.ext4" 32M
loopdev=$(losetup -f --show -r "$work/imgs.ext4")
jail_run=
cleanup() {
  [[ -z $jail_run ]] || { kill "$jail_run" 2>/dev/null && wait "$jail_run" 2>/dev/null; } || true
  # The supervisor leaves the image filesystem mounted, one more mount per
  # `initos jail run`: all of them go, then the loop device (autoclear).
  local i
  for ((i = 0; i < 100; i++)); do umount -l /run/initos-jails/vmbench/image-fs 2>/dev/null || break; done
  losetup -d "$loopdev" 2>/dev/null || true
}
trap cleanup EXIT

cat >"$work/jail.toml" <<EOT
[rootfs]
keys = ["$work/keys/signing.pub"]
[jails]
socket = "$work/ctl/jails.sock"
uid-pool-start = $pool
[[jail]]
name = "vmbench"
kind = "vm"
rootfs = "LABEL=$label:/os.bundle"
rootfs-name = "benchos"
command = ["/bin/sh", "-c", "echo VMBENCH-UP-\$((6*7)); exec sleep 100000"]
kernel = "$kernel"
accel = "$accel"
machine = "microvm"
memory = "256M"
vsock = false
restart = "never"
stop-timeout-ms = 500
EOT

# The plain side's initramfs: static busybox, /init prints the marker.
mini=$work/mini
mkdir -p "$mini"/{bin,dev,proc}
cp "$(command -v busybox)" "$mini/bin/busybox"
printf '#!/bin/busybox sh\necho VMBENCH-UP-$((6*7))\nexec /bin/busybox sleep 100000\n' >"$mini/init"
chmod 755 "$mini/init"
(cd "$mini" && find . | cpio -o -H newc --quiet) >"$work/mini.cpio"

# wait_marker FILE PID: until FILE has the marker (or PID died / 300 s).
wait_marker() {
  local w
  for ((w = 0; w < 30000; w++)); do
    grep -q 'VMBENCH-UP-42' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
mem() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }  # mem PID Rss|Pss
# QEMU of the jail run PID (its child, as QEMU's uid), or of any run.
uid_pid() { pgrep -u "$pool" ${1:+-P "$1"} | head -n1 || true; }
ms_since() { awk -v d=$(($(now_ns) - $1)) 'BEGIN { printf "%.1f", d / 1e6 }'; }

plain_args=()
run_initos() {
  local t0 pid qpid
  # Gone first: the background job truncates it only once it runs, and
  # the last run's marker must not count.
  rm -f "$work/initos.out"
  t0=$(now_ns)
  "$initos" jail run "$work/jail.toml" >"$work/initos.out" 2>"$work/initos.err" &
  pid=$!
  jail_run=$pid
  wait_marker "$work/initos.out" "$pid" || { cat "$work/initos.err" >&2; return 1; }
  start_ms=$(ms_since "$t0")
  qpid=$(uid_pid "$pid")
  [[ -n $qpid ]] || { echo "bench/vm.sh: no QEMU under initos jail run $pid" >&2; cat "$work/initos.err" >&2; return 1; }
  if ((${#plain_args[@]} == 0)); then
    # The plain QEMU gets the jail QEMU's machine, accelerator, memory,
    # cpus and kernel command line.
    mapfile -d '' -t jargv <"/proc/$qpid/cmdline"
    local i
    for ((i = 1; i < ${#jargv[@]}; i++)); do
      case ${jargv[i]} in
        -accel | -M | -machine | -m | -smp | -append | -cpu) plain_args+=("${jargv[i]}" "${jargv[i + 1]}") ;;
      esac
    done
    echo "bench/vm.sh: jail QEMU: ${jargv[*]}" >&2
  fi
  sleep 2
  rss=$(($(mem "$qpid" Rss) + $(mem "$pid" Rss)))
  pss=$(($(mem "$qpid" Pss) + $(mem "$pid" Pss)))
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  jail_run=
  local left
  left=$(uid_pid || true)
  if [[ -n $left ]]; then
    echo "bench/vm.sh: QEMU $left still there after \`initos jail run\` ended: $(grep -E '^(State|PPid)' /proc/$left/status | tr '\n' ' ')" >&2
    sleep 1
    left=$(uid_pid || true)
    [[ -z $left ]] || { echo "bench/vm.sh: QEMU $left left after the stop" >&2; return 1; }
  fi
}
run_plain() {
  local t0 pid
  rm -f "$work/plain.out"
  t0=$(now_ns)
  qemu-system-x86_64 "${plain_args[@]}" -nographic -nodefaults -no-user-config -monitor none \
    -serial stdio -kernel "$kernel" -initrd "$work/mini.cpio" \
    -drive "file=$work/os.bundle,format=raw,if=none,id=disk,readonly=on" \
    -device virtio-blk-device,drive=disk </dev/null >"$work/plain.out" 2>&1 &
  pid=$!
  wait_marker "$work/plain.out" "$pid" || { cat "$work/plain.out" >&2; return 1; }
  start_ms=$(ms_since "$t0")
  sleep 2
  rss=$(mem "$pid" Rss)
  pss=$(mem "$pid" Pss)
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run_initos  # warms caches and takes the jail QEMU's options for the plain side
run_plain
cmd_a="initos jail run J.toml (kind = vm, microvm, $accel, 256M, busybox bundle)"
cmd_b="qemu-system-x86_64 ${plain_args[*]} -kernel K -initrd busybox.cpio -drive BUNDLE (virtio-blk-device)"
figure vm_jail_start "title=VM jail start to guest userspace (first console line of the command)" \
  unit=ms better=lower a="initos VM jail" b="plain QEMU" "command=$cmd_a | $cmd_b"
figure vm_jail_rss "title=host memory per VM jail: Rss of QEMU + supervisor" unit=kB better=lower \
  a="initos VM jail" b="plain QEMU" "command=$cmd_a | $cmd_b; smaps_rollup 2 s after the marker"
figure vm_jail_pss "title=host memory per VM jail: Pss of QEMU + supervisor" unit=kB better=lower \
  a="initos VM jail" b="plain QEMU" "command=$cmd_a | $cmd_b; smaps_rollup 2 s after the marker"
for ((r = 0; r < n; r++)); do
  for v in initos plain; do
    "run_$v"
    s=$([[ $v == initos ]] && echo a || echo b)
    sample vm_jail_start "$s" "$start_ms"
    sample vm_jail_rss "$s" "$rss"
    sample vm_jail_pss "$s" "$pss"
  done
done
for f in vm_jail_start vm_jail_rss vm_jail_pss; do done_figure $f; done
