"""Cox and Fine-Gray models say when there are too few events for their coefficients, and refuse
plainly what cannot be estimated (issue 20: a 7-coefficient model on 35 deaths without a word)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from workbench import survival
from workbench.survival_regression import EVENTS_PER_PARAMETER, SparseDataWarning


def cohort(n: int, events: int, p: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)])
    d["t"] = rng.exponential(100, n).round() + 1
    d["e"] = 0
    d.loc[rng.choice(n, events, replace=False), "e"] = 1
    return d


def test_seven_coefficients_on_35_events_warn_with_the_numbers():
    d = cohort(400, 35, 7)
    with pytest.warns(SparseDataWarning, match=r"35 events in 'e' for 7 coefficients: 5\.0 events per coefficient, "
                                               r"fewer than 10 \(Peduzzi 1995\).*at most 3\)"):
        survival.cox(d, duration="t", event="e", covariates=[f"x{i}" for i in range(7)])


def test_ten_events_per_coefficient_is_quiet():
    assert EVENTS_PER_PARAMETER == 10
    d = cohort(400, 70, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SparseDataWarning)
        survival.cox(d, duration="t", event="e", covariates=[f"x{i}" for i in range(7)])


def test_fine_gray_counts_the_events_of_its_cause():
    d = cohort(300, 40, 3)
    d.loc[d.index[d["e"] == 1][:25], "e"] = 2  # 15 of cause 1, 25 of cause 2
    with pytest.warns(SparseDataWarning, match=r"15 events in 'e' of cause 1 for 3 coefficients: 5\.0"):
        survival.fine_gray(d, duration="t", event="e", cause=1, covariates=["x0", "x1", "x2"])


def test_a_constant_covariate_is_refused_plainly():
    d = cohort(200, 60, 2).assign(female=1)
    with pytest.raises(survival.CoxFitError, match="'female' takes one value in every row: there is no effect "
                                                   "to estimate; leave it out"):
        survival.cox(d, duration="t", event="e", covariates=["x0", "female"])


def test_the_warning_points_at_the_callers_line():
    d = cohort(400, 35, 7)
    with pytest.warns(SparseDataWarning) as caught:
        survival.cox(d, duration="t", event="e", covariates=[f"x{i}" for i in range(7)])
    assert caught[0].filename == __file__
