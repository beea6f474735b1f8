#!/usr/bin/env python3
"""What QEMU's TCG did between the console's `Run /init` line and the boot
benchmark's marker line, counted from a `-d in_asm,int,trace:serial_write`
log of an `-icount shift=0,sleep=off` boot (bench/boot_trace.sh runs it).
Unlike wall time these counts do not depend on the host's load.

  tcg_blocks.py LOG [--binary FILE [--other FILE]] [--symbols OUT]

Prints translated blocks (TBs) and guest instructions translated, user and
kernel, page faults, and the TBs between consecutive console lines. With
--binary, user TBs are attributed to FILE or --other FILE (both are static
executables at 0x400000: the first instruction's bytes decide) and FILE's
are grouped by symbol into OUT, per console-line segment."""
import argparse, bisect, collections, re, subprocess

START, END = "Run /init as init process", "bench: marker running"


def loader(path):
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    data = open(path, "rb").read()
    segs = []
    for l in out.splitlines():
        p = l.split()
        if p and p[0] == "LOAD":
            segs.append((int(p[2], 16), int(p[4], 16), int(p[1], 16)))

    def at(a, n):
        for va, size, off in segs:
            if va <= a < va + size:
                return data[off + a - va:off + a - va + n]
        return None
    return at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--binary")
    ap.add_argument("--other")
    ap.add_argument("--symbols")
    args = ap.parse_args()
    c = collections.Counter()
    segs, tbs = [], []  # tbs: [addr, first bytes, insns, segment]
    line, state, in_block, user = "", 0, False, None
    for l in open(args.log, errors="replace"):
        if l.startswith("serial_write"):
            m = re.search(r"addr 0x00 val 0x([0-9a-f]+)", l)
            if m:
                ch = chr(int(m.group(1), 16))
                if ch != "\n":
                    line += ch
                    continue
                if state == 0 and START in line:
                    state = 1
                elif state == 1 and END in line:
                    state = 2
                elif state == 1:
                    segs.append((line.strip()[:70], c["tb_user"] + c["tb_kernel"], c["tb_user"]))
                line = ""
            in_block = False
            continue
        if state != 1:
            continue
        if l.startswith("IN:"):
            in_block, user = True, None
            continue
        if in_block:
            m = re.match(r"0x([0-9a-f]+):  ((?:[0-9a-f]{2} )+)", l)
            if m:
                a = int(m.group(1), 16)
                if user is None:
                    user = a < 0x800000000000
                    c["tb_user" if user else "tb_kernel"] += 1
                    if user:
                        tbs.append([a, bytes.fromhex(m.group(2).replace(" ", "")), 0, len(segs)])
                c["insn_user" if user else "insn_kernel"] += 1
                if user:
                    tbs[-1][2] += 1
            elif not l.strip() or l.startswith("---"):
                in_block = False
            continue
        m = re.search(r"v=0e .* cpl=(\d)", l)
        if m:
            c["page_faults_user" if m.group(1) == "3" else "page_faults_kernel"] += 1
    for k in sorted(c):
        print(f"{k:22} {c[k]}")
    print(f"{'tb_total':22} {c['tb_user'] + c['tb_kernel']}")
    prev = (0, 0)
    for name, t, u in segs + [("(marker)", c["tb_user"] + c["tb_kernel"], c["tb_user"])]:
        print(f"  +{t - prev[0]:5} TBs (user +{u - prev[1]:5})  -> {name}")
        prev = (t, u)
    if not args.binary:
        return
    mine, other = loader(args.binary), loader(args.other) if args.other else (lambda a, n: None)
    syms = []
    nm = subprocess.run(["nm", "-C", "--defined-only", "-n", args.binary], capture_output=True,
                        text=True).stdout
    for l in nm.splitlines():
        p = l.split(" ", 2)
        if len(p) == 3 and p[1] in "tTwWiI":
            syms.append((int(p[0], 16), p[2]))
    addrs = [s[0] for s in syms]
    who, by, pages = collections.Counter(), collections.Counter(), set()
    for a, first, n, seg in tbs:
        m, o = mine(a, len(first)) == first, other(a, len(first)) == first
        w = "binary" if m and not o else "other" if o and not m else "both" if m else "neither"
        who[w] += 1
        if w in ("binary", "both"):
            pages.add(a >> 12)
            k = bisect.bisect_right(addrs, a) - 1
            by[(seg, syms[k][1] if k >= 0 else "?")] += 1
    print("user TBs by executable:", dict(who), f"binary's code pages: {len(pages)}")
    if args.symbols:
        with open(args.symbols, "w") as f:
            for (seg, name), n in sorted(by.items(), key=lambda kv: (kv[0][0], -kv[1])):
                f.write(f"{seg:3} {n:5} {name[:160]}\n")


main()
