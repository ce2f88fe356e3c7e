"""Tests of the synthetic severe-mental-disorder register (workbench.synth.smd): the
``smd_register``, ``smd_followups`` and ``smd_rehab`` tables.

Calibration targets and their sources (REFERENCE.md "Severe mental disorders", the national
figures of 2018; denominator: patients registered (在册) at the month-end, the 12 months to it):
managed 94.9 %, regularly managed 82.7 %, on medication 81.3 %, regular medication 41.8 %;
reported prevalence 0.43 % of the whole population nationally, "about 4-6 per 1,000 residents"
for the sample (issue 16). The rates are computed here by hand from their definitions
(the policy file's ``indicators``: managed = at least one follow-up in the 12 months, regularly
managed = at least four with a risk grade, medication from the latest follow-up), not with
workbench.smd.indicators, which is then checked against the hand count.
Tolerances: at n = 300,000 about 1,500 patients are registered; the SE of a rate near 0.83 is
about 1 point, near 0.42 about 1.3 points; the tests accept 3.5 points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import smd
from workbench.synth import Community, _params, community, engine
from workbench.tables import TABLES

NATIONAL = {"managed": 0.949, "regular": 0.827, "on_medication": 0.813, "regular_medication": 0.418}


@pytest.fixture(scope="module")
def big() -> Community:
    return community(300_000, seed=20261126, instruments=("phq9", "gad7"))


@pytest.fixture(scope="module")
def small() -> Community:
    return community(20_000, seed=7, instruments=("phq9", "gad7"))


def day(x) -> np.ndarray:
    return pd.to_datetime(x).to_numpy().astype("datetime64[D]")


def with_ids(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(followup_id=[f"Q{k}" for k in range(len(f))])


def by_hand(c: Community, month_end: str) -> dict[str, float]:
    """The four national rates at ``month_end``, from their definitions."""
    r, f = c.smd_register, c.smd_followups
    end = pd.Timestamp(month_end)
    start = end - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    on = r[(r["registered_on"] <= end) & (r["left_on"].isna() | (r["left_on"] > end))]
    reg = on.set_index("resident_id")["registered_on"]
    f = f[f["resident_id"].isin(reg.index) & f["followed_on"].between(start, end)]
    f = f[f["followed_on"].to_numpy() >= reg.loc[f["resident_id"]].to_numpy()]
    count = f.groupby("resident_id").size().reindex(reg.index, fill_value=0)
    graded = f[f["risk_grade"].notna()].groupby("resident_id").size().reindex(reg.index, fill_value=0)
    # the latest follow-up itself (groupby().last() would skip its blanks and take older answers)
    last = f.sort_values("followed_on").drop_duplicates("resident_id", keep="last").set_index("resident_id")
    n = len(reg)
    return {"registered": n, "managed": (count >= 1).sum() / n, "regular": (graded >= 4).sum() / n,
            "on_medication": (last["on_medication"] == True).sum() / n,  # noqa: E712 - blank is not True
            "regular_medication": (last["medication_regularity"] == "regular").sum() / n}


# ---------------------------------------------------------------- shape

def test_tables_validate_with_the_declared_shape(small):
    tables = small.tables()            # community_tables coerces and validates (links too)
    assert tables.validate() is tables
    for name in ("smd_register", "smd_followups", "smd_rehab"):
        frame = getattr(tables, name)
        assert frame.columns.tolist() == list(TABLES[name].names), name
        assert len(frame) > 0, name
    f = tables.smd_followups
    assert f["followup_id"].is_unique and not f.duplicated(["resident_id", "followed_on"]).any()
    assert set(f["resident_id"]) <= set(tables.smd_register["resident_id"])
    assert set(tables.smd_register["resident_id"]) <= set(tables.residents["resident_id"])


def test_register_size_is_about_5_per_1000_at_every_month_end(big):
    r, n = big.smd_register, len(big.residents)
    for end in pd.date_range("2025-01-31", "2026-12-31", freq="ME"):
        on = ((r["registered_on"] <= end) & (r["left_on"].isna() | (r["left_on"] > end))).sum()
        assert 4.0 <= 1000 * on / n <= 6.0, (end, on)
    assert set(r["diagnosis"]) == set(smd.DISORDERS)
    assert (r["diagnosis"] == "schizophrenia").mean() > 0.5          # the largest group
    # Dates: diagnosed before registration; left after it, with a reason; the dead died then.
    known = r["diagnosed_on"].notna()
    assert (r.loc[known, "diagnosed_on"] <= r.loc[known, "registered_on"]).all() and 0.8 < known.mean() < 0.97
    left = r["left_on"].notna()
    assert (r["left_reason"].notna() == left).all() and (r.loc[left, "left_on"] > r.loc[left, "registered_on"]).all()
    assert (r.loc[left, "left_on"] <= pd.Timestamp(big.follow_up_end)).all()
    death = big.events[big.events["kind"] == "death"].set_index("resident_id")["event_on"]
    died = r[r["left_reason"] == "died"]
    assert len(died) and (died["left_on"].to_numpy() == death.loc[died["resident_id"]].to_numpy()).all()
    assert set(r["left_reason"].dropna()) == {"died", "moved"}
    assert r["consent_on"].notna().sum() == (r["consent"] == True).sum()  # noqa: E712


def test_the_committed_sample_has_its_register_at_4_to_6_per_1000():
    from workbench.sample import SAMPLE_DIR
    from workbench.tables import read

    t = read(SAMPLE_DIR)
    r, n = t.smd_register, len(t.residents)
    for end in pd.date_range("2025-01-31", "2026-12-31", freq="ME"):
        on = ((r["registered_on"] <= end) & (r["left_on"].isna() | (r["left_on"] > end))).sum()
        assert 4.0 <= 1000 * on / n <= 6.0, (end, on)
    assert len(t.smd_followups) > 10 * len(r) / 2


# ---------------------------------------------------------------- follow-ups as staff record them

def test_the_suggestion_is_the_policy_s_on_the_stored_answers(big):
    f = with_ids(big.smd_followups)
    again = smd.classify(f)
    stored, suggested = f["suggested_outcome"].fillna("-"), again["stability"].astype(object).fillna("-")
    assert (stored.to_numpy() == suggested.to_numpy()).all()
    assert (f["rule"].to_numpy() == again["rule"].astype(str).to_numpy()).all()
    assert (f["policy_version"] == smd.load_smd_policy().version).all()
    # Staff mostly confirm; a change is between stable and basically stable, never of an
    # unstable suggestion; without a suggestion the outcome is theirs or blank.
    has = f["suggested_outcome"].notna()
    same = f["outcome"] == f["suggested_outcome"]
    assert 0.9 < same[has].mean() < 0.99
    changed = f[has & ~same]
    assert set(zip(changed["suggested_outcome"], changed["outcome"])) == {("stable", "basically_stable"),
                                                                         ("basically_stable", "stable")}
    assert 0.3 < f.loc[~has, "outcome"].isna().mean() < 0.7
    assert f.loc[has, "outcome"].notna().all()
    # Referred only when the policy refers (grade >= 3 or unstable), most of those.
    refer = again["refer"].to_numpy()
    assert not f.loc[~refer, "referred"].any() and 0.8 < f.loc[refer, "referred"].mean() < 0.97


def test_next_due_is_the_earlier_of_the_outcome_s_and_the_suggestion_s(big):
    f = with_ids(big.smd_followups)
    suggested = smd.classify(f)["next_due"]
    months = pd.DatetimeIndex(f["followed_on"]) + pd.DateOffset(months=3)
    stable = (f["outcome"] == "stable").fillna(False).to_numpy(dtype=bool)
    own = np.where(stable, months.to_numpy(), (f["followed_on"] + pd.Timedelta(days=14)).to_numpy())
    judged = f["outcome"].notna().to_numpy()
    expected = np.where(judged, np.minimum(own, suggested.to_numpy()), suggested.to_numpy())
    assert (f["next_due"].to_numpy() == expected).all()
    assert (f["next_due"] > f["followed_on"]).all()


def test_risk_grades_mostly_0_or_1_rarely_3_or_more_never_filled_in(big):
    f = big.smd_followups
    g = f["risk_grade"]
    assert g.isna().any() and 0.005 < g.isna().mean() < 0.02
    known = g.dropna().astype(int)
    assert known.isin([0, 1]).mean() > 0.9
    assert 0.002 < (known >= 3).mean() < 0.03 and (known == 5).any()
    # a blank grade is not assessed, never grade 0: no suggestion unless the answers make it unstable
    blank = f[g.isna()]
    assert set(blank["rule"]) <= {"not_assessed", "unstable_clinical"} and (blank["rule"] == "not_assessed").any()
    assert (blank["suggested_outcome"].isna() | (blank["suggested_outcome"] == "unstable")).all()


def test_medication_answers_agree_with_each_other(big):
    f = big.smd_followups
    on = f["on_medication"]
    assert set(f.loc[on == True, "medication_regularity"]) <= {"regular", "intermittent"}  # noqa: E712
    assert set(f.loc[on == False, "medication_regularity"]) <= {"none"}  # noqa: E712
    assert f.loc[on.isna(), "medication_regularity"].isna().all()
    assert (f.loc[on == False, "adverse_reaction"] == "none").all()  # noqa: E712


def test_follow_ups_about_quarterly_within_the_registration(big):
    f, r = big.smd_followups, big.smd_register.set_index("resident_id")
    assert (f["followed_on"].to_numpy() >= r.loc[f["resident_id"], "registered_on"].to_numpy()).all()
    left = r.loc[f["resident_id"], "left_on"].to_numpy()
    assert (pd.isna(left) | (f["followed_on"].to_numpy() < left)).all()
    assert (f["followed_on"] <= pd.Timestamp(big.follow_up_end)).all()
    assert (f["followed_on"] >= pd.Timestamp(big.start) - pd.Timedelta(days=365)).all()
    assert 0.75 < (f["mode"] == "face_to_face").mean() < 0.85
    # After a stable outcome the next follow-up comes within about 3 months for most patients.
    f = f.sort_values(["resident_id", "followed_on"])
    gap = f.groupby("resident_id")["followed_on"].diff().dt.days.shift(-1)
    after_stable = gap[(f["outcome"] == "stable") & gap.notna()]
    assert 75 <= after_stable.median() <= 92 and (after_stable <= 92).mean() > 0.7
    year = f[f["followed_on"].dt.year == 2026].groupby("resident_id").size()
    assert 4 <= year.median() <= 8


# ---------------------------------------------------------------- calibration

@pytest.mark.parametrize("month_end", ["2025-12-31", "2026-12-31"])
def test_rates_near_the_national_figures_of_2018(big, month_end):
    got = by_hand(big, month_end)
    assert got["registered"] > 1200
    for name, target in NATIONAL.items():
        assert abs(got[name] - target) < 0.035, (name, got[name], target)


def test_the_workbench_indicators_count_as_the_hand_count(big):
    month = "2026-12"
    ind = smd.indicators(big.smd_register, with_ids(big.smd_followups),
                         big.residents.astype({"community": "string"}), by=None, start=month, end=month)
    row = ind.iloc[0]
    got = by_hand(big, "2026-12-31")
    assert row["registered"] == got["registered"]
    for name, column in (("managed", "management_rate"), ("regular", "regular_management_rate"),
                         ("on_medication", "medication_rate"), ("regular_medication", "regular_medication_rate")):
        assert row[column] == pytest.approx(got[name], abs=1e-12), name


# ---------------------------------------------------------------- rehabilitation ladder

def test_rehab_ladder_steps_up_after_a_referral(big):
    h, f = big.smd_rehab, big.smd_followups
    assert len(h) > 100 and h["level"].min() == 1 and h["level"].max() == 5
    first = f[f["referred"] == True].groupby("resident_id")["followed_on"].min()  # noqa: E712
    starts = h[h["level"] == 1].set_index("resident_id")["entered_on"]
    assert starts.index.is_unique and set(starts.index) <= set(first.index)
    wait = (starts - first.loc[starts.index]).dt.days
    assert wait.between(14, 60).all()
    for _, steps in h.sort_values(["resident_id", "level"]).groupby("resident_id"):
        assert steps["level"].tolist() == list(range(1, len(steps) + 1))
        assert (steps["left_on"].iloc[:-1].to_numpy() == steps["entered_on"].iloc[1:].to_numpy()).all()
    assert (h["left_on"].isna() | (h["left_on"] > h["entered_on"])).all()
    r = big.smd_register.set_index("resident_id")
    gone = r.loc[h["resident_id"], "left_on"].to_numpy()
    assert (pd.isna(gone) | (h["entered_on"].to_numpy() <= gone)).all()


# ---------------------------------------------------------------- streams and parameters

def test_the_new_step_leaves_the_other_tables_as_they_were():
    steps = tuple(s for s in engine.STEPS if s != "smd")

    def draft():
        return engine.Draft(n=3_000, seed=5, start=np.datetime64("2025-01-01"), end=np.datetime64("2025-12-31"),
                            instruments=("phq9", "gad7"), params=_params.load(),
                            follow_up_end=np.datetime64("2026-12-31"), policy=workbench.load_policy("default"))

    without, full = engine.run(draft(), steps), engine.run(draft())
    assert engine.STEPS["smd"].key == 20 and "smd" not in without.tables
    assert set(full.tables) - set(without.tables) == {"smd"}
    for name, table in without.tables.items():
        for column, values in table.items():
            if isinstance(values, np.ndarray):
                nan = values.dtype.kind == "f"
                assert np.array_equal(values, full.tables[name][column], equal_nan=nan), (name, column)


def test_follow_ups_up_to_a_date_do_not_depend_on_the_follow_up_end(small):
    short = community(20_000, seed=7, instruments=("phq9", "gad7"), follow_up_end="2026-06-30")
    cut = pd.Timestamp("2026-06-30")
    f = small.smd_followups
    pd.testing.assert_frame_equal(short.smd_followups, f[f["followed_on"] <= cut].reset_index(drop=True))
    r = small.smd_register
    head = r[r["registered_on"] <= cut].reset_index(drop=True)
    columns = ["resident_id", "diagnosis", "diagnosed_on", "registered_on", "guardian", "consent"]
    pd.testing.assert_frame_equal(short.smd_register[columns], head[columns])
    left = head["left_on"] <= cut
    assert (short.smd_register["left_on"][left] == head["left_on"][left]).all()
    assert short.smd_register["left_on"][~left].isna().all()


def test_bad_parameters_are_named():
    raw = _params.load()
    raw.pop("_derived")
    raw["smd"]["followup"]["p_irregular"] = 1.5
    with pytest.raises(ValueError, match=r"smd\.followup\.p_irregular.*probability"):
        _params.check(raw)
    raw["smd"]["followup"]["p_irregular"] = 0.1
    raw["smd"]["register"]["disorders"]["schizophrenia"] = 0.5
    with pytest.raises(ValueError, match=r"smd\.register\.disorders.*sum to 1"):
        _params.check(raw)
    raw["smd"]["register"]["disorders"]["schizophrenia"] = 0.70
    raw["smd"]["register"]["disorders"]["psychosis"] = 0.0
    with pytest.raises(ValueError, match=r"smd\.register\.disorders.*exactly the keys"):
        _params.check(raw)
