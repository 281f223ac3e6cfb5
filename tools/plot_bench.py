"""Charts and the dispatch table from saved benchmark JSON.

    pytest --benchmark --benchmark-json build/bench.json
    python -m tools.plot_bench build/bench.json -o build/plots    # PNGs, needs matplotlib ([plots] extra)
    python -m tools.plot_bench build/bench.json --table            # the dispatch table of docs/benchmarks.md

Writes, per concept and device, time against size, log-log, one line per variant (NumPy, eager,
tf.function, XLA, TF1 Session.run): time-<concept>-<device>.png; the fraction of the machine's
limit each case reaches (memcpy bandwidth for the memory-bound cases, matmul FLOP/s for the
matmul-bound ones) against size: fraction-<device>.png; and all concepts' time charts as small
multiples on one page: overview-<device>.png. The JSON is pytest-benchmark's (--benchmark-json,
--benchmark-save); the figures come from each case's extra_info (bench/_support.py's record).
"""
import argparse
import json
import math
import os
from collections import defaultdict

MODES = ("numpy", "eager", "function", "xla", "graph")
LABELS = {"numpy": "NumPy", "eager": "eager", "function": "tf.function", "xla": "XLA", "graph": "Session.run"}
STYLE = {"numpy": ("black", "o"), "eager": ("tab:blue", "s"), "function": ("tab:orange", "^"),
         "xla": ("tab:green", "D"), "graph": ("tab:red", "v")}


def rows_from_json(data):
    """One dict per benchmark: its extra_info, name, group and min time in seconds."""
    return [dict(b.get("extra_info", {}), name=b["name"], group=b.get("group"), seconds=b["stats"]["min"])
            for b in data["benchmarks"]]


def concept_times(rows, device="cpu"):
    """concept -> mode -> {size: seconds} for the catalog concepts (family "concept") on ``device``;
    a size timed twice (the catalog and the dispatch bench) keeps the faster."""
    times = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.get("family") != "concept" or r.get("device") != device or r.get("impl") not in MODES:
            continue
        t = times[r["kind"]][r["impl"]]
        n = r.get("elements", r["size"])
        t[n] = min(t.get(n, math.inf), r["seconds"])
    return times


def crossover(tf_times, np_times):
    """The size at which TF's time first drops to NumPy's, interpolated log-log between the
    measured sizes around the crossing: a number, or ("<=", smallest) when TF is never slower,
    or (">", largest) when it never catches up, or None without common sizes."""
    sizes = sorted(set(tf_times) & set(np_times))
    if not sizes:
        return None
    ratio = [math.log(tf_times[n] / np_times[n]) for n in sizes]  # > 0: TF slower
    for i, (n, r) in enumerate(zip(sizes, ratio)):
        if r <= 0:
            if i == 0:
                return ("<=", n)
            n0, r0 = sizes[i - 1], ratio[i - 1]
            x = math.log(n0) + (math.log(n) - math.log(n0)) * r0 / (r0 - r)
            return math.exp(x)
    return (">", sizes[-1])


def fmt_size(c):
    if c is None:
        return "-"
    if isinstance(c, tuple):
        return f"{c[0]} {c[1]:.0e}".replace("e+0", "e").replace("e+", "e")
    return f"{c:.1e}".replace("e+0", "e").replace("e+", "e")


