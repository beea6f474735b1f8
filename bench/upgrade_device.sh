# The device side of bench/upgrade.sh: how `initos upgrade apply|receive`
# is pointed at the bench's slot files and state directory on the host
# ($dev/slot-a holds v1 and is the booted slot, $dev/slot-b is written).
# Sourced; needs $initos, $dev, $work, $ssh_opts.

# The slots, the record and the trusted key as the device's signed config
# would name them.
cat >"$dev/initos.toml" <<EOT
[rootfs]
slots = ["$dev/slot-a", "$dev/slot-b"]
name = "bench"
keys = ["$work/key/signing.pub"]
[state]
device = "$dev/state"
EOT

# Back to "slot a booted and good, slot b empty" before each run.
device_reset() {
  rm -rf "$dev/state/initos"
  dd if=/dev/zero of="$dev/slot-b" bs=1M count=1 conv=notrunc,fsync status=none
}

# TODO(abboot): the CLI's way to run against files on a host (config path,
# state directory, booted slot) is not settled yet; these are the intended
# invocations.
device_args() { echo "--config $dev/initos.toml --state $dev/state --booted a"; }
device_apply_cmd() { echo "$initos upgrade apply $(device_args) -"; }
device_push() {  # device_push BUNDLE: prints push's summary (with "N bytes sent")
  "$initos" upgrade push "${ssh_opts[@]}" \
    -o "RemoteCommand=$initos upgrade receive $(device_args)" root@127.0.0.1 "$1"
}
