"""The numbers notebook 03 (cohort survival) puts in its sentences, from the notebook's own calls:
the 12-month cumulative incidences by tier equal R's multi-state ``survfit``
(``tests/reference/competing_risks/make_reference.R``), and the "wrong analysis" it quotes is
exactly one minus Kaplan-Meier with completion and death censored."""

from pathlib import Path

import pandas as pd
import pytest

from workbench import survival, ui
from workbench.cohort import endpoints
from workbench.sample import load_sample

REF = Path(__file__).resolve().parent / "reference" / "competing_risks"
YEAR = 365.25  # the notebook reads every share at 12 months
CAUSES = {"dropout": {1: "dropout", 2: "died_in_care", 3: "completed"},
          "remission": {1: "remission", 2: "death_first", 3: "care_ended_first"}}


@pytest.fixture(scope="module")
def tables():
    return load_sample()


def notebook_care(tables, censor_date, dropout_days=90):
    """The notebook's ``care`` frame: dropout and remission endpoints with the decided tier."""
    tier = ui.cohort_frame(tables, censor_date=censor_date).drop_duplicates("resident_id").set_index("resident_id")["tier"]
    care = endpoints(tables, censor_date=censor_date, which=["dropout", "remission"], dropout_days=dropout_days)
    return care.assign(tier=care["resident_id"].map(tier)).dropna(subset=["tier"])


@pytest.mark.parametrize("endpoint, censor_date", [
    ("dropout", "2026-12-31"), ("remission", "2026-12-31"),
    ("dropout", "2025-09-30"), ("remission", "2025-09-30")])
def test_the_12_month_cumulative_incidence_by_tier_is_r_multistate_survfit(tables, endpoint, censor_date):
    data = notebook_care(tables, censor_date)
    data = data[data["endpoint"] == endpoint]
    ours = survival.competing_summary(data, duration="duration", event="event", causes=CAUSES[endpoint],
                                      group="tier", at=YEAR).set_index(["group", "code"])
    r = pd.read_csv(REF / "r_aalen_johansen.csv").query("dataset == @endpoint + '_' + @censor_date and time == 365")
    assert len(r) == 6  # two tiers x three causes
    for row in r.itertuples():
        mine = ours.loc[(row.tier, row.cause)]
        assert mine["cif"] == pytest.approx(row.pstate, rel=1e-6, abs=1e-12), (row.tier, row.cause)
        if row.pstate > 0:
            assert mine["ci_low"] == pytest.approx(row.lower, rel=1e-6)
            assert mine["ci_high"] == pytest.approx(row.upper, rel=1e-6)


def test_the_crude_dropout_quoted_is_the_count_over_those_referred(tables):
    dropout = notebook_care(tables, "2026-12-31").query("endpoint == 'dropout'")
    ours = survival.competing_summary(dropout, duration="duration", event="event", causes=CAUSES["dropout"],
                                      group="tier", at=YEAR).set_index(["group", "code"])
    committed = pd.read_csv(REF / "data_sample_endpoints.csv").query("dataset == 'dropout_2026-12-31'")
    for tier, share in ((2, "20.6%"), (3, "18.2%")):
        part = committed[committed["tier"] == tier]
        assert ours.loc[(tier, 1), "crude"] == pytest.approx((part["event"] == 1).mean())
        assert f"{100 * ours.loc[(tier, 1), 'crude']:.1f}%" == share


def test_the_wrong_analysis_quoted_is_one_minus_kaplan_meier_with_completion_censored(tables):
    dropout = notebook_care(tables, "2026-12-31").query("endpoint == 'dropout'")
    censored = dropout.assign(event=dropout["event"].where(dropout["event"] == 1, 0))
    wrong = survival.competing_summary(censored, duration="duration", event="event", causes={1: "dropout"},
                                       group="tier", at=YEAR).set_index(["group", "code"])
    right = survival.competing_summary(dropout, duration="duration", event="event", causes=CAUSES["dropout"],
                                       group="tier", at=YEAR).set_index(["group", "code"])
    km = survival.km(censored, duration="duration", event="event", group="tier")
    for tier in (2, 3):
        curve = km[(km["group"] == tier) & (km["time"] <= YEAR)]
        assert wrong.loc[(tier, 1), "cif"] == pytest.approx(1 - curve["survival"].iloc[-1], abs=1e-12)
        assert wrong.loc[(tier, 1), "cif"] > right.loc[(tier, 1), "cif"] + 0.5  # 100 % against about 20 %
