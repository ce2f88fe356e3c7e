"""The coordinator's side of a federated analysis: ask every site for aggregates, combine them.

Every function takes ``ask`` first (an :data:`~workbench.federated.protocol.Ask`: the in-process
:class:`~workbench.federated.local.LocalFederation`, or the Flower ServerApp's ask over its
grid) and returns a :class:`Result`: the table, what the fit needed (``info``: which sites took
part and which withheld and why, iterations, ...) and the traffic of every round (the request's
JSON bytes and every answer's ``Answer.nbytes``). :func:`run_plan` runs a list of analyses and
returns JSON values only.

Exact analyses (equal to the pooled analysis of the sites that took part, to rounding):

- :func:`km`, :func:`logrank`: from per-site events and exits per (group, time), counted by the
  Dask code (:func:`workbench.scale._survival._partition_counts` at each site), summed here and
  turned into the curve and the test by :func:`workbench.scale._survival.km_from_counts` and
  :func:`~workbench.scale._survival.logrank_from_counts` (the formulas of
  :mod:`workbench.survival`). Sites coarsen times to a grid when their small-count rule needs it
  (:mod:`workbench.federated.site`); when sites answer at different levels, a second round asks
  all of them at the coarsest one, and the result is the pooled analysis of those times.
- :func:`cox`: Newton-Raphson on the sum of the sites' log partial likelihoods, scores and
  informations (each site its own risk sets), with the rules of :func:`workbench._coxph.fit`
  (start at zero, step halving, stop when the largest step is below 1e-10 or the log-likelihood
  changes by less than 1e-13 of itself): the pooled Cox model stratified by site
  (``workbench.survival.cox(..., strata="site")``, R's ``coxph(... + strata(site))``).
- :func:`logistic`: the early-warning risk model's predictors with the preprocessing agreed from
  pooled sums (:mod:`workbench.federated._logistic`), Newton-Raphson with the same rules: the
  pooled maximum-likelihood (or fixed-ridge) fit on that design (R's ``glm``).

Approximate: :func:`fedavg_logistic`, federated averaging (McMahan et al. 2017) of local SGD
epochs, with its distance from the exact fit.

Examples
--------
>>> import pandas as pd
>>> from workbench.federated.local import LocalFederation
>>> from workbench.federated.site import Site
>>> a = pd.DataFrame({"duration": [2, 3, 3], "event": [1, 1, 0]})
>>> b = pd.DataFrame({"duration": [5, 8, 8], "event": [1, 0, 0]})
>>> ask = LocalFederation([Site("a", cohort=a, min_count=1), Site("b", cohort=b, min_count=1)])
>>> r = km(ask)
>>> r.table[["time", "at_risk", "events", "survival"]].round(6).values.tolist()
[[2.0, 6.0, 1.0, 0.833333], [3.0, 5.0, 1.0, 0.666667], [5.0, 3.0, 1.0, 0.444444], [8.0, 2.0, 0.0, 0.444444]]
>>> r.info["sites"], r.info["exact"], len(r.traffic)
(['a', 'b'], True, 1)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from workbench.federated.protocol import Answer, Request

__all__ = ["ANALYSES", "DEFAULT_WIDTHS", "FederatedError", "Metered", "Result", "cox", "fedavg_logistic", "km",
           "logistic", "logrank", "run_plan"]

#: The time grids (days) offered to sites whose small-count rule needs coarser times: each a
#: multiple of the one before (a week, 4 weeks, 12 weeks, 24, 48 and 96 weeks).
DEFAULT_WIDTHS = (7, 28, 84, 168, 336, 672)
MAX_ITERATIONS = 30      # as workbench._coxph.fit
LOGLIK_TOLERANCE = 1e-13
STEP_TOLERANCE = 1e-10


class FederatedError(RuntimeError):
    """A site refused a request (its error says why), or no site could take part."""


class Metered:
    """An ask that records every round: task, request bytes (its JSON), answer bytes per site."""

    def __init__(self, ask):
        self.ask, self.rounds = ask, []

    def __call__(self, request: Request) -> list:
        answers = list(self.ask(request))
        self.rounds.append({"round": len(self.rounds) + 1, "task": request.task,
                            "request_bytes": len(request.to_json().encode("utf-8")),
                            "answer_bytes": int(sum(a.nbytes for a in answers)),
                            "sites": {a.site: int(a.nbytes) for a in answers}})
        return answers


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


@dataclass
class Result:
    """A federated analysis: ``table`` (DataFrame), ``info`` (JSON values) and ``traffic`` (rounds)."""

    analysis: str
    table: pd.DataFrame
    info: dict = field(default_factory=dict)
    traffic: list = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return len(self.traffic)

    def to_dict(self) -> dict:
        """JSON values only: the table as ``{"index", "columns", "data"}`` (NaN as null)."""
        t = self.table
        table = {"index": [str(i) for i in t.index], "columns": [str(c) for c in t.columns],
                 "data": _jsonable(t.astype(object).where(t.notna(), None).values.tolist())}
        return {"analysis": self.analysis, "table": table, "info": _jsonable(self.info), "rounds": self.rounds,
                "traffic": _jsonable(self.traffic),
                "bytes_sent": int(sum(r["request_bytes"] for r in self.traffic)),
                "bytes_received": int(sum(r["answer_bytes"] for r in self.traffic))}

    def _repr_html_(self) -> str:
        return (f"<p>Federated {self.analysis}: sites {self.info.get('sites')}, {self.rounds} rounds</p>"
                + self.table.to_html(float_format=lambda v: f"{v:.6g}"))


def _released(answers: list[Answer]) -> tuple[list[Answer], dict[str, str]]:
    errors = {a.site: a.values["error"] for a in answers if "error" in a.values}
    if errors:
        raise FederatedError("sites refused the request: " + "; ".join(f"{s}: {e}" for s, e in errors.items()))
    withheld = {a.site: a.withheld for a in answers if a.withheld}
    released = [a for a in answers if not a.withheld]
    if not released:
        raise FederatedError(f"every site withheld its answer: {withheld}")
    return released, withheld


# --- Kaplan-Meier and log-rank -----------------------------------------------------------------

def _frame_params(endpoint, censor, duration, event, event_code) -> dict:
    return {"endpoint": endpoint, "censor": None if censor is None else str(censor), "duration": duration,
            "event": event, "event_code": int(event_code)}


def _counts(ask, *, group, widths, **frame_params):
    """Summed (group, time, events, exits, entries) over the sites, and what the sites did."""
    params = {**frame_params, "group": group, "widths": [float(w) for w in widths]}
    released, withheld = _released(ask(Request("survival_counts", params)))
    levels = {a.values["level"] for a in released}
    if len(levels) > 1:  # harmonise: everyone at the coarsest level any site needed
        released, withheld = _released(ask(Request("survival_counts", {**params, "level": max(levels)})))
    parts = []
    for a in released:
        part = pd.DataFrame({"time": a.arrays["time"].astype(float), "events": a.arrays["events"].astype(np.int64),
                             "exits": a.arrays["exits"].astype(np.int64)})
        if group is not None:
            labels = np.asarray(a.values["groups"], dtype=object)
            part.insert(0, "group", labels[a.arrays["group"].astype(int)])
        parts.append(part)
    keys = ["group", "time"] if group is not None else ["time"]
    counts = pd.concat(parts, ignore_index=True).groupby(keys, sort=True).sum().reset_index()
    counts["entries"] = 0
    level = released[0].values["level"]
    groups_withheld = {a.site: a.values["withheld_groups"] for a in released if a.values["withheld_groups"]}
    info = {"sites": [a.site for a in released], "withheld": withheld, "withheld_groups": groups_withheld,
            "level": level, "width": released[0].values["width"],
            "exact": level == 0 and not withheld and not groups_withheld, "params": params}
    return counts, info


def km(ask, *, endpoint: str | None = None, censor: str | None = None, group: str | None = None,
       duration: str = "duration", event: str = "event", event_code: int = 1, widths=DEFAULT_WIDTHS,
       ci: str = "log-log", alpha: float = 0.05) -> Result:
    """Kaplan-Meier across sites: the table of :func:`workbench.survival.km` (``group``, ``time``,
    ``at_risk``, ``events``, ``censored``, ``survival``, ``ci_low``, ``ci_high``).

    ``endpoint`` and ``censor`` name the endpoint each site builds from its tables
    (:func:`workbench.cohort.endpoints`); a site holding a cohort frame reads its ``duration`` and
    ``event`` columns. ``event_code``: the cause counted as the event (others censored).
    ``info["exact"]`` is True when every site released exact times and no group was withheld."""
    from workbench.scale._survival import km_from_counts

    meter = Metered(ask)
    counts, info = _counts(meter, group=group, widths=widths,
                           **_frame_params(endpoint, censor, duration, event, event_code))
    table = km_from_counts(counts, grouped=group is not None, entry=False, ci=ci, alpha=alpha)
    return Result("km", table, {**info, "ci": ci, "alpha": alpha}, meter.rounds)


def logrank(ask, *, group: str, endpoint: str | None = None, censor: str | None = None,
            duration: str = "duration", event: str = "event", event_code: int = 1,
            widths=DEFAULT_WIDTHS) -> Result:
    """The log-rank test across sites: ``statistic``, ``dof``, ``p_value`` (R's ``survdiff``)."""
    from workbench.scale._survival import logrank_from_counts

    meter = Metered(ask)
    counts, info = _counts(meter, group=group, widths=widths,
                           **_frame_params(endpoint, censor, duration, event, event_code))
    return Result("logrank", logrank_from_counts(counts, group=group), info, meter.rounds)


# --- Newton-Raphson on summed terms ------------------------------------------------------------

def newton(evaluate, p: int, *, penalty: np.ndarray | None = None):
    """Maximise ``loglik(beta) - beta' P beta / 2`` from zero, as :func:`workbench._coxph.fit`:
    Newton steps halved until the objective does not fall, stopping when the largest step is
    below :data:`STEP_TOLERANCE` or the objective changes by less than :data:`LOGLIK_TOLERANCE`
    of itself. ``evaluate(beta) -> (loglik, gradient, information)``. Returns beta, the inverse
    of the (penalised) information, the last terms, iterations, objective at zero, converged."""
    P = np.zeros((p, p)) if penalty is None else np.diag(np.asarray(penalty, float))

    def objective(beta):
        loglik, g, h = evaluate(beta)
        return loglik - 0.5 * beta @ P @ beta, g - P @ beta, h + P, loglik

    beta = np.zeros(p)
    current = objective(beta)
    start, converged, iteration = current[0], False, 0
    for iteration in range(1, MAX_ITERATIONS + 1):
        step = np.linalg.solve(current[2], current[1])
        for _ in range(40):
            new = objective(beta + step)
            if np.isfinite(new[0]) and new[0] >= current[0] - 1e-12 * abs(current[0]):
                break
            step = step / 2
        beta = beta + step
        change = abs(new[0] - current[0])
        current = new
        if np.max(np.abs(step)) < STEP_TOLERANCE or change <= LOGLIK_TOLERANCE * abs(current[0]):
            converged = True
            break
    return beta, np.linalg.inv(current[2]), current, iteration, start, converged


class _Terms:
    """Ask the sites for terms at ``beta``, sum them, and check the same sites answer every round."""

    def __init__(self, ask, task, params, keys):
        self.ask, self.task, self.params, self.keys = ask, task, params, keys
        self.sites = None
        self.withheld: dict[str, str] = {}
        self.values: dict[str, dict] = {}

    def __call__(self, beta):
        released, withheld = _released(self.ask(Request(self.task, {**self.params, "beta": [float(b) for b in beta]})))
        names = [a.site for a in released]
        if self.sites is None:
            self.sites, self.withheld = names, withheld
        elif names != self.sites:
            raise FederatedError(f"the sites answering changed between rounds: {self.sites} then {names}")
        self.values = {a.site: a.values for a in released}
        g, h = self.keys
        return (float(sum(a.values["loglik"] for a in released)), sum(a.arrays[g] for a in released),
                sum(a.arrays[h] for a in released))


def _wald(beta, var, names, alpha, ratio):
    se = np.sqrt(np.diag(var))
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(over="ignore"):
        out = pd.DataFrame({"coef": beta, "se": se, ratio: np.exp(beta), f"{ratio}_ci_low": np.exp(beta - z * se),
                            f"{ratio}_ci_high": np.exp(beta + z * se), "z": beta / se,
                            "p_value": 2 * stats.norm.sf(np.abs(beta / se))}, index=pd.Index(names, name="covariate"))
    out.attrs["alpha"] = alpha
    return out


def cox(ask, *, covariates, endpoint: str | None = None, censor: str | None = None, duration: str = "duration",
        event: str = "event", event_code: int = 1, ties: str = "efron", alpha: float = 0.05) -> Result:
    """A Cox model across sites, each site its own stratum (its own baseline hazard).

    ``covariates``: column names of the endpoint frame (numbers or true/false), or
    ``"column=value"`` for a 0/1 indicator (``"sex=female"``). Returns the summary of
    :class:`workbench.survival.CoxModel` (``coef, se, hr, hr_ci_low, hr_ci_high, z, p_value``);
    ``info``: ``loglik`` (R's ``fit$loglik[2]``), ``loglik0``, ``iterations``, ``converged``,
    ``n``, ``events``, ``sites``, ``withheld``. Rows with a blank covariate are left out at each
    site (a pooled fit on the complete rows)."""
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    meter = Metered(ask)
    params = {**_frame_params(endpoint, censor, duration, event, event_code), "covariates": covariates, "ties": ties}
    evaluate = _Terms(meter, "cox_terms", params, ("score", "information"))
    try:
        beta, var, current, iterations, loglik0, converged = newton(evaluate, len(covariates))
    except np.linalg.LinAlgError as err:
        raise FederatedError(f"the covariates {covariates} cannot all be estimated together ({err})") from err
    info = {"loglik": current[3], "loglik0": loglik0, "iterations": iterations, "converged": converged,
            "n": sum(v["n"] for v in evaluate.values.values()), "events": sum(v["events"] for v in evaluate.values.values()),
            "sites": evaluate.sites, "withheld": evaluate.withheld, "strata": "site", "ties": ties, "params": params}
    return Result("cox", _wald(beta, var, covariates, alpha, "hr"), info, meter.rounds)


# --- logistic regression (the risk model) ------------------------------------------------------

def _agree(meter, spec, categories, penalty):
    from workbench.federated import _logistic

    released, withheld = _released(meter(Request("logistic_summary", {"spec": spec})))
    prep = _logistic.agree([(a.values, a.arrays) for a in released], spec=spec, categories=categories,
                           penalty=penalty)
    return prep, [a.site for a in released], withheld


def _unaliased(evaluate, prep):
    """The preprocessing without the columns aliased in the pooled information at zero."""
    from workbench.federated import _logistic

    _, _, information = evaluate(np.zeros(len(prep["columns"])))
    names = _logistic.aliased(information, prep["columns"])
    return _logistic.drop_columns(prep, names) if names else prep


def _logistic_fit(meter, spec, prep, penalty):
    if not prep.get("checked_aliasing"):
        prep = _unaliased(_Terms(meter, "logistic_terms", {"spec": spec, "prep": prep}, ("gradient", "hessian")), prep)
        prep = {**prep, "checked_aliasing": True}
    p = len(prep["columns"])
    evaluate = _Terms(meter, "logistic_terms", {"spec": spec, "prep": prep}, ("gradient", "hessian"))
    ridge = np.r_[0.0, np.full(p - 1, float(penalty))] if penalty else None
    try:
        return newton(evaluate, p, penalty=ridge), evaluate, prep
    except np.linalg.LinAlgError as err:
        raise FederatedError(f"the design {prep['columns']} cannot be estimated ({err})") from err


def logistic(ask, *, spec: str = "not_improving", penalty: float = 0.0, categories: dict | None = None,
             alpha: float = 0.05) -> Result:
    """The early-warning risk model's logistic regression across sites, exact (Newton).

    ``penalty``: a fixed ridge on every coefficient but the intercept (0: maximum likelihood).
    ``categories``: fixed levels per category predictor (first = reference); default the
    levels seen in the pooled data. Returns ``coef, se, or, or_ci_low, or_ci_high, z, p_value``
    per design column; ``info["prep"]`` is the agreed preprocessing (what a site needs to
    predict), with the predictors left out by ``min_observed`` and the constant ones."""
    meter = Metered(ask)
    prep, sites, withheld = _agree(meter, spec, categories, penalty)
    (beta, var, current, iterations, loglik0, converged), evaluate, prep = _logistic_fit(meter, spec, prep, penalty)
    info = {"loglik": current[3], "iterations": iterations, "converged": converged, "n": prep["n"],
            "events": prep["events"], "sites": evaluate.sites, "withheld": {**withheld, **evaluate.withheld},
            "penalty": penalty, "prep": prep, "imputation": "pooled mean (the risk pipeline uses the median)"}
    return Result("logistic", _wald(beta, var, prep["columns"], alpha, "or"), info, meter.rounds)


def fedavg_logistic(ask, *, spec: str = "not_improving", rounds: int = 50, epochs: int = 5, lr: float = 0.05,
                    batch_size: int = 16, seed: int = 0, penalty: float = 1.0, decay: float = 0.0,
                    categories: dict | None = None) -> Result:
    """Federated averaging of local SGD epochs (McMahan et al. 2017) for the penalised logistic
    risk model, and its distance from the exact fit.

    Each round every site runs ``epochs`` epochs of mini-batch SGD from the current
    coefficients on its own rows; the new coefficients are the sites' averaged with weights their
    numbers of rows; round ``r`` uses the step size ``lr / (1 + decay r)``. The exact fit
    with the same design and ``penalty`` is computed by Newton
    (:func:`logistic`, equal to the pooled fit) and ``info["gap"]`` reports the largest absolute
    difference of the coefficients and, from one more round in which every site compares the two
    models' predicted risks over its rows, of the predicted risks. (The AUC needs the pooled
    ranks: :func:`workbench.federated.pooled.fedavg_gap` computes it on pooled data.)"""
    meter = Metered(ask)
    prep, sites, withheld = _agree(meter, spec, categories, penalty)
    (exact, *_), _, prep = _logistic_fit(meter, spec, prep, penalty)
    beta = np.zeros(len(prep["columns"]))
    for r in range(int(rounds)):
        answers, _ = _released(meter(Request("fedavg_epochs", {
            "spec": spec, "prep": prep, "beta": beta.tolist(), "epochs": int(epochs),
            "lr": float(lr) / (1.0 + float(decay) * r),
            "batch_size": int(batch_size), "seed": int(seed), "round": r, "penalty": float(penalty),
            "total": int(prep["n"])})))
        weights = np.array([a.values["n"] for a in answers], float)
        beta = sum(w * a.arrays["beta"] for w, a in zip(weights, answers)) / weights.sum()
    compared, _ = _released(meter(Request("logistic_eval", {"spec": spec, "prep": prep,
                                                            "betas": [beta.tolist(), exact.tolist()]})))
    gap = {"max_abs_coef_diff": float(np.max(np.abs(beta - exact))),
           "max_abs_risk_diff": float(max(a.values["max_abs_diff"] for a in compared))}
    table = pd.DataFrame({"coef": beta, "exact_coef": exact}, index=pd.Index(prep["columns"], name="covariate"))
    info = {"sites": sites, "withheld": withheld, "rounds_fedavg": int(rounds), "epochs": int(epochs), "lr": lr,
            "decay": decay,
            "batch_size": int(batch_size), "seed": int(seed), "penalty": penalty, "gap": gap, "prep": prep}
    return Result("fedavg_logistic", table, info, meter.rounds)


#: The analyses a plan may name.
ANALYSES = {"km": km, "logrank": logrank, "cox": cox, "logistic": logistic, "fedavg_logistic": fedavg_logistic}


def run_plan(plan: list[dict], ask) -> dict:
    """Run ``[{"analysis": name, **params}, ...]`` with ``ask``; JSON values only.

    Returns ``{"results": [...]}``: per step :meth:`Result.to_dict` plus ``params``, or
    ``{"analysis", "params", "error"}`` when the step failed (the others still run).

    Examples
    --------
    >>> import json, pandas as pd
    >>> from workbench.federated.local import LocalFederation
    >>> from workbench.federated.site import Site
    >>> c = pd.DataFrame({"duration": [1, 2, 3, 4, 5], "event": [1, 0, 1, 1, 1], "x": [0, 1, 1, 0, 1]})
    >>> ask = LocalFederation([Site("a", cohort=c, min_count=1), Site("b", cohort=c, min_count=1)])
    >>> out = run_plan([{"analysis": "km"}, {"analysis": "cox", "covariates": ["x"]}, {"analysis": "nope"}], ask)
    >>> [r.get("rounds") for r in out["results"]], out["results"][2]["error"][:39]
    ([1, 5, None], "FederatedError: unknown analysis 'nope'")
    >>> len(json.dumps(out)) > 0
    True
    """
    results = []
    for step in plan:
        step = dict(step)
        name = step.pop("analysis", None)
        try:
            if name not in ANALYSES:
                raise FederatedError(f"unknown analysis {name!r}: one of {list(ANALYSES)}")
            out = ANALYSES[name](ask, **step).to_dict()
            out["params"] = _jsonable(step)
        except (FederatedError, TypeError, ValueError) as err:
            out = {"analysis": name, "params": _jsonable(step), "error": f"{type(err).__name__}: {err}"}
        results.append(out)
    json.dumps(results)  # JSON values only, or fail here rather than in a transport
    return {"results": results}
