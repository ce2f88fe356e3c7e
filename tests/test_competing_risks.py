"""Care that can end in more than one way: dropout against completion (and death), remission
against care ending first. Checked against a hand-worked Aalen-Johansen example and R's
multi-state ``survfit`` (``tests/reference/competing_risks/make_reference.R``)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import survival, ui
from workbench.sample import load_sample

REF = Path(__file__).resolve().parent / "reference" / "competing_risks"
CAUSE_NAMES = {1: "dropout", 2: "death", 3: "completed"}

#: Eight people leaving care on days 1-8: dropout (1), completed (3) or still in care (0).
HAND = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 3, 0, 1, 3, 1, 0, 3]})


def test_hand_worked_aalen_johansen():
    # S(t-) x d_k / n at each time:  day 1: 1 x 1/8 = .125 dropout       S = 7/8
    #   day 2: 7/8 x 1/7 = .125 completed   S = 6/8;  day 3 censored (n 6 -> 5)
    #   day 4: .75 x 1/5 = .15 dropout (.275)  S = .6;  day 5: .6 x 1/4 = .15 completed (.275)  S = .45
    #   day 6: .45 x 1/3 = .15 dropout (.425)  S = .3;  day 7 censored;  day 8: .3 x 1/1 completed (.575)
    out = survival.competing_summary(HAND, duration="t", event="e", causes={1: "dropout", 3: "completed"})
    assert out["cause"].tolist() == ["dropout", "completed", "none_yet"]
    assert out["cif"].to_numpy() == pytest.approx([0.425, 0.575, 0.0])
    assert out["crude"].to_numpy() == pytest.approx([3 / 8, 3 / 8, 2 / 8])
    at4 = survival.competing_summary(HAND, duration="t", event="e", causes={1: "dropout", 3: "completed"}, at=4.5)
    assert at4["cif"].to_numpy() == pytest.approx([0.275, 0.125, 0.6])
    assert at4["events"].tolist() == [2, 1, 5]  # by day 4.5: two dropouts, one completed, five with neither
    # Completion treated as censoring (the old notebook): 1 - KM says 53 % dropped out, not 42.5 %
    km = survival.km(HAND.assign(drop=(HAND["e"] == 1).astype(int)), duration="t", event="drop")
    assert 1 - km["survival"].iloc[-1] == pytest.approx(1 - (7 / 8) * (4 / 5) * (2 / 3))
    assert 1 - km["survival"].iloc[-1] > out["cif"].iloc[0] + 0.1


def _r():
    return pd.read_csv(REF / "r_aalen_johansen.csv")


def test_hand_worked_interval_is_r_multistate_survfit():
    r = _r().query("dataset == 'hand'")
    for cause in (1, 3):
        curve = survival.cumulative_incidence(HAND, duration="t", event="e", cause=cause)
        for _, row in r[r["cause"] == cause].iterrows():
            ours = curve[curve["time"] <= row["time"]].iloc[-1] if (curve["time"] <= row["time"]).any() else None
            cif = 0.0 if ours is None else ours["cif"]
            assert cif == pytest.approx(row["pstate"], rel=1e-6, abs=1e-12)
            if row["pstate"] > 0:
                assert ours["ci_low"] == pytest.approx(row["lower"], rel=1e-6)
                assert ours["ci_high"] == pytest.approx(row["upper"], rel=1e-6)


@pytest.fixture(scope="module")
def sample_endpoints():
    import runpy

    data = runpy.run_path(str(REF / "make_competing_data.py"))["frames"]()
    return data, pd.read_csv(REF / "data_sample_endpoints.csv")


def test_the_r_input_is_what_endpoints_gives_on_the_sample(sample_endpoints):
    ours, committed = sample_endpoints
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), committed, check_dtype=False)


@pytest.mark.parametrize("dataset", ["dropout_2026-12-31", "dropout_2025-09-30", "remission_2026-12-31",
                                     "remission_2025-09-30"])
def test_sample_cumulative_incidence_is_r_multistate_survfit(sample_endpoints, dataset):
    data = sample_endpoints[1].query("dataset == @dataset")
    r = _r().query("dataset == @dataset")
    checked = 0
    for (tier, cause), rows in r.groupby(["tier", "cause"]):
        part = data[data["tier"] == tier]
        if not (part["event"] == cause).any():
            assert (rows["pstate"] == 0).all()
            continue
        curve = survival.cumulative_incidence(part, duration="duration", event="event", cause=cause)
        for _, row in rows.iterrows():
            upto = curve[curve["time"] <= row["time"]]
            cif = upto["cif"].iloc[-1] if len(upto) else 0.0
            assert cif == pytest.approx(row["pstate"], rel=1e-6, abs=1e-12), (tier, cause, row["time"])
            if row["pstate"] > 0 and np.isfinite(row["lower"]):
                assert upto["ci_low"].iloc[-1] == pytest.approx(row["lower"], rel=1e-6)
                assert upto["ci_high"].iloc[-1] == pytest.approx(row["upper"], rel=1e-6)
            checked += 1
    assert checked >= 20


def test_dropout_by_tier_on_the_sample_is_the_crude_share_when_nobody_is_still_in_care():
    cohort = ui.cohort_frame(load_sample(), censor_date="2026-12-31")
    dropout = cohort[(cohort["endpoint"] == "dropout") & cohort["tier"].isin([2, 3])]
    out = survival.competing_summary(dropout, duration="duration", event="event", causes=CAUSE_NAMES,
                                     group="tier").set_index(["group", "cause"])
    # everyone's first referral has ended by the end of 2026, so the Aalen-Johansen estimate of
    # dropout equals the crude share: 137 of 666 (20.6 %) in tier 2 and 41 of 225 (18.2 %) in tier 3
    assert out.loc[(2, "dropout"), ["events", "n"]].tolist() == [137, 666]
    assert out.loc[(3, "dropout"), ["events", "n"]].tolist() == [41, 225]
    assert out.loc[(2, "dropout"), "cif"] == pytest.approx(137 / 666)
    assert out.loc[(3, "dropout"), "cif"] == pytest.approx(41 / 225)
    # the ways of leaving add up: dropout + death + completed + none yet = 1
    assert out.groupby(level="group")["cif"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    # the old analysis: completion censored, "still in care" falls to 0 as if all dropped out
    old = survival.km(dropout[dropout["tier"] == 2].assign(drop=lambda d: (d["event"] == 1).astype(int)),
                      duration="duration", event="drop")
    assert 1 - old["survival"].iloc[-1] > 0.9


def test_every_cause_in_the_data_needs_a_name():
    with pytest.raises(survival.SurvivalDataError) as err:
        survival.competing_summary(HAND, duration="t", event="e", causes={1: "dropout"})
    assert "cause code without a name" in str(err.value) and "3" in str(err.value)
    with pytest.raises(ValueError, match="causes"):
        survival.competing_summary(HAND, duration="t", event="e", causes={0: "censored"})


def test_a_cause_absent_from_one_group_has_incidence_zero_there():
    d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 2, 0, 1, 3, 0], "g": [1, 1, 1, 2, 2, 2]})
    out = survival.competing_summary(d, duration="t", event="e", causes=CAUSE_NAMES, group="g").set_index(["group", "cause"])
    assert out.loc[(2, "death"), "cif"] == 0 and out.loc[(2, "death"), "events"] == 0
    assert out.loc[(1, "completed"), "cif"] == 0
    assert out.loc[(1, "dropout"), "cif"] == pytest.approx(1 / 3) and out.loc[(2, "completed"), "cif"] == pytest.approx(2 / 3 * 1 / 2)
