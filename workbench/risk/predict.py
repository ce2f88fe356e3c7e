"""Predictions of a saved risk model, stored beside the tier (never instead of it), and the
recalibration of a model for a new site.

:func:`predict` gives the rows of the ``risk_predictions`` analysis table (issue 17's contract,
:data:`PREDICTION_COLUMNS`) for every referral of the model's population in the tables, whether
its outcome is known yet or not (a prediction is for the future). It reads the tables and
returns new rows: it changes no table, and no tier is changed, dropped or replaced.

:func:`recalibrate` adapts a model to a new site whose outcome rate differs (another mix of
residents, another service): the predictors and their weights are kept; only the intercept
(``method="intercept"``: calibration-in-the-large) or the intercept and the slope of the linear
predictor (``method="logistic"``) are refitted on the site's own referrals with a known outcome,
by maximum likelihood (a logistic regression of the outcome on the model's log-odds ``lp``:
``logit P(y=1) = a + lp`` or ``a + b * lp``). The ranking of residents is unchanged (the AUC is
the same); the risks move to the site's level. After recalibrating, validate on the site's data
again (:func:`workbench.risk.validation.validate`): the calibration intercept should be about 0
and the slope about 1 on the data it was fitted on, and the check that matters is on the site's
later referrals.

Examples
--------
>>> PREDICTION_COLUMNS[:4], PREDICTION_COLUMNS[-2:]
(['prediction_id', 'decision_id', 'resident_id', 'assessed_on'], ['predicted_on', 'predicted_by'])
"""

from __future__ import annotations

import hashlib
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from workbench.params import Date, NonEmptyStr, Options, validate_params
from workbench.risk.artefact import Recalibrated, SavedModel, _iso, data_version
from workbench.risk.models import single_threaded

__all__ = ["METHODS", "PREDICTION_COLUMNS", "predict", "prediction_id", "recalibrate", "recalibration_fit"]

#: Columns of ``risk_predictions``, in order (issue 17's contract).
PREDICTION_COLUMNS = ["prediction_id", "decision_id", "resident_id", "assessed_on", "model", "data_version", "outcome",
                      "risk", "band", "reason_1", "reason_2", "reason_3", "predicted_on", "predicted_by"]
#: Recalibration methods.
METHODS = ("intercept", "logistic")


def prediction_id(decision_id: str, model: str) -> str:
    """The id of a prediction: ``"RP"`` and 14 hex digits of the SHA-256 of ``decision_id|model``.
    The same decision predicted by the same model (id@version) has the same id.

    >>> pid = prediction_id("D0000001", "not_improving_logistic@1.0")
    >>> pid[:2], len(pid), pid == prediction_id("D0000001", "not_improving_logistic@1.0")
    ('RP', 16, True)
    >>> pid == prediction_id("D0000001", "not_improving_boosting@1.0")
    False
    """
    return "RP" + hashlib.sha256(f"{decision_id}|{model}".encode("utf-8")).hexdigest()[:14]


