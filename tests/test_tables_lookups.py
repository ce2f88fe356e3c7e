"""Tables.scores_of, scores_wide and screenings find rows by integer keys (for a city's tables):
they must give exactly what the plain pandas merges and pivots give, on the sample and on tables
with the awkward cases (a screening nobody decided on, a decision changed later, a score without
its assessment, repeated ids), and validation runs once per set of frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.sample import load_sample
from workbench.tables import Tables, TablesError


def plain_scores_of(t: Tables, instruments=None, *, purpose=None) -> pd.DataFrame:
    s = t["scores"]
    if instruments is not None:
        s = s[s["instrument"].isin([instruments] if isinstance(instruments, str) else list(instruments))]
    context = t["assessments"][["assessment_id", "purpose", "referral_id", "study", "visit"]]
    out = s.merge(context, on="assessment_id", how="left", validate="one_to_one")
    if purpose is not None:
        out = out[out["purpose"].isin([purpose] if isinstance(purpose, str) else list(purpose))]
    first = ["assessment_id", "resident_id", "assessed_on", "instrument", "purpose", "referral_id", "study", "visit"]
    return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)


def plain_scores_wide(t: Tables, instruments=("phq9", "gad7"), *, purpose=None, columns=("score",)) -> pd.DataFrame:
    long = plain_scores_of(t, list(instruments), purpose=purpose)
    long = long.assign(_study=long["study"].fillna(""))
    keys = ["resident_id", "assessed_on", "purpose", "_study"]
    context = long.groupby(keys, sort=True, observed=True).agg(
        referral_id=("referral_id", "first"), study=("study", "first"), visit=("visit", "first"))
    parts = [context]
    for column in columns:
        wide = long.pivot(index=keys, columns="instrument", values=column)
        wide.columns = [f"{i}_{column}" for i in wide.columns]
        parts.append(wide)
    out = pd.concat(parts, axis=1).reset_index().drop(columns="_study")
    for inst in instruments:
        for column in columns:
            if f"{inst}_{column}" not in out.columns:
                out[f"{inst}_{column}"] = pd.Series(dtype=long[column].dtype)
    first = ["resident_id", "assessed_on", "purpose", "referral_id", "study", "visit"]
    return out[first + [c for c in out.columns if c not in first]]


def plain_screenings(t: Tables, instruments=("phq9", "gad7"), *, columns=("score",)) -> pd.DataFrame:
    a = t["assessments"]
    sessions = a.loc[a["purpose"] == "screening", ["resident_id", "assessed_on"]].drop_duplicates()
    wide = plain_scores_wide(t, instruments, purpose="screening", columns=columns)
    wide = wide.drop(columns=["purpose", "referral_id", "study", "visit"])
    d = t["decisions"]
    latest = d.sort_values(["decided_at", "decision_id"]).drop_duplicates(["resident_id", "assessed_on"], keep="last")
    latest = latest.drop(columns=["decision_id", "override_reason"])
    out = sessions.merge(wide, on=["resident_id", "assessed_on"], how="left").merge(
        latest, on=["resident_id", "assessed_on"], how="left")
    return out.sort_values(["resident_id", "assessed_on"], ignore_index=True)


@pytest.fixture(scope="module")
def sample() -> Tables:
    return load_sample()


def _awkward(sample: Tables) -> Tables:
    """The sample with: the first 10 screenings undecided, screening 20's decision changed an hour
    later (the later one counts), and one score whose assessment is gone."""
    d = sample["decisions"]
    later = d.iloc[[20]].assign(decision_id="D-later", decided_at=d["decided_at"].iloc[20] + pd.Timedelta(hours=1),
                                tier=pd.array([1], dtype="Int8"), overridden=True)
    decisions = pd.concat([d.iloc[10:], later], ignore_index=True)
    a = sample["assessments"]
    gone = a["assessment_id"].iloc[5]
    return Tables(attrs=dict(sample.attrs), **{**{n: sample[n] for n in sample},
                                                 "decisions": decisions,
                                                 "assessments": a[a["assessment_id"] != gone]})


CASES = [dict(), dict(columns=("score", "self_harm")), dict(instruments=("phq9", "gad7", "phq2"), columns=("score", "band"))]


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("awkward", [False, True])
def test_screenings_equal_the_plain_merges(sample, kwargs, awkward):
    t = _awkward(sample) if awkward else sample
    pd.testing.assert_frame_equal(t.screenings(**kwargs), plain_screenings(t, **kwargs))
    if awkward:  # the changed decision counts, the undecided have no tier
        s = t.screenings().set_index(["resident_id", "assessed_on"])
        d = sample["decisions"]
        assert s.loc[(d["resident_id"].iloc[20], d["assessed_on"].iloc[20]), "tier"] == 1
        assert s.loc[(d["resident_id"].iloc[0], d["assessed_on"].iloc[0]), "tier"] is pd.NA


@pytest.mark.parametrize("kwargs", [dict(), dict(purpose="screening", columns=("score", "self_harm")),
                                    dict(instruments=("phq9", "gad7", "ucla3"), columns=("score", "band", "n_answered")),
                                    dict(purpose=["review", "study"])])
@pytest.mark.parametrize("awkward", [False, True])
def test_scores_wide_and_scores_of_equal_the_plain_ones(sample, kwargs, awkward):
    t = _awkward(sample) if awkward else sample
    pd.testing.assert_frame_equal(t.scores_wide(**kwargs), plain_scores_wide(t, **kwargs))
    instruments = list(kwargs.get("instruments", ("phq9", "gad7")))
    pd.testing.assert_frame_equal(t.scores_of(instruments, purpose=kwargs.get("purpose")),
                                  plain_scores_of(t, instruments, purpose=kwargs.get("purpose")))
    pd.testing.assert_frame_equal(t.scores_of(), plain_scores_of(t))


def test_two_screenings_a_day_and_repeated_ids_are_refused(sample):
    a = sample["assessments"]
    first = a[a["purpose"] == "screening"].iloc[[0]]
    s = sample["scores"]
    twice_a = pd.concat([a, first.assign(assessment_id="A-again", purpose="screening")], ignore_index=True)
    twice_s = pd.concat([s, s[s["assessment_id"] == first["assessment_id"].iloc[0]].assign(assessment_id="A-again")],
                        ignore_index=True)
    t = sample.replace(assessments=twice_a, scores=twice_s)
    with pytest.raises((TablesError, ValueError)):
        t.screenings()
    repeated = sample.replace(assessments=pd.concat([a, a.iloc[[0]]], ignore_index=True))
    with pytest.raises(pd.errors.MergeError):
        repeated.scores_of()


def test_validation_runs_once_per_set_of_frames(sample, monkeypatch):
    calls = []
    t = sample.replace()
    original = Tables.problems
    monkeypatch.setattr(Tables, "problems", lambda self: calls.append(1) or original(self))
    t.validate()
    t.validate()
    assert len(calls) == 1
    bad = t["residents"].copy()
    bad.loc[bad.index[0], "sex"] = "unknown"
    changed = t.replace(residents=bad)  # a replaced table is checked again, and refused
    with pytest.raises(TablesError, match="sex"):
        changed.validate()
    assert len(calls) == 2
    t.validate()
    assert len(calls) == 2


def test_hospital_dates_before_the_referral_and_more_right_than_asked_are_named(sample):
    r = sample["referrals"].copy()
    first = r.index[0]
    r.loc[first, "hospital_seen_on"] = r.loc[first, "referred_on"] - pd.Timedelta(days=2)
    lit = pd.DataFrame({"literacy_id": ["L1", "L2"], "resident_id": sample["residents"]["resident_id"].iloc[:2].to_numpy(),
                        "asked_on": pd.to_datetime(["2025-03-01", "2025-03-01"]), "questionnaire": "mhl@1",
                        "n_asked": pd.array([10, 10], dtype="Int8"), "n_correct": pd.array([11, None], dtype="Int8"),
                        "recorded_by": pd.array([None, None], dtype="string")})
    lit = lit.astype({"literacy_id": "string", "resident_id": "string", "questionnaire": "string"})
    with pytest.raises(TablesError) as err:
        sample.replace(referrals=r, literacy=lit).validate()
    problems = err.value.problems
    assert problems[["table", "column", "value"]].values.tolist() == [
        ["referrals", "hospital_seen_on", f"{r.loc[first, 'hospital_seen_on']:%Y-%m-%d}"], ["literacy", "n_correct", 11]]
    assert "is before the referral" in problems["rule"].iloc[0] and "(10)" in problems["rule"].iloc[1]
