"""The risk model's scikit-learn pipelines: a penalised logistic baseline and a gradient-boosted model.

Each pipeline has two named steps, ``"prep"`` (a :class:`~sklearn.compose.ColumnTransformer`
built from the spec's predictor kinds) and ``"model"``:

- ``"logistic"``: numeric and binary predictors are imputed with the median AND a missing
  indicator (a blank is never read as 0 or as "normal"; the indicator lets the model learn what
  being unmeasured means), then standardised; categories get a ``"missing"`` level and are
  one-hot encoded (unknown levels ignored). The model is an L2-penalised logistic regression
  whose strength ``C`` is chosen by an inner, stratified, shuffled (fixed seed) 5-fold
  cross-validation on log loss (:class:`~sklearn.linear_model.LogisticRegressionCV`).
- ``"boosting"``: the same imputation with a missing indicator (no scaling; a predictor nobody
  has, such as the wearable means without wristbands, becomes a constant column, which
  histogram binning cannot take as all-missing), categories one-hot encoded as above;
  :class:`~sklearn.ensemble.HistGradientBoostingClassifier` with modest depth, a small learning
  rate, early stopping off and a fixed ``random_state``, so a refit on the same data gives the
  same model.

**Predictors recorded for too few people are left out of the fit.** :func:`fit` first applies the
spec's ``min_observed`` rule to the rows it is given (:func:`observed_counts`): a predictor
recorded (not blank) for fewer than ``rows`` training referrals with a known outcome, or with fewer
than ``events`` of the less frequent outcome among them (events per variable, Peduzzi 1996), is
left out, and so is a ``no_data`` indicator when every other predictor of its source is left out
(its family). The pipeline is built and fitted on the predictors kept only
(``pipeline.predictors_``); those left out are in ``pipeline.left_out_`` with their counts and
reason. Without the rule, the five wristband means of the sample (recorded for 8 of 748 referrals)
got weights learned from 8 people, and became "top reasons" shown to a counsellor. Predict with
:func:`predict_risk` (or select :func:`fitted_predictors`): the model reads exactly the
predictors it was fitted with.

:func:`fit` runs with one BLAS and one OpenMP thread (:func:`single_threaded`): the models are
small (hundreds of rows, ~40 columns), and on a shared machine two threads that wait for each
other at every L-BFGS step and every boosting split made ``validate`` on the sample take 18 s
instead of 5 s while two other programs were busy (3 s either way on an idle machine). The fitted
models are the same (checked equal on the sample).

Examples
--------
>>> from workbench.risk.spec import load_spec
>>> LEFT_OUT_REASONS["too_few_rows"]["en"]
'recorded for too few referrals'
>>> pipe = build("logistic", load_spec())
>>> [name for name, _ in pipe.steps]
['prep', 'model']
>>> type(build("boosting", load_spec()).named_steps["model"]).__name__
'HistGradientBoostingClassifier'
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from workbench.params import Options, validate_params
from workbench.risk.spec import ModelSpec, _as_spec, check_names

__all__ = ["KINDS", "LEFT_OUT_REASONS", "RANDOM_STATE", "build", "fit", "fitted_predictors", "observed_counts",
           "predict_risk", "single_threaded"]

#: The model kinds :func:`build` offers.
KINDS = ("logistic", "boosting")
#: The one seed of every random choice (inner folds, boosting), for reproducible fits.
RANDOM_STATE = 20261201
#: The grid of inverse penalty strengths the inner cross-validation chooses from.
CS = tuple(np.logspace(-4, 2, 13))
#: Why :func:`fit` leaves a predictor out (``reason`` of :func:`observed_counts`), in en and zh.
LEFT_OUT_REASONS = {
    "too_few_rows": {"en": "recorded for too few referrals", "zh": "有记录的转介太少"},
    "too_few_events": {"en": "too few of the less frequent outcome among the referrals with it",
                       "zh": "有记录的转介中较少见的结局太少"},
    "family_left_out": {"en": "left out with its family (every predictor it stands beside is left out)",
                        "zh": "随同类预测因子一起不纳入（它所对应的预测因子都未纳入）"},
}


def single_threaded():
    """A context in which BLAS and OpenMP use one thread (``threadpoolctl.threadpool_limits(1)``).

    >>> with single_threaded():
    ...     pass
    """
    return threadpool_limits(limits=1)


def _categories() -> Pipeline:
    return Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                     ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))])


def observed_counts(frame, *, spec: "str | Path | ModelSpec | None" = None) -> pd.DataFrame:
    """How often each predictor is recorded among the rows with a known outcome, and whether the
    spec's ``min_observed`` rule leaves it out of a fit on these rows.

    Parameters
    ----------
    frame : workbench.risk.dataset.ModelFrame
        The training rows (only those with a known outcome count).
    spec : str, Path or ModelSpec, optional
        Default: the frame's own spec.

    Returns
    -------
    DataFrame
        One row per predictor, declared order: ``name``, ``source``, ``rows`` (recorded, not
        blank), ``events`` and ``non_events`` among those rows, ``min_rows`` and ``min_events``
        (the rule), ``left_out`` (bool) and ``reason`` (blank when kept, else a key of
        :data:`LEFT_OUT_REASONS`): ``too_few_rows`` when ``rows < min_rows``; ``too_few_events``
        when the less frequent of ``events`` and ``non_events`` is below ``min_events`` (events per
        variable count the less frequent outcome, Peduzzi 1996); ``family_left_out`` for a
        ``no_data`` indicator when every other predictor of its source is left out.

    Examples
    --------
    Made-up rows (not data about anyone): a wristband mean recorded for 8 of 150 people.

    >>> from workbench.risk.dataset import ModelFrame
    >>> from workbench.risk.spec import load_spec
    >>> spec, rng = load_spec(), np.random.default_rng(0)
    >>> X = pd.DataFrame({n: rng.normal(10, 3, 150) for n in spec.names}).assign(community_type="urban")
    >>> for n in spec.names:
    ...     if n.startswith("wear_"):
    ...         X.loc[8:, n] = np.nan
    >>> X["no_wearable_data"] = np.r_[np.zeros(8), np.ones(142)]
    >>> y = pd.Series(np.arange(150) % 4 == 0, dtype="Int8")
    >>> c = observed_counts(ModelFrame(X, y, None, None, spec))
    >>> c.loc[c["left_out"], ["name", "rows", "events", "reason"]].values.tolist()[-2:]
    [['wear_sleep_regularity', 8, 2, 'too_few_rows'], ['no_wearable_data', 150, 38, 'family_left_out']]
    """
    spec = frame.spec if spec is None else _as_spec(spec)
    check_names(spec, frame.X.columns)
    rule = spec.min_observed
    min_rows, min_events = int(rule.get("rows", 1)), int(rule.get("events", 1))
    known = pd.Series(frame.y).notna().to_numpy(bool)
    X = frame.X[known]
    y = pd.Series(frame.y).to_numpy(float, na_value=np.nan)[known]
    recorded = X.notna().to_numpy(bool)
    rows = recorded.sum(axis=0)
    events = (recorded & (y == 1)[:, None]).sum(axis=0)
    out = pd.DataFrame({"name": spec.names, "source": [p.source for p in spec.predictors], "rows": rows.astype(int),
                        "events": events.astype(int), "non_events": (rows - events).astype(int),
                        "min_rows": min_rows, "min_events": min_events})
    reason = np.where(out["rows"] < min_rows, "too_few_rows",
                      np.where(np.minimum(out["events"], out["non_events"]) < min_events, "too_few_events", ""))
    reason = reason.astype(object)
    for k, p in enumerate(spec.predictors):
        if "indicator" in p.options and not reason[k]:
            family = [j for j, q in enumerate(spec.predictors) if q.source == p.source and "indicator" not in q.options]
            if family and all(reason[j] for j in family):
                reason[k] = "family_left_out"
    out["left_out"] = reason != ""
    out["reason"] = pd.array(np.where(reason == "", None, reason), dtype="string")
    out.attrs.update(model=spec.model_id, n=int(known.sum()))
    return out


def fitted_predictors(model) -> list[str]:
    """The predictors a fitted model reads, in order: a SavedModel's ``predictors``, else the
    pipeline's ``predictors_`` (:func:`fit`), else its ``feature_names_in_`` (a recalibrated
    model: those of its base).

    >>> fitted_predictors(build("logistic"))
    Traceback (most recent call last):
    TypeError: Pipeline is not a fitted risk pipeline: it names no predictors (predictors_ or feature_names_in_); fit it with workbench.risk.models.fit.
    """
    if hasattr(model, "metadata") and hasattr(model, "predictors"):  # a SavedModel
        return list(model.predictors)
    model = getattr(model, "base", model)  # a Recalibrated model reads what its base reads
    names = getattr(model, "predictors_", None)
    if names is None:
        names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise TypeError(f"{type(model).__name__} is not a fitted risk pipeline: it names no predictors "
                        "(predictors_ or feature_names_in_); fit it with workbench.risk.models.fit.")
    return [str(n) for n in names]


def predict_risk(model, X: pd.DataFrame) -> np.ndarray:
    """The risk (``predict_proba(...)[:, 1]``) of each row of ``X``, read from exactly the
    predictors the model was fitted with (:func:`fitted_predictors`), with one thread
    (:func:`single_threaded`). ``X`` may hold more columns (the spec's others): they are not read."""
    names = fitted_predictors(model)
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ValueError(f"X must have the predictors the model was fitted with; {missing} are missing.")
    with single_threaded():
        return np.asarray(model.predict_proba(X[names]))[:, 1]


@validate_params({"kind": Options(*KINDS)})
def build(kind: str, spec: "str | Path | ModelSpec" = "not_improving", *,
          predictors: Sequence[str] | None = None) -> Pipeline:
    """An unfitted pipeline (steps ``prep`` and ``model``) for the spec's predictors.

    Parameters
    ----------
    kind : {"logistic", "boosting"}
    spec : str, Path or ModelSpec
    predictors : list of str, optional
        The predictors the pipeline reads (a subset of the spec's, e.g. those :func:`fit` keeps);
        default all of them.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> build("logistic").named_steps["model"].scoring
    'neg_log_loss'
    >>> build("forest")
    Traceback (most recent call last):
    workbench.params.ParameterError: The 'kind' parameter of build must be one of 'logistic', 'boosting'. Got 'forest' instead.
    """
    spec = _as_spec(spec)
    use = spec.names if predictors is None else list(predictors)
    unknown = [n for n in use if n not in spec.names]
    if unknown or isinstance(predictors, str):
        raise ValueError(f"predictors must be a list of predictors of {spec.model_id}; {unknown or predictors!r} "
                         f"are not among {spec.names}.")
    numeric = spec.of_kind("numeric") + spec.of_kind("binary")
    numeric = [n for n in spec.names if n in numeric and n in use]  # declared order
    category = [n for n in spec.of_kind("category") if n in use]
    if kind == "logistic":
        num = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                        ("scale", StandardScaler())])
        model = LogisticRegressionCV(
            Cs=list(CS), l1_ratios=(0.0,), scoring="neg_log_loss", solver="lbfgs", max_iter=5000,
            cv=StratifiedKFold(5, shuffle=True, random_state=RANDOM_STATE), use_legacy_attributes=False)
    else:
        num = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        model = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=150, max_depth=3, min_samples_leaf=20, l2_regularization=1.0,
            early_stopping=False, random_state=RANDOM_STATE)
    prep = ColumnTransformer([("num", num, numeric), ("cat", _categories(), category)],
                             remainder="drop", verbose_feature_names_out=True)
    return Pipeline([("prep", prep), ("model", model)])


