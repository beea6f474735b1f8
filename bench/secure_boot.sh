#!/usr/bin/env bash
# Secure Boot figures for bench/run (`bench/run --only secureboot`):
#   sb_boot_pid1: QEMU start -> PID 1's first console line ("init starting"),
#     the owner-signed UKI booted by OVMF with Secure Boot from an ESP
#     (OVMF_CODE_4M.secboot.fd, variables from `initos image sb-keys`) vs
#     direct kernel loading (-kernel/-initrd, no EFI firmware) of the same
#     kernel and initramfs. Both q35, one vCPU, 512 MiB, TCG unless
#     INITOS_QEMU_ACCEL says otherwise; the two sides interleaved run by run.
#   sb_boot_main: the same boots, to the main program's marker line.
#   uki_size: the signed UKI vs the kernel + initramfs it carries.
# Times are host wall clock from spawning QEMU to the line on the serial
# console (bench/secure_boot_time.py).
# Usage: bench/secure_boot.sh --raw DIR -n N --initos BINARY --work DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_args "$@"
for t in qemu-system-x86_64 busybox mkfs.fat mcopy sbsign sign-efi-sig-list python3; do
  command -v $t >/dev/null || { echo "bench/secure_boot.sh: $t missing (scripts/setup.sh)" >&2; exit 1; }
done
code=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
[[ -r $code ]] || { echo "bench/secure_boot.sh: $code missing (install ovmf)" >&2; exit 1; }
kernel=${INITOS_QEMU_KERNEL:-$(ls -v /boot/vmlinuz-*-cloud-amd64 | tail -n1)}
accel=${INITOS_QEMU_ACCEL:-tcg}
rm -rf "$work" && mkdir -p "$work"

"$initos" image sb-keys -o "$work/owner" --owner-name "bench owner" >/dev/null
printf '#!/bin/busybox sh\necho BENCH-MAIN-RUNNING\n' >"$work/marker.sh"
cat >"$work/initos.toml" <<'EOT'
[init]
main = ["/bin/busybox", "sh", "/bench/marker.sh"]
on-exit = "poweroff"
EOT
"$initos" image initramfs -o "$work/initramfs.img" --config "$work/initos.toml" \
  --file "$(command -v busybox)=/bin/busybox" --file "$work/marker.sh=/bench/marker.sh"
"$initos" image uki -o "$work/signed.efi" --kernel "$kernel" --initramfs "$work/initramfs.img" \
  --key "$work/owner/db.key" --cert "$work/owner/db.crt" >/dev/null
esp=$work/esp.img
"$initos" image esp -o "$esp" --uki "$work/signed.efi" >/dev/null

common=(qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 -nographic -monitor none -serial stdio
  -no-reboot -nic none)
run_uki() {
  cp "$work/owner/OVMF_VARS.fd" "$work/vars.fd"
  python3 "$here/secure_boot_time.py" "init starting" BENCH-MAIN-RUNNING -- \
    "${common[@]}" -M q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$code" \
    -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd" \
    -drive "file=$esp,format=raw,if=virtio"
}
run_direct() {
  python3 "$here/secure_boot_time.py" "init starting" BENCH-MAIN-RUNNING -- \
    "${common[@]}" -M q35 -kernel "$kernel" -initrd "$work/initramfs.img" \
    -append "console=ttyS0 panic=-1"
}

cmd="signed UKI: OVMF_CODE_4M.secboot.fd + owner OVMF_VARS.fd, ESP EFI/BOOT/BOOTX64.EFI | direct: -kernel $(basename "$kernel") -initrd initramfs.img; q35, $accel, 1 vCPU"
figure sb_boot_pid1 "title=QEMU start -> PID 1 (\`init starting\`): signed UKI via OVMF Secure Boot vs direct kernel loading" \
  unit=ms better=lower a=uki-secureboot b=direct-kernel "command=$cmd"
figure sb_boot_main "title=QEMU start -> main program: signed UKI via OVMF Secure Boot vs direct kernel loading" \
  unit=ms better=lower a=uki-secureboot b=direct-kernel "command=$cmd"
for ((r = 0; r < n; r++)); do
  for side in a b; do
    if [[ $side == a ]]; then t=$(run_uki); else t=$(run_direct); fi
    read -r pid1 main <<<"$t"
    [[ $pid1 != none && $main != none ]] || { echo "bench/secure_boot.sh: side $side did not reach the main program" >&2; exit 1; }
    sample sb_boot_pid1 $side "$pid1"
    sample sb_boot_main $side "$main"
  done
done
done_figure sb_boot_pid1
done_figure sb_boot_main

figure uki_size "title=signed UKI size vs its kernel + initramfs" unit=bytes better=lower \
  a=signed-uki b=kernel+initramfs "command=initos image uki --key db.key --cert db.crt"
sample uki_size a "$(stat -c %s "$work/signed.efi")"
sample uki_size b "$(($(stat -c %s "$kernel") + $(stat -c %s "$work/initramfs.img")))"
done_figure uki_size
