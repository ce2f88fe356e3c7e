"""A site of a federation: it keeps its own records and answers a coordinator's requests with
aggregates only.

:class:`Site` holds either its analysis tables (read from its own registry with
:meth:`Site.from_registry`, pseudonymised) or a ready cohort frame (one row per subject, named
columns: the benchmark's 200,000-row cohorts). :meth:`Site.answer` takes a
:class:`~workbench.federated.protocol.Request` and returns an
:class:`~workbench.federated.protocol.Answer`; it never raises: a request it cannot or will not
answer gets an answer whose ``values["error"]`` says why, and nothing else.

Tasks (:data:`TASKS`; every parameter a task does not declare is refused, so is every task not
listed: no task returns rows):

``survival_counts``
    Events and exits per (group, time) of an endpoint, counted by
    :func:`workbench.scale._survival._partition_counts` (the per-partition counts summed for
    Dask): the coordinator sums them and computes Kaplan-Meier and the log-rank test with the
    formulas of :mod:`workbench.survival`.
``cox_terms``
    Log partial likelihood, score and information of a Cox model at a given ``beta``
    (:func:`workbench._coxph.terms`: R's agfit4 term by term), the site's own risk sets: summed
    over sites, they are those of the pooled Cox model stratified by site.
``logistic_summary``, ``logistic_terms``, ``fedavg_epochs``, ``logistic_eval``
    The risk model's frame (:func:`workbench.risk.dataset.model_frame`): the aggregates the
    preprocessing is agreed from, the log-likelihood gradient and Hessian at ``beta``, local SGD
    epochs from ``beta`` (FedAvg), and the largest difference in predicted risk between two
    coefficient vectors (see :mod:`workbench.federated._logistic`).

Small counts (``min_count``, the site's own setting; a request cannot change it)
-------------------------------------------------------------------------------
- ``survival_counts``: a released cell is the number of events, or of censorings, of one group
  at one time. The site releases its counts at the finest level at which every nonzero cell of
  every group is at least ``min_count``: level 0 is the exact times, level ``k`` the times
  rounded up to a multiple of ``widths[k-1]`` (``widths`` offered by the coordinator, each a
  multiple of the one before, so the levels nest and a cell of a coarser level is a sum of cells
  of a finer one: a level that passes, passes every coarser level too). A group that fails even
  at the coarsest level is withheld (named in ``values["withheld_groups"]``); when every group
  fails the whole answer is withheld. A coordinator may ask for a given ``level``; groups that
  fail at it are withheld. Exactness: with ``min_count=1`` every level-0 cell passes, the counts
  are exact and so are Kaplan-Meier and log-rank (equal to the pooled analysis to rounding). With
  a threshold the result is exactly the pooled analysis of the released groups with every time
  rounded up to the level's grid (the analysis the coordinator reports, with its level), not
  the analysis of the exact times.
- ``cox_terms``, ``logistic_*``, ``fedavg_epochs``: the answer is withheld when the site has
  fewer than ``min_count`` subjects or events (logistic: or non-events) in the analysis; a site
  that answers releases sums over all its rows (score, information, gradient, Hessian), never
  cells. The coordinator reports which sites took part; the fit is exactly the pooled fit of
  those sites. Note that sums over all rows are not free of small counts: the information of a
  0/1 covariate at ``beta = 0`` contains how many of the site's subjects have it, and
  ``logistic_summary`` releases, per predictor, how many of the site's referrals have it recorded
  (so how many are blank) and, per category, how many have each level: the exact pooled
  preprocessing needs them. The rule here protects small sites and small event counts, not rare
  covariate values or rare blanks; a site that must hide those too cannot take part in an exact
  logistic fit without secure aggregation (not provided).
- Errors name the column and the rule broken and how many rows break it, never a row's values.

Examples
--------
>>> import pandas as pd
>>> from workbench.federated.protocol import Request
>>> cohort = pd.DataFrame({"duration": [2, 3, 3, 5, 8, 8], "event": [1, 1, 0, 1, 0, 0]})
>>> site = Site("north", cohort=cohort, min_count=1)
>>> a = site.answer(Request("survival_counts", {}))
>>> a.values["level"], a.arrays["time"].tolist(), a.arrays["events"].tolist(), a.arrays["exits"].tolist()
(0, [2.0, 3.0, 5.0, 8.0], [1, 1, 1, 0], [1, 2, 1, 2])
>>> site.answer(Request("rows", {})).values["error"]
"unknown task 'rows': a site answers only ['describe', 'survival_counts', 'cox_terms', 'logistic_summary', 'logistic_terms', 'fedavg_epochs', 'logistic_eval'] and never returns rows"
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from workbench.federated.protocol import Answer, Request

__all__ = ["DEFAULT_MIN_COUNT", "TASKS", "Site", "SiteRequestError", "coarsen", "endpoint_frame"]

#: The small-count threshold of a site configured without one (the workbench's export rule).
DEFAULT_MIN_COUNT = 5

_FRAME = {"endpoint": None, "censor": None, "duration": "duration", "event": "event", "event_code": 1}
#: Each task and the parameters it accepts, with their defaults (None: optional).
TASKS: dict[str, dict[str, Any]] = {
    "describe": {},
    "survival_counts": {**_FRAME, "group": None, "widths": [], "level": None},
    "cox_terms": {**_FRAME, "covariates": [], "beta": None, "ties": "efron"},
    "logistic_summary": {"spec": "not_improving"},
    "logistic_terms": {"spec": "not_improving", "prep": None, "beta": None},
    "fedavg_epochs": {"spec": "not_improving", "prep": None, "beta": None, "epochs": 1, "lr": 0.1,
                      "batch_size": 32, "seed": 0, "round": 0, "penalty": 0.0, "total": None},
    "logistic_eval": {"spec": "not_improving", "prep": None, "betas": None},
}


class SiteRequestError(ValueError):
    """A request a site refuses (unknown task or parameter, bad value); the text goes back as the
    answer's ``values["error"]``."""


