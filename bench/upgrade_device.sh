# The device side of bench/upgrade.sh: `initos upgrade apply|receive`
# pointed at the bench's slot files and state directory on the host with
# the CLI's own overrides (--config, --state, --slot-a/--slot-b, --booted):
# $dev/slot-a holds v1 and is the booted slot, $dev/slot-b is written.
# Sourced; needs $initos, $boot_state_init, $dev, $work, $port.

cat >"$dev/initos.toml" <<EOT
[rootfs]
slots = ["PARTLABEL=bench-a", "PARTLABEL=bench-b"]
name = "bench"
keys = ["$work/key/signing.pub"]
[state]
device = "PARTLABEL=bench-state"
EOT

# Back to "slot a booted, slot b empty, no record" before each run.
device_reset() {
  rm -rf "$dev/state/initos"
  # What PID 1's first boot of slot a and a mark-good leave.
  "$boot_state_init" "$dev/state" 1
  dd if=/dev/zero of="$dev/slot-b" bs=1M count=1 conv=notrunc,fsync status=none
}

device_args() {
  echo "--config $dev/initos.toml --state $dev/state --slot-a $dev/slot-a --slot-b $dev/slot-b --booted a"
}
device_apply_cmd() { echo "$initos upgrade apply $(device_args) -"; }
# push's remote command is `initos upgrade receive`: a --ssh wrapper adds
# the device's overrides (the binary is the bench's).
cat >"$work/ssh-device" <<EOT
#!/bin/sh
# Replaces push's trailing "initos upgrade receive" with the bench's.
n=\$#; i=0
for a in "\$@"; do
  i=\$((i + 1))
  [ \$i -le \$((n - 3)) ] && set -- "\$@" "\$a"
done
shift \$n
exec ssh "\$@" "$initos upgrade receive $(device_args)"
EOT
chmod +x "$work/ssh-device"
device_push() {  # device_push BUNDLE: prints push's summary line
  "$initos" upgrade push --ssh "$work/ssh-device" -p "$port" -i "$work/id" \
    -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 "$1"
}
