"""Health economics of the service model: costs from resource use, incremental
cost-effectiveness ratios (ICER) and the return on investment of the psychological
intervention, each with a seeded, arm-stratified, non-parametric bootstrap.

Unit costs are parameters: nothing here knows what a session or an admission costs, so the
caller states the prices (and their year and source) in the analysis. Resource use comes from
the analysis tables (:func:`resource_use`: events and attended contacts over a study's costing
period). Missing data: a missing
cost, use or effect is never counted as 0. Each analysis is complete-case; the number of rows
it excluded is the ``n_excluded`` column and their index is in ``result.attrs["excluded"]``.
Values that are present but not numbers, negative costs or use, and missing arms raise
:class:`EconomicsDataError`, which names every bad row.

Bootstrap: within each arm, persons are resampled with replacement (``n_boot`` times, with
``numpy.random.default_rng(seed)``), and percentile intervals are taken. The same ``seed`` and
data give the same intervals.

Checked in ``tests/test_economics.py`` against hand computations and against base R
(``tests/reference/economics/make_reference.R``) to 5 significant figures on seeded data:
complete-case counts, means, deltas, ICER, cost per remission and ROI, and the percentile
intervals recomputed by R from the very resamples drawn here (written out by
``make_economics_data.py`` beside the script).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError, other_arms
from workbench.params import ALPHA, COLUMN, FRAME, TABLES, Interval, Predicate, check, validate_params

__all__ = ["EconomicsDataError", "ceac", "cost_effectiveness", "costs_from_use", "resource_use",
           "return_on_investment"]


class EconomicsDataError(RowProblemsError):
    """Input that cannot be analysed; names every bad row (row, column, value, rule)."""

    def __init__(self, function: str, problems: list[tuple]):
        super().__init__(problems, context=f"the data of {function}")


# --- parameter rules and data checks -------------------------------------------------------------

#: The bootstrap's parameters, shared by the analyses that resample.
BOOTSTRAP = {"n_boot": Interval(int, 100, None), "seed": Interval(int, 0, None), "alpha": ALPHA}


def _unit_costs_ok(value: Any) -> bool:
    return (isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) for k in value)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0
                    for v in value.values()))


def _kinds(value: Any, allowed=None) -> bool:
    return (isinstance(value, (tuple, list)) and all(isinstance(v, str) and v for v in value)
            and (allowed is None or set(value) <= set(allowed)))


def _event_kinds() -> tuple[str, ...]:
    from workbench.tables import EVENT_KINDS

    return tuple(EVENT_KINDS)


def _numeric(data: pd.DataFrame, column: str, problems: list, *, nonnegative: bool) -> pd.Series:
    raw = data[column]
    values = pd.to_numeric(raw.astype(object).where(raw.notna(), np.nan), errors="coerce").astype(float)
    bad = (raw.notna().to_numpy() & values.isna().to_numpy()) | np.isinf(values.to_numpy())
    for i in np.flatnonzero(bad):
        problems.append((data.index[i], column, raw.iloc[i], "must be a number (or missing)"))
    if nonnegative:
        for i in np.flatnonzero((values < 0).to_numpy()):
            problems.append((data.index[i], column, raw.iloc[i], "must not be negative"))
    return values


def _prepare(data: pd.DataFrame, function: str, *, arm: str, reference: Any, columns: dict[str, bool]):
    absent = [c for c in [arm, *columns] if c not in data.columns]
    if absent:
        raise EconomicsDataError(function, [(None, c, None, "is absent from the data") for c in absent])
    problems: list[tuple] = []
    for i in np.flatnonzero(data[arm].isna().to_numpy()):
        problems.append((data.index[i], arm, None, "is missing: every row needs an arm"))
    frame = pd.DataFrame({c: _numeric(data, c, problems, nonnegative=nn) for c, nn in columns.items()},
                         index=data.index)
    if problems:
        raise EconomicsDataError(function, problems)
    frame.insert(0, "_arm", data[arm])
    levels = sorted(data[arm].unique(), key=str)
    others = other_arms(levels, reference, arm=arm, function=function)
    return frame, others


def _boot_index_chunks(rng: np.random.Generator, n: int, n_boot: int):
    """The resamples of one arm: blocks of at most 200 rows of ``n`` row positions drawn with
    replacement (``rng.integers(0, n, size=(rows, n))``), n_boot rows in all.

    This is the only place the bootstrap draws from ``rng``; ``tests/reference/economics``
    rebuilds the same index matrices from the seed through it, and R recomputes the intervals
    from them.
    """
    for start in range(0, n_boot, 200):                      # bounded memory
        yield rng.integers(0, n, size=(min(200, n_boot - start), n))


def _boot_means(rng: np.random.Generator, values: np.ndarray, n_boot: int) -> np.ndarray:
    """Bootstrap means of the columns of ``values`` (persons x variables): n_boot x variables."""
    out = np.empty((n_boot, values.shape[1]))
    start = 0
    for idx in _boot_index_chunks(rng, len(values), n_boot):
        out[start:start + len(idx)] = values[idx].mean(axis=1)
        start += len(idx)
    return out


def _percentile(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan
    low, high = np.quantile(x, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


# --- resource use from the analysis tables ------------------------------------------------------

@validate_params({"tables": TABLES, "days": Interval(int, 1, None),
                  "events": Predicate(lambda v: _kinds(v, _event_kinds()),
                                      lambda: f"a tuple of event kinds among {list(_event_kinds())}"),
                  "contacts": Predicate(_kinds, "a tuple of contact kinds (str)")})
def resource_use(tables, *, study: str = "rct_12m", days: int = 365,
                 events: tuple[str, ...] = ("er_visit", "hospitalisation"),
                 contacts: tuple[str, ...] = ("treatment",)) -> pd.DataFrame:
    """Resource use per resident enrolled in a study, over ``days`` from their enrolment.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``enrolments``, ``events``, ``contacts``).
    study : str
        The study whose enrolled residents are counted (default the 12-month trial).
    days : int
        The costing period: events and contacts on ``enrolled_on`` up to the day before
        ``enrolled_on + days``.
    events : tuple of str
        Event kinds to count (``events.kind``), one column each, named as the kind.
    contacts : tuple of str
        Contact kinds to count, attended only (``contacts.status == "attended"``), one column
        each, named ``{kind}_contacts``.

    Returns
    -------
    DataFrame
        One row per enrolled resident (sorted): ``resident_id, arm, enrolled_on``, then the
        counts (int64; a resident with none has 0: the tables hold every recorded event and
        contact). Feed them to :func:`costs_from_use` with the unit costs. ``attrs``: ``study``,
        ``days``.

    Notes
    -----
    Counts are not shortened for residents who die or leave within the period; join the
    ``death`` events if the analysis needs that.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> use = resource_use(load_sample())
    >>> list(use.columns), len(use)
    (['resident_id', 'arm', 'enrolled_on', 'er_visit', 'hospitalisation', 'treatment_contacts'], 500)
    """
    from workbench.tables import TABLES

    fn = "resource_use"
    for name in ("enrolments", "events", "contacts"):
        absent = [c for c in TABLES[name].names if c not in tables[name].columns]
        if absent:
            raise ValueError(f"{fn}: the {name} table lacks the declared column(s) {absent}.")
    e = tables.enrolments
    enrolled = e.loc[e["study"] == study, ["resident_id", "arm", "enrolled_on"]]
    studies = sorted(e["study"].dropna().unique())
    check(fn, "study", study, Predicate(lambda s: not enrolled.empty, f"a study with enrolments {studies}"))
    out = enrolled.sort_values("resident_id", ignore_index=True)
    period = pd.Timedelta(days=int(days))

    def counts(frame: pd.DataFrame, when: str, kind: str, kinds, name) -> None:
        hits = frame[frame[kind].isin(list(kinds)).fillna(False).to_numpy(bool)].merge(
            out[["resident_id", "enrolled_on"]], on="resident_id")
        hits = hits[(hits[when] >= hits["enrolled_on"]) & (hits[when] < hits["enrolled_on"] + period)]
        table = hits.groupby(["resident_id", kind], observed=True).size().unstack(fill_value=0)
        for k in kinds:
            values = out["resident_id"].map(table[k]) if k in table.columns else pd.Series(0, index=out.index)
            out[name(k)] = values.fillna(0).astype("int64").to_numpy()

    counts(tables.events, "event_on", "kind", events, lambda k: k)
    c = tables.contacts
    counts(c[(c["status"] == "attended").fillna(False).to_numpy(bool)], "contact_on", "kind", contacts,
           lambda k: f"{k}_contacts")
    out.attrs.update(study=study, days=int(days))
    return out


# --- costs from resource use ----------------------------------------------------------------------

@validate_params({"data": FRAME, "unit_costs": Predicate(_unit_costs_ok, "a non-empty mapping of column names "
                                                                        "to non-negative finite numbers")})
def costs_from_use(data: pd.DataFrame, *, unit_costs: Mapping[str, float]) -> pd.Series:
    """Cost per person: resource-use counts times unit costs, summed over resources.

    Parameters
    ----------
    data : DataFrame
        One row per person, one column per resource (e.g. ``sessions``, ``er_visits``,
        ``admissions``) holding counts over the costing period.
    unit_costs : mapping of str to float
        Column -> price per unit (e.g. yuan per session), stated by the caller; there are no
        defaults. Every column named must be in ``data``.

    Returns
    -------
    Series
        Named ``cost``, same index as ``data``. A person with any missing use has a missing
        cost (never a partial sum that treats the blank as 0).

    Examples
    --------
    >>> import pandas as pd
    >>> use = pd.DataFrame({"sessions": [6, 0, None], "er_visits": [1, 2, 0], "admissions": [0, 1, 0]})
    >>> costs_from_use(use, unit_costs={"sessions": 150, "er_visits": 400, "admissions": 8000})
    0    1300.0
    1    8800.0
    2       NaN
    Name: cost, dtype: float64
    """
    absent = [c for c in unit_costs if c not in data.columns]
    if absent:
        raise EconomicsDataError("costs_from_use", [(None, c, None, "is absent from the data") for c in absent])
    problems: list[tuple] = []
    use = pd.DataFrame({c: _numeric(data, c, problems, nonnegative=True) for c in unit_costs}, index=data.index)
    if problems:
        raise EconomicsDataError("costs_from_use", problems)
    prices = pd.Series(dict(unit_costs), dtype=float)
    cost = (use * prices).sum(axis=1, min_count=len(prices)).where(use.notna().all(axis=1))
    return cost.rename("cost")


# --- cost-effectiveness ---------------------------------------------------------------------------

@validate_params({"data": FRAME, "arm": COLUMN, "cost": COLUMN, "effect": COLUMN, **BOOTSTRAP,
                  "return_replicates": Predicate(lambda v: isinstance(v, bool), "True or False")})
def cost_effectiveness(data: pd.DataFrame, *, arm: str, cost: str, effect: str, reference: Any,
                       n_boot: int = 2000, seed: int = 0, alpha: float = 0.05,
                       return_replicates: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Incremental cost-effectiveness of each arm against the reference arm, with bootstrap CIs.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    arm : str
        Column of the arm (never missing).
    cost : str
        Column of cost per person (e.g. from :func:`costs_from_use`); not negative.
    effect : str
        Column of the effect per person (e.g. QALYs, or PHQ-9 points improved; larger = better).
    reference : scalar
        The comparator arm, e.g. ``"usual_care"``.
    n_boot : int
        Bootstrap replicates (>= 100).
    seed : int
        Seed of ``numpy.random.default_rng``; same seed and data, same intervals.
    alpha : float
        1 - confidence level of the percentile intervals.
    return_replicates : bool
        Also return the bootstrap replicates (for the cost-effectiveness plane and :func:`ceac`).

    Returns
    -------
    DataFrame, or (DataFrame, DataFrame) with ``return_replicates=True``
        One row per non-reference arm (sorted): ``arm, n, n_reference, n_excluded, mean_cost,
        mean_cost_reference, mean_effect, mean_effect_reference, delta_cost, delta_cost_ci_low,
        delta_cost_ci_high, delta_effect, delta_effect_ci_low, delta_effect_ci_high, icer,
        icer_ci_low, icer_ci_high, cost_per_effect, cost_per_effect_reference``.
        ``attrs`` has ``alpha``, ``n_boot``, ``seed``, ``excluded`` (index of rows with a missing
        cost or effect), ``n_missing_effect`` and ``n_missing_cost`` (how many of them lack each)
        and ``notes`` (a list of strings, see below). The replicates: one row per
        arm and replicate, ``arm, replicate, delta_cost, delta_effect`` (the very draws behind the
        intervals).

    Notes
    -----
    ``delta_cost = mean_cost - mean_cost_reference``, likewise ``delta_effect``;
    ``icer = delta_cost / delta_effect`` (NaN when ``delta_effect`` is 0);
    ``cost_per_effect = mean_cost / mean_effect`` (an average, not incremental, ratio).

    Bootstrap: persons are resampled with replacement within each arm (stratified), the
    deltas and the ICER are recomputed, and percentile limits are taken. A ratio is unstable
    when its denominator can be 0: if the interval of ``delta_effect`` includes 0 the ICER's
    replicates jump between large positive and negative values and their percentiles mean
    nothing, so ``icer_ci_low`` and ``icer_ci_high`` are NaN and ``attrs["notes"]`` says so.
    Report the cost-effectiveness plane or acceptability curve instead. Replicates for the arms
    are drawn in arm order from one generator: for each non-reference arm, that arm's
    resamples, then the reference arm's.

    With a 0/1 ``effect`` (e.g. remission), ``cost_per_effect`` is the cost per remission
    (total cost / remissions) and the ICER the incremental cost per extra remission. A missing
    effect (e.g. remission of a resident not at caseness at baseline, which does not apply) drops
    the row, counted in ``n_excluded``; it is never read as 0 (no remission).
    Checked against base R to 5 significant figures (module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["usual"] * 3 + ["psy"] * 3,
    ...                   "cost": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
    ...                   "qaly": [0.50, 0.60, 0.70, 0.70, 0.80, 0.90]})
    >>> r = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual")
    >>> r[["arm", "delta_cost", "delta_effect", "icer"]].round(2)  # 300 / 0.2
       arm  delta_cost  delta_effect    icer
    0  psy       300.0           0.2  1500.0
    """
    function = "cost_effectiveness"
    draws, excluded = _ce_draws(data, function, arm=arm, cost=cost, effect=effect, reference=reference,
                                n_boot=n_boot, seed=seed)
    rows, notes, replicates = [], [], []
    for a, n_excl, sub, ref, bdc, bde in draws:
        m, m0 = sub.mean(axis=0), ref.mean(axis=0)
        dc, de = m[0] - m0[0], m[1] - m0[1]
        replicates.append(pd.DataFrame({"arm": a, "replicate": np.arange(n_boot), "delta_cost": bdc,
                                        "delta_effect": bde}))
        dc_ci, de_ci = _percentile(bdc, alpha), _percentile(bde, alpha)
        if de_ci[0] <= 0 <= de_ci[1]:
            icer_ci = (np.nan, np.nan)
            notes.append(f"{a!r} vs {reference!r}: the interval of delta_effect ({de_ci[0]:.4g}, {de_ci[1]:.4g}) "
                         f"includes 0, so the ICER interval is not defined (NaN); use the cost-effectiveness "
                         f"plane or an acceptability curve.")
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                icer_ci = _percentile(bdc / bde, alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            rows.append(dict(arm=a, n=len(sub), n_reference=len(ref), n_excluded=n_excl,
                             mean_cost=m[0], mean_cost_reference=m0[0], mean_effect=m[1],
                             mean_effect_reference=m0[1], delta_cost=dc, delta_cost_ci_low=dc_ci[0],
                             delta_cost_ci_high=dc_ci[1], delta_effect=de, delta_effect_ci_low=de_ci[0],
                             delta_effect_ci_high=de_ci[1], icer=dc / de if de != 0 else np.nan,
                             icer_ci_low=icer_ci[0], icer_ci_high=icer_ci[1],
                             cost_per_effect=m[0] / m[1] if m[1] != 0 else np.nan,
                             cost_per_effect_reference=m0[0] / m0[1] if m0[1] != 0 else np.nan))
    out = pd.DataFrame(rows)
    raw = data.loc[excluded]
    out.attrs.update(alpha=alpha, n_boot=n_boot, seed=seed, excluded=excluded, notes=notes,
                     n_missing_effect=int(raw[effect].isna().sum()), n_missing_cost=int(raw[cost].isna().sum()))
    if return_replicates:
        reps = pd.concat(replicates, ignore_index=True)
        reps.attrs.update(n_boot=n_boot, seed=seed, reference=reference, cost=cost, effect=effect)
        return out, reps
    return out


def _ce_draws(data: pd.DataFrame, function: str, *, arm: str, cost: str, effect: str, reference: Any,
              n_boot: int, seed: int):
    """Complete rows by arm and the bootstrap deltas of (cost, effect): a list of
    ``(arm, n_excluded, arm rows, reference rows, delta_cost replicates, delta_effect replicates)``
    and the index of the excluded rows (a missing cost or effect, never read as 0)."""
    frame, others = _prepare(data, function, arm=arm, reference=reference, columns={cost: True, effect: False})
    keep = frame[[cost, effect]].notna().all(axis=1)
    excluded = frame.index[~keep]
    frame = frame[keep]
    rng = np.random.default_rng(seed)
    ref = frame.loc[frame["_arm"] == reference, [cost, effect]].to_numpy()
    out = []
    for a in others:
        sub = frame.loc[frame["_arm"] == a, [cost, effect]].to_numpy()
        n_excl = int(((data.loc[excluded, arm] == a) | (data.loc[excluded, arm] == reference)).sum())
        if len(sub) < 2 or len(ref) < 2:
            raise ValueError(f"Arms {a!r} and {reference!r} need at least 2 complete rows each for "
                             f"{function}. Got {len(sub)} and {len(ref)}.")
        b, b0 = _boot_means(rng, sub, n_boot), _boot_means(rng, ref, n_boot)
        out.append((a, n_excl, sub, ref, b[:, 0] - b0[:, 0], b[:, 1] - b0[:, 1]))
    return out, excluded


def _wtp_ok(value: Any) -> bool:
    try:
        w = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        return False
    return len(w) > 0 and bool(np.all(np.isfinite(w))) and bool(np.all(w >= 0))


@validate_params({"replicates": FRAME,
                  "wtp": Predicate(_wtp_ok, "a non-empty sequence of finite willingness-to-pay values >= 0")})
def ceac(replicates: pd.DataFrame, *, wtp: Any) -> pd.DataFrame:
    """Cost-effectiveness acceptability curve: the probability that each arm is cost-effective
    against the reference at each willingness to pay (WTP) per unit of effect.

    Parameters
    ----------
    replicates : DataFrame
        The bootstrap replicates of :func:`cost_effectiveness` (``return_replicates=True``):
        ``arm``, ``replicate``, ``delta_cost``, ``delta_effect``.
    wtp : sequence of float
        Willingness to pay per unit of effect (e.g. yuan per extra remission), each >= 0.

    Returns
    -------
    DataFrame
        One row per arm and WTP: ``arm``, ``wtp``, ``probability`` (share of replicates with a
        positive net monetary benefit, ``wtp * delta_effect - delta_cost > 0``), ``n_boot``.

    Notes
    -----
    Net monetary benefit (Stinnett & Mullahy 1998, Med Decis Making 18:S68); the curve as in
    Fenwick, Claxton & Sculpher 2001 (Health Econ 10:779). A replicate with a net benefit of
    exactly 0 is not counted as cost-effective.

    Examples
    --------
    >>> import pandas as pd
    >>> reps = pd.DataFrame({"arm": "psy", "replicate": range(4), "delta_cost": [100.0, 200.0, 300.0, -50.0],
    ...                      "delta_effect": [0.1, 0.1, 0.1, -0.1]})
    >>> ceac(reps, wtp=[0, 1500, 2500, 5000])
       arm   wtp  probability  n_boot
    0  psy     0         0.25       4
    1  psy  1500         0.25       4
    2  psy  2500         0.50       4
    3  psy  5000         0.75       4
    """
    absent = [c for c in ("arm", "delta_cost", "delta_effect") if c not in replicates.columns]
    if absent:
        raise EconomicsDataError("ceac", [(None, c, None, "is absent from the replicates") for c in absent])
    problems: list[tuple] = []
    dc = _numeric(replicates, "delta_cost", problems, nonnegative=False)
    de = _numeric(replicates, "delta_effect", problems, nonnegative=False)
    for name, v in (("delta_cost", dc), ("delta_effect", de)):
        for i in np.flatnonzero(v.isna().to_numpy()):
            problems.append((replicates.index[i], name, None, "is missing: every replicate needs both deltas"))
    if problems:
        raise EconomicsDataError("ceac", problems)
    w = np.asarray(wtp, dtype=float).ravel()
    rows = []
    for a in sorted(replicates["arm"].unique(), key=str):
        mask = (replicates["arm"] == a).to_numpy()
        c, e = dc.to_numpy()[mask], de.to_numpy()[mask]
        for k in w:
            rows.append({"arm": a, "wtp": k, "probability": float(np.mean(k * e - c > 0)), "n_boot": int(mask.sum())})
    out = pd.DataFrame(rows)
    if np.all(w == np.round(w)):
        out["wtp"] = out["wtp"].astype(np.int64)
    return out


# --- return on investment -------------------------------------------------------------------------

@validate_params({"data": FRAME, "arm": COLUMN, "intervention_cost": COLUMN, "medical_cost": COLUMN, **BOOTSTRAP})
def return_on_investment(data: pd.DataFrame, *, arm: str, intervention_cost: str, medical_cost: str,
                         reference: Any, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Yuan of medical cost saved per yuan spent on the intervention, with a bootstrap CI.

    ``roi = (mean medical cost in reference - mean medical cost in arm) / mean intervention cost
    in arm``. To test a claim such as "1 yuan of psychological intervention saves 3.5 yuan of
    medical cost", see whether 3.5 lies inside ``(roi_ci_low, roi_ci_high)``.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    arm : str
        Column of the arm (never missing).
    intervention_cost : str
        Column of the intervention's cost per person; used in the non-reference arms only.
    medical_cost : str
        Column of medical cost per person (e.g. from :func:`costs_from_use`).
    reference : scalar
        The arm without the intervention.
    n_boot, seed, alpha
        As :func:`cost_effectiveness`.

    Returns
    -------
    DataFrame
        One row per non-reference arm (sorted): ``arm, n, n_reference, n_excluded,
        mean_intervention_cost, mean_medical_cost, mean_medical_cost_reference,
        medical_cost_saved, roi, roi_ci_low, roi_ci_high``. ``attrs`` has ``alpha``,
        ``n_boot``, ``seed`` and ``excluded``.

    Notes
    -----
    Complete-case: a reference row needs ``medical_cost``; an intervention row needs both.
    The bootstrap resamples persons within each arm; the percentile interval of the ratio is
    reported. A mean intervention cost of 0 in an arm is an error (the ratio is undefined).
    Savings are not discounted; discount the cost columns first if the period exceeds a year.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["usual"] * 3 + ["psy"] * 3,
    ...                   "psy_cost": [0, 0, 0, 100, 100, 100],
    ...                   "med_cost": [1000, 1400, 1200, 800, 900, 1000]})
    >>> r = return_on_investment(d, arm="arm", intervention_cost="psy_cost", medical_cost="med_cost",
    ...                          reference="usual")
    >>> r[["arm", "medical_cost_saved", "roi"]]  # (1200 - 900) / 100
       arm  medical_cost_saved  roi
    0  psy               300.0  3.0
    """
    function = "return_on_investment"
    frame, others = _prepare(data, function, arm=arm, reference=reference,
                             columns={intervention_cost: True, medical_cost: True})
    is_ref = frame["_arm"] == reference
    keep = frame[medical_cost].notna() & (is_ref | frame[intervention_cost].notna())
    excluded = frame.index[~keep]
    frame = frame[keep]
    rng = np.random.default_rng(seed)
    ref = frame.loc[frame["_arm"] == reference, [medical_cost]].to_numpy()
    rows = []
    for a in others:
        sub = frame.loc[frame["_arm"] == a, [intervention_cost, medical_cost]].to_numpy()
        if len(sub) < 2 or len(ref) < 2:
            raise ValueError(f"Arms {a!r} and {reference!r} need at least 2 complete rows each for "
                             f"{function}. Got {len(sub)} and {len(ref)}.")
        m, m0 = sub.mean(axis=0), ref.mean(axis=0)
        if m[0] <= 0:
            raise ValueError(f"The mean intervention cost in arm {a!r} is 0, so the return on investment is "
                             f"undefined. Check the '{intervention_cost}' column.")
        b, b0 = _boot_means(rng, sub, n_boot), _boot_means(rng, ref, n_boot)
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = _percentile((b0[:, 0] - b[:, 1]) / b[:, 0], alpha)
        n_excl = int(((data.loc[excluded, arm] == a) | (data.loc[excluded, arm] == reference)).sum())
        rows.append(dict(arm=a, n=len(sub), n_reference=len(ref), n_excluded=n_excl,
                         mean_intervention_cost=m[0], mean_medical_cost=m[1], mean_medical_cost_reference=m0[0],
                         medical_cost_saved=m0[0] - m[1], roi=(m0[0] - m[1]) / m[0], roi_ci_low=low,
                         roi_ci_high=high))
    out = pd.DataFrame(rows)
    out.attrs.update(alpha=alpha, n_boot=n_boot, seed=seed, excluded=excluded)
    return out
