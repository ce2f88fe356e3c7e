"""Agreement with R at 1,000,000 rows, where R's Efron robust variance does not finish.

``bench_survival_robust.py`` stops R's ``coxph(cluster = )`` with Efron ties after 300 s at
1,000,000 rows (its dfbeta step slows sharply with many tied deaths per day), so its table has
no agreement figure for the robust variance at that size. With Breslow ties R finishes; this
script fits the same cohort (``bench_survival_robust.cohort``) both ways, once each on our side
best of 3, and checks coef, se, robust se and ``cox.zph(transform = "rank")`` against R.

    python benchmarks/bench_survival_robust_breslow.py [--n 1000000]

Writes ``benchmarks/results/survival_robust_breslow.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench_survival_robust import COVARIATES, cohort, machine_note

HERE = Path(__file__).resolve().parent


def main() -> None:
    from workbench import survival

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        cohort(n).to_csv(path, index=False)
        data = pd.read_csv(path)
        out = subprocess.run(["Rscript", str(HERE / "bench_survival_robust_breslow.R"), str(path)],
                             capture_output=True, text=True, check=True).stdout
    r = [line.split("\t") for line in out.strip().splitlines()]
    r_fit = float(next(v[1] for v in r if v[0] == "seconds"))
    r_zph = float(next(v[1] for v in r if v[0] == "zph_rank_seconds"))
    r_coef = np.array([[float(x) for x in v[2:5]] for v in r if v[0] == "coef"])
    r_chisq = np.array([float(v[2]) for v in r if v[0] == "zph"])
    fits = []
    for _ in range(3):
        start = time.perf_counter()
        model = survival.cox(data, duration="time", event="event", covariates=COVARIATES, cluster="community",
                             ties="breslow")
        fits.append(time.perf_counter() - start)
    start = time.perf_counter()
    zph = model.ph_test("rank")
    ours_zph = time.perf_counter() - start
    coef_diff = np.abs(model.summary[["coef", "se", "robust_se"]].to_numpy() / r_coef - 1).max()
    zph_diff = np.abs(zph["statistic"].to_numpy() / r_chisq - 1).max()
    text = (f"# Cluster-robust Cox (Breslow ties) and cox.zph (rank) at {n:,} rows: ours next to R\n\n"
            "`python benchmarks/bench_survival_robust_breslow.py` (R side `bench_survival_robust_breslow.R`), the cohort of "
            "`bench_survival_robust.py`, 200 communities as clusters. Wall-clock seconds; ours best of 3 (the fit), R once.\n\n"
            "| task | n | ours s | R s | max rel diff vs R |\n|---|---:|---:|---:|---:|\n"
            f"| Cox robust SE, cluster=community, Breslow ties (fit + robust variance) | {n:,} | {min(fits):.3g} | {r_fit:.3g} | "
            f"{coef_diff:.1e} (coef, se, robust se) |\n"
            f"| PH test, rank transform (cox.zph), on that fit | {n:,} | {ours_zph:.3g} | {r_zph:.3g} | {zph_diff:.1e} (chi-squares) |\n\n"
            + machine_note() + "\n")
    (HERE / "results" / "survival_robust_breslow.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
