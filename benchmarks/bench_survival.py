"""Survival cases for the benchmark runner, and the same work in R's survival for comparison.

Data: exponential survival times (days) with administrative censoring, two arms, three
covariates (binary, continuous, count) and tied whole-day times, as a registry gives them.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import survival

HERE = Path(__file__).resolve().parent


def cohort(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    arm = rng.integers(0, 2, n)
    x2 = rng.normal(size=n)
    x3 = rng.poisson(1.5, n)
    rate = 0.002 * np.exp(-0.3 * arm + 0.2 * x2 + 0.1 * x3)
    t = np.ceil(rng.exponential(1 / rate))
    censor = rng.uniform(30, 1825, n).round()
    return pd.DataFrame({"time": np.minimum(t, censor), "event": (t <= censor).astype(int),
                         "arm": arm, "x2": x2, "x3": x3})


def _km_logrank(data):
    survival.km(data, duration="time", event="event", group="arm")
    survival.logrank(data, duration="time", event="event", group="arm")


def _cox(data):
    survival.cox(data, duration="time", event="event", covariates=["arm", "x2", "x3"])


CASES = {
    "KM + log-rank (2 arms)": (lambda n: (cohort(n),), _km_logrank),
    "Cox, 3 covariates (Efron)": (lambda n: (cohort(n),), _cox),
}

R_SCRIPT = HERE / "bench_survival.R"


def r_rows(sizes) -> list[dict]:
    """Time R's survfit + survdiff and coxph on the same data (best of 3, fitting only)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = Path(folder) / f"cohort_{n}.csv"
            cohort(n).to_csv(path, index=False)
            out = subprocess.run(["Rscript", str(R_SCRIPT), str(path)], capture_output=True, text=True, check=True)
            for line in out.stdout.strip().splitlines():
                case, seconds = line.split("\t")
                rows.append({"case": f"R: {case}", "rows": n, "seconds": round(float(seconds), 4),
                             "rows_per_second": round(n / float(seconds)), "peak_mib": float("nan")})
    return rows
