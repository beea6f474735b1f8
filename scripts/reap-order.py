#!/usr/bin/env python3
"""Writes cli/reap.order: the functions initos-reap runs, in the order it
first runs them, for lld's --symbol-ordering-file (CMakeLists.txt).

    scripts/reap-order.py [BUILD_DIR]    (default: build; needs valgrind)

Why: the kernel maps 64 kB of a file mapping around every page fault
(fault-around), so the reaper's peak memory is decided by how many 64 kB
windows of its 1.1 MB of code start-up touches, not by how much code runs.
Packed together, the ~200 functions it runs fill 3-4 windows instead of 14
(docs/performance.md, "Reaper start and peak memory"). A stale list costs
memory, never correctness: rerun this when the reaper's path changes.

What is listed, beyond what callgrind saw:
- every IFUNC resolver: a static binary runs all of them at start-up
  (IRELATIVE relocations), whether or not the function is called;
- every variant of the string functions it calls (__strlen_avx2, _evex,
  _sse2, ...): the resolver picks one by the CPU, and valgrind's CPU is not
  the machine's (it has no AVX-512, so it sees _avx2 where this host runs
  _evex);
- not what valgrind alone runs: valgrind 3.19 fails pidfd_open, and the
  error message Supervision::Watch then builds (an ostringstream, the whole
  C++ locale) never runs for real; but what the real run calls instead
  (waitid on the pidfd) is listed.
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
# initos-reap's runs first, then `initos reap`'s: what only the full binary
# runs (its command dispatch) comes after the reaper's own path.
BINARIES = [[os.path.join(BUILD, "initos-reap")], [os.path.join(BUILD, "initos"), "reap"]]
OUT = os.path.join(REPO, "cli", "reap.order")

# The runs profiled: a start (the bench's `-s -- /bin/true`), and one that
# searches PATH and sleeps past the first idle second (the supervision loop
# then releases the start-up pages, base/resident.h).
# The child shares the reaper's memory until exec (Spawn's fast path), so
# its code counts too; valgrind profiles it only when it exits instead of
# exec'ing: the last run's program does not exist (on PATH, and by path).
# The reaper's error message for it is not wanted: only the child is taken.
RUNS = [["-s", "--", "/bin/true"], ["-s", "--", "sleep", "1.5"]]
CHILD_RUNS = [["-s", "--", "initos-reap-order-no-such-program"], ["-s", "--", "/nonexistent/x"]]

# Callees of Supervision::Watch that only valgrind's failing pidfd_open
# reaches (building the error text).
VALGRIND_ONLY = re.compile(r"locale|ios|ostream|_ZNSo|_M_replace")
# What the real run calls and valgrind's cannot: with pidfd_open failing,
# the supervision loop never waits on a pidfd (waitid P_PIDFD); valgrind
# gives the program no vDSO, so glibc's start-up never looks up its symbols
# (_dl_non_dynamic_init -> setup_vdso -> _dl_lookup_symbol_x -> strcmp).
# Found with `perf record -e exceptions:page_fault_user` on the real run.
REAL_ONLY = ["waitid", "_dl_lookup_symbol_x", "_dl_setup_hash", "_dl_new_object",
             "_dl_add_to_namespace_list", "strcmp"]
# Read-only data of glibc's start-up that sits alone in its windows of
# .rodata (the cache-info table of cpu features, _dl_init_paths' system
# directories); lld orders data sections the same way. String literals
# cannot be ordered: the linker merges them into one section.
DATA = ["intel_02_known", "system_dirs", "system_dirs_len"]
VARIANT = re.compile(r"^__(\w+?)_(sse2|ssse3|sse4|sse42|avx|evex|erms)")


def profile(binary, args, child_only=False):
    """Functions of one run (the reaper, then its child until exec), in
    first-call order, minus valgrind-only ones."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--demangle=no",
             "--callgrind-out-file=" + out + "/%p"] + binary + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files = sorted(os.listdir(out), key=int)  # the reaper, then its child
        if child_only:
            files = files[1:]
        if not files:
            sys.exit("reap-order.py: callgrind wrote no profile of " + " ".join(args))
        text = "".join(open(os.path.join(out, f)).read() for f in files)
    names, edges, order, current = {}, collections.defaultdict(set), [], None

    def ref(token):
        m = re.match(r"\((\d+)\)(?: (.*))?", token)
        if m.group(2):
            names[m.group(1)] = re.sub(r"'\d+$", "", m.group(2))
        if m.group(1) not in order:
            order.append(m.group(1))
        return m.group(1)

    for line in text.splitlines():
        if line.startswith("fn="):
            current = ref(line[3:].strip())
        elif line.startswith("cfn="):
            edges[current].add(ref(line[4:].strip()))
    called = {b for bs in edges.values() for b in bs}
    seen, stack = set(), [i for i in order if i not in called]
    while stack:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        for b in edges[a]:
            if "Supervision5Watch" in names[a] and VALGRIND_ONLY.search(names[b]):
                continue
            stack.append(b)
    return [names[i] for i in order if i in seen]


def main():
    text_symbols = set()
    for binary in BINARIES:
        symbols = subprocess.run(["nm", binary[0]], check=True, capture_output=True,
                                 text=True).stdout.split("\n")
        text_symbols |= {s.split()[2] for s in symbols if len(s.split()) == 3
                         and s.split()[1] in "tTiW"}
    listed = []
    for binary in BINARIES:
        for args in RUNS:
            listed += profile(binary, args)
        for args in CHILD_RUNS:
            listed += profile(binary, args, child_only=True)
    listed += REAL_ONLY
    # Variants of what ran: by an implementation's name, or by the name of
    # the IFUNC itself (valgrind reports some calls as `strcmp`).
    bases = {m.group(1) for m in map(VARIANT.match, listed) if m}
    bases |= {n for n in listed if n + "_ifunc" in text_symbols}
    listed += sorted(s for s in text_symbols if s.endswith("_ifunc"))
    listed += sorted(s for s in text_symbols if (m := VARIANT.match(s)) and m.group(1) in bases)
    listed += DATA
    result, done = [], set()
    for name in listed:
        if name.startswith("0x") or name == "(below main)" or name in done:
            continue
        done.add(name)
        result.append(name)
    with open(OUT, "w") as f:
        f.write("# initos-reap's start-up functions, first run first: lld's\n"
                "# --symbol-ordering-file. Generated by scripts/reap-order.py; do not edit.\n")
        f.write("\n".join(result) + "\n")
    print(f"{OUT}: {len(result)} symbols", file=sys.stderr)


main()
