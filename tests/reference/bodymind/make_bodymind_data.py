"""Write the seeded inputs of make_reference.R (run from the repository root):

    .venv/bin/python tests/reference/bodymind/make_bodymind_data.py

A simple simulation of its own (``numpy.random.default_rng(SEED)``), independent of
``workbench.synth``; the numbers are illustrative, not a model of any real service:

- ``control.csv``: one row per resident with hypertension: ``resident_id, psych_status``
  (normal, subclinical, clinical), ``age`` (years), ``sex``, ``controlled`` (0/1: latest BP
  in the year below target), the chance of control falling with psychological status and age.
  A few blanks (``controlled``, ``age``, ``sex``) test the complete-case rule.
- ``trial_bp.csv``: the trial's repeated SBP, one row per resident per visit (months 0, 3, 6,
  9, 12): ``resident_id, arm`` (intervention, usual_care), ``month``, ``sbp`` (mmHg), ``age``;
  a random intercept per resident, a fall over time that is larger in the intervention arm,
  some visits missed (no row) and some readings blank.
- ``counts.csv``: one row per randomised resident: ``resident_id, arm, followup_days`` (365,
  shorter for some), ``er_visits`` and ``hospital_days`` (overdispersed counts: gamma-Poisson
  with a lower rate in the intervention arm), ``age``; a few blank counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261201


def make_control(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    psych = rng.choice(["normal", "subclinical", "clinical"], size=n, p=[0.55, 0.25, 0.20])
    sex = rng.choice(["female", "male"], size=n)
    age = rng.integers(40, 86, size=n).astype(float)
    logit = 1.0 - 0.45 * (psych == "subclinical") - 0.9 * (psych == "clinical") - 0.02 * (age - 60) \
        + 0.15 * (sex == "female")
    controlled = rng.binomial(1, 1 / (1 + np.exp(-logit))).astype(float)
    d = pd.DataFrame({"resident_id": [f"H{i:04d}" for i in range(1, n + 1)], "psych_status": psych,
                      "age": age, "sex": sex, "controlled": controlled})
    d.loc[rng.choice(n, 6, replace=False), "controlled"] = np.nan
    d.loc[rng.choice(n, 3, replace=False), "age"] = np.nan
    d["sex"] = d["sex"].astype(object)
    d.loc[rng.choice(n, 2, replace=False), "sex"] = np.nan
    return d


def make_trial_bp(rng: np.random.Generator, n: int = 240) -> pd.DataFrame:
    months = np.array([0, 3, 6, 9, 12])
    arm = rng.permutation(np.repeat(["intervention", "usual_care"], n // 2))
    u = rng.normal(0, 9, n)
    age = rng.integers(40, 86, size=n)
    rows = []
    for i in range(n):
        slope = -0.9 if arm[i] == "intervention" else -0.35
        for m in months:
            if m > 0 and rng.random() < 0.12:
                continue                                             # visit missed: no row
            sbp = 150 + 0.2 * (age[i] - 60) + u[i] + slope * m + rng.normal(0, 7)
            rows.append({"resident_id": f"T{i + 1:04d}", "arm": arm[i], "month": m, "sbp": round(sbp),
                         "age": age[i]})
    d = pd.DataFrame(rows)
    d["sbp"] = d["sbp"].astype(float)
    d.loc[rng.choice(len(d), 8, replace=False), "sbp"] = np.nan
    return d


def make_counts(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    arm = rng.permutation(np.repeat(["intervention", "usual_care"], n // 2))
    follow = np.where(rng.random(n) < 0.1, rng.integers(30, 365, n), 365).astype(float)
    age = rng.integers(40, 86, size=n).astype(float)
    frailty = rng.gamma(1.2, 1 / 1.2, n)
    er_rate = 1.1 * np.where(arm == "intervention", 0.7, 1.0) * np.exp(0.01 * (age - 60))
    er = rng.poisson(frailty * er_rate * follow / 365)
    stays = rng.poisson(rng.gamma(0.5, 1 / 0.5, n) * np.where(arm == "intervention", 0.25, 0.4) * follow / 365)
    days = np.array([rng.geometric(1 / 7, k).sum() if k else 0 for k in stays])
    d = pd.DataFrame({"resident_id": [f"C{i:04d}" for i in range(1, n + 1)], "arm": arm,
                      "followup_days": follow, "er_visits": er.astype(float), "hospital_days": days.astype(float),
                      "age": age})
    d.loc[rng.choice(n, 4, replace=False), "er_visits"] = np.nan
    d.loc[rng.choice(n, 3, replace=False), "hospital_days"] = np.nan
    return d


def make_all() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    return {"control.csv": make_control(rng), "trial_bp.csv": make_trial_bp(rng), "counts.csv": make_counts(rng)}


if __name__ == "__main__":  # not when pytest imports the file
    for name, frame in make_all().items():
        frame.to_csv(HERE / name, index=False)
        print(name, len(frame), "rows")