@validate_params({"on": Date(), "by": NonEmptyStr()})
def predict(tables, saved_model: SavedModel, *, on, by: str, wearable_days: pd.DataFrame | None = None) -> pd.DataFrame:
    """The risk of every referral of the model's population, as rows of ``risk_predictions``.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (the model frame is built from them with the model's own spec).
    saved_model : SavedModel
        From :func:`workbench.risk.artefact.load_model` (or :func:`recalibrate`).
    on : date
        The day the predictions are made (``predicted_on``); no hidden "today".
    by : str
        Who made them (``predicted_by``; a staff pseudonym in exports).
    wearable_days : DataFrame, optional
        The ``wearable_days`` analysis table, when the site has wristbands.

    Returns
    -------
    DataFrame
        :data:`PREDICTION_COLUMNS`, one row per referral of the population (whether or not its
        outcome is known yet), sorted by ``decision_id``:

        - ``prediction_id`` (string, :func:`prediction_id`), ``decision_id``, ``resident_id``
          (string), ``assessed_on`` (date: the screening);
        - ``model`` (string, id@version), ``data_version`` (string: the version of the tables it
          was trained on), ``outcome`` (string, the spec's outcome id);
        - ``risk`` (Float64 in [0, 1]), ``band`` (string: ``low``, ``medium``, ``high``, by the
          spec's cut-offs ``medium_from`` and ``high_from``);
        - ``reason_1`` .. ``reason_3`` (string: predictor names raising this person's risk most,
          :func:`workbench.risk.reasons.top_reasons`; blank when fewer raise it; never a predictor
          the fit left out: the model reads exactly ``saved_model.predictors``);
        - ``predicted_on`` (date), ``predicted_by`` (string).

        ``attrs``: ``reasons_method`` (``exact_log_odds`` or ``one_at_a_time``), ``model``.

    Notes
    -----
    Nothing in ``tables`` is changed: the tier decided stays as it was, and the prediction sits
    beside it (join on ``decision_id``). The risk is a prompt for a counsellor to look, never a
    decision, never a gate to care, never a suicide-risk score (REFERENCE.md, NICE NG225).

    Examples
    --------
    >>> import tempfile
    >>> from workbench.sample import load_sample
    >>> from workbench.risk import _toy
    >>> from workbench.risk.artefact import load_model, save_model
    >>> toy = _toy.toy()
    >>> folder = save_model(toy.pipeline, tempfile.mkdtemp(), spec=toy.spec, frame=toy, tables=toy.tables,
    ...                     created="2026-01-05T09:00:00Z")
    >>> out = predict(load_sample(), load_model(folder), on="2026-01-06", by="counsellor_1")
    >>> out.columns.tolist() == PREDICTION_COLUMNS, sorted(out["band"].unique())
    (True, ['high', 'low', 'medium'])
    """
    from workbench.risk.dataset import model_frame
    from workbench.risk.reasons import top_reasons

    if not isinstance(saved_model, SavedModel):
        raise TypeError(f"saved_model must be a SavedModel (workbench.risk.artefact.load_model). "
                        f"Got {type(saved_model).__name__} instead.")
    frame = model_frame(tables, spec=_spec_of(saved_model), wearable_days=wearable_days)
    X = frame.X[saved_model.predictors]  # exactly the predictors the model was fitted with
    with single_threaded():  # one BLAS/OpenMP thread, as when fitting (workbench.risk.models)
        risk = saved_model.predict_risk(X) if len(X) else np.zeros(0)
        reasons = top_reasons(saved_model, X, n=3) if len(X) else None
    n, model = len(X), saved_model.model
    decisions = X.index.astype(str)
    out = pd.DataFrame({
        "prediction_id": pd.array([prediction_id(d, model) for d in decisions], dtype="string"),
        "decision_id": pd.array(decisions, dtype="string"),
        "resident_id": pd.array(frame.info["resident_id"].astype(str).to_numpy(), dtype="string"),
        "assessed_on": pd.to_datetime(frame.info["assessed_on"]).to_numpy("datetime64[ns]"),
        "model": pd.array([model] * n, dtype="string"),
        "data_version": pd.array([saved_model.data_version] * n, dtype="string"),
        "outcome": pd.array([saved_model.outcome] * n, dtype="string"),
        "risk": pd.array(risk, dtype="Float64"),
        "band": _bands(risk, saved_model.bands).to_numpy(),
        **{f"reason_{k}": (reasons[f"reason_{k}"].to_numpy() if reasons is not None else pd.array([], dtype="string"))
           for k in (1, 2, 3)},
        "predicted_on": np.full(n, pd.Timestamp(on).normalize().to_datetime64(), dtype="datetime64[ns]"),
        "predicted_by": pd.array([by] * n, dtype="string"),
    })
    for k in (1, 2, 3):
        out[f"reason_{k}"] = out[f"reason_{k}"].astype("string")
    out["band"] = out["band"].astype("string")
    out = out.sort_values("decision_id", kind="stable", ignore_index=True)
    out.attrs.update(model=model, reasons_method=reasons.attrs["method"] if reasons is not None else None)
    return out


