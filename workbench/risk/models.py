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

:func:`fit` runs with one BLAS and one OpenMP thread (:func:`single_threaded`): the models are
small (hundreds of rows, ~40 columns), and on a shared machine two threads that wait for each
other at every L-BFGS step and every boosting split made ``validate`` on the sample take 18 s
instead of 5 s while two other programs were busy (3 s either way on an idle machine). The fitted
models are the same (checked equal on the sample).

Examples
--------
>>> from workbench.risk.spec import load_spec
>>> pipe = build("logistic", load_spec())
>>> [name for name, _ in pipe.steps]
['prep', 'model']
>>> type(build("boosting", load_spec()).named_steps["model"]).__name__
'HistGradientBoostingClassifier'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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

__all__ = ["KINDS", "RANDOM_STATE", "build", "fit", "single_threaded"]

#: The model kinds :func:`build` offers.
KINDS = ("logistic", "boosting")
#: The one seed of every random choice (inner folds, boosting), for reproducible fits.
RANDOM_STATE = 20261201
#: The grid of inverse penalty strengths the inner cross-validation chooses from.
CS = tuple(np.logspace(-4, 2, 13))


def single_threaded():
    """A context in which BLAS and OpenMP use one thread (``threadpoolctl.threadpool_limits(1)``).

    >>> with single_threaded():
    ...     pass
    """
    return threadpool_limits(limits=1)


def _categories() -> Pipeline:
    return Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                     ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))])


@validate_params({"kind": Options(*KINDS)})
def build(kind: str, spec: "str | Path | ModelSpec" = "not_improving") -> Pipeline:
    """An unfitted pipeline (steps ``prep`` and ``model``) for the spec's predictors.

    Parameters
    ----------
    kind : {"logistic", "boosting"}
    spec : str, Path or ModelSpec

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
    numeric = spec.of_kind("numeric") + spec.of_kind("binary")
    numeric = [n for n in spec.names if n in numeric]  # declared order
    category = spec.of_kind("category")
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
    """A pipeline fitted on the rows of ``frame`` with a known outcome.

    Parameters
    ----------
    frame : workbench.risk.dataset.ModelFrame
    kind : {"logistic", "boosting"}
    spec : str, Path or ModelSpec, optional
        Default: the frame's own spec. Its predictors must be the frame's columns.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted; ``predict_proba(X)[:, 1]`` is the risk. ``pipeline.attrs`` is not set: the model
        id, data version and spec live with the saved model (another module).

    Examples
    --------
    Made-up rows (not data about anyone), to show the call:

    >>> import pandas as pd
    >>> from workbench.risk.dataset import ModelFrame
    >>> from workbench.risk.spec import load_spec
    >>> spec, rng = load_spec(), np.random.default_rng(0)
    >>> X = pd.DataFrame({n: rng.normal(10, 3, 80) for n in spec.names}).assign(community_type="urban")
    >>> y = pd.Series(rng.integers(0, 2, 80), dtype="Int8")
    >>> p = fit(ModelFrame(X, y, None, None, spec), kind="boosting")
    >>> risk = p.predict_proba(X)[:, 1]
    >>> bool(((risk > 0) & (risk < 1)).all())
    True
    """
    spec = frame.spec if spec is None else _as_spec(spec)
    check_names(spec, frame.X.columns)
    known = frame.y.notna().to_numpy(bool)
    pipe = build(kind, spec)
    with single_threaded():
        return pipe.fit(frame.X[known], frame.y[known].astype(int).to_numpy())