def dispatch_table(rows, device="cpu"):
    """Markdown: per concept, each mode's time at its smallest size (the per-call dispatch
    overhead) and the size at which it overtakes the NumPy reference; "" without data."""
    times = concept_times(rows, device)
    if not times:
        return ""
    modes = [m for m in MODES[1:] if any(m in t for t in times.values())]
    head = "| concept | NumPy, smallest n | " + " | ".join(f"{LABELS[m]}: per call / overtakes NumPy at n" for m in modes) + " |"
    lines = [head, "|" + "---|" * (2 + len(modes))]
    for concept in sorted(times):
        t = times[concept]
        np_t = t.get("numpy", {})
        cells = [concept, f"{np_t[min(np_t)] * 1e6:.1f} us (n={min(np_t):g})" if np_t else "-"]
        for m in modes:
            if m not in t:
                cells.append("-")
                continue
            n0 = min(t[m])
            cells.append(f"{t[m][n0] * 1e6:.1f} us / {fmt_size(crossover(t[m], np_t))}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _axes_time(ax, t, title):
    for m in MODES:
        if m in t:
            sizes = sorted(t[m])
            color, marker = STYLE[m]
            ax.loglog(sizes, [t[m][n] for n in sizes], marker=marker, color=color, label=LABELS[m], ms=3, lw=1)
    ax.set_title(title, fontsize=8)
    ax.grid(True, which="major", lw=0.3)
    ax.tick_params(labelsize=6)


def plot(rows, out_dir):
    """Write the PNGs for ``rows`` into ``out_dir``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    written = []
    devices = sorted({r.get("device") for r in rows if r.get("device")})
    for device in devices:
        times = concept_times(rows, device)
        for concept, t in sorted(times.items()):
            fig, ax = plt.subplots(figsize=(4.5, 3.2))
            _axes_time(ax, t, f"{concept} ({device}, float32)")
            ax.set_xlabel("elements per input")
            ax.set_ylabel("seconds per call (min)")
            ax.legend(fontsize=7)
            path = os.path.join(out_dir, f"time-{concept}-{device}.png")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
        if times:
            cols = min(6, len(times))
            nrows = math.ceil(len(times) / cols)
            fig, axes = plt.subplots(nrows, cols, figsize=(2.3 * cols, 1.9 * nrows), squeeze=False)
            for ax, (concept, t) in zip(axes.flat, sorted(times.items())):
                _axes_time(ax, t, concept)
            for ax in list(axes.flat)[len(times):]:
                ax.axis("off")
            handles, labels = axes.flat[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="lower right", fontsize=8, ncol=len(labels))
            fig.suptitle(f"seconds per call against elements per input, log-log ({device}, float32)", fontsize=10)
            fig.tight_layout(rect=(0, 0.04, 1, 0.97))
            path = os.path.join(out_dir, f"overview-{device}.png")
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
        fractions = defaultdict(list)  # (mode, limit) -> [(size, fraction)]
        for r in rows:
            if r.get("device") != device or r.get("family") != "concept":
                continue
            for key, limit in (("fraction_of_memcpy", "memcpy"), ("fraction_of_matmul", "matmul")):
                if key in r:
                    fractions[(r["impl"], limit)].append((r.get("elements", r["size"]), r[key]))
        if fractions:
            fig, ax = plt.subplots(figsize=(5.5, 3.6))
            for (mode, limit), points in sorted(fractions.items()):
                color, marker = STYLE.get(mode, ("gray", "."))
                points.sort()
                ax.loglog([p[0] for p in points], [p[1] for p in points], ls="none", marker=marker,
                            color=color, ms=3, alpha=0.7,
                            label=f"{LABELS.get(mode, mode)} (of {limit})")
            ax.set_xlabel("elements per input")
            ax.axhline(1.0, color="gray", lw=0.8, ls="--")
            ax.set_ylabel("fraction of the machine's limit")
            ax.set_title(f"each concept's achieved bandwidth / FLOP/s over the limit ({device})", fontsize=8)
            ax.grid(True, lw=0.3)
            ax.legend(fontsize=6)
            path = os.path.join(out_dir, f"fraction-{device}.png")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.plot_bench", description=__doc__.split("\n")[0])
    parser.add_argument("json", help="pytest-benchmark JSON (--benchmark-json / --benchmark-save)")
    parser.add_argument("-o", "--out", default="build/plots", help="directory for the PNGs (default: build/plots)")
    parser.add_argument("--table", action="store_true", help="print the dispatch table (markdown) instead of plotting")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        rows = rows_from_json(json.load(f))
    if args.table:
        print(dispatch_table(rows))
        return
    for path in plot(rows, args.out):
        print(path)


if __name__ == "__main__":
    main()
