#!/usr/bin/env bash
# Upgrade figures for bench/run (`bench/run --only upgrade`; issue 12), on
# the host over ssh on loopback (a private sshd on 127.0.0.1:PORT, root
# with a generated key, so both sides pay the same ssh cipher and
# scheduling):
#   upgrade_throughput: MB/s of `ssh host initos upgrade apply < BUNDLE`
#     (header checked, staged, verified whole, written to the inactive
#     slot, fsync'd, verified again from the disk, marked next) vs
#     `cat BUNDLE | ssh host dd of=SLOT conv=fsync` (no check at all), the
#     same bundle into the same slot file, interleaved run by run.
#   upgrade_push_bytes: bytes `initos upgrade push` sends for a bundle
#     that changes one file ("one package", 64 KiB) of the running one vs
#     the bundle's size (what apply or dd send); exact, from push's
#     "sent X of Y bytes" summary.
#   upgrade_reboot_healthy: under QEMU (TCG unless INITOS_QEMU_ACCEL), ms
#     from `reboot -f` in the sidecar into a slot `initos upgrade apply`
#     just wrote until `initos upgrade mark-good` over ssh succeeds on it
#     vs the same reboot of the same machine into its current slot;
#     BUILD/bench/upgrade_reboot (the QEMU upgrade fixture, ~0.6 MiB
#     bundles, one 16 KiB file changed per version), interleaved.
# Usage: bench/upgrade.sh --raw DIR -n N --initos BINARY --work DIR [--quick]
#        (bench/run builds BUILD/bench/boot_state_init and upgrade_reboot
#        beside the binary)
set -euo pipefail
quick=0
. "$(dirname "$0")/lib.sh"
bench_args "$@"
boot_state_init=$(dirname "$initos")/bench/boot_state_init
rm -rf "$work" && mkdir -p "$work"

# ---- bundles: v1, v2 (one 64 KiB file changed), all signed with one key ---
mib=$((quick ? 8 : 128))  # payload of random files in the image
tree=$work/tree
mkdir -p "$tree"/{bin,etc,pkg}
cp "$(command -v busybox)" "$tree/bin/busybox"
# "packages": 64 KiB files of random bytes.
for ((i = 0; i < mib * 16; i++)); do
  head -c 65536 /dev/urandom >"$tree/pkg/p$i"
done
"$initos" image keygen -o "$work/key" >/dev/null
build() {  # build VERSION OUT
  echo "$1" >"$tree/etc/version"
  SOURCE_DATE_EPOCH=1700000000 "$initos" image build --rootfs "$tree" --key "$work/key/signing.key" \
    --name bench --version "$1" -o "$2" >/dev/null
}
build 1 "$work/v1.bundle"
head -c 65536 /dev/urandom >"$tree/pkg/p7"
build 2 "$work/v2.bundle"
size=$(stat -c %s "$work/v2.bundle")
slot_mib=$(((size >> 20) + 2))

