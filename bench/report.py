#!/usr/bin/env python3
"""Turns the raw per-run samples of bench/run-all into the report: a table on
stdout, results/latest.{json,md} and the data + script for results/latest.png.

usage: report.py RAW_DIR RESULTS_DIR [NAME]    (writes RESULTS_DIR/NAME.*, default latest)
RAW_DIR holds meta.json and one file per (benchmark, subject), named
"<bench>.<subject>", one "<nanoseconds> <peak RSS KiB> <status>" line per run.
"""
import json
import os
import statistics
import subprocess
import sys

SUBJECTS = ["kapsel", "crun", "runc", "floor", "floor-full"]
LABEL = {"floor": "floor", "floor-full": "floor (full)"}
# Benchmarks in table order, with the text the table shows.
BENCHES = [
    ("run", "run /bin/true (create+start+wait+delete)"),
    ("split", "split total (create + start + wait + delete)"),
    ("create", "create"),
    ("start", "start"),
    ("wait", "wait for exit after start"),
    ("delete", "delete"),
]
SPLIT_PARTS = ["create", "start", "wait", "delete"]


def read_samples(path):
    """[(ns, rss, status)] in run order, or None when the file is absent."""
    if not os.path.exists(path):
        return None
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                out.append(tuple(int(p) for p in parts))
    return out


def summary(values_ms, failures):
    if not values_ms:
        return {"n": 0, "failures": failures}
    q = statistics.quantiles(values_ms, n=10) if len(values_ms) > 1 else [values_ms[0]] * 9
    return {
        "n": len(values_ms),
        "failures": failures,
        "median_ms": statistics.median(values_ms),
        "min_ms": min(values_ms),
        "max_ms": max(values_ms),
        "mean_ms": statistics.fmean(values_ms),
        "p10_ms": q[0],
        "p90_ms": q[8],
    }


