"""Benchmark runner (``make bench``): time and peak memory of the workbench's hot paths.

Writes ``benchmarks/results/results.csv`` and ``results.md``. Each case is run on synthetic
answers at 10^3 ... 10^6 rows; the time is the best of ``--repeat`` runs (wall clock), the peak
memory is the largest block of memory allocated during one run (tracemalloc, measured in a
separate run so it does not slow the timed ones).

    python benchmarks/run.py [--sizes 1000 10000 100000 1000000] [--repeat 5] [--only scoring]
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
import bench_scoring  # noqa: E402
import bench_stepped_care  # noqa: E402
import bench_survival  # noqa: E402
import bench_synth  # noqa: E402

#: Cases whose goal is stated at a smaller size (registry: 100,000 screenings) stop there.
MAX_ROWS = {**getattr(bench_registry, "MAX_ROWS", {})}

CASES = {**bench_scoring.CASES, **bench_stepped_care.CASES, **bench_survival.CASES, **bench_synth.CASES, **bench_registry.CASES}


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
    args = parser.parse_args(argv)
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
    table.to_csv(args.out / "results.csv", index=False)
    header = (f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
              f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}\n\n")
    (args.out / "results.md").write_text(header + table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