# ---- the "device": slots, state directory, config; a private sshd ---------
dev=$work/device
mkdir -p "$dev/state" /run/sshd
truncate -s "${slot_mib}M" "$dev/slot-a" "$dev/slot-b"
dd if="$work/v1.bundle" of="$dev/slot-a" conv=notrunc status=none
ssh-keygen -q -t ed25519 -N '' -f "$work/id" -C bench
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" -C bench-host
port=$((20000 + RANDOM % 20000))
cat >"$work/sshd_config" <<EOT
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile none
UsePAM no
PermitRootLogin prohibit-password
AuthorizedKeysFile $work/authorized_keys
StrictModes no
EOT
cp "$work/id.pub" "$work/authorized_keys"
/usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
trap 'kill $sshd_pid 2>/dev/null || true' EXIT
ssh_opts=(-p "$port" -i "$work/id" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
for ((t = 0; t < 50; t++)); do
  ssh "${ssh_opts[@]}" root@127.0.0.1 true 2>/dev/null && break
  sleep 0.1
done

# What the device runs: `initos upgrade apply|receive` with the device's
# slots (see upgrade_device_args).
. "$(dirname "$0")/upgrade_device.sh"

mbps() { awk -v d="$1" -v s="$2" 'BEGIN { printf "%.1f", s / (d / 1e9) / 1e6 }'; }

figure upgrade_throughput "title=upgrade over ssh on loopback, $((size >> 20)) MiB bundle" \
  unit=MB/s better=higher a="ssh host initos upgrade apply < BUNDLE (checked, staged, verified twice, fsync)" \
  "b=cat BUNDLE | ssh host dd of=SLOT conv=fsync (no check)" \
  "command=bench/run --only upgrade"
figure upgrade_push_bytes "title=bytes sent for a one-file (64 KiB) change of a $((size >> 20)) MiB bundle" \
  unit=bytes better=lower a="initos upgrade push (delta)" "b=the whole bundle (apply, dd)" \
  "command=bench/run --only upgrade"
for ((i = 1; i <= n; i++)); do
  device_reset
  t0=$(now_ns)
  ssh "${ssh_opts[@]}" root@127.0.0.1 "$(device_apply_cmd)" <"$work/v2.bundle" >/dev/null 2>"$work/apply.err" ||
    { cat "$work/apply.err" >&2; exit 1; }
  t1=$(now_ns)
  sample upgrade_throughput a "$(mbps $((t1 - t0)) "$size")"
  device_reset
  t0=$(now_ns)
  cat "$work/v2.bundle" | ssh "${ssh_opts[@]}" root@127.0.0.1 "dd of=$dev/slot-b bs=1M conv=fsync,notrunc status=none"
  t1=$(now_ns)
  sample upgrade_throughput b "$(mbps $((t1 - t0)) "$size")"
  device_reset
  out=$(device_push "$work/v2.bundle" 2>&1) || { echo "$out" >&2; exit 1; }
  # "sent 131072 of 10590617 bytes (0.1 MiB of 10.1 MiB, 1.2%); ..." (exact bytes).
  read -r sent total < <(sed -nE 's/.*sent ([0-9]+) of ([0-9]+) bytes \(.*/\1 \2/p' <<<"$out" | tail -n1) || true
  [[ -n ${sent:-} && ${total:-} == "$size" ]] || { echo "bench/upgrade.sh: no exact byte count of a $size-byte bundle in: $out" >&2; exit 1; }
  sample upgrade_push_bytes a "$sent"
  sample upgrade_push_bytes b "$size"
done
done_figure upgrade_throughput
done_figure upgrade_push_bytes

# ---- reboot to healthy on the new slot vs a plain reboot (QEMU) -----------
upgrade_reboot=$(dirname "$initos")/bench/upgrade_reboot
[[ -x $upgrade_reboot ]] || { echo "bench/upgrade.sh: $upgrade_reboot missing (cmake --build BUILD --target upgrade_reboot)" >&2; exit 1; }
figure upgrade_reboot_healthy \
  "title=reboot to healthy under QEMU (${INITOS_QEMU_ACCEL:-tcg}): \`reboot -f\` -> \`initos upgrade mark-good\` done over ssh" \
  unit=ms better=lower "a=into the slot apply just wrote (PID 1 picks the trial slot)" \
  "b=plain reboot of the same machine into its current slot" \
  "command=bench/run --only upgrade (BUILD/bench/upgrade_reboot)"
rm -f "$work/reboot.samples"
INITOS_BENCH_OUT=$work/reboot.samples INITOS_BENCH_N=$n "$upgrade_reboot" >"$work/reboot.log" 2>&1 ||
  { tail -n 60 "$work/reboot.log" >&2; echo "bench/upgrade.sh: upgrade_reboot failed (log: $work/reboot.log)" >&2; exit 1; }
[[ $(grep -c '^[ab] ' "$work/reboot.samples" 2>/dev/null) == $((2 * n)) ]] ||
  { tail -n 20 "$work/reboot.log" >&2; echo "bench/upgrade.sh: upgrade_reboot left no samples (QEMU skipped?)" >&2; exit 1; }
while read -r side ms; do
  sample upgrade_reboot_healthy "$side" "$ms"
done <"$work/reboot.samples"
done_figure upgrade_reboot_healthy
