"""Write the seeded inputs of make_reference.R (run from the repository root):

    .venv/bin/python tests/reference/economics/make_economics_data.py

- ``data.csv``: one row per person of a three-arm trial (reference ``usual_care``, plus
  ``group`` and ``individual`` psychological intervention): ``id, arm, intervention_cost``
  (yuan; 0 in usual care), ``medical_cost`` (yuan), ``cost`` (their sum; missing when the
  medical cost is), ``qaly`` and ``remitted`` (0/1), with a few missing values in each.
  Drawn from ``numpy.random.default_rng(20250612)``; the numbers are illustrative, not a model
  of any real service.
- ``boot_indices.csv.gz``: the bootstrap resamples :mod:`workbench.economics` draws for the
  three analyses in ``ANALYSES`` (columns ``analysis, arm, group, replicate, draws``: ``group``
  is ``arm`` or ``reference``, ``draws`` the 0-based positions, space-separated, into that
  arm's complete-case rows in file order). They are made by the module's own drawing routine
  in the order its Notes state (for each non-reference arm, sorted: that arm, then the
  reference), so R can recompute the percentile intervals from the very same resamples.
  ``tests/test_economics.py`` checks the file still matches what the seed gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20250612
REFERENCE = "usual_care"
N_BOOT = 200
#: analysis -> (function, value columns, seed); cost_effectiveness uses ("cost", effect),
#: return_on_investment ("intervention_cost", "medical_cost").
ANALYSES = {
    "ce_qaly": ("cost_effectiveness", ("cost", "qaly"), 11),
    "ce_remitted": ("cost_effectiveness", ("cost", "remitted"), 12),
    "roi": ("return_on_investment", ("intervention_cost", "medical_cost"), 13),
}


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    sizes = {"usual_care": 45, "group": 40, "individual": 35}
    arm = np.concatenate([[a] * n for a, n in sizes.items()])
    rng.shuffle(arm)
    n = len(arm)
    psy = {"usual_care": (0, 0), "group": (320, 60), "individual": (950, 180)}
    intervention = np.array([max(0.0, rng.normal(*psy[a])) for a in arm])
    saving = {"usual_care": 1.0, "group": 0.9, "individual": 0.95}
    medical = np.array([rng.lognormal(np.log(4200 * saving[a]), 0.55) for a in arm])
    gain = {"usual_care": 0.0, "group": 0.04, "individual": 0.07}
    qaly = np.clip(np.array([rng.normal(0.68 + gain[a], 0.08) for a in arm]), 0, 1)
    p = {"usual_care": 0.25, "group": 0.38, "individual": 0.45}
    remitted = np.array([rng.binomial(1, p[a]) for a in arm], dtype=float)
    d = pd.DataFrame({"id": np.arange(1, n + 1), "arm": arm, "intervention_cost": intervention.round(2),
                      "medical_cost": medical.round(2), "qaly": qaly.round(4), "remitted": remitted})
    d.loc[rng.choice(n, 5, replace=False), "medical_cost"] = np.nan
    d.loc[rng.choice(n, 4, replace=False), "qaly"] = np.nan
    d.loc[rng.choice(n, 6, replace=False), "remitted"] = np.nan
    d.loc[rng.choice(np.flatnonzero(arm != REFERENCE), 2, replace=False), "intervention_cost"] = np.nan
    d.insert(4, "cost", (d["intervention_cost"] + d["medical_cost"]).round(2))
    return d


def complete_rows(d: pd.DataFrame, function: str, columns: tuple[str, str]) -> pd.DataFrame:
    """The complete-case rows each function analyses (its docstring's rule), in file order."""
    if function == "cost_effectiveness":
        return d[d[list(columns)].notna().all(axis=1)]
    intervention, medical = columns
    return d[d[medical].notna() & ((d["arm"] == REFERENCE) | d[intervention].notna())]


def boot_indices(d: pd.DataFrame) -> pd.DataFrame:
    from workbench.economics import _boot_index_chunks

    rows = []
    for analysis, (function, columns, seed) in ANALYSES.items():
        cc = complete_rows(d, function, columns)
        rng = np.random.default_rng(seed)
        n_ref = int((cc["arm"] == REFERENCE).sum())
        for a in sorted(set(cc["arm"]) - {REFERENCE}):
            for group, n in (("arm", int((cc["arm"] == a).sum())), ("reference", n_ref)):
                idx = np.concatenate(list(_boot_index_chunks(rng, n, N_BOOT)))
                rows += [{"analysis": analysis, "arm": a, "group": group, "replicate": k + 1,
                          "draws": " ".join(map(str, draw))} for k, draw in enumerate(idx)]
    return pd.DataFrame(rows)


if __name__ == "__main__":
    data = make_data()
    data.to_csv(HERE / "data.csv", index=False)
    boot_indices(pd.read_csv(HERE / "data.csv")).to_csv(
        HERE / "boot_indices.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})  # byte-stable
    print(data.groupby("arm").size().to_dict(), "rows written to", HERE)
