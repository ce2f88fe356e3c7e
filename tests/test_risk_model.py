"""The risk model's spec, frame, pipelines and validation (issue 17): exclusions counted, nothing
known after the screening day leaks in, missing stays missing, fits are reproducible, a subgroup
made worse on purpose is named in both languages, and the decision curve is right by hand.
(The metrics against R: tests/test_risk_calibration.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.risk.dataset import model_frame
from workbench.risk.metrics import net_benefit
from workbench.risk.models import build, fit
from workbench.risk.spec import SpecError, load_spec
from workbench.risk.validation import SUBGROUP_RULE, default_cut, subgroups, temporal_predictions, validate
from workbench.sample import load_sample


@pytest.fixture(scope="module")
def tables():
    return load_sample()


@pytest.fixture(scope="module")
def frame(tables):
    return model_frame(tables)


# --- spec ------------------------------------------------------------------------------------

def test_the_spec_reads_its_thresholds_from_the_outcomes_config():
    from workbench.outcomes import thresholds

    s, t = load_spec(), thresholds()
    assert (s.outcome.phq9_below, s.outcome.min_fall) == (t.not_improving_phq9_below, t.not_improving_min_fall)
    assert (s.outcome.from_week, s.outcome.to_week) == (t.review_from_week, t.review_to_week)
    import yaml

    outcome = yaml.safe_load(s.path.read_text(encoding="utf-8"))["outcome"]
    assert not [k for k, v in outcome.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]  # no copies
    assert "not a suicide-risk score" in s.never["en"] and "不是自杀风险评分" in s.never["zh"]
    assert not any("item" in n or "self_harm" in n or n in ("tier", "urgent") for n in s.names)


def _write(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_bad_spec_names_every_broken_key(tmp_path):
    good = load_spec().path.read_text(encoding="utf-8")
    bad = (good.replace("high_from: 0.25", "high_from: 0.1")
           .replace("{name: age, kind: numeric", "{name: age, kind: number")
           .replace("tiers: [2, 3]", "tiers: [2, 4]")
           .replace("window: psychiatric_review", "window: next_year"))
    bad += "\n  # an item answer as a predictor is refused\n"
    bad = bad.replace("predictors:\n", "predictors:\n  - {name: phq9_item_9, kind: numeric, from: screening_score, "
                      "instrument: phq9, en: x, zh: x}\n", 1)
    with pytest.raises(SpecError) as err:
        load_spec(_write(tmp_path, bad))
    message = str(err.value)
    for key in ("bands.high_from", "predictors[8] (age).kind", "population.tiers", "outcome.window",
                "phq9_item_9"):
        assert key in message, key


def test_every_shown_text_needs_both_languages(tmp_path):
    good = load_spec().path.read_text(encoding="utf-8")
    s = load_spec()
    assert all(set(e) == {"what", "why"} and all(e[k]["zh"] and e[k]["en"] for k in e) for e in s.excluded)
    assert s.outcome.source_text["zh"] and s.outcome.source == s.outcome.source_text["en"]
    zh_why = s.excluded[0]["why"]["zh"]
    bad = (good.replace(f'      zh: "{zh_why}"\n', "")
           .replace("{name: copd, kind: binary, from: resident, column: copd, en: \"COPD\", zh: \"慢阻肺\"}",
                    "{name: copd, kind: binary, from: resident, column: copd, en: \"COPD\"}"))
    zh_source = s.outcome.source_text["zh"]
    bad = bad.replace(f'    zh: "{zh_source}"\n', "")
    assert bad.count("\n") == good.count("\n") - 2
    with pytest.raises(SpecError) as err:
        load_spec(_write(tmp_path, bad))
    message = str(err.value)
    for key in ("excluded[0].why.zh", "outcome.source.zh", "predictors[14] (copd).zh"):
        assert key in message, key
    old_style = good.replace("excluded:\n", "excluded:\n  - {what: \"x\", why: \"y\"}\n", 1)
    with pytest.raises(SpecError, match=r"excluded\[0\].what.en"):
        load_spec(_write(tmp_path, old_style))


# --- the frame -------------------------------------------------------------------------------

def test_the_frame_on_the_sample(frame):
    ex = frame.exclusions.set_index("step")["n"]
    assert frame.X.index.name == "decision_id" and frame.X.index.is_unique
    assert list(frame.X.columns) == frame.spec.names
    assert ex["population"] == len(frame.X) and ex["denominator"] == int(frame.y.notna().sum())
    assert ex["events"] == int(frame.y.sum()) and 600 <= ex["denominator"] <= 800
    assert ex["population"] == ex["no_baseline"] + ex["no_review_in_window"] + ex["denominator"]
    assert set(frame.y.dropna().unique()) <= {0, 1} and frame.y.dtype.name == "Int8"
    assert list(frame.info.columns) == ["referral_id", "resident_id", "assessed_on", "community", "community_type",
                                        "sex", "age_group", "tier"]
    assert frame.info["tier"].isin([2, 3]).all()


def test_exclusions_are_counted_and_a_missing_review_is_blank_not_zero(tables, frame):
    refs, dec = tables.referrals.copy(), tables.decisions.copy()
    known = frame.y.dropna().index
    # 1 referral on a day without a screening decision
    stray = refs.iloc[[0]].assign(referral_id="F9999999", referred_on=refs["referred_on"].iloc[0] + pd.Timedelta(days=3))
    # 1 second referral of the same decision
    twin = refs[refs["referral_id"] == frame.info.loc[known[0], "referral_id"]].assign(referral_id="F9999998")
    # 1 decision whose tier is outside the population
    dec.loc[dec["decision_id"] == known[1], "tier"] = 1
    # 1 referral with a known outcome loses its reviews in weeks 8-12
    gone = frame.info.loc[known[2], "referral_id"]
    a = tables.assessments
    keep = ~((a["referral_id"] == gone) & (a["purpose"] == "review")).fillna(False)
    t2 = tables.replace(referrals=pd.concat([refs, stray, twin], ignore_index=True), decisions=dec,
                        assessments=a[keep.to_numpy(bool)], scores=tables.scores[keep.to_numpy(bool)])
    f2 = model_frame(t2)
    ex, ex0 = f2.exclusions.set_index("step")["n"], frame.exclusions.set_index("step")["n"]
    assert ex["referrals"] == ex0["referrals"] + 2
    assert (ex["not_at_screening"], ex["repeated"], ex["tier_outside"]) == (1, 1, 1)
    assert ex["population"] == ex0["population"] - 1
    assert ex["no_review_in_window"] == ex0["no_review_in_window"] + 1
    assert ex["denominator"] == ex0["denominator"] - 2
    assert pd.isna(f2.y.loc[known[2]])  # outside the denominator, never 0
    assert known[1] not in f2.X.index


def test_nothing_dated_after_the_screening_changes_the_predictors(tables, frame):
    row = frame.info.iloc[5]
    rid, day = row["resident_id"], row["assessed_on"]
    m = tables.measurements
    late = m.iloc[[0]].copy()
    late[["measurement_id", "resident_id", "measured_on", "setting"]] = ["M_LATE", rid, day + pd.Timedelta(days=1),
                                                                          "clinic"]
    late[["sbp", "dbp", "hba1c"]] = [199.0, 119.0, 12.5]
    same_day = late.assign(measurement_id="M_SAME", measured_on=day, setting="home")
    e = tables.events
    crisis = e.iloc[[0]].assign(event_id="E_LATE", resident_id=rid, event_on=day + pd.Timedelta(days=2), kind="crisis")
    later_ref = tables.referrals.iloc[[0]].assign(referral_id="F_LATE", resident_id=rid,
                                                  referred_on=day + pd.Timedelta(days=30))
    t2 = tables.replace(measurements=pd.concat([m, late, same_day], ignore_index=True),
                        events=pd.concat([e, crisis], ignore_index=True),
                        referrals=pd.concat([tables.referrals, later_ref], ignore_index=True))
    pd.testing.assert_frame_equal(model_frame(t2).X, frame.X)
    # ... while the same facts dated before the screening do change it (the test can see a leak)
    early = late.assign(measurement_id="M_EARLY", measured_on=day - pd.Timedelta(days=1))
    early_crisis = crisis.assign(event_id="E_EARLY", event_on=day - pd.Timedelta(days=2))
    t3 = tables.replace(measurements=pd.concat([m, early], ignore_index=True),
                        events=pd.concat([e, early_crisis], ignore_index=True))
    x3 = model_frame(t3).X.loc[frame.X.index[5]]
    assert (x3["last_sbp"], x3["last_hba1c"], x3["prior_crises"]) == (199.0, 12.5, 1.0)


def test_missing_predictors_stay_missing_never_zero(frame):
    assert frame.X["last_hba1c"].isna().sum() > 0 and not (frame.X["last_hba1c"] == 0).any()
    assert frame.X["wear_rmssd"].isna().all() and (frame.X["no_wearable_data"] == 1).all()
    assert frame.X["prior_crises"].notna().all()  # a count is 0 when nothing happened: not a blank


def test_wearable_means_of_the_28_days_before_screening(tables, frame):
    row = frame.info.iloc[0]
    rid, day = row["resident_id"], row["assessed_on"]
    days = pd.date_range(day - pd.Timedelta(days=40), day + pd.Timedelta(days=5), freq="D")
    w = pd.DataFrame({"resident_id": rid, "day": days, "rmssd": 30.0, "resting_hr": 60.0, "steps": 5000,
                      "sleep_minutes": 420, "sleep_regularity": 20.0})
    inside = (w["day"] >= day - pd.Timedelta(days=28)) & (w["day"] < day)
    w.loc[inside, "rmssd"] = np.arange(inside.sum(), dtype=float)  # 0 .. 27 in the window
    w.loc[w["day"] == day - pd.Timedelta(days=3), "steps"] = pd.NA  # a blank day stays out of the mean
    f2 = model_frame(tables, wearable_days=w)
    x = f2.X.loc[frame.X.index[0]]
    assert x["wear_rmssd"] == pytest.approx(13.5) and x["wear_steps"] == 5000 and x["no_wearable_data"] == 0
    others = f2.X.drop(index=frame.X.index[0])
    assert (others["no_wearable_data"] == 1).all() and others["wear_rmssd"].isna().all()
    with pytest.raises(ValueError, match="rmssd"):
        model_frame(tables, wearable_days=w.drop(columns="rmssd"))


# --- pipelines -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_pipelines_are_named_and_reproducible(frame, kind):
    pipe = build(kind, load_spec())
    assert [n for n, _ in pipe.steps] == ["prep", "model"]
    a = fit(frame, kind=kind).predict_proba(frame.X)[:, 1]
    b = fit(frame, kind=kind).predict_proba(frame.X)[:, 1]
    np.testing.assert_array_equal(a, b)
    assert ((a > 0) & (a < 1)).all()


def test_the_logistic_penalty_is_chosen_by_inner_cross_validation_on_log_loss(frame):
    model = fit(frame, kind="logistic").named_steps["model"]
    assert model.scoring == "neg_log_loss" and np.ndim(model.C_) <= 1 and float(np.ravel(model.C_)[0]) > 0


# --- validation ------------------------------------------------------------------------------

def test_temporal_split_fits_on_earlier_and_tests_on_later(frame):
    cut = default_cut(frame)
    days = frame.complete().info["assessed_on"].sort_values().to_numpy()
    assert cut == days[int(len(days) * 2 // 3)]
    pr = temporal_predictions(frame, kind="boosting")
    assert (pr["assessed_on"] >= cut).all() and pr.attrs["n_train"] == int((days < cut).sum())
    assert len(pr) + pr.attrs["n_train"] == len(days)


def _predictions(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    p = 1 / (1 + np.exp(-rng.normal(-1.5, 1.0, n)))
    y = (rng.random(n) < p).astype(int)
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    age = np.where(rng.random(n) < 0.01, "80+", "18-39")
    return pd.DataFrame({"kind": "logistic", "scheme": "temporal", "y": y, "p": p, "sex": sex, "age_group": age,
                         "community_type": "urban"})


def test_a_subgroup_made_worse_on_purpose_is_named_and_a_small_one_is_too_few():
    pr = _predictions()
    women = (pr["sex"] == "female").to_numpy()
    pr.loc[women, "p"] = np.random.default_rng(1).permutation(pr.loc[women, "p"].to_numpy())  # no signal for women
    s = subgroups(pr).set_index(["by", "group"])
    assert s.loc[("sex", "female"), "verdict"] == "worse"
    assert "WORSE" in s.loc[("sex", "female"), "statement_en"] and "Women" in s.loc[("sex", "female"), "statement_en"]
    assert "女性" in s.loc[("sex", "female"), "statement_zh"] and "较差" in s.loc[("sex", "female"), "statement_zh"]
    assert s.loc[("sex", "male"), "verdict"] == "not_worse"
    assert s.loc[("age_group", "80+"), "events"] < SUBGROUP_RULE["min_events"]
    assert s.loc[("age_group", "80+"), "verdict"] == "too_few"
    assert "too few to judge" in s.loc[("age_group", "80+"), "statement_en"]
    assert "人数太少，无法判断" in s.loc[("age_group", "80+"), "statement_zh"]
    assert s["statement_en"].str.len().gt(0).all() and s["statement_zh"].str.len().gt(0).all()  # never silence


def test_miscalibration_on_purpose_is_named():
    pr = _predictions(3)
    men = (pr["sex"] == "male").to_numpy()
    pr.loc[men, "p"] = pr.loc[men, "p"] / 2  # risks halved for men: too low
    s = subgroups(pr).set_index(["by", "group"])
    assert s.loc[("sex", "male"), "verdict"] == "worse" and s.loc[("sex", "male"), "citl"] > 0.2
    assert "risks too low" in s.loc[("sex", "male"), "statement_en"]


def test_decision_curve_by_hand():
    # 5 people, 2 events; at pt = 0.3 the model treats 0.9, 0.4 (events) and 0.35 (not):
    # NB = 2/5 - 1/5 * 0.3/0.7 = 11/35; treat all: 2/5 - 3/5 * 3/7 = 1/7; treat none 0.
    nb = net_benefit([1, 1, 0, 0, 0], [0.9, 0.4, 0.35, 0.2, 0.1], thresholds=[0.3]).set_index("strategy")
    assert nb.loc["model", "net_benefit"] == pytest.approx(11 / 35)
    assert nb.loc["treat_all", "net_benefit"] == pytest.approx(1 / 7)
    assert nb.loc["treat_none", "net_benefit"] == 0
    assert (nb.loc["model", "tp"], nb.loc["model", "fp"]) == (2, 1)


def test_validate_returns_every_table(tables, frame):
    r = validate(tables, kinds=("boosting",), frame=frame, thresholds=[0.1, 0.2])
    assert set(r.performance["scheme"]) == {"temporal", "community"}
    assert set(r.by_split.loc[r.by_split["scheme"] == "community", "split"]) == set(frame.info["community"])
    for col in ("auc", "auc_lower", "auc_upper", "citl", "slope", "emax", "e90", "eavg", "brier"):
        assert r.performance[col].notna().all(), col
    assert set(r.subgroups["by"]) == {"sex", "age_group", "community_type"}
    assert len(r.decision_curve) == 2 * 2 * 3
    assert r.cut == default_cut(frame) and "Validation of not_improving@1.1" in r._repr_html_()
    # no wearable_days here: the wristband means are blank for everyone, left out of every fit
    fits = r.left_out.groupby("name").size()
    assert fits["wear_rmssd"] == fits["no_wearable_data"] == len(r.by_split)
    assert "Left out by the spec's min_observed rule" in r._repr_html_()


def test_fitting_is_single_threaded_and_gives_the_same_model(frame, monkeypatch):
    """Fitting runs with one BLAS/OpenMP thread (two threads waiting for each other made validate
    on the sample 3x slower on this shared machine); the model is the same as before."""
    from threadpoolctl import threadpool_info

    import workbench.risk.models as models

    seen = []
    original = models.build

    def spying_build(kind, spec, **kwargs):
        pipe = original(kind, spec, **kwargs)
        model_fit = pipe.named_steps["model"].fit

        def fit_and_look(*args, **kwargs):
            seen.append(max(d["num_threads"] for d in threadpool_info()))
            return model_fit(*args, **kwargs)

        pipe.named_steps["model"].fit = fit_and_look
        return pipe

    monkeypatch.setattr(models, "build", spying_build)
    fit(frame, kind="boosting")
    assert seen == [1]


def test_no_warning_when_fitting_and_validating_the_sample(tables, frame):
    """Constant predictors in the sample (prior_* all 0, wearable means all blank) give no
    scikit-learn warning (StandardScaler on a constant column is fine)."""
    import warnings

    assert (frame.X["prior_crises"] == 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(frame, kind="logistic")
        validate(tables, frame=frame, thresholds=[0.15, 0.25])


def test_a_subgroup_the_risk_separates_perfectly_says_it_cannot_be_estimated():
    pr = _predictions(5)
    rural = np.arange(len(pr)) < 60  # 60 people: 20 events, all with higher risks than the 40 others
    pr.loc[rural, "community_type"] = "rural"
    pr.loc[rural, "y"] = np.r_[np.ones(20, int), np.zeros(40, int)]
    pr.loc[rural, "p"] = np.r_[np.linspace(0.45, 0.75, 20), np.linspace(0.05, 0.35, 40)]
    tiny = np.arange(len(pr)) >= len(pr) - 4  # 4 people, separated and few
    pr.loc[tiny, "community_type"] = "ageing"
    pr.loc[tiny, ["y", "p"]] = [[0, 0.1], [0, 0.2], [1, 0.6], [1, 0.7]]
    s = subgroups(pr).set_index(["by", "group"])
    r = s.loc[("community_type", "rural")]
    assert r["verdict"] == "cannot_estimate" and np.isnan(r["slope"]) and r["auc"] == 1
    assert "cannot be estimated: the outcome is perfectly separated" in r["statement_en"]
    assert "无法估计" in r["statement_zh"] and "农村社区" in r["statement_zh"]
    t = s.loc[("community_type", "ageing")]
    assert t["verdict"] == "too_few" and "too few to judge" in t["statement_en"]
    assert "perfectly separated" in t["statement_en"] and "人数太少，无法判断" in t["statement_zh"]
    assert s["statement_en"].str.len().gt(0).all() and s["statement_zh"].str.len().gt(0).all()
