"""The risk model's logistic regression across sites: the site side (summaries, design, terms,
local SGD) and the agreement of the preprocessing from pooled summaries.

The early-warning model (:func:`workbench.risk.models.build` ``"logistic"``) imputes numeric and
binary predictors with the median and a missing indicator, standardises them, one-hot encodes
categories with a ``"missing"`` level, and fits an L2-penalised logistic regression whose
strength is chosen by cross-validation. Across sites, each step is agreed from pooled sums so
every site builds the same design:

- predictors: the spec's ``min_observed`` rule applied to the POOLED counts of recorded rows and
  events (as :func:`workbench.risk.models.observed_counts` on the pooled frame);
- imputation: the pooled MEAN of the recorded values (a median cannot be computed from sums;
  this is the one deliberate difference from the pipeline), plus a missing indicator for every
  predictor blank for at least the spec's ``min_observed`` rows with at least its events of the
  less frequent outcome among them (the pipeline adds one for every predictor blank at least
  once; an indicator of 3 blanks fitted without a penalty is an infinite coefficient: the blanks
  were all non-events in the sample, and the spec's own rule says a weight learned from a
  handful of people is noise);
- standardisation: the pooled mean and the pooled population SD (``ddof=0``, as
  ``StandardScaler``) of the imputed column, from per-site counts, sums and sums of squared
  deviations about the site mean combined exactly (Chan et al. 1979); the indicators are
  standardised too (they pass through the scaler in the pipeline); a column constant in the
  pooled data is left out (nothing to estimate without a penalty);
- categories: the levels seen in the pooled data (sorted; ``"missing"`` added when a value is
  blank), or the levels a plan fixes (the spec declares none for ``community_type``); the first
  is the reference, the others 0/1 columns (the pipeline keeps every level and lets the penalty
  resolve the redundancy);
- aliasing: a column that is a linear combination of the columns before it in the pooled data
  (the sample's ``last_dbp`` indicator: blank exactly when ``last_sbp`` is) is left out, decided
  from the pooled information at zero (:func:`aliased`; R's ``glm`` gives such coefficients as NA);
- penalty: none by default, or a fixed ridge ``penalty / 2 * |beta|^2`` on every coefficient but
  the intercept (the pipeline's cross-validated ``C`` needs the rows of held-out folds; a fixed
  penalty keeps Newton exact).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from workbench.risk.spec import load_spec
>>> Z = np.array([[1., -1.], [1., 0.], [1., 1.], [1., 2.]]); y = np.array([0., 1., 0., 1.])
>>> loglik, gradient, hessian = terms(Z, y, np.zeros(2))
>>> round(loglik, 6), gradient.tolist()
(-2.772589, [0.0, 1.0])
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

__all__ = ["agree", "aliased", "design_matrix", "drop_columns", "predict", "sgd", "site_data", "site_seed", "summarise", "terms"]


def site_data(tables, *, spec="not_improving"):
    """``X`` (the spec's predictors) and ``y`` (0/1 floats) of the referrals with a known outcome,
    from :func:`workbench.risk.dataset.model_frame` (with the tables' wearable days when any)."""
    from workbench.risk.dataset import model_frame

    wearable = tables.wearable_days if len(tables.wearable_days) else None
    frame = model_frame(tables, spec=spec, wearable_days=wearable).complete()
    return frame.X, frame.y.astype(int).to_numpy(float)


def _kinds(X: pd.DataFrame):
    numeric = [c for c in X.columns if X[c].dtype != object]
    category = [c for c in X.columns if X[c].dtype == object]
    return numeric, category


def summarise(X: pd.DataFrame, y: np.ndarray) -> tuple[dict, dict]:
    """A site's aggregates: rows and events; per numeric or binary predictor the recorded count,
    sum, sum of squared deviations about the site's mean and events among the recorded; per
    category the count of each level, the blanks and the events among the recorded."""
    numeric, category = _kinds(X)
    values = np.asarray(X[numeric], dtype=float)
    seen = ~np.isnan(values)
    n_obs = seen.sum(axis=0)
    sums = np.where(seen, values, 0.0).sum(axis=0)
    means = np.divide(sums, n_obs, out=np.zeros_like(sums), where=n_obs > 0)
    m2 = np.where(seen, (values - means) ** 2, 0.0).sum(axis=0)
    cats = {}
    for c in category:
        v = X[c]
        known = v.notna().to_numpy(bool)
        cats[c] = {"levels": {str(k): int(n) for k, n in v[known].astype(str).value_counts().sort_index().items()},
                   "missing": int((~known).sum()), "events_obs": int(y[known].sum())}
    out_values = {"n": int(len(y)), "events": int(y.sum()), "numeric": numeric, "categories": cats}
    arrays = {"n_obs": n_obs.astype(np.int64), "sum": sums, "m2": m2,
              "events_obs": (seen & (y == 1)[:, None]).sum(axis=0).astype(np.int64)}
    return out_values, arrays


def agree(summaries: list[tuple[dict, dict]], *, spec="not_improving", categories: dict | None = None,
          penalty: float = 0.0) -> dict:
    """The preprocessing every site applies (JSON), from the sites' :func:`summarise` outputs."""
    from workbench.risk.spec import _as_spec

    spec = _as_spec(spec)
    first = summaries[0][0]
    numeric = list(first["numeric"])
    n = sum(v["n"] for v, _ in summaries)
    events = sum(v["events"] for v, _ in summaries)
    n_obs = sum(a["n_obs"] for _, a in summaries).astype(float)
    total = sum(a["sum"] for _, a in summaries)
    mean = np.divide(total, n_obs, out=np.zeros_like(total), where=n_obs > 0)
    m2 = np.zeros_like(total)
    for _, a in summaries:
        k = a["n_obs"].astype(float)
        site_mean = np.divide(a["sum"], k, out=np.zeros_like(total), where=k > 0)
        m2 += a["m2"] + k * (site_mean - mean) ** 2
    ev_obs = sum(a["events_obs"] for _, a in summaries)
    rows = {name: int(n_obs[i]) for i, name in enumerate(numeric)}
    evs = {name: int(ev_obs[i]) for i, name in enumerate(numeric)}
    levels: dict[str, dict[str, int]] = {}
    for c in first["categories"]:
        counts: dict[str, int] = {}
        missing = 0
        for v, _ in summaries:
            for level, k in v["categories"][c]["levels"].items():
                counts[level] = counts.get(level, 0) + k
            missing += v["categories"][c]["missing"]
        rows[c] = n - missing
        evs[c] = sum(v["categories"][c]["events_obs"] for v, _ in summaries)
        levels[c] = {**dict(sorted(counts.items())), **({"missing": missing} if missing else {})}
    rule = spec.min_observed
    min_rows, min_events = int(rule.get("rows", 1)), int(rule.get("events", 1))
    reason = {}
    for p in spec.predictors:
        r, e = rows[p.name], evs[p.name]
        reason[p.name] = "too_few_rows" if r < min_rows else "too_few_events" if min(e, r - e) < min_events else ""
    for p in spec.predictors:
        if "indicator" in p.options and not reason[p.name]:
            family = [q.name for q in spec.predictors if q.source == p.source and "indicator" not in q.options]
            if family and all(reason[f] for f in family):
                reason[p.name] = "family_left_out"
    prep = {"spec": spec.id, "n": n, "events": events, "penalty": float(penalty), "numeric": [],
            "categories": [], "left_out": {k: v for k, v in reason.items() if v}, "constant": [],
            "columns": ["intercept"]}
    indicators = []
    for i, name in enumerate(numeric):
        if reason[name]:
            continue
        missing = n - int(n_obs[i])
        scale = float(np.sqrt(m2[i] / n))
        if scale == 0:
            prep["constant"].append(name)
            continue
        entry = {"name": name, "impute": float(mean[i]), "mean": float(mean[i]), "scale": scale, "indicator": None}
        missing_events = events - evs[name]
        if missing and missing >= min_rows and min(missing_events, missing - missing_events) >= min_events:
            q = missing / n
            entry["indicator"] = {"mean": q, "scale": float(np.sqrt(q * (1 - q)))}
            indicators.append(name)
        prep["numeric"].append(entry)
        prep["columns"].append(name)
    prep["columns"] += [f"missingindicator_{name}" for name in indicators]
    for c, counts in levels.items():
        if reason[c]:
            continue
        kept = list(categories[c]) if categories and c in categories else [k for k, v in counts.items() if v > 0]
        if len(kept) < 2:
            prep["constant"].append(c)
            continue
        prep["categories"].append({"name": c, "levels": kept, "reference": kept[0]})
        prep["columns"] += [f"{c}_{level}" for level in kept[1:]]
    prep["design_columns"] = list(prep["columns"])
    prep["aliased"] = []
    return prep


def aliased(information: np.ndarray, columns: list[str], *, tol: float = 1e-7) -> list[str]:
    """Columns that are linear combinations of the columns before them (R's ``glm`` gives their
    coefficients as NA), from the pooled information ``Z' W Z``: taken in order, a column is
    aliased when its variance left after the columns kept before it is below ``tol`` times its
    own (the sequential pivoting of R's QR with its tolerance 1e-7).

    >>> Z = np.array([[1., 0., 0.], [1., 1., 1.], [1., 0., 0.], [1., 1., 1.]])
    >>> aliased(Z.T @ Z, ["intercept", "a", "b"])
    ['b']
    """
    kept: list[int] = []
    out = []
    for j, name in enumerate(columns):
        h = information[j, j]
        if kept:
            k = information[np.ix_(kept, kept)]
            c = information[kept, j]
            h = h - c @ np.linalg.solve(k, c)
        if h <= tol * information[j, j] or information[j, j] <= 0:
            out.append(name)
        else:
            kept.append(j)
    return out


def drop_columns(prep: dict, names: list[str]) -> dict:
    """The preprocessing with ``names`` left out of the design (``aliased``)."""
    out = dict(prep)
    out["aliased"] = [*prep.get("aliased", []), *names]
    out["columns"] = [c for c in prep["columns"] if c not in names]
    return out


def design_matrix(X: pd.DataFrame, prep: dict) -> np.ndarray:
    """The agreed design: an intercept, the standardised imputed predictors, their standardised
    missing indicators, then the 0/1 columns of the categories' non-reference levels."""
    if not isinstance(prep, dict) or "numeric" not in prep:
        raise ValueError("prep must be the agreed preprocessing (a dict from agree())")
    cols = [np.ones(len(X))]
    ind = []
    for e in prep["numeric"]:
        x = pd.to_numeric(X[e["name"]], errors="coerce").to_numpy(float)
        miss = np.isnan(x)
        cols.append((np.where(miss, e["impute"], x) - e["mean"]) / e["scale"])
        if e["indicator"] is not None:
            ind.append((miss.astype(float) - e["indicator"]["mean"]) / e["indicator"]["scale"])
    cols += ind
    for c in prep["categories"]:
        v = X[c["name"]].astype(object)
        text = np.where(pd.isna(v), "missing", v.astype(str)).astype(object)
        cols += [(text == level).astype(float) for level in c["levels"][1:]]
    full = list(prep.get("design_columns", prep["columns"]))
    return np.column_stack(cols)[:, [full.index(c) for c in prep["columns"]]]


def terms(Z: np.ndarray, y: np.ndarray, beta: np.ndarray):
    """Log-likelihood, its gradient ``Z'(y - p)`` and the information ``Z' W Z`` at ``beta``."""
    eta = Z @ beta
    p = np.exp(-np.logaddexp(0.0, -eta))
    loglik = float(y @ eta - np.logaddexp(0.0, eta).sum())
    w = p * (1 - p)
    return loglik, Z.T @ (y - p), (Z * w[:, None]).T @ Z


def predict(Z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Predicted probabilities ``1 / (1 + exp(-Z beta))``."""
    return np.exp(-np.logaddexp(0.0, -(Z @ beta)))


def site_seed(name: str) -> int:
    """A site's own stream of random numbers: CRC-32 of its name (stable across processes)."""
    return zlib.crc32(name.encode("utf-8"))


def sgd(Z: np.ndarray, y: np.ndarray, beta: np.ndarray, *, epochs: int, lr: float, batch_size: int, seed,
        penalty: float = 0.0, total: int | None = None) -> np.ndarray:
    """Local mini-batch SGD epochs on the mean log loss plus ``penalty / (2 total) |beta|^2`` (no
    penalty on the intercept; ``total`` the pooled number of rows, so that the sites' objectives
    add up to the pooled one), from ``beta``; rows shuffled each epoch with ``seed``."""
    beta = np.array(beta, dtype=float)
    rng = np.random.default_rng(seed)
    shrink = np.r_[0.0, np.ones(len(beta) - 1)] * penalty / float(total or len(y))
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            b = order[start:start + batch_size]
            p = predict(Z[b], beta)
            beta -= lr * (Z[b].T @ (p - y[b]) / len(b) + shrink * beta)
    return beta
