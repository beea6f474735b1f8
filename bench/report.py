#!/usr/bin/env python3
"""bench/run's report: reads the raw samples (RAW/FIGURE/{meta,a,b}) and
writes results.json and the markdown table. Goals are reported, never
asserted; the exit status is non-zero only when a figure that should have
samples has none."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ORDER = [
    "boot_handover", "pid1_rss", "binary_size", "reaper_start", "reaper_hwm", "reaper_idle_rss",
    "reap_bin_start", "reap_bin_hwm", "reap_bin_idle_rss",
    "hashtree_vs_veritysetup", "hashtree_vs_openssl", "sidecar_rss", "sidecar_supervisor_rss",
    "jail_start", "sb_boot_pid1", "sb_boot_main", "uki_size", "vm_jail_start", "vm_jail_rss", "vm_jail_pss", "switch_root_boot", "upgrade_throughput", "upgrade_push_bytes",
    "upgrade_reboot_healthy",
]


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                meta[k] = v
    return meta


def read_samples(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [float(x) for x in f.read().split() if x]


def stats(samples):
    if not samples:
        return None
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples),
            "samples": samples}


def goal(meta, a, b):
    """(text, met) for the figure's goal; met is None without one."""
    ma = a["median"] if a else None
    ratio = ma / b["median"] if a and b and b["median"] else None
    if "goal_ratio_max" in meta and ratio is not None:
        g = float(meta["goal_ratio_max"])
        return f"ratio <= {g:g}", ratio <= g
    if "goal_ratio_min" in meta and ratio is not None:
        g = float(meta["goal_ratio_min"])
        return f"ratio >= {g:g}", ratio >= g
    if "goal_abs_max" in meta and ma is not None:
        g = float(meta["goal_abs_max"])
        return f"<= {g:g} {meta.get('unit', '')}".strip(), ma <= g
    return "", None


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
    except OSError:
        rev = ""
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": rev}


def cell(text):
    """Markdown table cell: a '|' in a title would end the cell."""
    return str(text).replace("|", "\\|")


def fmt(v):
    if v is None:
        return ""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--repetitions", type=int, required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--command", required=True)
    args = ap.parse_args()

    ids = [i for i in ORDER if os.path.isdir(os.path.join(args.raw, i))]
    ids += sorted(i for i in os.listdir(args.raw) if i not in ids)
    figures, missing = [], []
    for fid in ids:
        d = os.path.join(args.raw, fid)
        meta = read_meta(os.path.join(d, "meta"))
        fig = {"id": fid, "title": meta.get("title", fid), "unit": meta.get("unit", ""),
               "better": meta.get("better", ""), "command": meta.get("command", ""),
               "load_before": meta.get("load_before", ""), "load_after": meta.get("load_after", "")}
        if meta.get("status") == "not-measured":
            fig.update(status="not measured yet", note=meta.get("note", ""))
            figures.append(fig)
            continue
        a = stats(read_samples(os.path.join(d, "a")))
        b = stats(read_samples(os.path.join(d, "b")))
        if a is None or ("b" in meta and b is None):
            missing.append(fid)
            fig["status"] = "failed"
            figures.append(fig)
            continue
        fig["status"] = "measured"
        fig["initos"] = dict(a, name=meta.get("a", "initos"))
        if b:
            fig["peer"] = dict(b, name=meta.get("b", ""))
            fig["ratio"] = a["median"] / b["median"] if b["median"] else None
        text, met = goal(meta, a, b)
        fig["goal"] = text
        fig["goal_met"] = met
        figures.append(fig)

    result = {"machine": machine(), "mode": args.mode, "repetitions": args.repetitions,
              "command": args.command, "figures": figures}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    m = result["machine"]
    lines = [
        "# Latest benchmark figures",
        "",
        f"Written by `{args.command}` (as root; see [benchmarks.md](benchmarks.md)).",
        f"{m['date']}, commit {m['commit']}, {m['cpus']} x {m['cpu']}, kernel {m['kernel']}, "
        f"{args.repetitions} repetition(s) per side, the two sides interleaved run by run. "
        "Load is `/proc/loadavg` (1, 5, 15 min) before -> after each figure: "
        "figures taken under load compare the sides, not the machine.",
        "",
        "| figure | initos min / median / max | peer min / median / max | ratio | goal | load |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for fig in figures:
        title = cell(f"{fig['title']} ({fig['unit']})" if fig.get("unit") else fig["title"])
        load = f"{fig['load_before']} -> {fig['load_after']}"
        if fig["status"] == "not measured yet":
            lines.append(f"| {title} | **not measured yet** | | | | {cell(fig.get('note', ''))} |")
            continue
        if fig["status"] == "failed":
            lines.append(f"| {title} | **failed to run** | | | | {load} |")
            continue
        a = fig["initos"]
        cell_a = f"{cell(a['name'])}: {fmt(a['min'])} / **{fmt(a['median'])}** / {fmt(a['max'])}"
        cell_b, ratio = "", ""
        if "peer" in fig:
            p = fig["peer"]
            cell_b = f"{cell(p['name'])}: {fmt(p['min'])} / **{fmt(p['median'])}** / {fmt(p['max'])}"
            ratio = f"{fig['ratio']:.2f}" if fig.get("ratio") is not None else ""
        g = fig.get("goal", "")
        if fig.get("goal_met") is not None:
            g = f"{g}: {'met' if fig['goal_met'] else '**not met**'}"
        lines.append(f"| {title} | {cell_a} | {cell_b} | {ratio} | {g} | {load} |")
    lines += ["", "Commands per figure:", ""]
    for fig in figures:
        if fig.get("command"):
            lines.append(f"- {fig['id']}: `{fig['command']}`")
    lines.append("")
    with open(args.markdown, "w") as f:
        f.write("\n".join(lines))

    width = max(len(f["id"]) for f in figures)
    for fig in figures:
        if fig["status"] != "measured":
            print(f"{fig['id']:<{width}}  {fig['status']}")
            continue
        a = fig["initos"]
        s = f"{fig['id']:<{width}}  initos {fmt(a['min'])}/{fmt(a['median'])}/{fmt(a['max'])}"
        if "peer" in fig:
            p = fig["peer"]
            s += f"  peer {fmt(p['min'])}/{fmt(p['median'])}/{fmt(p['max'])}"
            if fig.get("ratio") is not None:
                s += f"  ratio {fig['ratio']:.2f}"
        s += f" {fig['unit']}"
        if fig.get("goal"):
            s += f"  goal {fig['goal']}: {'met' if fig['goal_met'] else 'NOT met'}"
        s += f"  load {fig['load_before']} -> {fig['load_after']}"
        print(s)
    if missing:
        print("bench/report: no samples for " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