def _spec_of(saved_model: SavedModel):
    """The model's own spec (loaded with it), else the shipped spec of its id when of the same version."""
    if saved_model.spec is not None:
        return saved_model.spec
    from workbench.risk.spec import load_spec

    spec = load_spec(saved_model.metadata["spec"]["id"])
    if spec.version != saved_model.metadata["spec"]["version"]:
        raise ValueError(f"The model {saved_model.model} was built with spec version "
                         f"{saved_model.metadata['spec']['version']}, the shipped one is {spec.version}: load the model "
                         "with load_model (its spec is kept beside it).")
    return spec


def _bands(risk: np.ndarray, bands: dict[str, float]) -> pd.Series:
    """``low`` below ``medium_from``, ``high`` from ``high_from``, ``medium`` between (the spec's rule)."""
    r = np.asarray(risk, dtype=float)
    return pd.Series(np.where(r >= bands["high_from"], "high", np.where(r >= bands["medium_from"], "medium", "low")),
                     dtype="string")


# --- recalibration ------------------------------------------------------------------------------

def recalibration_fit(lp, y, *, method: str = "intercept", tol: float = 1e-10, max_iter: int = 100) -> tuple[float, float]:
    """Intercept ``a`` and slope ``b`` of ``logit P(y=1) = a + b * lp`` by maximum likelihood
    (Newton-Raphson; ``b`` fixed at 1 when ``method="intercept"``, i.e. ``lp`` is an offset).

    With ``method="intercept"`` the fit makes the mean predicted risk equal the observed rate (the
    likelihood equation is ``sum(y) = sum(expit(a + lp))``), which is what calibration-in-the-large
    0 means.

    >>> lp = np.log(np.array([0.1, 0.2, 0.3, 0.4]) / np.array([0.9, 0.8, 0.7, 0.6]))
    >>> a, b = recalibration_fit(lp, np.array([0, 1, 1, 1]), method="intercept")
    >>> p = 1 / (1 + np.exp(-(a + lp)))
    >>> round(float(p.mean()), 6), b
    (0.75, 1.0)
    """
    lp, y = np.asarray(lp, dtype=float), np.asarray(y, dtype=float)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}. Got {method!r} instead.")
    if not len(y) or y.min() == y.max():
        raise ValueError(f"Recalibration needs both outcomes among the site's referrals; got {int(y.sum())} events in "
                         f"{len(y)}.")
    a = _offset_intercept(lp, y, tol)
    if method == "intercept":
        return a, 1.0
    b = 1.0
    for _ in range(max_iter):  # Newton-Raphson with step halving on the log-likelihood
        p = _expit(a + b * lp)
        w = p * (1 - p)
        grad = np.array([(y - p).sum(), ((y - p) * lp).sum()])
        info = np.array([[w.sum(), (w * lp).sum()], [(w * lp).sum(), (w * lp * lp).sum()]])
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        before, t = _loglik(a, b, lp, y), 1.0
        while _loglik(a + t * step[0], b + t * step[1], lp, y) < before - 1e-12 and t > 1e-8:
            t /= 2
        a, b = a + t * float(step[0]), b + t * float(step[1])
        if np.abs(t * step).max() < tol:
            break
    else:
        warnings.warn(f"Recalibration did not converge in {max_iter} iterations.", RuntimeWarning, stacklevel=2)
    return a, b


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _loglik(a: float, b: float, lp: np.ndarray, y: np.ndarray) -> float:
    eta = a + b * lp
    return float((y * eta - np.logaddexp(0, eta)).sum())


def _offset_intercept(lp: np.ndarray, y: np.ndarray, tol: float) -> float:
    """The ``a`` with ``sum(expit(a + lp)) = sum(y)`` (one root: the sum rises with ``a``)."""
    from scipy.optimize import brentq

    def gap(a: float) -> float:
        return float(_expit(a + lp).sum() - y.sum())

    low, high = -1.0, 1.0
    while gap(low) > 0:
        low *= 2
    while gap(high) < 0:
        high *= 2
    return float(brentq(gap, low, high, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=500))


