"""screen() cases for the benchmark runner: PHQ-9 + GAD-7 + conditions, 2% blank answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

import workbench
from workbench.policy import CONDITIONS


def _screenings(n: int) -> tuple[pd.DataFrame]:
    rng = np.random.default_rng(2)
    parts = {}
    for inst_id in ("phq9", "gad7"):
        inst = workbench.get_instrument(inst_id)
        # skewed towards low answers, as in community screening
        values = rng.choice(4, p=[0.55, 0.25, 0.12, 0.08], size=(n, inst.n_items)).astype("float64")
        values[rng.random(values.shape) < 0.02] = np.nan
        parts.update({col: values[:, j] for j, col in enumerate(inst.item_columns)})
    frame = pd.DataFrame(parts)
    frame["assessed_on"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    for cond, p in zip(CONDITIONS, (0.275, 0.119, 0.04, 0.02, 0.04, 0.02)):
        frame[cond] = rng.random(n) < p
    return (frame,)


CASES = {
    "screen phq9+gad7 (default policy)": (_screenings, lambda data: workbench.screen(data)),
    "assign_tiers (already scored)": (
        lambda n: (pd.concat([workbench.score_all(_screenings(n)[0]), _screenings(n)[0][["assessed_on", *CONDITIONS]]], axis=1),),
        lambda scored: workbench.assign_tiers(scored)),
}
