"""Bad survival input is refused with the rows named; nothing is silently dropped."""

import numpy as np
import pandas as pd
import pytest

from workbench import survival as sv


def frame():
    return pd.DataFrame({"t": [5.0, 3.0, 8.0, 2.0], "e": [1, 0, 1, 1], "s": [0.0, 0.0, 1.0, 0.0],
                         "x": [0.5, 1.0, 2.0, 0.1], "g": ["a", "b", "a", "b"]}, index=["p1", "p2", "p3", "p4"])


@pytest.mark.parametrize("column, value, rule", [
    ("t", -1.0, "must not be negative"),
    ("t", np.nan, "must be a number of days"),
    ("e", 2, "must be one of [0, 1]"),
    ("s", 9.0, "must be before the exit time"),
])
def test_bad_rows_are_named(column, value, rule):
    data = frame()
    data.loc["p3", column] = value
    with pytest.raises(sv.SurvivalDataError) as err:
        sv.km(data, duration="t", event="e", entry="s")
    assert "row 'p3'" in str(err.value) and rule in str(err.value)
    assert set(err.value.problems["row"]) == {"p3"}  # only the bad row (a negative time also precedes entry)


def test_nan_covariate_and_missing_group():
    data = frame()
    data.loc["p2", "x"] = np.nan
    with pytest.raises(sv.SurvivalDataError, match="row 'p2', column 'x'"):
        sv.cox(data, duration="t", event="e", covariates=["x"])
    data = frame()
    data.loc["p4", "g"] = None
    with pytest.raises(sv.SurvivalDataError, match="row 'p4', column 'g'"):
        sv.logrank(data, duration="t", event="e", group="g")


def test_undeclared_cause_and_bad_arguments():
    data = frame().assign(e=[1, 0, 2, 1])
    with pytest.raises(ValueError, match="'cause' parameter"):
        sv.cumulative_incidence(data, duration="t", event="e", cause=3)
    with pytest.raises(ValueError, match="'alpha' parameter of km must be a float in \\(0, 1\\). Got 1.5"):
        sv.km(frame(), duration="t", event="e", alpha=1.5)
    with pytest.raises(ValueError, match="'ci' parameter"):
        sv.km(frame(), duration="t", event="e", ci="plain")
    with pytest.raises(sv.SurvivalDataError, match="is absent"):
        sv.km(frame(), duration="days", event="e")