_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@validate_params({"method": Options(*METHODS), "site": NonEmptyStr()})
def recalibrate(saved_model: SavedModel, tables, *, site: str, created, method: str = "intercept",
                wearable_days: pd.DataFrame | None = None) -> SavedModel:
    """The saved model recalibrated on a new site's referrals (see the module docstring).

    Parameters
    ----------
    saved_model : SavedModel
        The model to adapt (it is not changed).
    tables : workbench.tables.Tables
        The new site's analysis tables; its referrals with a known outcome are used.
    site : str
        A short name of the site (letters, digits, ``_``, ``-``), part of the new version.
    created : datetime or str
        When the recalibrated model is made (no hidden clock).
    method : {"intercept", "logistic"}
        Refit the intercept only (calibration-in-the-large; the default, safest with few events),
        or the intercept and the slope.
    wearable_days : DataFrame, optional
        The site's ``wearable_days``.

    Returns
    -------
    SavedModel
        In memory (:meth:`SavedModel.save` writes it): the same pipeline wrapped in
        :class:`~workbench.risk.artefact.Recalibrated`, version ``<version>-recal-<site>``
        (model ``<id>@<version>-recal-<site>``), ``data_version`` of the site's tables, and
        ``metadata["recalibration"]``: ``method, site, intercept, slope, n, events,
        observed_rate, mean_risk_before, mean_risk_after, base_model, base_data_version``.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.risk._toy import toy_saved
    >>> base = toy_saved()
    >>> new = recalibrate(base, load_sample(), site="district_b", created="2026-02-01")
    >>> new.model
    'not_improving_logistic@1.1-recal-district_b'
    >>> r = new.metadata["recalibration"]
    >>> abs(r["mean_risk_after"] - r["observed_rate"]) < 1e-9
    True
    """
    from workbench.risk.dataset import model_frame

    if not _SITE.match(site):
        raise ValueError(f"site must be letters, digits, '_' or '-' (it becomes part of the version). "
                         f"Got {site!r} instead.")
    frame = model_frame(tables, spec=_spec_of(saved_model), wearable_days=wearable_days)
    known = frame.y.notna().to_numpy(bool)
    X, y = frame.X[known][saved_model.predictors], frame.y[known].astype(int).to_numpy()
    with single_threaded():
        lp = saved_model.log_odds(X)
    a, b = recalibration_fit(lp, y, method=method)
    pipeline = saved_model.pipeline
    if isinstance(pipeline, Recalibrated):  # recalibrating again composes with the first
        base, a, b = pipeline.base, a + b * pipeline.intercept, b * pipeline.slope
    else:
        base = pipeline
    new = Recalibrated(base, intercept=a, slope=b)
    before = 1 / (1 + np.exp(-lp))
    with single_threaded():
        after = np.asarray(new.predict_proba(X))[:, 1]
    version = f"{saved_model.version}-recal-{site}"
    model_id = saved_model.metadata["model_id"]
    days = pd.to_datetime(frame.info["assessed_on"])[known]
    metadata: dict[str, Any] = {
        **saved_model.metadata,
        "model": f"{model_id}@{version}", "version": version,
        "data_version": data_version(tables, wearable_days=wearable_days),
        "created": _iso(created, function="recalibrate"), "pickle": None,
        "recalibration": {
            "method": method, "site": site, "intercept": a, "slope": b, "n": int(known.sum()), "events": int(y.sum()),
            "first": days.min().date().isoformat() if len(days) else None,
            "last": days.max().date().isoformat() if len(days) else None,
            "observed_rate": float(y.mean()), "mean_risk_before": float(before.mean()),
            "mean_risk_after": float(after.mean()), "base_model": saved_model.model,
            "base_data_version": saved_model.data_version},
    }
    return SavedModel(pipeline=new, metadata=metadata, spec=saved_model.spec)
