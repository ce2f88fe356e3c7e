"""Predictions of a saved risk model (workbench.risk.predict): the contract's risk_predictions
shape, bands by the spec's cut-offs, reasons only towards higher risk, every table (and so every
tier) untouched; recalibration for a new site puts the risks at the site's level and keeps the
ranking, checked against R's glm on the risk metrics' reference data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from workbench.params import ParameterError
from workbench.risk.artefact import Recalibrated, load_model, save_model
from workbench.risk.dataset import model_frame
from workbench.risk.metrics import calibration
from workbench.risk.models import build
from workbench.risk.predict import PREDICTION_COLUMNS, predict, prediction_id, recalibrate, recalibration_fit
from workbench.risk.reasons import contributions, top_reasons
from workbench.sample import load_sample

REFERENCE = Path(__file__).resolve().parent / "reference" / "risk_calibration"
CREATED = "2026-12-01T09:00:00Z"
CONTRACT = ["prediction_id", "decision_id", "resident_id", "assessed_on", "model", "data_version", "outcome", "risk",
            "band", "reason_1", "reason_2", "reason_3", "predicted_on", "predicted_by"]


def _fit(frame):
    """The logistic pipeline of workbench.risk.models with one penalty (the inner CV is slow and
    not what is tested here), fitted on the rows with a known outcome."""
    known = frame.y.notna().to_numpy(bool)
    pipe = build("logistic", frame.spec).set_params(model__Cs=[0.1])
    return pipe.fit(frame.X[known], frame.y[known].astype(int).to_numpy())


@pytest.fixture(scope="module")
def sample():
    tables = load_sample()
    return tables, model_frame(tables)


@pytest.fixture(scope="module")
def saved(sample, tmp_path_factory):
    tables, frame = sample
    folder = save_model(_fit(frame), tmp_path_factory.mktemp("risk") / "logistic", spec=frame.spec, frame=frame,
                        tables=tables, created=CREATED)
    return load_model(folder)


@pytest.fixture(scope="module")
def predictions(sample, saved):
    tables, _ = sample
    before = {name: frame.copy(deep=True) for name, frame in tables.items()}
    out = predict(tables, saved, on="2026-12-02", by="counsellor_07")
    return out, before


def test_the_contract_shape(predictions, sample, saved):
    out, _ = predictions
    _, frame = sample
    assert PREDICTION_COLUMNS == CONTRACT and out.columns.tolist() == CONTRACT
    types = {c: str(t) for c, t in out.dtypes.items()}
    assert types == {"prediction_id": "string", "decision_id": "string", "resident_id": "string",
                     "assessed_on": "datetime64[ns]", "model": "string", "data_version": "string", "outcome": "string",
                     "risk": "Float64", "band": "string", "reason_1": "string", "reason_2": "string",
                     "reason_3": "string", "predicted_on": "datetime64[ns]", "predicted_by": "string"}
    # every referral of the population, including those whose outcome is not known yet
    assert len(out) == len(frame.X) == 891 and int(frame.y.isna().sum()) == 143
    assert out["decision_id"].tolist() == sorted(frame.X.index)
    assert out["prediction_id"].is_unique and out["prediction_id"].notna().all()
    assert out["prediction_id"].tolist() == [prediction_id(d, saved.model) for d in out["decision_id"]]
    assert set(out["model"]) == {"not_improving_logistic@1.1"} and set(out["outcome"]) == {"not_improving_12w"}
    assert set(out["data_version"]) == {saved.data_version}
    assert set(out["predicted_on"]) == {pd.Timestamp("2026-12-02")} and set(out["predicted_by"]) == {"counsellor_07"}
    info = frame.info.loc[out["decision_id"]]
    assert out["resident_id"].tolist() == info["resident_id"].tolist()
    assert (out["assessed_on"].to_numpy() == info["assessed_on"].to_numpy()).all()
    risk = out["risk"].to_numpy(float)
    assert ((risk > 0) & (risk < 1)).all()
    assert np.array_equal(risk, saved.predict_risk(frame.X.loc[out["decision_id"]]))


def test_the_same_predictions_the_same_ids(sample, saved, predictions):
    tables, _ = sample
    again = predict(tables, saved, on="2026-12-02", by="counsellor_07")
    pd.testing.assert_frame_equal(again, predictions[0])


def test_bands_by_the_specs_cut_offs(predictions, saved):
    out, _ = predictions
    low, high = saved.spec.medium_from, saved.spec.high_from
    assert saved.bands == {"medium_from": low, "high_from": high}
    risk = out["risk"].to_numpy(float)
    expected = np.where(risk >= high, "high", np.where(risk >= low, "medium", "low"))
    assert out["band"].tolist() == expected.tolist()
    assert out["band"].tolist() == saved.spec.band(risk).tolist()  # the spec's own rule
    assert set(out["band"]) == {"low", "medium", "high"}


def test_reasons_only_towards_higher_risk(predictions, sample, saved):
    out, _ = predictions
    _, frame = sample
    X = frame.X.loc[out["decision_id"]]
    c = contributions(saved, X)
    expected = top_reasons(saved, X)
    for k in (1, 2, 3):
        assert out[f"reason_{k}"].tolist() == expected[f"reason_{k}"].tolist()
        named = out[f"reason_{k}"].notna().to_numpy()
        assert set(out.loc[named, f"reason_{k}"]) <= set(saved.predictors)
        got = [c.iloc[i][out[f"reason_{k}"].iloc[i]] for i in np.flatnonzero(named)]
        assert min(got) > 0
    # a blank reason only after the named ones
    assert not (out["reason_1"].isna() & out["reason_2"].notna()).any()
    assert not (out["reason_2"].isna() & out["reason_3"].notna()).any()


def test_tiers_and_every_table_untouched(predictions, sample):
    out, before = predictions
    tables, _ = sample
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name], check_exact=True)
    # the prediction sits beside the tier: joined on decision_id, each referral keeps its decided tier
    joined = out.merge(tables.decisions[["decision_id", "tier"]], on="decision_id", how="left", validate="one_to_one")
    assert joined["tier"].notna().all() and set(joined["tier"]) <= {2, 3}
    assert "tier" not in out.columns


def test_bad_arguments(sample, saved):
    tables, _ = sample
    with pytest.raises(ParameterError, match="The 'on' parameter of predict must be a date"):
        predict(tables, saved, on=None, by="x")
    with pytest.raises(ParameterError, match="The 'by' parameter of predict must be a non-empty str"):
        predict(tables, saved, on="2026-01-01", by=" ")
    with pytest.raises(TypeError, match="saved_model must be a SavedModel"):
        predict(tables, saved.pipeline, on="2026-01-01", by="x")


# --- recalibration ------------------------------------------------------------------------------

@pytest.mark.parametrize("dataset", ["temporal_logistic", "temporal_boosting", "community_logistic", "hand"])
def test_recalibration_fit_agrees_with_r_glm(dataset):
    """glm(y ~ 1, offset = qlogis(p)) and glm(y ~ qlogis(p)) in R
    (tests/reference/risk_calibration/make_reference.R, r_calibration.csv)."""
    data = pd.read_csv(REFERENCE / "data_risk_predictions.csv")
    r = pd.read_csv(REFERENCE / "r_calibration.csv").set_index("dataset").loc[dataset]
    d = data[data["dataset"] == dataset]
    p = np.clip(d["p"].to_numpy(float), 1e-12, 1 - 1e-12)
    lp, y = np.log(p / (1 - p)), d["y"].to_numpy(int)
    a, b = recalibration_fit(lp, y, method="intercept")
    assert b == 1.0 and a == pytest.approx(r["citl"], rel=1e-6, abs=1e-9)
    _, slope = recalibration_fit(lp, y, method="logistic")
    assert slope == pytest.approx(r["slope"], rel=1e-6)


def test_recalibration_fit_by_hand():
    # risks 0.1, 0.2, 0.3, 0.4 and 3 events in 4: the intercept-only fit makes the mean risk 3/4
    p = np.array([0.1, 0.2, 0.3, 0.4])
    lp = np.log(p / (1 - p))
    a, _ = recalibration_fit(lp, np.array([0, 1, 1, 1]), method="intercept")
    assert (1 / (1 + np.exp(-(a + lp)))).sum() == pytest.approx(3.0, abs=1e-10)
    with pytest.raises(ValueError, match="both outcomes"):
        recalibration_fit(lp, np.zeros(4), method="intercept")


@pytest.fixture(scope="module")
def shifted(sample, tmp_path_factory):
    """A model fitted where many more did not improve (200 of the improving referrals relabelled
    on purpose), saved and loaded: at the sample's own site its risks are far too high."""
    tables, frame = sample
    y = frame.y.copy()
    zeros = np.flatnonzero((y == 0).fillna(False).to_numpy(bool))
    y.iloc[np.random.default_rng(17).choice(zeros, 200, replace=False)] = 1
    other_site = replace(frame, y=y)
    folder = save_model(_fit(other_site), tmp_path_factory.mktemp("risk") / "shifted", spec=frame.spec,
                        frame=other_site, tables=tables, created=CREATED)
    return load_model(folder)