def _key(**params) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _covariate(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A covariate column as floats: a numeric or true/false column, or ``column=value`` (1 where
    the column equals the value, 0 elsewhere, NaN where blank)."""
    column, _, level = name.partition("=")
    if column not in frame.columns:
        raise SiteRequestError(f"covariate {name!r}: the analysis frame has no column {column!r}")
    values = frame[column]
    if level:
        text = values.astype(object)
        return np.where(pd.isna(text), np.nan, (text.astype(str) == level).astype(float))
    numeric = pd.to_numeric(values.astype(object), errors="coerce") if values.dtype.kind in "bO" or \
        str(values.dtype) in ("boolean", "string") else pd.to_numeric(values, errors="coerce")
    out = np.asarray(pd.Series(numeric, dtype="float64"), dtype=float)
    if np.isnan(out).sum() > pd.isna(values).sum():
        raise SiteRequestError(f"covariate {name!r} is not a number: name a level as '{column}=<value>'")
    return out


def endpoint_frame(source, *, endpoint: str | None = None, censor: str | None = None, duration: str = "duration",
                   event: str = "event", event_code: int = 1, group: str | None = None,
                   covariates=()) -> pd.DataFrame:
    """The survival frame a site analyses: ``duration``, ``event`` (1 where the endpoint's event
    column equals ``event_code``, else 0: other causes censored, the cause-specific analysis),
    ``group`` (when given, as text) and one float column per covariate.

    ``source`` is a site's analysis tables (the frame is then
    :func:`workbench.cohort.endpoints` of ``endpoint`` with ``censor`` as the censor date) or a
    cohort DataFrame (rows of ``endpoint`` only when it has an ``endpoint`` column and one is
    named). The pooled references build the pooled frame with this same function.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> f = endpoint_frame(load_sample(), endpoint="dropout", censor="2026-12-31", group="community_type",
    ...                    covariates=["age", "sex=female"])
    >>> list(f.columns), int(f["event"].sum())
    (['duration', 'event', 'group', 'age', 'sex=female'], 178)
    """
    if isinstance(source, pd.DataFrame):
        frame = source
        if endpoint is not None and "endpoint" in frame.columns:
            frame = frame[(frame["endpoint"] == endpoint).to_numpy(bool)]
    else:
        from workbench.cohort import ENDPOINTS, endpoints

        if endpoint not in ENDPOINTS:
            raise SiteRequestError(f"endpoint must be one of {list(ENDPOINTS)}; got {endpoint!r}")
        if censor is None:
            raise SiteRequestError("censor (the censor date) is required to build an endpoint from the tables")
        frame = endpoints(source, censor_date=censor, which=[endpoint])
    for column in (duration, event, group):
        if column is not None and column not in frame.columns:
            raise SiteRequestError(f"the analysis frame has no column {column!r}")
    code = pd.to_numeric(frame[event], errors="coerce")
    out = pd.DataFrame({"duration": pd.to_numeric(frame[duration], errors="coerce").to_numpy(float),
                        "event": np.where(code.isna(), np.nan, (code == event_code).astype(float))})
    if group is not None:
        out["group"] = frame[group].astype(object).where(frame[group].notna(), None).map(
            lambda v: v if v is None else str(v)).to_numpy(object)
    for name in covariates:
        out[name] = _covariate(frame, name)
    return out


def coarsen(time: np.ndarray, width: float | None) -> np.ndarray:
    """Times rounded up to a multiple of ``width`` (None: unchanged).

    >>> coarsen(np.array([1., 7., 8., 30.]), 7).tolist()
    [7.0, 7.0, 14.0, 35.0]
    """
    return time if width is None else np.ceil(np.asarray(time, float) / width) * width


def _small(values: np.ndarray, min_count: int) -> bool:
    return bool(((values > 0) & (values < min_count)).any())


class Site:
    """One site: its name, its records (analysis tables or a cohort frame) and its small-count rule.

    Parameters
    ----------
    name : str
        The site's name (its own configuration; every answer carries it).
    tables : workbench.tables.Tables, optional
        The site's analysis tables.
    cohort : DataFrame, optional
        A ready cohort frame instead (survival and Cox tasks only).
    min_count : int
        The smallest count the site releases (see the module docstring); default
        :data:`DEFAULT_MIN_COUNT`.
    """

    def __init__(self, name: str, tables=None, *, cohort: pd.DataFrame | None = None,
                 min_count: int = DEFAULT_MIN_COUNT):
        if not isinstance(name, str) or not name:
            raise ValueError(f"A site needs a name (a non-empty str). Got {name!r}.")
        if (tables is None) == (cohort is None):
            raise ValueError("A site holds either its analysis tables or a cohort frame (one of tables=, cohort=).")
        if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
            raise ValueError(f"The 'min_count' parameter of Site must be a whole number >= 1. Got {min_count!r} instead.")
        self.name, self.tables, self.cohort, self.min_count = name, tables, cohort, int(min_count)
        self._cache: dict[str, Any] = {}

    @classmethod
    def from_registry(cls, url: str, *, name: str, user: str, min_count: int = DEFAULT_MIN_COUNT,
                      key_file: str | None = None) -> "Site":
        """A site reading its own registry: ``Registry(url).analysis_tables(as_user=user,
        pseudonymised=True)`` (an analyst's pseudonymised view)."""
        from workbench.registry.store import Registry

        tables = Registry(url).analysis_tables(as_user=user, pseudonymised=True, key_file=key_file)
        return cls(name, tables, min_count=min_count)

    def __repr__(self) -> str:
        what = f"cohort={len(self.cohort):,} rows" if self.cohort is not None else repr(self.tables)
        return f"Site({self.name!r}, {what}, min_count={self.min_count})"

    # --- the one entry point -------------------------------------------------------------------

    def answer(self, request: Request) -> Answer:
        """The site's answer to ``request`` (never raises: a refusal is an answer with ``error``)."""
        task = getattr(request, "task", None)
        try:
            if task not in TASKS:
                raise SiteRequestError(f"unknown task {task!r}: a site answers only {list(TASKS)} and never returns rows")
            params = dict(request.params or {})
            unknown = sorted(set(params) - set(TASKS[task]))
            if unknown:
                raise SiteRequestError(f"task {task!r} takes no parameter {unknown} (it takes {sorted(TASKS[task])})")
            params = {**TASKS[task], **params}
            return getattr(self, "_" + task)(**params)
        except Exception as err:  # noqa: BLE001 - every failure becomes an answer, never a traceback with data
            text = str(err) if isinstance(err, SiteRequestError) else _describe(err)
            return Answer(site=self.name, task=str(task), values={"error": text}, withheld=f"error: {text}")

    # --- tasks ---------------------------------------------------------------------------------

    def _describe(self) -> Answer:
        kind = "cohort" if self.cohort is not None else "tables"
        return Answer(site=self.name, task="describe", values={"source": kind, "min_count": self.min_count,
                                                               "tasks": list(TASKS)})

    def _frame(self, **params) -> pd.DataFrame:
        key = _key(frame=params)
        if key not in self._cache:
            source = self.cohort if self.cohort is not None else self.tables
            self._cache[key] = endpoint_frame(source, **params)
        return self._cache[key]

    def _survival_counts(self, *, group, widths, level, **frame_params) -> Answer:
        from workbench.scale._survival import _partition_counts

        widths = _check_widths(widths)
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                                  or not 0 <= level <= len(widths)):
            raise SiteRequestError(f"level must be a whole number from 0 to {len(widths)} (the widths offered); "
                                   f"got {level!r}")
        frame = self._frame(group=group, **frame_params)
        counts, problems = _partition_counts(frame, 0, duration="duration", event="event",
                                             group=None if group is None else "group", entry=None)
        if problems:
            raise SiteRequestError(_problem_summary(problems))
        labels = sorted(counts["group"].unique()) if group is not None else [None]
        chosen, released = self._survival_level(counts, labels, widths, level)
        width = None if chosen == 0 else widths[chosen - 1]
        parts, kept, withheld = [], [], []
        for i, label in enumerate(labels):
            if label not in released:
                withheld.append(label)
                continue
            part = counts if label is None else counts[counts["group"] == label]
            part = _coarse_table(part, width)
            if label is not None:
                part["group"] = len(kept)
                kept.append(label)
            parts.append(part)
        values = {"level": chosen, "width": width, "groups": kept if group is not None else None,
                  "withheld_groups": withheld, "min_count": self.min_count}
        if not parts:
            return Answer(site=self.name, task="survival_counts", values=values,
                          withheld=f"every group has a count below the site's min_count ({self.min_count}) at the "
                                   "coarsest time grid offered")
        table = pd.concat(parts, ignore_index=True)
        arrays = {"time": table["time"].to_numpy(float), "events": table["events"].to_numpy(np.int64),
                  "exits": table["exits"].to_numpy(np.int64)}
        if group is not None:
            arrays["group"] = table["group"].to_numpy(np.int64)
        return Answer(site=self.name, task="survival_counts", values=values, arrays=arrays)

    def _survival_level(self, counts, labels, widths, level):
        """The level the site releases at (the finest at which some group passes, or the one
        asked for) and the groups that pass at it."""
        levels = [level] if level is not None else list(range(len(widths) + 1))
        finest: dict[Any, int] = {}
        for label in labels:
            part = counts if label is None else counts[counts["group"] == label]
            for lv in levels:
                t = _coarse_table(part, None if lv == 0 else widths[lv - 1])
                if not (_small(t["events"].to_numpy(), self.min_count)
                        or _small((t["exits"] - t["events"]).to_numpy(), self.min_count)):
                    finest[label] = lv
                    break
        if level is not None:
            return level, set(finest)
        chosen = max(finest.values(), default=0)
        return chosen, set(finest)   # nested grids: a group passing at a finer level passes at `chosen`

    def _cox_design(self, *, covariates, ties, **frame_params):
        from workbench import _coxph

        key = _key(cox=frame_params, covariates=covariates, ties=ties)
        if key not in self._cache:
            if not isinstance(covariates, list) or not covariates or not all(isinstance(c, str) for c in covariates):
                raise SiteRequestError("covariates must be a non-empty list of column names")
            if ties not in ("efron", "breslow"):
                raise SiteRequestError(f"ties must be 'efron' or 'breslow'; got {ties!r}")
            frame = self._frame(covariates=covariates, **frame_params)
            bad = frame["duration"].isna() | (frame["duration"] < 0) | frame["event"].isna()
            if bad.any():
                raise SiteRequestError(f"{int(bad.sum())} rows have a missing or negative duration or a missing event")
            complete = frame[covariates].notna().all(axis=1).to_numpy(bool)
            frame = frame[complete]
            n, events = len(frame), int(frame["event"].sum())
            design = None
            if n >= self.min_count and events >= self.min_count:
                design = _coxph.design(frame[covariates].to_numpy(float), frame["duration"].to_numpy(float),
                                       frame["event"].to_numpy(float), efron=ties == "efron")
            dropped = int((~complete).sum())
            self._cache[key] = (design, n, events, dropped)
        return self._cache[key]

    def _cox_terms(self, *, beta, **params) -> Answer:
        from workbench import _coxph

        design, n, events, dropped = self._cox_design(**params)
        p = len(params["covariates"])
        beta = _vector(beta, p, "beta")
        if design is None:
            return Answer(site=self.name, task="cox_terms", values={"min_count": self.min_count},
                          withheld=f"fewer than min_count ({self.min_count}) subjects or events")
        t = _coxph.terms(design, beta)
        return Answer(site=self.name, task="cox_terms",
                      values={"loglik": t.loglik, "n": n, "events": events,
                              "dropped": dropped if dropped == 0 or dropped >= self.min_count else None},
                      arrays={"score": np.asarray(t.score, float), "information": np.asarray(t.info, float)})

    # --- logistic (the risk model) -------------------------------------------------------------

    def _risk_frame(self, spec):
        from workbench.federated import _logistic

        if self.tables is None:
            raise SiteRequestError("this site holds a cohort frame, not analysis tables: it has no risk model frame")
        key = _key(risk=spec)
        if key not in self._cache:
            self._cache[key] = _logistic.site_data(self.tables, spec=spec)
        return self._cache[key]

    def _too_few(self, y: np.ndarray) -> str | None:
        n, events = len(y), int(y.sum())
        if min(n, events, n - events) < self.min_count:
            return f"fewer than min_count ({self.min_count}) referrals, events or non-events"
        return None

    def _logistic_summary(self, *, spec) -> Answer:
        from workbench.federated import _logistic

        X, y = self._risk_frame(spec)
        reason = self._too_few(y)
        if reason:
            return Answer(site=self.name, task="logistic_summary", values={"min_count": self.min_count}, withheld=reason)
        values, arrays = _logistic.summarise(X, y)
        return Answer(site=self.name, task="logistic_summary", values=values, arrays=arrays)

    def _prepared(self, spec, prep):
        from workbench.federated import _logistic

        X, y = self._risk_frame(spec)
        key = _key(design=spec, prep=prep)
        if key not in self._cache:
            self._cache[key] = _logistic.design_matrix(X, prep)
        return self._cache[key], y

    def _logistic_terms(self, *, spec, prep, beta) -> Answer:
        from workbench.federated import _logistic

        Z, y = self._prepared(spec, prep)
        reason = self._too_few(y)
        if reason:
            return Answer(site=self.name, task="logistic_terms", values={"min_count": self.min_count}, withheld=reason)
        loglik, gradient, hessian = _logistic.terms(Z, y, _vector(beta, Z.shape[1], "beta"))
        return Answer(site=self.name, task="logistic_terms", values={"loglik": loglik, "n": len(y), "events": int(y.sum())},
                      arrays={"gradient": gradient, "hessian": hessian})

    def _fedavg_epochs(self, *, spec, prep, beta, epochs, lr, batch_size, seed, round, penalty, total) -> Answer:
        from workbench.federated import _logistic

        Z, y = self._prepared(spec, prep)
        reason = self._too_few(y)
        if reason:
            return Answer(site=self.name, task="fedavg_epochs", values={"min_count": self.min_count}, withheld=reason)
        beta = _logistic.sgd(Z, y, _vector(beta, Z.shape[1], "beta"), epochs=int(epochs), lr=float(lr),
                             batch_size=int(batch_size), seed=[int(seed), int(round), _logistic.site_seed(self.name)],
                             penalty=float(penalty), total=int(total or len(y)))
        return Answer(site=self.name, task="fedavg_epochs", values={"n": len(y)}, arrays={"beta": beta})

    def _logistic_eval(self, *, spec, prep, betas) -> Answer:
        from workbench.federated import _logistic

        Z, y = self._prepared(spec, prep)
        reason = self._too_few(y)
        if reason:
            return Answer(site=self.name, task="logistic_eval", values={"min_count": self.min_count}, withheld=reason)
        if not isinstance(betas, list) or len(betas) != 2:
            raise SiteRequestError("betas must be a list of two coefficient vectors")
        a, b = (_logistic.predict(Z, _vector(v, Z.shape[1], "betas")) for v in betas)
        return Answer(site=self.name, task="logistic_eval", values={"max_abs_diff": float(np.max(np.abs(a - b)))})