def main():
    raw_dir, results_dir = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "latest"
    with open(os.path.join(raw_dir, "meta.json")) as f:
        meta = json.load(f)

    data = {}  # bench -> subject -> {"summary", "samples_ms", "rss_kib"}
    for subject in SUBJECTS:
        per_bench = {b: read_samples(os.path.join(raw_dir, f"{b}.{subject}")) for b, _ in BENCHES}
        # The split total of one iteration counts only when all four steps succeeded.
        parts = [per_bench.get(p) for p in SPLIT_PARTS]
        if all(parts) and len({len(p) for p in parts}) == 1:
            per_bench["split"] = [
                (sum(s[0] for s in row), max(s[1] for s in row), next((s[2] for s in row if s[2]), 0))
                for row in zip(*parts)
            ]
        for bench, samples in per_bench.items():
            if samples is None:
                continue
            ok = [s for s in samples if s[2] == 0]
            ms = [s[0] / 1e6 for s in ok]
            rss = [s[1] for s in ok if s[1] > 0]
            entry = {"summary": summary(ms, len(samples) - len(ok)), "samples_ms": [round(v, 4) for v in ms]}
            if rss and bench != "split":
                entry["summary"]["rss_median_kib"] = statistics.median(rss)
                entry["summary"]["rss_max_kib"] = max(rss)
                entry["rss_kib"] = rss
            data.setdefault(bench, {})[subject] = entry

    def ratio(bench, subject, base):
        a = data.get(bench, {}).get(subject, {}).get("summary", {}).get("median_ms")
        b = data.get(bench, {}).get(base, {}).get("summary", {}).get("median_ms")
        return a / b if a and b else None

    for bench in data:
        for subject in data[bench]:
            s = data[bench][subject]["summary"]
            s["ratio_vs_crun"] = ratio(bench, subject, "crun")
            s["ratio_vs_runc"] = ratio(bench, subject, "runc")

    # ---- text and markdown tables
    def fmt(v, spec):
        return format(v, spec) if v is not None else "-"

    header = ["benchmark", "runtime", "median ms", "min ms", "max ms", "/crun", "/runc", "fail"]
    rows = []
    for bench, title in BENCHES:
        if bench not in data or bench == "wait":
            continue
        for subject in SUBJECTS:
            if subject not in data[bench]:
                continue
            s = data[bench][subject]["summary"]
            rows.append([
                title, LABEL.get(subject, subject),
                fmt(s.get("median_ms"), ".2f"), fmt(s.get("min_ms"), ".2f"), fmt(s.get("max_ms"), ".2f"),
                fmt(s.get("ratio_vs_crun"), ".2f") + "x" if s.get("ratio_vs_crun") else "-",
                fmt(s.get("ratio_vs_runc"), ".2f") + "x" if s.get("ratio_vs_runc") else "-",
                str(s["failures"]),
            ])
    rss_header = ["runtime", "create peak RSS KiB", "run peak RSS KiB"]
    rss_rows = []
    for subject in SUBJECTS:
        def rss(bench):
            v = data.get(bench, {}).get(subject, {}).get("summary", {}).get("rss_median_kib")
            return f"{v:.0f}" if v is not None else "-"
        rss_rows.append([LABEL.get(subject, subject), rss("create"), rss("run")])

    m = meta["machine"]
    machine_line = (f"{m['cpu']}, {m['nproc']} cores, Linux {m['kernel']}, {m['cgroups']} cgroups; "
                    f"{meta['date']}; load average {m['loadavg_before']} before, {m['loadavg_after']} after")
    versions_line = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    n_line = f"N = {meta['runs']} runs per benchmark and runtime, interleaved round-robin in a random order per iteration"
    settle = meta["method"].get("settle_ms", 0)
    n_line += f", {settle} ms idle before each timed command" if settle else ", back to back"

    def text_table(hdr, body):
        widths = [max(len(r[i]) for r in [hdr] + body) for i in range(len(hdr))]
        def line(r):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        return "\n".join([line(hdr), line(["-" * w for w in widths])] + [line(r) for r in body])

    def md_table(hdr, body, left=2):
        out = ["| " + " | ".join(hdr) + " |",
               "|" + "|".join("---" if i < left else "---:" for i in range(len(hdr))) + "|"]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in body])

    rss_note = ("peak RSS = ru_maxrss from wait4: the runtime process and the children it "
                "reaped (for run: the container process too, whose RSS before exec counts)")
    print(n_line)
    print(machine_line)
    print(versions_line)
    print()
    print(text_table(header, rows))
    print()
    print(text_table(rss_header, rss_rows))
    print(f"({rss_note})")

    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, name + ".md"), "w") as f:
        f.write(f"{n_line}; median, min and max wall-clock time; /crun and /runc are the median "
                f"divided by crun's and runc's median.\n\n")
        f.write(f"Machine: {machine_line}.\n\nVersions: {versions_line}.\n\n")
        f.write(md_table(header, rows) + "\n\n")
        f.write(md_table(rss_header, rss_rows, left=1) + "\n\n")
        f.write(f"Peak RSS is the median over the runs; {rss_note}.\n")
        f.write("floor: bench/floor.c, clone3 into new pid/mount/uts/ipc/net namespaces, rslave /, "
                "bind rootfs, pivot_root, exec. floor (full): also a pids cgroup, /proc, a tmpfs "
                "/dev with device nodes, a read-only root.\n")

    with open(os.path.join(results_dir, name + ".json"), "w") as f:
        json.dump({**meta, "benchmarks": data}, f, indent=1)
        f.write("\n")

    # ---- chart: medians with min/max error bars; left time, right peak RSS
    plot_benches = ["run", "create", "start", "delete"]
    dat = os.path.join(raw_dir, "plot-time.dat")
    with open(dat, "w") as f:
        for bench in plot_benches:
            cols = [bench]
            for subject in SUBJECTS:
                s = data.get(bench, {}).get(subject, {}).get("summary", {})
                if "median_ms" in s:
                    cols += [f"{s['median_ms']:.4f}", f"{s['min_ms']:.4f}", f"{s['max_ms']:.4f}"]
                else:
                    cols += ["NaN", "NaN", "NaN"]
            f.write(" ".join(cols) + "\n")
    rss_dat = os.path.join(raw_dir, "plot-rss.dat")
    with open(rss_dat, "w") as f:
        for bench in ["create", "run"]:
            cols = [bench]
            for subject in SUBJECTS:
                s = data.get(bench, {}).get(subject, {}).get("summary", {})
                if "rss_median_kib" in s:
                    cols += [f"{s['rss_median_kib'] / 1024:.3f}",
                             f"{min(data[bench][subject]['rss_kib']) / 1024:.3f}",
                             f"{s['rss_max_kib'] / 1024:.3f}"]
                else:
                    cols += ["NaN", "NaN", "NaN"]
            f.write(" ".join(cols) + "\n")
    chart_mode = f", {settle} ms idle before each step" if settle else ", back to back"
    chart_machine = f"{m['cpu']}, {m['nproc']} cores, Linux {m['kernel']}, {meta['date']}"
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#999999", "#555555"]
    def plot_cmd(path):
        return ", ".join(
            f"'{path}' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) title '{LABEL.get(s, s)}' "
            f"lc rgb '{colors[i]}'" for i, s in enumerate(SUBJECTS))
    png = os.path.join(results_dir, name + ".png")
    gp = f"""
set terminal pngcairo size 1400,560 font 'sans,10' noenhanced
set output '{png}'
set multiplot layout 1,2 title "kapsel vs crun vs runc vs floor: /bin/true, N={meta['runs']}{chart_mode}; bars median, whiskers min/max\\n{chart_machine}"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top right
set logscale y
set yrange [0.2:*]
set ylabel 'wall-clock ms (log scale)'
set title 'time per step'
plot {plot_cmd(dat)}
unset logscale y
set yrange [0:*]
set key top left
set ylabel 'MiB'
set title 'peak RSS (wait4 ru_maxrss)'
plot {plot_cmd(rss_dat)}
unset multiplot
"""
    with open(os.path.join(raw_dir, "plot.gp"), "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", os.path.join(raw_dir, "plot.gp")], check=True)


if __name__ == "__main__":
    main()