@pytest.mark.parametrize("method", ["intercept", "logistic"])
def test_recalibration_moves_the_risks_to_the_site_and_keeps_the_ranking(sample, shifted, method):
    tables, frame = sample
    known = frame.y.notna().to_numpy(bool)
    X, y = frame.X[known], frame.y[known].astype(int).to_numpy()
    before = shifted.predict_risk(X)
    assert before.mean() > y.mean() + 0.2  # the shift: risks far too high here
    local = recalibrate(shifted, tables, site="home_district", method=method, created="2026-12-05")
    after = local.predict_risk(X)
    # hand-checkable: the risks add up to the events (138 of 748) -> calibration-in-the-large 0
    assert int(y.sum()) == 138 and after.sum() == pytest.approx(138, abs=1e-6)
    k = calibration(y, after).iloc[0]  # the risk metrics' own calibration (checked against R there)
    assert abs(k["citl"]) < 1e-6
    if method == "logistic":
        assert k["slope"] == pytest.approx(1.0, abs=1e-6)
    # the ranking, so the C statistic, is unchanged
    assert roc_auc_score(y, after) == roc_auc_score(y, before)
    assert np.array_equal(np.argsort(after, kind="stable"), np.argsort(before, kind="stable"))
    # a new version with its own metadata; the base model untouched
    assert local.model == "not_improving_logistic@1.1-recal-home_district"
    r = local.metadata["recalibration"]
    assert (r["method"], r["site"], r["n"], r["events"]) == (method, "home_district", 748, 138)
    assert r["observed_rate"] == pytest.approx(138 / 748) and r["mean_risk_after"] == pytest.approx(138 / 748)
    assert r["mean_risk_before"] == pytest.approx(before.mean())
    assert (r["base_model"], r["base_data_version"]) == (shifted.model, shifted.data_version)
    assert local.metadata["created"] == "2026-12-05T00:00:00+00:00"
    assert local.metadata["training"] == shifted.metadata["training"]
    assert isinstance(local.pipeline, Recalibrated) and local.pipeline.base is shifted.pipeline
    assert np.array_equal(shifted.predict_risk(X), before)


