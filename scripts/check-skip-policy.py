#!/usr/bin/env python3
"""Fails a test run in which a test that should have run did not.

  check-skip-policy.py --allowlist tests/skip-allowlist.txt --results FILE.xml
                       [--expected N] [--expect-names FILE] [--label NAME]

FILE.xml is ctest's `--output-junit` file or a googletest `--gtest_output=xml`
file (the in-VM root tests). Checks, each failure one line on stderr:
  * every skipped or not-run test matches an allow-list pattern, else
    "unexpected skip: TEST: MESSAGE";
  * the file holds at least N test results (N = what `ctest -N` listed, or the
    gtest filter selected) and N > 0;
  * every name in --expect-names (one per line) has a result.
Exit status 0 when all hold, 1 otherwise, 2 on bad input.

Allow-list lines: `PATTERN  REASON` (PATTERN is a full test name, `*`/`?`
allowed, REASON is mandatory); `#` starts a comment. A REASON starting with
`[vm]` says the test needs kernel features the host may lack and runs in
root_tests_in_vm instead (scripts/root-tests-in-vm.sh selects those tests and
allows no skips there).
"""
import argparse
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET


class BadInput(Exception):
    pass


def read_allowlist(path):
    entries = []
    if path is None:
        return entries
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2 or not parts[1].strip():
                raise BadInput(f"{path}:{n}: `{parts[0]}` has no reason (lines are `TEST  REASON`)")
            entries.append((parts[0], parts[1].strip()))
    return entries


def skip_message(case):
    """The skip message googletest printed, from the junit element or output."""
    for tag in ("skipped", "disabled"):
        el = case.find(tag)
        if el is not None and el.get("message"):
            msg = el.get("message")
            break
    else:
        msg = ""
    out = case.findtext("system-out") or ""
    # googletest: "FILE:LINE: Skipped\nMESSAGE\n[  SKIPPED ] TEST"
    m = re.search(r"Skipped\n(.*?)\n\[  SKIPPED \]", out, re.S)
    if m and m.group(1).strip():
        return m.group(1).strip().replace("\n", " | ")
    tail = [l.strip() for l in out.splitlines() if l.strip()]
    if tail and "SKIPPED" not in tail[-1]:
        return tail[-1][:300]  # e.g. ctest's "Unable to find executable: PATH"
    if msg:
        # googletest's own XML: "FILE:LINE\nMESSAGE"
        lines = [l for l in msg.splitlines() if l.strip()]
        if len(lines) > 1 and re.match(r"^\S+:\d+$", lines[0]):
            lines = lines[1:]
        return " | ".join(lines)
    return "(no message)"


def read_results(path):
    """[(name, state, message)], state in run|failed|skipped."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise BadInput(f"{path}: {e}")
    results = []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        cls = case.get("classname", "")
        gtest = case.get("result") is not None  # googletest XML has result=
        full = f"{cls}.{name}" if gtest and cls else name
        # gtest_discover_tests names value-parameterized tests
        # "Suite.Test/0  # GetParam() = 4096": the name is what precedes "  #".
        full = re.sub(r"\s+#\s.*$", "", full)
        status = case.get("status", "run")
        result = case.get("result", "")
        skipped = (
            status in ("notrun", "disabled")
            or result in ("skipped", "suppressed")
            or case.find("skipped") is not None
        )
        failed = case.find("failure") is not None or case.find("error") is not None or status == "fail"
        if skipped:
            results.append((full, "skipped", skip_message(case)))
        elif failed:
            results.append((full, "failed", ""))
        else:
            results.append((full, "run", ""))
    return results


def check(results, allow, expected, expect_names, label):
    errors = []
    for name, state, msg in results:
        if state != "skipped":
            continue
        if not any(fnmatch.fnmatchcase(name, pat) for pat, _ in allow):
            errors.append(f"unexpected skip: {name}: {msg}")
    if expected is not None:
        if expected <= 0:
            errors.append(f"{label}: no tests listed (discovery failed or label empty)")
        elif len(results) < expected:
            errors.append(f"{label}: ran {len(results)} tests, {expected} listed")
    seen = {name for name, _, _ in results}
    for want in expect_names:
        if want not in seen:
            errors.append(f"{label}: listed test did not run: {want}")
    return errors


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--allowlist")
    p.add_argument("--results", required=True)
    p.add_argument("--expected", type=int)
    p.add_argument("--expect-names")
    p.add_argument("--label", default="tests")
    a = p.parse_args(argv)
    try:
        allow = read_allowlist(a.allowlist)
        results = read_results(a.results)
        names = []
        if a.expect_names:
            with open(a.expect_names, encoding="utf-8") as f:
                names = [l.strip() for l in f if l.strip()]
    except BadInput as e:
        print(f"check-skip-policy: {e}", file=sys.stderr)
        return 2
    errors = check(results, allow, a.expected, names, a.label)
    for e in errors:
        print(f"check-skip-policy: {e}", file=sys.stderr)
    skipped = sum(1 for _, s, _ in results if s == "skipped")
    print(f"check-skip-policy: {a.label}: {len(results)} results, {skipped} skipped, "
          f"{'FAILED' if errors else 'ok'}", file=sys.stderr if errors else sys.stdout)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
