#!/bin/busybox sh
# Main program of the demo initramfs: shows what PID 1 (initos) did, then
# either opens a shell (interactive demo) or powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "PID 1 is $(cat /proc/1/comm) ($(readlink /proc/1/exe)); this is the main program, pid $$"
say "boot stages logged by initos (dmesg | grep initos)"
dmesg | grep 'initos:'
say "mounts prepared by PID 1"
cat /proc/mounts
say "orphans: a shell starts 20 sleeps and exits; the sleeps are re-parented to PID 1"
sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 1 & done'
echo "sleeps whose parent is PID 1: $(ps -o ppid,comm | grep -c '^ *1 sleep')"
sleep 2
echo "zombies left after they exit: $(cat /proc/[0-9]*/stat | awk '$3=="Z"' | wc -l) (PID 1 reaped them)"
say "PID 1 resident memory: $(awk '/^Rss:/ {print $2 " kB"}' /proc/1/smaps_rollup)"

if grep -q 'demo=interactive' /proc/cmdline; then
  say "interactive shell: try ps, dmesg, '/init reap -- sh -c \"exit 3\"; echo \$?'"
  echo "'/init poweroff' (or exit) powers off; on-exit = \"poweroff\""
  # cttyhack gives the shell the console as controlling tty (job control, ^C).
  setsid cttyhack sh
  exit 0
fi
say "non-interactive demo done: /init poweroff"
exec /init poweroff
