#!/usr/bin/env python3
"""Turns the raw per-run samples of bench/run-all into the report: a table on
stdout, results/NAME.{json,md} and the data + script for results/NAME.png.

usage: report.py RAW_DIR RESULTS_DIR [NAME]    (writes RESULTS_DIR/NAME.*, default latest)
RAW_DIR holds meta.json and
- one file per (benchmark, subject), named "<bench>.<subject>", one
  "<nanoseconds> <peak RSS KiB> <status>" line per run;
- "na.<bench>.<subject>": the subject could not run that benchmark, and why;
- "density.<subject>": one JSON object per round (bench/memsnap.py's snapshot
  plus MemAvailable before and after).
"""
import json
import os
import statistics
import subprocess
import sys

LABEL = {
    "floor": "floor",
    "floor-full": "floor (full)",
    "nsenter": "nsenter -a (floor)",
    "freezer": "freezer write (floor)",
    "podman": "podman+crun",
}
LOW = ["kapsel", "crun", "runc"]
HIGH = ["kapsel", "podman"]
# (bench, title, subjects) in table order
BENCHES = [
    ("run", "run /bin/true (create+start+wait+delete)", LOW + ["floor", "floor-full"]),
    ("split", "split total (create + start + wait + delete)", LOW),
    ("create", "create", LOW),
    ("start", "start", LOW),
    ("delete", "delete", LOW),
    ("exec", "exec /bin/true into a running container", LOW + ["nsenter"]),
    ("pause", "pause", LOW + ["freezer"]),
    ("resume", "resume", LOW + ["freezer"]),
    ("run-image", "run --rm IMAGE /bin/true (busybox image)", HIGH),
    ("run-detached", "run -d IMAGE sleep (Debian image, density)", HIGH),
    ("load", "load Debian docker-archive, empty store", HIGH),
]
SPLIT_PARTS = ["create", "start", "wait", "delete"]
BASES = ["crun", "runc", "podman"]


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


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


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


def density_summary(rounds):
    """Per-container figures (KiB), the median over the rounds."""
    def per(r, key):
        return r[key] / r["n"] if r["n"] else None

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    out = {
        "rounds": len(rounds),
        "n": rounds[0]["n"],
        "alive_min": min(r["alive"] for r in rounds),
        "monitor_pss_kib": med(per(r, "pss_monitor_kib") for r in rounds),
        "cgroup_kib": med(per(r, "cgroup_kib") for r in rounds),
        "container_pss_kib": med(per(r, "pss_container_kib") for r in rounds),
        "mem_available_drop_kib": med(
            (r["mem_available_before_kib"] - r["mem_available_after_kib"]) / r["n"] for r in rounds),
    }
    out["total_kib"] = (out["monitor_pss_kib"] or 0) + (out["cgroup_kib"] or 0)
    out["raw_rounds"] = rounds
    return out


