#!/usr/bin/env bash
# Kept for old instructions: the boot figures (/init -> main program and PID 1
# Rss, initos vs a busybox /init, interleaved) are now part of bench/run.
#   sudo bench/run.sh [N]   ==   sudo bench/run --only boot -n N
exec "$(dirname "$0")/run" --only boot -n "${1:-10}"
