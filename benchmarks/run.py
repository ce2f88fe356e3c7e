"""Benchmark runner (``make bench``): time and peak memory of the workbench's hot paths.

Writes ``benchmarks/results/results.csv``, ``results.md`` (every case, then the workbench
next to R where R does the same work) and ``results.png`` (seconds against rows, R dashed).
Each case is run on synthetic answers at 10^3 ... 10^6 rows; the time is the best of
``--repeat`` runs (wall clock), the peak memory is the largest block of memory allocated during
one run (tracemalloc, measured in a separate run so it does not slow the timed ones). With
``--only`` the cases run replace their rows in the existing results and the others are kept;
``--report`` only redraws the table and plot from ``results.csv``. The scale-out runs beyond
one machine's memory are separate (``benchmarks/bench_scale.py``; ``results/scale_*.md``).

    python benchmarks/run.py [--sizes 1000 10000 100000 1000000] [--repeat 5] [--only CASE ...] [--report]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_registry  # noqa: E402
import bench_scale  # noqa: E402
import bench_scoring  # noqa: E402
import bench_stepped_care  # noqa: E402
import bench_survival  # noqa: E402
import bench_synth  # noqa: E402

#: Cases whose goal is stated at a smaller size (registry: 100,000 screenings) stop there.
MAX_ROWS = {**getattr(bench_registry, "MAX_ROWS", {})}

CASES = {**bench_scoring.CASES, **bench_stepped_care.CASES, **bench_survival.CASES, **bench_synth.CASES, **bench_registry.CASES,
         **bench_scale.CASES}
#: R's name for the same work as a workbench case (benchmarks/bench_survival.R).
R_PREFIX = "R: "


def measure(setup, run, repeat: int) -> tuple[float, float]:
    args = setup()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(*args)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    run(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--report", action="store_true", help="only redraw results.md and results.png from results.csv")
    args = parser.parse_args(argv)
    if args.report:
        report(pd.read_csv(args.out / "results.csv"), args.out)
        return
    rows = []
    for name, (setup, run) in CASES.items():
        if args.only and name not in args.only:
            continue
        for n in args.sizes:
            if n > MAX_ROWS.get(name, n):
                print(f"{name:<28} {n:>9,} rows  skipped (largest size run for this case: {MAX_ROWS[name]:,})")
                continue
            seconds, peak_mib = measure(lambda: setup(n), run, args.repeat)
            rows.append({"case": name, "rows": n, "seconds": round(seconds, 4),
                         "rows_per_second": round(n / seconds), "peak_mib": round(peak_mib, 1)})
            print(f"{name:<28} {n:>9,} rows  {seconds:8.4f} s  {peak_mib:8.1f} MiB", flush=True)
    if shutil.which("Rscript") and (not args.only or any(name in bench_survival.CASES for name in args.only)):
        r_rows = bench_survival.r_rows(args.sizes)
        for row in r_rows:
            print(f"{row['case']:<28} {row['rows']:>9,} rows  {row['seconds']:8.4f} s", flush=True)
        rows += r_rows
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / "results.csv"
    if args.only and previous.exists():   # keep the cases not run this time, in their order
        old = pd.read_csv(previous)
        ran = set(zip(table["case"], table["rows"]))
        old = old[[key not in ran for key in zip(old["case"], old["rows"])]]
        table = pd.concat([old, table], ignore_index=True)
        order = list(dict.fromkeys([*old["case"], *table["case"]]))
        table = table.sort_values(["case", "rows"], key=lambda c: c.map(order.index) if c.name == "case" else c,
                                  kind="stable", ignore_index=True)
    table.to_csv(previous, index=False)
    report(table, args.out)


def versus_r(table: pd.DataFrame) -> pd.DataFrame:
    """The cases R also runs: workbench and R seconds side by side, and how many times faster."""
    r = table[table["case"].str.startswith(R_PREFIX)].assign(case=lambda t: t["case"].str.removeprefix(R_PREFIX))
    ours = table[table["case"].isin(r["case"])]
    both = ours.merge(r, on=["case", "rows"], suffixes=("", "_r"))
    return pd.DataFrame({"case": both["case"], "rows": both["rows"], "workbench_seconds": both["seconds"],
                         "r_seconds": both["seconds_r"], "r_over_workbench": (both["seconds_r"] / both["seconds"]).round(2)})


def plot(table: pd.DataFrame, path: Path) -> None:
    """Seconds against rows (log-log), one line per case; R's cases dashed, in their workbench case's colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6.5))
    cases = [c for c in dict.fromkeys(table["case"]) if not c.startswith(R_PREFIX)]
    colours = {c: plt.cm.tab20(i % 20) for i, c in enumerate(cases)}
    for case, part in table.groupby("case", sort=False):
        is_r = case.startswith(R_PREFIX)
        colour = colours.get(case.removeprefix(R_PREFIX), "black")
        ax.plot(part["rows"], part["seconds"], marker="o", ms=3, lw=1.5, ls="--" if is_r else "-", color=colour,
                label=case)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds (best of repeats)")
    ax.set_title("Workbench benchmarks (R's survival dashed)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=1, frameon=False, bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(table: pd.DataFrame, out: Path) -> None:
    header = (f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
              f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}\n\n")
    text = header + table.to_markdown(index=False) + "\n"
    compared = versus_r(table)
    if len(compared):
        text += "\n## Workbench and R's survival on the same data\n\n" + compared.to_markdown(index=False) + "\n"
    extra = [name for name in ("scale_large.md", "scale_cox.md") if (out / name).exists()]
    if extra:
        text += ("\nScale-out beyond one machine's memory and Cox from aggregated counts: "
                 + ", ".join(f"[{name}]({name})" for name in extra) + ".\n")
    text += "\n![seconds against rows](results.png)\n"
    (out / "results.md").write_text(text)
    plot(table, out / "results.png")


if __name__ == "__main__":
    main()