def main():
    raw_dir, results_dir = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else "latest"
    with open(os.path.join(raw_dir, "meta.json")) as f:
        meta = json.load(f)

    data = {}  # bench -> subject -> {"summary", "samples_ms", "rss_kib"} or {"na": reason}
    subjects_all = sorted({s for _, _, subs in BENCHES for s in subs})
    for subject in subjects_all:
        per_bench = {b: read_samples(os.path.join(raw_dir, f"{b}.{subject}"))
                     for b, _, _ in BENCHES if b != "split"}
        per_bench["wait"] = read_samples(os.path.join(raw_dir, f"wait.{subject}"))
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
            if rss and bench not in ("split", "wait"):
                entry["summary"]["rss_median_kib"] = statistics.median(rss)
                entry["summary"]["rss_max_kib"] = max(rss)
                entry["rss_kib"] = rss
            data.setdefault(bench, {})[subject] = entry
    for entry in sorted(os.listdir(raw_dir)):
        if entry.startswith("na."):
            _, bench, subject = entry.split(".", 2)
            data.setdefault(bench, {})[subject] = {"na": read_text(os.path.join(raw_dir, entry))}

    def median_of(bench, subject):
        return data.get(bench, {}).get(subject, {}).get("summary", {}).get("median_ms")

    for bench in data:
        for subject in data[bench]:
            s = data[bench][subject].get("summary")
            if s is None:
                continue
            for base in BASES:
                a, b = s.get("median_ms"), median_of(bench, base)
                s[f"ratio_vs_{base}"] = a / b if a and b else None

    density = {}
    for subject in HIGH:
        path = os.path.join(raw_dir, f"density.{subject}")
        if os.path.exists(path):
            with open(path) as f:
                rounds = [json.loads(line) for line in f if line.strip()]
            if rounds:
                density[subject] = density_summary(rounds)
    for subject in HIGH:
        reason = read_text(os.path.join(raw_dir, f"na.density.{subject}"))
        if reason is not None:
            density[subject] = {"na": reason}

    # ---- text and markdown tables
    def fmt(v, spec=".2f"):
        return format(v, spec) if v is not None else "-"

    def ms(v):
        if v is None:
            return "-"
        return f"{v:.0f}" if v >= 1000 else f"{v:.1f}" if v >= 100 else f"{v:.2f}"

    def ratio(v):
        return f"{v:.2f}x" if v else "-"

    header = ["benchmark", "subject", "N", "median ms", "min ms", "max ms", "/crun", "/runc", "/podman", "fail"]
    rows = []
    for bench, title, subjects in BENCHES:
        for subject in subjects:
            e = data.get(bench, {}).get(subject)
            if e is None:
                continue
            label = LABEL.get(subject, subject)
            if "na" in e:
                rows.append([title, label, "-", f"n/a ({e['na']})", "-", "-", "-", "-", "-", "-"])
                continue
            s = e["summary"]
            if s["n"] == 0:
                rows.append([title, label, "0", f"n/a (all {s['failures']} runs failed)", "-", "-", "-", "-", "-",
                             str(s["failures"])])
                continue
            rows.append([title, label, str(s["n"]), ms(s["median_ms"]), ms(s["min_ms"]), ms(s["max_ms"]),
                         ratio(s.get("ratio_vs_crun")), ratio(s.get("ratio_vs_runc")),
                         ratio(s.get("ratio_vs_podman")), str(s["failures"])])

    rss_header = ["subject", "create peak RSS KiB", "run peak RSS KiB", "exec peak RSS KiB"]
    rss_rows = []
    for subject in LOW + ["floor", "floor-full"]:
        def rss(bench):
            v = data.get(bench, {}).get(subject, {}).get("summary", {}).get("rss_median_kib")
            return f"{v:.0f}" if v is not None else "-"
        r = [LABEL.get(subject, subject), rss("create"), rss("run"), rss("exec")]
        if any(c != "-" for c in r[1:]):
            rss_rows.append(r)

    dens_header = ["subject", "containers", "monitor PSS KiB/ctr", "cgroup KiB/ctr", "total KiB/ctr",
                   "/podman", "MemAvailable drop KiB/ctr", "/podman"]
    dens_rows = []
    for subject in HIGH:
        d = density.get(subject)
        if d is None:
            continue
        label = LABEL.get(subject, subject)
        if "na" in d:
            dens_rows.append([label, "-", f"n/a ({d['na']})", "-", "-", "-", "-", "-"])
            continue
        p = density.get("podman", {})
        def rel(key):
            # A drop at or below zero is noise from the rest of the machine, not a ratio.
            ok = p.get(key) and p[key] > 0 and d.get(key) is not None and d[key] > 0
            return ratio(d[key] / p[key]) if ok else "-"
        alive = f"{d['n']}" if d["alive_min"] == d["n"] else f"{d['n']} ({d['alive_min']} alive)"
        if d["rounds"] > 1:
            alive += f", {d['rounds']} rounds"
        dens_rows.append([label, alive, fmt(d["monitor_pss_kib"], ".0f"), fmt(d["cgroup_kib"], ".0f"),
                          fmt(d["total_kib"], ".0f"), rel("total_kib"), fmt(d["mem_available_drop_kib"], ".0f"),
                          rel("mem_available_drop_kib")])

    m = meta["machine"]
    machine_line = (f"{m['cpu']}, {m['nproc']} cores, {m['mem_total_kib'] // 1024} MiB, Linux {m['kernel']}, "
                    f"{m['cgroups']} cgroups; {meta['date']}; load average {m['loadavg_before']} before, "
                    f"{m['loadavg_after']} after")
    versions_line = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    settle = meta["method"].get("settle_ms", 0)
    n_line = (f"N per row in the N column (low level {meta['runs']}, run IMAGE {meta['image_runs']}, "
              f"load {meta['load_runs']}, density {meta['density']} containers); the subjects of a row group "
              f"interleaved in a random order per iteration")
    n_line += f", {settle} ms idle before each low-level command" if settle else ", back to back"

    def text_table(hdr, body, left=2):
        widths = [max(len(r[i]) for r in [hdr] + body) for i in range(len(hdr))]
        def line(r):
            return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        return "\n".join([line(hdr), line(["-" * w for w in widths])] + [line(r) for r in body])

    def md_table(hdr, body, left=2):
        out = ["| " + " | ".join(hdr) + " |",
               "|" + "|".join("---" if i < left else "---:" for i in range(len(hdr))) + "|"]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in body])

    rss_note = ("peak RSS = ru_maxrss from wait4: the runtime process and the children it "
                "reaped (for run: the container process too, whose RSS before exec counts)")
    dens_note = ("density: N containers `run -d IMAGE sleep infinity` (Debian image, --network none), all "
                 "running at once. monitor PSS = proportional set size of the per-container monitor "
                 "processes (kapsel's monitor, podman's conmon); cgroup = memory.usage_in_bytes of the "
                 "containers' v1 memory cgroups (the sleep process, kernel memory and page cache charged to "
                 "the container); total = the two added, per container. MemAvailable drop = /proc/meminfo "
                 "MemAvailable 2 s idle before the first start minus 3 s after the last, per container: it "
                 "counts everything (mounts, namespaces, overlay, page cache of the image) but also whatever "
                 "else the machine did meanwhile")
    print(n_line)
    print(machine_line)
    print(versions_line)
    print()
    print(text_table(header, rows))
    if rss_rows:
        print()
        print(text_table(rss_header, rss_rows, left=1))
        print(f"({rss_note})")
    if dens_rows:
        print()
        print(text_table(dens_header, dens_rows, left=1))
        print(f"({dens_note})")

    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, name + ".md"), "w") as f:
        f.write(f"{n_line}; median, min and max wall-clock time; /crun, /runc and /podman are the median "
                f"divided by that peer's median in the same row.\n\n")
        f.write(f"Machine: {machine_line}.\n\nVersions: {versions_line}.\n\n")
        f.write(md_table(header, rows) + "\n\n")
        if rss_rows:
            f.write(md_table(rss_header, rss_rows, left=1) + "\n\n")
            f.write(f"Peak RSS is the median over the runs; {rss_note}.\n\n")
        if dens_rows:
            f.write(md_table(dens_header, dens_rows, left=1) + "\n\n")
            f.write(f"{dens_note.capitalize()}.\n\n")
        f.write("floor: bench/floor.c, clone3 into new pid/mount/uts/ipc/net namespaces, rslave /, "
                "bind rootfs, pivot_root, exec. floor (full): also a pids cgroup, /proc, a tmpfs "
                "/dev with device nodes, a read-only root. nsenter -a (floor): util-linux nsenter into "
                "all namespaces of the kapsel container's init, no cgroup attach. freezer write (floor): "
                "bench/freezer.c writes FROZEN/THAWED to a v1 freezer.state holding one process and "
                "re-reads it until the state is reached.\n")

    with open(os.path.join(results_dir, name + ".json"), "w") as f:
        json.dump({**meta, "benchmarks": data, "density": density}, f, indent=1)
        f.write("\n")

    # ---- chart: 2x2. Bars are medians, whiskers min/max.
    colors = {"kapsel": "#1b9e77", "crun": "#d95f02", "runc": "#7570b3", "floor": "#999999",
              "floor-full": "#555555", "nsenter": "#bbbbbb", "freezer": "#e6ab02", "podman": "#e7298a"}

    def write_dat(path, benches, subjects, get):
        """Writes the panel's data; returns the subjects that have any (a column
        without a single value would make gnuplot give up on the panel)."""
        subjects[:] = [s for s in subjects if any(get(b, s) for b, _ in benches)]
        with open(path, "w") as f:
            for bench, label in benches:
                cols = [json.dumps(label)]
                for subject in subjects:
                    v = get(bench, subject)
                    cols += [f"{x:.4f}" for x in v] if v else ["NaN", "NaN", "NaN"]
                f.write(" ".join(cols) + "\n")

    def time_of(bench, subject):
        e = data.get(bench, {}).get(subject, {})
        s = e.get("summary", {})
        return (s["median_ms"], s["min_ms"], s["max_ms"]) if "median_ms" in s else None

    def rss_of(bench, subject):
        e = data.get(bench, {}).get(subject, {})
        if "rss_kib" not in e:
            return None
        return (e["summary"]["rss_median_kib"] / 1024, min(e["rss_kib"]) / 1024, e["summary"]["rss_max_kib"] / 1024)

    def dens_of(key, subject):
        d = density.get(subject, {})
        if d.get(key) is None or d[key] <= 0:
            return None
        per_round = {
            "monitor_pss_kib": lambda r: r["pss_monitor_kib"],
            "cgroup_kib": lambda r: r["cgroup_kib"],
            "total_kib": lambda r: r["pss_monitor_kib"] + r["cgroup_kib"],
            "mem_available_drop_kib": lambda r: r["mem_available_before_kib"] - r["mem_available_after_kib"],
        }[key]
        vals = [per_round(r) / r["n"] / 1024 for r in d["raw_rounds"]]
        return (d[key] / 1024, min(vals), max(vals))

    plots = []  # (dat, subjects, title, ylabel, log)
    panels = [
        ("low", [(b, b) for b in ["run", "create", "start", "delete", "exec", "pause", "resume"]],
         LOW + ["floor", "floor-full", "nsenter", "freezer"], time_of,
         "low level: time per command", "wall-clock ms (log scale)", True),
        ("rss", [("create", "create"), ("run", "run"), ("exec", "exec")], LOW + ["floor", "floor-full"], rss_of,
         "peak RSS of the runtime process (wait4 ru_maxrss)", "MiB", False),
        ("high", [("run-image", "run --rm IMAGE true"), ("run-detached", "run -d IMAGE sleep"),
                  ("load", "load Debian archive")], list(HIGH), time_of,
         "high level: time per command", "wall-clock ms (log scale)", True),
        ("density", [("monitor_pss_kib", "monitor PSS"), ("cgroup_kib", "container cgroup"),
                     ("total_kib", "monitor PSS + cgroup"), ("mem_available_drop_kib", "MemAvailable drop")],
         list(HIGH), dens_of, f"memory per idle container ({meta['density']} containers)", "MiB per container",
         False),
    ]
    for key, benches, subjects, get, title, ylabel, log in panels:
        dat = os.path.join(raw_dir, f"plot-{key}.dat")
        write_dat(dat, benches, subjects, get)
        plots.append((dat, subjects, title, ylabel, log))

    chart_mode = f", {settle} ms idle before each low-level step" if settle else ", back to back"
    chart_machine = f"{m['cpu']}, {m['nproc']} cores, Linux {m['kernel']}, {meta['date']}, load {m['loadavg_before']}"
    png = os.path.join(results_dir, name + ".png")
    gp = [f"""set terminal pngcairo size 1500,1000 font 'sans,10' noenhanced
set output '{png}'
set multiplot layout 2,2 title "kapsel vs crun vs runc vs podman; bars median, whiskers min/max; N low level {meta['runs']}, run IMAGE {meta['image_runs']}, load {meta['load_runs']}{chart_mode}\\n{chart_machine}"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
"""]
    for path, subjects, title, ylabel, log in plots:
        gp.append(f"set title '{title}'\nset ylabel '{ylabel}'\n")
        if not subjects:
            gp.append("unset logscale y\nset yrange [0:1]\nset label 1 'not measured in this run' at graph 0.5,0.5 "
                      "center\nplot 2 notitle\nunset label 1\n")
            continue
        gp.append("set logscale y\nset yrange [0.1:*]\n" if log else "unset logscale y\nset yrange [0:*]\n")
        gp.append("plot " + ", ".join(
            f"'{path}' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) title '{LABEL.get(s, s)}' "
            f"lc rgb '{colors[s]}'" for i, s in enumerate(subjects)) + "\n")
    gp.append("unset multiplot\n")
    with open(os.path.join(raw_dir, "plot.gp"), "w") as f:
        f.write("".join(gp))
    subprocess.run(["gnuplot", os.path.join(raw_dir, "plot.gp")], check=True)


if __name__ == "__main__":
    main()
