#!/usr/bin/env python3
"""Times one QEMU boot for bench/secure_boot.sh:

    secure_boot_time.py PATTERN... -- QEMU ARGV...

Spawns QEMU (stdin /dev/null, console on stdout) and prints, on one line,
the milliseconds from the spawn to the first console line containing each
PATTERN ("none" if it never came). QEMU is killed after 300 s."""
import subprocess
import sys
import time

sep = sys.argv.index("--")
patterns = [p.encode() for p in sys.argv[1:sep]]
argv = sys.argv[sep + 1:]
found = [None] * len(patterns)
t0 = time.monotonic()
p = subprocess.Popen(["timeout", "-s", "KILL", "300"] + argv, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
for line in p.stdout:
    now = (time.monotonic() - t0) * 1000
    for i, pat in enumerate(patterns):
        if found[i] is None and pat in line:
            found[i] = now
p.wait()
print(" ".join("none" if f is None else f"{f:.0f}" for f in found))
