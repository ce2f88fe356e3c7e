"""Pooled reference analyses: what each federated analysis must equal, computed on all the sites'
rows at once with the workbench's ordinary engines (for tests, the notebook and the R checks).

``parts`` is a mapping site name -> the site's analysis tables (:func:`split_tables`) or cohort
frame; the pooled frame is the sites' frames one under the other with a ``site`` column, built
by :func:`workbench.federated.site.endpoint_frame` (what each site builds for itself).

Examples
--------
>>> import pandas as pd
>>> a = pd.DataFrame({"duration": [2, 3, 3], "event": [1, 1, 0]})
>>> b = pd.DataFrame({"duration": [5, 8, 8], "event": [1, 0, 0]})
>>> pooled_km({"a": a, "b": b})["survival"].round(6).tolist()
[0.833333, 0.666667, 0.444444, 0.444444]
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from workbench.federated.site import coarsen, endpoint_frame

__all__ = ["fedavg_gap", "pooled_cox", "pooled_design", "pooled_frame", "pooled_km", "pooled_logistic",
           "pooled_logrank"]


def pooled_frame(parts: Mapping, *, endpoint=None, censor=None, duration="duration", event="event", event_code=1,
                 group=None, covariates=(), width=None) -> pd.DataFrame:
    """The sites' endpoint frames stacked, with ``site``; ``width``: times rounded up to it."""
    frames = []
    for site, source in parts.items():
        f = endpoint_frame(source, endpoint=endpoint, censor=None if censor is None else str(censor),
                           duration=duration, event=event, event_code=event_code, group=group,
                           covariates=list(covariates))
        frames.append(f.assign(site=site))
    out = pd.concat(frames, ignore_index=True)
    out["duration"] = coarsen(out["duration"].to_numpy(float), width)
    return out


def pooled_km(parts: Mapping, *, group=None, ci="log-log", alpha=0.05, width=None, **frame) -> pd.DataFrame:
    """:func:`workbench.survival.km` on the pooled frame."""
    from workbench import survival

    f = pooled_frame(parts, group=group, width=width, **frame)
    return survival.km(f, duration="duration", event="event", group=None if group is None else "group",
                       ci=ci, alpha=alpha)


def pooled_logrank(parts: Mapping, *, group, width=None, **frame) -> pd.DataFrame:
    """:func:`workbench.survival.logrank` on the pooled frame."""
    from workbench import survival

    f = pooled_frame(parts, group=group, width=width, **frame)
    return survival.logrank(f, duration="duration", event="event", group="group")


def pooled_cox(parts: Mapping, *, covariates, ties="efron", alpha=0.05, **frame):
    """:func:`workbench.survival.cox` on the pooled frame's complete rows with ``strata="site"``
    (R's ``coxph(Surv(duration, event) ~ covariates + strata(site))``). Returns the CoxModel."""
    from workbench import survival

    covariates = list(covariates)
    f = pooled_frame(parts, covariates=covariates, **frame)
    f = f[f[covariates].notna().all(axis=1)].reset_index(drop=True)
    return survival.cox(f, duration="duration", event="event", covariates=covariates, strata="site", ties=ties,
                        alpha=alpha)


def pooled_design(parts: Mapping, *, spec="not_improving", penalty=0.0, categories=None):
    """The pooled risk-model design: ``Z`` (the agreed columns, from the pooled rows' own
    summary), ``y`` and the preprocessing ``prep`` (equal to the federated one)."""
    from workbench.federated import _logistic
    from workbench.federated.sites import concat_tables

    X, y = _logistic.site_data(concat_tables(parts), spec=spec)
    prep = _logistic.agree([_logistic.summarise(X, y)], spec=spec, categories=categories, penalty=penalty)
    _, _, information = _logistic.terms(_logistic.design_matrix(X, prep), y, np.zeros(len(prep["columns"])))
    names = _logistic.aliased(information, prep["columns"])
    prep = {**_logistic.drop_columns(prep, names), "checked_aliasing": True}
    return _logistic.design_matrix(X, prep), y, prep


def pooled_logistic(parts: Mapping, *, spec="not_improving", penalty=0.0, categories=None, alpha=0.05):
    """The logistic fit on the pooled design (Newton with the rules of the federated fit).
    Returns ``(table, prep)``: ``coef, se, or, ...`` per column, and the preprocessing."""
    from workbench.federated import _logistic
    from workbench.federated.analyses import _wald, newton

    Z, y, prep = pooled_design(parts, spec=spec, penalty=penalty, categories=categories)
    ridge = np.r_[0.0, np.full(Z.shape[1] - 1, float(penalty))] if penalty else None
    beta, var, current, *_ = newton(lambda b: _logistic.terms(Z, y, b), Z.shape[1], penalty=ridge)
    table = _wald(beta, var, prep["columns"], alpha, "or")
    table.attrs["loglik"] = current[3]
    return table, prep


def fedavg_gap(parts: Mapping, result) -> dict:
    """How far a :func:`~workbench.federated.analyses.fedavg_logistic` result is from the exact
    fit, on the pooled rows: largest coefficient and predicted-risk differences and the
    difference in AUC (FedAvg minus exact)."""
    from sklearn.metrics import roc_auc_score

    from workbench.federated import _logistic

    prep = result.info["prep"]
    Z, y, pooled_prep = pooled_design(parts, spec=prep["spec"], penalty=prep["penalty"])
    a = _logistic.predict(Z, result.table["coef"].to_numpy(float))
    b = _logistic.predict(Z, result.table["exact_coef"].to_numpy(float))
    return {"max_abs_coef_diff": float(np.max(np.abs(result.table["coef"] - result.table["exact_coef"]))),
            "max_abs_risk_diff": float(np.max(np.abs(a - b))),
            "auc_fedavg": float(roc_auc_score(y, a)), "auc_exact": float(roc_auc_score(y, b)),
            "auc_diff": float(roc_auc_score(y, a) - roc_auc_score(y, b))}