def test_a_recalibrated_model_saves_loads_and_predicts(sample, shifted, tmp_path):
    tables, frame = sample
    local = recalibrate(shifted, tables, site="b2", created="2026-12-05")
    folder = local.save(tmp_path / "b2")
    loaded = load_model(folder)
    assert loaded.model == local.model and loaded.metadata["recalibration"] == local.metadata["recalibration"]
    assert np.array_equal(loaded.predict_risk(frame.X), local.predict_risk(frame.X))
    out = predict(tables, loaded, on="2026-12-06", by="c1")
    assert set(out["model"]) == {"not_improving_logistic@1.1-recal-b2"}
    assert out["prediction_id"].tolist() != predict(tables, shifted, on="2026-12-06", by="c1")["prediction_id"].tolist()
    # recalibrating the intercept again on the same data changes nothing more (0 on top)
    twice = recalibrate(loaded, tables, site="b3", method="intercept", created="2026-12-07")
    assert twice.pipeline.base is loaded.pipeline.base  # composed with the first, not wrapped twice
    assert np.allclose(twice.predict_risk(frame.X), loaded.predict_risk(frame.X), atol=1e-8)
    assert twice.model == "not_improving_logistic@1.1-recal-b2-recal-b3"


def test_recalibrate_refuses_bad_arguments(sample, shifted):
    tables, _ = sample
    with pytest.raises(ParameterError, match="The 'method' parameter of recalibrate must be one of"):
        recalibrate(shifted, tables, site="x", method="isotonic", created=CREATED)
    with pytest.raises(ValueError, match="site must be letters, digits"):
        recalibrate(shifted, tables, site="a site/with spaces", created=CREATED)
