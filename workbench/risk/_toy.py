"""Tiny made-up models and reports for the doctests of workbench.risk (not data about anyone).

:func:`toy` fits the shipped spec's logistic pipeline (a plain penalised logistic model, no inner
cross-validation, so it is fast) on 60 made-up rows; :func:`toy_saved` is it as a SavedModel in
memory; :func:`toy_report` a small ValidationReport of it. None of them validates anything.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from workbench.risk.artefact import SavedModel, _metadata


@functools.lru_cache(maxsize=1)
def toy():
    """A tiny fitted logistic model of the shipped spec on 60 made-up rows, for the doctests:
    ``X``, ``y``, ``info``, ``pipeline``, ``tables`` (empty), ``spec``. Not data about anyone."""
    from types import SimpleNamespace

    from workbench.risk.models import build
    from workbench.risk.spec import load_spec
    from workbench.tables import Tables

    spec = load_spec()
    rng = np.random.default_rng(7)
    n = 60
    X = pd.DataFrame(index=pd.Index([f"D{k:07d}" for k in range(n)], name="decision_id"))
    for p in spec.predictors:
        if p.kind == "category":
            X[p.name] = rng.choice(np.array(["urban", "rural", None], dtype=object), n)
        elif p.source == "wearable":
            X[p.name] = 1.0 if "indicator" in p.options else np.nan
        elif p.kind == "binary":
            X[p.name] = rng.integers(0, 2, n).astype(float)
        else:
            X[p.name] = np.round(rng.normal(10, 4, n), 0)
    X.loc[X.index[::7], "last_hba1c"] = np.nan
    y = pd.Series((X["phq9_total"] + rng.normal(0, 8, n) > 12).astype(int), index=X.index, dtype="Int8")
    info = pd.DataFrame({"assessed_on": pd.date_range("2025-01-01", periods=n, freq="3D"),
                         "resident_id": [f"R{k:07d}" for k in range(n)]}, index=X.index)
    from sklearn.linear_model import LogisticRegression

    pipeline = build("logistic", spec).set_params(model=LogisticRegression(C=0.05))  # no inner CV: fast
    pipeline.fit(X, y.astype(int).to_numpy())
    return SimpleNamespace(X=X, y=y, info=info, pipeline=pipeline, tables=Tables(), spec=spec)


def toy_saved() -> SavedModel:
    """The :func:`toy` model as a SavedModel in memory (not written), for the doctests."""
    t = toy()
    return SavedModel(t.pipeline, _metadata(t.pipeline, spec=t.spec, frame=t, tables=t.tables,
                                          created="2026-01-05T09:00:00Z"), spec=t.spec)


def toy_report():
    """A small ValidationReport of the toy model (:func:`toy`) for the
    doctests: in-sample predictions labelled as both schemes. Not a validation of anything."""
    from workbench.risk.metrics import calibration_curve, net_benefit
    from workbench.risk.validation import SUBGROUP_RULE, ValidationReport, performance, subgroups

    t = toy()
    lp = np.log(t.pipeline.predict_proba(t.X)[:, 1]) - np.log(t.pipeline.predict_proba(t.X)[:, 0])
    p = 1 / (1 + np.exp(-(0.5 * lp + np.random.default_rng(3).normal(0, 1, len(lp)))))  # blurred: no separation
    n = len(p)
    base = pd.DataFrame({"decision_id": t.X.index, "y": t.y.astype(int).to_numpy(), "p": p,
                         "assessed_on": t.info["assessed_on"].to_numpy(),
                         "community": np.where(np.arange(n) % 2, "C1", "C2"),
                         "community_type": np.where(np.arange(n) % 2, "urban", "rural"),
                         "sex": np.where(np.arange(n) % 3, "female", "male"), "age_group": "60-69", "tier": 2})
    pred = pd.concat([base.assign(kind="logistic", scheme=s, split=s) for s in ("temporal", "community")],
                     ignore_index=True)
    curve = pd.concat([calibration_curve(g["y"], g["p"]).assign(kind="logistic", scheme=s)
                       for s, g in pred.groupby("scheme", sort=False)], ignore_index=True)
    dc = pd.concat([net_benefit(g["y"], g["p"]).assign(kind="logistic", scheme=s)
                    for s, g in pred.groupby("scheme", sort=False)], ignore_index=True)
    exclusions = pd.DataFrame({"step": ["population", "no_baseline", "no_review_in_window", "denominator", "events"],
                               "n": [n, 0, 0, n, int(t.y.sum())], "en": ["rows", "no baseline", "no review",
                                                                           "denominator", "events"],
                               "zh": ["行数", "无基线", "无复评", "分母", "事件"]})
    return ValidationReport(predictions=pred, performance=performance(pred),
                            by_split=performance(pred, by=("kind", "scheme", "split")), calibration_curve=curve,
                            decision_curve=dc, subgroups=subgroups(pred), exclusions=exclusions,
                            cut=pd.Timestamp("2025-04-01"), spec=t.spec,
                            attrs={"model": t.spec.model_id, "subgroup_rule": dict(SUBGROUP_RULE)})
