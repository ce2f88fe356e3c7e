"""The satisfaction survey of the synthetic community (step ``satisfaction``, stream key 18)
and the ``experience_satisfaction`` quality indicator it feeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench.quality as q
from workbench.sample import SAMPLE_FILES, load_sample
from workbench.synth import community, engine
from workbench.synth.__main__ import main

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"
COLUMNS = ["resident_id", "referral_id", "surveyed_on", "satisfied", "rating"]


@pytest.fixture(scope="module")
def small():
    return community(2000, seed=11)


@pytest.fixture(scope="module")
def large():
    return community(50_000, seed=20261126)


def _with_reason(c) -> pd.DataFrame:
    return c.satisfaction.merge(c.referrals, on=["referral_id", "resident_id"], how="left",
                                validate="one_to_one")


def test_step_has_its_own_new_key():
    assert engine.STEPS["satisfaction"].key == 18
    assert sum(s.key == 18 for s in engine.STEPS.values()) == 1
    steps = engine.order()
    assert steps.index("satisfaction") > max(steps.index(n) for n in ("events", "trajectory"))


def test_deterministic(small):
    again = community(2000, seed=11)
    pd.testing.assert_frame_equal(small.satisfaction, again.satisfaction)
    assert not small.satisfaction.equals(community(2000, seed=12).satisfaction)


def test_columns_and_types(small):
    s = small.satisfaction
    assert list(s.columns) == COLUMNS
    assert s["referral_id"].is_unique
    assert str(s["satisfied"].dtype) == "boolean" and str(s["rating"].dtype) == "Int8"
    assert pd.api.types.is_datetime64_any_dtype(s["surveyed_on"])
    answered = s["rating"].notna()
    assert (s["satisfied"].notna() == answered).all()
    assert s.loc[answered, "rating"].between(1, 5).all()
    assert set(s.loc[answered, "rating"].astype(int)) == {1, 2, 3, 4, 5}
    assert (s.loc[answered, "satisfied"].astype(bool) == (s.loc[answered, "rating"] >= 4)).all()


def test_dates_within_referral_and_follow_up(small):
    d = _with_reason(small)
    assert d["ended_on"].notna().all()              # none for open referrals
    assert (d["surveyed_on"] > d["ended_on"]).all()
    assert ((d["surveyed_on"] - d["ended_on"]).dt.days <= 28).all()
    assert (d["surveyed_on"] <= pd.Timestamp(small.follow_up_end)).all()
    deaths = small.events[small.events["kind"] == "death"].set_index("resident_id")["event_on"]
    died = d["resident_id"].map(deaths)
    assert not (died.notna() & (d["surveyed_on"] >= died)).any()


def test_open_referrals_get_no_survey():
    c = community(1000, seed=5, follow_up_end="2026-01-31")
    d = _with_reason(c)
    assert c.referrals["ended_on"].isna().any()
    assert d["ended_on"].notna().all()
    assert (d["surveyed_on"] <= pd.Timestamp("2026-01-31")).all()
    # rows up to a date do not depend on follow_up_end
    full = community(1000, seed=5).satisfaction
    early = full[full["surveyed_on"] <= pd.Timestamp("2026-01-31")].reset_index(drop=True)
    pd.testing.assert_frame_equal(c.satisfaction.reset_index(drop=True), early)


def test_non_response_and_satisfied_share(large):
    d = _with_reason(large)
    missing = d["satisfied"].isna()
    assert 0.20 <= missing.mean() <= 0.32
    by_reason = missing.groupby(d["end_reason"], observed=True).mean()
    assert by_reason["dropped_out"] > by_reason["completed"] + 0.10
    answered = d[~missing]
    share = answered["satisfied"].astype(bool).mean()
    assert 0.80 <= share <= 0.88
    by = answered["satisfied"].astype(bool).groupby(answered["end_reason"], observed=True).mean()
    assert by["completed"] > by["dropped_out"] + 0.05


def test_improvement_raises_satisfaction(large):
    d = _with_reason(large)
    d = d[d["satisfied"].notna()]
    # the last review's PHQ-9 vs the baseline screening's, among completers
    f = large.followups.dropna(subset=["referral_id"]).sort_values("assessed_on")
    items = [f"phq9_{k}" for k in range(1, 10)]
    last = f.groupby("referral_id")[items].last().sum(axis=1, min_count=9)
    base = large.screenings.set_index("resident_id")[items].sum(axis=1, min_count=9)
    d = d[d["end_reason"] == "completed"]
    change = d["referral_id"].map(last) - d["resident_id"].map(base)
    improved = change <= -5
    sat = d["satisfied"].astype(bool)
    assert sat[improved].mean() > sat[change > -5].mean() + 0.03


def test_committed_sample_has_the_survey(tmp_path):
    assert "satisfaction.csv" in SAMPLE_FILES
    assert main(["--n", "3000", "--seed", "20261126", "--out", str(tmp_path)]) == 0
    for name in SAMPLE_FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    catalogue = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    assert "`satisfaction.csv`" in catalogue
    for col in COLUMNS:
        assert f"`{col}`" in catalogue


def test_load_sample_and_quality_indicator():
    sample = load_sample()
    s = sample.satisfaction
    assert list(s.columns) == COLUMNS
    assert str(s["satisfied"].dtype) == "boolean" and str(s["rating"].dtype) == "Int8"
    assert 0.15 <= s["satisfied"].isna().mean() <= 0.35
    months = ["2025-06", "2025-09", "2025-12", "2026-03"]
    r = q.compute(sample, months=months)
    sat = r[r["indicator"] == "experience_satisfaction"]
    assert "no_data" not in set(sat["status"])
    overall = sat[sat["community"] == "all"].set_index("period")
    surveyed = set(s["surveyed_on"].dt.strftime("%Y-%m"))
    for month in months:
        assert month in surveyed
        row = overall.loc[month]
        assert row["denominator"] >= 20 and 0.5 <= row["value"] <= 1.0
        assert row["status"] in ("ok", "alert")
    per_community = sat[(sat["community"] != "all") & sat["value"].notna()]
    assert (per_community["value"] < 0.80).any()       # some community-months alert
    assert np.isfinite(overall["value"]).all()
