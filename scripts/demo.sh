#!/usr/bin/env bash
# Demo entry point.
#   scripts/demo.sh            signed Debian + systemd booted through initos,
#                              SSH sidecar reachable from the host (scripts/demo/debian.sh)
#   scripts/demo.sh --busybox  the small busybox initramfs tour (scripts/demo/busybox.sh)
set -euo pipefail
here=$(dirname "$0")
case "${1:-}" in
  --busybox) shift; exec "$here/demo/busybox.sh" "$@" ;;
  ""|--debian) exec "$here/demo/debian.sh" ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "demo.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac
