"""Alert performance on hand-made days: periods found, alerts calling for nothing, periods nobody watched."""

import pandas as pd
import pytest

from workbench.wearables.evaluation import alert_onsets, alert_performance


def days_of(resident, flags, wear=None, start="2025-01-01"):
    n = len(flags)
    return pd.DataFrame({"resident_id": resident, "day": pd.date_range(start, periods=n).date,
                         "flag": flags, "wear_state": wear or ["worn"] * n})


def test_onsets_are_runs_of_flagged_days_per_resident():
    d = pd.concat([days_of("A", [True, True, False, True]), days_of("B", [True, False, False, False])])
    o = alert_onsets(d)
    assert o[["resident_id", "days"]].values.tolist() == [["A", 2], ["A", 1], ["B", 1]]
    assert alert_onsets(days_of("A", [False] * 3)).empty


def test_found_watched_false_alerts_and_grace():
    # A: a period on days 3-5 flagged on day 7 (2 days after its end), a false alert on day 12.
    flags = [False] * 6 + [True] + [False] * 4 + [True] + [False] * 3
    a = days_of("A", flags)
    # B: a period on days 2-4 while the band was not worn at all: it cannot be found.
    b = days_of("B", [False] * 15, wear=["worn"] + ["not_worn"] * 4 + ["worn"] * 10)
    periods = pd.DataFrame({"resident_id": ["A", "B", "A", "Z"],
                            "start": ["2025-01-03", "2025-01-02", "2024-06-01", "2025-01-01"],
                            "end": ["2025-01-05", "2025-01-04", "2024-06-10", "2025-01-30"]})
    strict = alert_performance(pd.concat([a, b]), periods, grace_days=0).iloc[0]
    # the 2024 period (before A's band) and resident Z (no band) are not counted
    assert strict["periods"] == 2 and strict["periods_watched"] == 1
    assert strict["found"] == 0 and strict["alerts"] == 2 and strict["false_alerts"] == 2
    assert strict["resident_months"] == pytest.approx(30 / 30.4375)
    assert strict["false_per_100_months"] == pytest.approx(100 * 2 / (30 / 30.4375))
    loose = alert_performance(pd.concat([a, b]), periods, grace_days=2).iloc[0]
    assert loose["found"] == 1 and loose["sensitivity"] == 1.0 and loose["false_alerts"] == 1
    assert loose["ppv"] == 0.5
    assert loose["not_worn_share"] == pytest.approx(4 / 30)


def test_no_watched_period_gives_a_blank_sensitivity_not_zero():
    d = days_of("A", [False] * 5, wear=["not_worn"] * 5)
    r = alert_performance(d, pd.DataFrame({"resident_id": ["A"], "start": ["2025-01-02"], "end": ["2025-01-03"]})).iloc[0]
    assert r["periods"] == 1 and r["periods_watched"] == 0 and pd.isna(r["sensitivity"]) and pd.isna(r["ci_low"])
