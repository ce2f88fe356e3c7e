"""Scoring cases for the benchmark runner: PHQ-9 and GAD-7 answers with 2% blanks."""

from __future__ import annotations

import numpy as np
import pandas as pd

import workbench


def _answers(instrument: str, n: int, *, dtype: str) -> pd.DataFrame:
    inst = workbench.get_instrument(instrument)
    rng = np.random.default_rng(1)
    values = rng.integers(inst.response_min, inst.response_max + 1, size=(n, inst.n_items)).astype("float64")
    values[rng.random(values.shape) < 0.02] = np.nan
    frame = pd.DataFrame(values, columns=inst.item_columns)
    return frame if dtype == "float64" else frame.astype(dtype)


def _case(instrument: str, dtype: str):
    return (lambda n: (_answers(instrument, n, dtype=dtype),),
            lambda data: workbench.score(data, instrument))


CASES = {
    "score phq9 (float64)": _case("phq9", "float64"),
    "score phq9 (Int8 nullable)": _case("phq9", "Int8"),
    "score gad7 (float64)": _case("gad7", "float64"),
}