def _vector(value, p: int, name: str) -> np.ndarray:
    if value is None:
        return np.zeros(p)
    try:
        out = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SiteRequestError(f"{name} must be a list of {p} numbers") from None
    if out.shape != (p,) or not np.isfinite(out).all():
        raise SiteRequestError(f"{name} must be a list of {p} finite numbers; got {len(np.atleast_1d(out))}")
    return out


def _check_widths(widths) -> list[float]:
    if not isinstance(widths, (list, tuple)) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 for w in widths):
        raise SiteRequestError(f"widths must be a list of positive numbers (days); got {widths!r}")
    for a, b in zip(widths, widths[1:]):
        if b <= a or abs(b / a - round(b / a)) > 1e-9:
            raise SiteRequestError(f"each width must be a multiple of the one before (the grids nest); {b} after {a}")
    return [float(w) for w in widths]


def _coarse_table(part: pd.DataFrame, width: float | None) -> pd.DataFrame:
    """A group's counts with times rounded up to the grid, summed per coarse time."""
    out = pd.DataFrame({"time": coarsen(part["time"].to_numpy(float), width),
                        "events": part["events"].to_numpy(float), "exits": part["exits"].to_numpy(float)})
    out = out.groupby("time", sort=True).sum().reset_index()
    return out.astype({"events": np.int64, "exits": np.int64})


def _problem_summary(problems: list[tuple]) -> str:
    """How many rows break which rule, per column: never the rows' values."""
    rules: dict[tuple[str, str], int] = {}
    for p in problems:
        column, rule = p[-3], p[-1]
        rules[(str(column), str(rule))] = rules.get((str(column), str(rule)), 0) + 1
    return "; ".join(f"{n} rows: {column!r} {rule}" for (column, rule), n in rules.items())


def _describe(err: Exception) -> str:
    """An error's kind and, for the workbench's problems errors, its rules without row values."""
    problems = getattr(err, "problems", None)
    if isinstance(problems, pd.DataFrame) and {"column", "rule"} <= set(problems.columns):
        return f"{type(err).__name__}: " + _problem_summary(list(zip(problems["column"], problems.get(
            "value", [None] * len(problems)), problems["rule"])))
    return f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
