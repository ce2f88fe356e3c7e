"""The risk model's metrics against R (tests/reference/risk_calibration, made by make_reference.R
from make_risk_data.py's predictions: the sample's out-of-sample temporal and leave-one-community-
out predictions and a hand-made set of 14 with ties).

- ``val_prob`` equals ``rms::val.prob(p, y, pl = FALSE)`` (rms 6.5.0) at 4 significant figures,
  every statistic (rms 6.5 reports D:p as NA: not compared).
- ``c_statistic``: AUC, DeLong SE and interval computed by hand in R (DeLong, DeLong &
  Clarke-Pearson 1988, Biometrics 44:837).
- ``calibration``: calibration-in-the-large (glm with offset) and slope (glm) with Wald intervals.
- ``calibration_curve``: ``approx(lowess(p, y, iter = 0), xout = unique(p), ties = mean)``.
- ``net_benefit``: NB = TP/n - FP/n * pt/(1 - pt) in R (Vickers & Elkin 2006).

Regenerate: ``.venv/bin/python tests/reference/risk_calibration/make_risk_data.py`` then
``Rscript tests/reference/risk_calibration/make_reference.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.risk.metrics import RMS_NAMES, c_statistic, calibration, calibration_curve, net_benefit, val_prob

REF = Path(__file__).resolve().parent / "reference" / "risk_calibration"
DATA = pd.read_csv(REF / "data_risk_predictions.csv", float_precision="round_trip")
DATASETS = list(dict.fromkeys(DATA["dataset"]))


def _sig(a, b, figures: int = 4) -> bool:
    """Equal at ``figures`` significant figures (relative 5e-5, absolute near 0)."""
    a, b = float(a), float(b)
    return abs(a - b) <= 0.5 * 10 ** (1 - figures) * max(abs(b), 1e-8) or abs(a - b) < 1e-10


def _data(ds: str) -> tuple[np.ndarray, np.ndarray]:
    d = DATA[DATA["dataset"] == ds]
    return d["y"].to_numpy(), d["p"].to_numpy()


def test_the_reference_holds_every_dataset():
    assert DATASETS == ["temporal_logistic", "temporal_boosting", "community_logistic", "hand"]
    assert (DATA.groupby("dataset")["y"].sum() > 5).all()


@pytest.mark.parametrize("ds", DATASETS)
def test_val_prob_equals_rms_at_4_significant_figures(ds):
    r = pd.read_csv(REF / "r_val_prob.csv")
    r = r[r["dataset"] == ds].set_index("statistic")["value"]
    y, p = _data(ds)
    ours = val_prob(p, y)
    bad = [(name, ours[name], r[rname]) for name, rname in RMS_NAMES.items()
           if name != "d_p" and not _sig(ours[name], r[rname])]
    assert bad == []
    assert np.isnan(r["D:p"])  # rms 6.5 reports it as NA


@pytest.mark.parametrize("ds", DATASETS)
def test_c_statistic_and_delong_interval_equal_r(ds):
    r = pd.read_csv(REF / "r_auc_delong.csv").set_index("dataset").loc[ds]
    y, p = _data(ds)
    ours = c_statistic(y, p).iloc[0]
    assert (ours["n"], ours["events"]) == (r["n"], r["events"])
    for col in ("auc", "se", "lower", "upper"):
        assert _sig(ours[col], r[col]), col


@pytest.mark.parametrize("ds", DATASETS)
def test_calibration_in_the_large_and_slope_equal_r_glm(ds):
    r = pd.read_csv(REF / "r_calibration.csv").set_index("dataset").loc[ds]
    y, p = _data(ds)
    ours = calibration(y, p).iloc[0]
    for col in ("citl", "citl_lower", "citl_upper", "slope", "slope_lower", "slope_upper", "observed",
                "mean_predicted"):
        assert _sig(ours[col], r[col]), col


@pytest.mark.parametrize("ds", DATASETS)
def test_the_calibration_curve_is_rs_lowess(ds):
    r = pd.read_csv(REF / "r_calibration_curve.csv")
    r = r[r["dataset"] == ds]
    y, p = _data(ds)
    ours = calibration_curve(y, p)
    np.testing.assert_allclose(ours["predicted"], r["predicted"], rtol=1e-12)
    np.testing.assert_allclose(ours["observed"], r["observed"], rtol=5e-5, atol=1e-9)


@pytest.mark.parametrize("ds", DATASETS)
def test_net_benefit_equals_the_formula_in_r(ds):
    r = pd.read_csv(REF / "r_net_benefit.csv")
    r = r[r["dataset"] == ds].reset_index(drop=True)
    y, p = _data(ds)
    ours = net_benefit(y, p, thresholds=sorted(r["threshold"].unique()))
    assert ours["strategy"].tolist() == r["strategy"].tolist()
    assert ours["tp"].tolist() == r["tp"].tolist() and ours["fp"].tolist() == r["fp"].tolist()
    np.testing.assert_allclose(ours["net_benefit"], r["net_benefit"], rtol=1e-10, atol=1e-12)


# --- what cannot be estimated is blank with its reason, never an exception -------------------

SEPARATED = ([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.8])


@pytest.mark.parametrize("y, p, why", [
    (*SEPARATED, "perfectly separated"),
    ([1, 1, 0, 0], [0.1, 0.2, 0.6, 0.7], "perfectly separated"),  # the reverse
    ([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.8], "perfectly separated"),  # quasi-complete: tied at the boundary
    ([0, 1], [0.2, 0.3], "perfectly separated"),  # n tiny
    ([0, 1, 0, 1], [0.3] * 4, "every predicted risk is the same"),
])
def test_calibration_slope_cannot_be_estimated(y, p, why):
    c = calibration(y, p).iloc[0]
    assert np.isnan(c["slope"]) and np.isnan(c["slope_lower"]) and np.isnan(c["slope_upper"])
    assert np.isfinite(c["citl"])  # calibration-in-the-large is finite whenever there are events and non-events
    assert c["note_en"].startswith("cannot be estimated") and why in c["note_en"]
    assert c["note_zh"].startswith("无法估计")


@pytest.mark.parametrize("y, p", [([0, 0, 0], [0.1, 0.2, 0.3]), ([1, 1, 1], [0.1, 0.2, 0.3]), ([1], [0.3]),
                                  ([], [])])
def test_one_outcome_only_is_blank_with_its_reason(y, p):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = calibration(y, p).iloc[0]
        v = val_prob(p, y)
        a = c_statistic(y, p)
    assert c[["citl", "slope"]].isna().all() and "cannot be estimated" in c["note_en"]
    assert v.drop("brier").isna().all() and "cannot be estimated" in v.attrs["note_en"]
    assert v.attrs["note_zh"].startswith("无法估计")
    assert a[["auc", "se", "lower", "upper"]].isna().all(axis=None) and "cannot be estimated" in a.attrs["note_en"]


def test_val_prob_on_separated_data_blanks_the_recalibration_only():
    y, p = SEPARATED
    v = val_prob(p, y)
    assert v[["intercept", "slope", "u", "u_chisq", "u_p", "q"]].isna().all()
    assert v["c"] == 1 and np.isfinite(v[["brier", "r2", "d", "emax", "s_z"]]).all()
    assert "perfectly separated" in v.attrs["note_en"]
    # estimable data: no note
    assert calibration(*_data("hand")).iloc[0]["note_en"] is None and val_prob(*_data("hand")[::-1]).attrs["note_en"] is None