@validate_params({"kind": Options(*KINDS)})
def fit(frame, *, kind: str, spec: "str | Path | ModelSpec | None" = None) -> Pipeline:
    """A pipeline fitted on the rows of ``frame`` with a known outcome, from the predictors the
    spec's ``min_observed`` rule keeps on those rows.

    Parameters
    ----------
    frame : workbench.risk.dataset.ModelFrame
    kind : {"logistic", "boosting"}
    spec : str, Path or ModelSpec, optional
        Default: the frame's own spec. Its predictors must be the frame's columns.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted on the predictors kept; ``predict_risk(pipeline, X)`` (or
        ``predict_proba(X[pipeline.predictors_])[:, 1]``) is the risk. Fitted attributes:
        ``predictors_`` (the predictors kept, declared order) and ``left_out_`` (the rows of
        :func:`observed_counts` left out: ``name, source, rows, events, non_events, min_rows,
        min_events, left_out, reason``). The model id, data version and spec live with the
        saved model (:mod:`workbench.risk.artefact`).

    Raises
    ------
    ValueError
        When the rule leaves every predictor out (too few rows with a known outcome).

    Examples
    --------
    Made-up rows (not data about anyone), to show the call: the wristband means are blank for
    everyone, so they and their "no data" indicator are left out.

    >>> import pandas as pd
    >>> from workbench.risk.dataset import ModelFrame
    >>> from workbench.risk.spec import load_spec
    >>> spec, rng = load_spec(), np.random.default_rng(0)
    >>> X = pd.DataFrame({n: rng.normal(10, 3, 150) for n in spec.names}).assign(community_type="urban")
    >>> X[[n for n in spec.names if n.startswith("wear_")]] = np.nan
    >>> X["no_wearable_data"] = 1.0
    >>> y = pd.Series(rng.integers(0, 2, 150), dtype="Int8")
    >>> p = fit(ModelFrame(X, y, None, None, spec), kind="boosting")
    >>> p.left_out_["name"].tolist()[-1], p.left_out_["reason"].tolist()[-1], len(p.predictors_)
    ('no_wearable_data', 'family_left_out', 24)
    >>> risk = predict_risk(p, X)
    >>> bool(((risk > 0) & (risk < 1)).all())
    True
    """
    spec = frame.spec if spec is None else _as_spec(spec)
    check_names(spec, frame.X.columns)
    known = frame.y.notna().to_numpy(bool)
    counts = observed_counts(frame, spec=spec)
    kept = counts.loc[~counts["left_out"], "name"].tolist()
    if not kept:
        rule = spec.min_observed
        raise ValueError(f"Every predictor of {spec.model_id} is left out by its min_observed rule (at least "
                         f"{rule.get('rows')} referrals with the predictor recorded and {rule.get('events')} of the "
                         f"less frequent outcome among them): {int(known.sum())} rows with a known outcome are too "
                         "few to fit the model.")
    pipe = build(kind, spec, predictors=kept)
    with single_threaded():
        pipe.fit(frame.X.loc[known, kept], frame.y[known].astype(int).to_numpy())
    pipe.predictors_ = kept
    pipe.left_out_ = counts[counts["left_out"]].reset_index(drop=True)
    return pipe
