"""Why the model put a person's risk up: the predictors that pushed it up most, for a counsellor.

:func:`contributions` gives each predictor's contribution to a person's predicted log-odds;
:func:`top_reasons` keeps the ``n`` largest of those that raise the risk, with the person's value.
What a counsellor is shown as a reason is something the person HAS that raises the estimate:

- a predictor that lowers the risk is never a reason;
- a yes/no predictor (a condition, lives alone, "no wristband data") is a reason only when the
  person has it (value 1 / True): "no stroke" or "stroke = 0" is never a reason for a higher risk,
  even when, compared with the average person, not having it moves the log-odds up;
- a blank (not recorded) value is never a reason: "not recorded" is not a cause, even though the
  model's missing-indicator may move the estimate;
- a predictor the fit left out (the spec's ``min_observed`` rule: recorded for too few training
  referrals) is never a reason: only the predictors the model was fitted with get a contribution.

:func:`contributions` stays exact (every predictor, whatever its value); only :func:`top_reasons`
applies these rules.

Two methods, named in ``attrs["method"]``:

``exact_log_odds`` (the logistic pipeline)
    The log-odds of a logistic model are additive: ``logit(p) = b0 + sum_k b_k z_k``, ``z`` the
    prepared (imputed, scaled, one-hot) columns. The contribution of predictor ``j`` is
    ``sum_{k in j} b_k (z_k - mean_k)``: ``mean_k`` the training mean of prepared column ``k``,
    and the sum over the prepared columns that come from ``j`` (its one-hot columns, its
    missing-indicator). The contributions and the log-odds of the training-mean person add up to
    the person's log-odds exactly: a contribution is how far this person's value moves their
    log-odds from the average person's.

``one_at_a_time`` (the gradient-boosted model, and any other model) -- approximate
    The change in the predicted log-odds when predictor ``j`` alone is set to its typical
    training value (median of a number, most common value of a category or a yes/no), the others
    kept: ``logit p(x) - logit p(x with x_j = typical_j)``. It does not add up to the log-odds and
    ignores interactions between predictors (two predictors that raise the risk only together get
    little each); read it as "this value moved the estimate up", not as a share of the risk.

A recalibrated model (:class:`workbench.risk.artefact.Recalibrated`) has the contributions of its
base model times its slope (the intercept moves everybody alike).

Examples
--------
>>> from workbench.risk import _toy
>>> toy = _toy.toy()
>>> r = top_reasons(toy.pipeline, toy.X.head(3), reference=toy.X)
>>> r.columns[:3].tolist()
['reason_1', 'contribution_1', 'value_1']
>>> bool((r["contribution_1"].dropna() > 0).all())
True
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["contributions", "reference_values", "top_reasons"]


def _steps(pipeline):
    """(prep, model) of a fitted pipeline with steps ``prep`` and ``model``."""
    steps = getattr(pipeline, "named_steps", None)
    if steps is None or "prep" not in steps or "model" not in steps:
        raise TypeError(f"The model must be a fitted scikit-learn Pipeline with the steps 'prep' and 'model' "
                        f"(workbench.risk.models.fit). Got {type(pipeline).__name__} instead.")
    return steps["prep"], steps["model"]


def _is_logistic(pipeline) -> bool:
    _, model = _steps(pipeline)
    return hasattr(model, "coef_") and np.asarray(model.coef_).shape[0] == 1


def _dense(Z) -> np.ndarray:
    return np.asarray(Z.toarray() if hasattr(Z, "toarray") else Z, dtype=float)


def _owner(feature: str, columns: list[str]) -> str | None:
    """The input column an output feature of a transformer comes from (longest name that fits)."""
    fits = [c for c in columns if feature == c or feature.startswith(c + "_") or feature == f"missingindicator_{c}"]
    return max(fits, key=len) if fits else None


def feature_owners(prep, predictors: list[str]) -> list[str]:
    """For each prepared column (in order), the predictor it comes from.

    ``prep`` is a fitted :class:`~sklearn.compose.ColumnTransformer` (or a transformer whose
    output features name their input column: one-hot ``sex_female``, ``missingindicator_age``).
    """
    owners: list[str | None] = []
    blocks = getattr(prep, "transformers_", None)
    if blocks is None:
        names = list(prep.get_feature_names_out(predictors))
        owners = [_owner(str(f), predictors) for f in names]
    else:
        slices = prep.output_indices_
        width = sum(s.stop - s.start for s in slices.values())
        owners = [None] * width
        for name, trans, cols in blocks:
            s = slices[name]
            if s.stop == s.start or trans == "drop":
                continue
            cols = [predictors[c] if isinstance(c, (int, np.integer)) else str(c) for c in np.atleast_1d(cols)]
            if len(cols) == 1:
                owners[s.start:s.stop] = cols * (s.stop - s.start)
                continue
            names = cols if trans == "passthrough" else [str(f) for f in trans.get_feature_names_out(cols)]
            owners[s.start:s.stop] = [_owner(f, cols) for f in names]
    unknown = [k for k, o in enumerate(owners) if o is None]
    if unknown:
        raise ValueError(f"The prepared columns {unknown} cannot be traced back to a predictor of {predictors}: "
                         "the prep step's output features must name their input column.")
    return owners  # type: ignore[return-value]


def reference_values(pipeline, X: pd.DataFrame) -> dict[str, Any]:
    """What contributions are measured from, computed from the training predictors ``X``.

    Returns a JSON-ready mapping: ``predictors`` (the columns of ``X``), ``typical`` (each
    predictor's median, or most common value for a non-number or a yes/no; None when all blank),
    and for a logistic pipeline ``prepared_mean`` (the training mean of each prepared column).

    >>> from workbench.risk import _toy
    >>> toy = _toy.toy()
    >>> ref = reference_values(toy.pipeline, toy.X)
    >>> sorted(ref), len(ref["prepared_mean"]) >= len(ref["predictors"])
    (['predictors', 'prepared_mean', 'typical'], True)
    """
    typical: dict[str, Any] = {}
    for c in X.columns:
        v = X[c].dropna()
        if not len(v):
            typical[c] = None
        elif pd.api.types.is_numeric_dtype(v.dtype) and not pd.api.types.is_bool_dtype(v.dtype) and v.nunique() > 2:
            typical[c] = float(np.median(v.astype(float)))
        else:
            mode = v.value_counts(sort=True).index[0]  # ties: the first in value_counts' stable order
            typical[c] = mode.item() if hasattr(mode, "item") else mode
    out: dict[str, Any] = {"predictors": list(map(str, X.columns)), "typical": typical}
    if _is_logistic(pipeline):
        prep, _ = _steps(pipeline)
        out["prepared_mean"] = [float(m) for m in _dense(prep.transform(X)).mean(axis=0)]
    return out


def _unwrap(model) -> tuple[Any, float, dict | None, list[str] | None]:
    """(pipeline, slope, stored reference, predictors) of a SavedModel, a Recalibrated or a Pipeline."""
    from workbench.risk._linear import Recalibrated

    reference, predictors, slope = None, None, 1.0
    if _is_saved(model):
        reference, predictors = model.metadata.get("reference"), model.predictors
        model = model.pipeline
    if isinstance(model, Recalibrated):
        slope, model = model.slope, model.base
    if predictors is None and (hasattr(model, "predictors_") or hasattr(model, "feature_names_in_")):
        from workbench.risk.models import fitted_predictors

        predictors = fitted_predictors(model)  # a bare pipeline: what it was fitted with
    return model, slope, reference, predictors


def contributions(model, X: pd.DataFrame, *, reference: pd.DataFrame | Mapping | None = None) -> pd.DataFrame:
    """Each predictor's contribution to each person's predicted log-odds (see the module docstring).

    Parameters
    ----------
    model : SavedModel, Recalibrated or fitted Pipeline
        A saved model carries its training reference; a bare pipeline needs ``reference``.
    X : DataFrame
        The predictors of the people (the columns of the model frame's ``X``).
    reference : DataFrame or mapping, optional
        The training predictors (a DataFrame) or :func:`reference_values` of them.

    Returns
    -------
    DataFrame
        One column per predictor the model was fitted with (float64, log-odds; a predictor the
        spec's ``min_observed`` rule left out of the fit has none, so it is never a reason),
        indexed like ``X``; ``attrs["method"]`` is
        ``exact_log_odds`` or ``one_at_a_time``, ``attrs["baseline"]`` (exact method) the
        log-odds of the training-mean person, so that ``baseline + row sum`` is the log-odds.

    Examples
    --------
    >>> from workbench.risk import _toy
    >>> from workbench.risk.artefact import log_odds
    >>> toy = _toy.toy()
    >>> c = contributions(toy.pipeline, toy.X, reference=toy.X)
    >>> c.attrs["method"], bool(np.allclose(c.attrs["baseline"] + c.sum(axis=1), log_odds(toy.pipeline, toy.X)))
    ('exact_log_odds', True)
    """
    pipeline, slope, stored, predictors = _unwrap(model)
    predictors = predictors or list(map(str, X.columns))
    missing = [p for p in predictors if p not in X.columns]
    if missing:
        raise ValueError(f"X must have the model's predictors as columns; {missing} are missing.")
    X = X[predictors]
    if isinstance(reference, pd.DataFrame):
        reference = reference_values(pipeline, reference[predictors])
    reference = reference or stored
    if reference is None:
        raise ValueError("A bare pipeline needs reference= (the training predictors, or reference_values of them) "
                         "to measure contributions from; a saved model carries its own.")
    if _is_logistic(pipeline):
        prep, lr = _steps(pipeline)
        coef = np.asarray(lr.coef_, dtype=float)[0]
        mean = np.asarray(reference["prepared_mean"], dtype=float)
        Z = _dense(prep.transform(X))
        if Z.shape[1] != len(coef) or len(mean) != len(coef):
            raise ValueError(f"The reference has {len(mean)} prepared columns, the model {len(coef)}: it is the "
                             "reference of another model.")
        per_feature = (Z - mean) * coef * slope
        owners = np.asarray(feature_owners(prep, predictors))
        out = pd.DataFrame({p: per_feature[:, owners == p].sum(axis=1) for p in predictors}, index=X.index)
        out.attrs.update(method="exact_log_odds",
                         baseline=float(slope * (float(lr.intercept_[0]) + coef @ mean)) + _shift(model))
        return out
    from workbench.risk._linear import log_odds

    here = log_odds(pipeline, X)
    changed = []
    for p in predictors:  # every "one predictor set to its typical value" copy, predicted in one call
        typical = reference["typical"].get(p)
        copy = X.copy()
        if typical is None:
            copy[p] = copy[p].where(pd.Series(False, index=X.index))  # all blank
        else:
            copy[p] = pd.Series([typical] * len(X), index=X.index).astype(X[p].dtype)
        changed.append(copy)
    there = log_odds(pipeline, pd.concat(changed, ignore_index=True)).reshape(len(predictors), len(X))
    out = pd.DataFrame({p: slope * (here - there[k]) for k, p in enumerate(predictors)}, index=X.index)
    out.attrs.update(method="one_at_a_time")
    return out


def _is_saved(model) -> bool:
    """A :class:`workbench.risk.artefact.SavedModel` (told by its parts, so that this module does
    not import ``artefact``, which imports it)."""
    return hasattr(model, "pipeline") and isinstance(getattr(model, "metadata", None), dict)


def _shift(model) -> float:
    from workbench.risk._linear import Recalibrated

    model = model.pipeline if _is_saved(model) else model
    return model.intercept if isinstance(model, Recalibrated) else 0.0


def _shown(value) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _binary_names(model, X: pd.DataFrame, binary) -> set[str]:
    """The yes/no predictors: given, or the saved model's spec, or (a bare pipeline) inferred."""
    if binary is not None:
        if isinstance(binary, str):
            raise ValueError(f"binary must be a list of predictor names. Got the string {binary!r} instead.")
        unknown = [b for b in binary if b not in X.columns]
        if unknown:
            raise ValueError(f"binary names {unknown} that are not predictors (columns of X).")
        return set(binary)
    spec = getattr(model, "spec", None) if _is_saved(model) else None
    if spec is not None:
        return set(spec.of_kind("binary"))
    out = set()
    for c in X.columns:  # a bare pipeline: a boolean column, or numbers that are only 0 and 1
        v = X[c].dropna()
        if pd.api.types.is_bool_dtype(v.dtype) or (
                pd.api.types.is_numeric_dtype(v.dtype) and len(v) and v.astype(float).isin((0.0, 1.0)).all()):
            out.add(str(c))
    return out


def _may_be_reason(X: pd.DataFrame, names: np.ndarray, binary: set[str]) -> np.ndarray:
    """Per person and predictor: a value is recorded and, for a yes/no predictor, it is yes."""
    ok = np.empty((len(X), len(names)), dtype=bool)
    for j, name in enumerate(names):
        col = X[name]
        ok[:, j] = col.notna().to_numpy(bool)
        if name in binary:
            if pd.api.types.is_bool_dtype(col.dtype):
                yes = col.astype("boolean").fillna(False).to_numpy(bool)
            else:
                yes = (pd.to_numeric(col.astype(object), errors="coerce") == 1).fillna(False).to_numpy(bool)
            ok[:, j] &= yes
    return ok


def top_reasons(model, X: pd.DataFrame, *, n: int = 3, reference: pd.DataFrame | Mapping | None = None,
                binary: "list[str] | None" = None) -> pd.DataFrame:
    """The ``n`` predictors that raise each person's risk most, with the contribution and the value.

    Parameters
    ----------
    model : SavedModel, Recalibrated or fitted Pipeline
        See :func:`contributions`.
    X : DataFrame
        The predictors of the people.
    n : int
        How many reasons at most (default 3).
    reference : DataFrame or mapping, optional
        The training predictors, for a bare pipeline (a saved model carries them).
    binary : list of str, optional
        The yes/no predictors. Default: the saved model's spec (``kind: binary``); for a bare
        pipeline, the columns of ``X`` that are boolean or hold only 0 and 1.

    Returns
    -------
    DataFrame
        Indexed like ``X``: ``reason_1, contribution_1, value_1, ... reason_n, contribution_n,
        value_n``. ``reason_k`` (string) is a predictor name of the spec, ``contribution_k``
        (Float64) its contribution to the log-odds, ``value_k`` (string) the person's value
        (numbers to 4 significant figures, yes as 1). A predictor is a reason only when its
        contribution is > 0 (it raises the risk), its value is recorded (a blank is never a
        reason) and, for a yes/no predictor, the person has it (value 1): largest first, ties in
        the spec's order. A person with fewer than ``k`` such predictors has ``reason_k`` and the
        rest blank. ``attrs["method"]``: see the module docstring (``one_at_a_time`` is
        approximate).

    Examples
    --------
    >>> from workbench.risk import _toy
    >>> toy = _toy.toy()
    >>> r = top_reasons(toy.pipeline, toy.X.head(2), n=2, reference=toy.X)
    >>> r.columns.tolist()
    ['reason_1', 'contribution_1', 'value_1', 'reason_2', 'contribution_2', 'value_2']
    >>> r.attrs["method"]
    'exact_log_odds'
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number >= 1. Got {n!r} instead.")
    c = contributions(model, X, reference=reference)
    names = np.asarray(c.columns, dtype=object)
    values = c.to_numpy(float)
    eligible = (values > 1e-12) & _may_be_reason(X, names, _binary_names(model, X, binary))
    ranked = np.where(eligible, values, -np.inf)
    order = np.argsort(-ranked, axis=1, kind="stable")  # largest first; ties keep the spec's order
    out: dict[str, Any] = {}
    for k in range(n):
        if k < values.shape[1]:
            at = order[:, k]
            v = values[np.arange(len(c)), at]
            up = eligible[np.arange(len(c)), at]
            reason = np.where(up, names[at], None)
            value = [_shown(X.iloc[i][names[at[i]]]) if up[i] else pd.NA for i in range(len(c))]
        else:
            up, v, reason, value = np.zeros(len(c), bool), np.full(len(c), np.nan), [None] * len(c), [pd.NA] * len(c)
        out[f"reason_{k + 1}"] = pd.array(reason, dtype="string")
        out[f"contribution_{k + 1}"] = pd.array(np.where(up, v, np.nan), dtype="Float64")
        out[f"value_{k + 1}"] = pd.array(value, dtype="string")
    frame = pd.DataFrame(out, index=X.index)
    frame.attrs.update(method=c.attrs["method"], n=int(n))
    return frame
