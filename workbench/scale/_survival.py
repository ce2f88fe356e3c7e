"""Kaplan-Meier and the log-rank test over a partitioned cohort, exactly.

Both depend on the data only through the number of events and exits (and entries) at each
distinct time in each group. Every partition counts its own; the counts are summed in a tree
(:func:`workbench.scale._compute.aggregate`); the curve and the test are then computed from the
summed counts with the formulas of :mod:`workbench.survival`, so the results are those of
``workbench.survival.km`` and ``logrank`` on the whole data at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError
from workbench.scale._compute import aggregate, as_dask, problems_of, sum_tables
from workbench.params import ALPHA, validate_params
from workbench.survival import CI, _check, _km_curve, _quantile, logrank_from_tables, logrank_p_value

COUNT_COLUMNS = ["events", "exits", "entries"]


def _group_values(column: pd.Series) -> pd.Series:
    # categories may differ between partitions; the labels are put back in order at the end
    return column.astype(object) if isinstance(column.dtype, pd.CategoricalDtype) else column


def _partition_counts(frame: pd.DataFrame, number: int, *, duration: str, event: str, group: str | None,
                      entry: str | None):
    """Events, exits and entries per (group, time) of one partition, or its problems."""
    try:
        _check(frame, duration=duration, event=event, entry=entry, group=group)
    except RowProblemsError as err:
        return None, problems_of(err, number)
    keys = ["group", "time"] if group is not None else ["time"]
    exits = pd.DataFrame({"time": frame[duration].to_numpy(float), "events": frame[event].to_numpy(float),
                          "exits": np.ones(len(frame), dtype=np.int64), "entries": np.zeros(len(frame), dtype=np.int64)})
    parts = [exits]
    if entry is not None:
        parts.append(pd.DataFrame({"time": frame[entry].to_numpy(float), "events": np.zeros(len(frame)),
                                   "exits": np.zeros(len(frame), dtype=np.int64),
                                   "entries": np.ones(len(frame), dtype=np.int64)}))
    if group is not None:
        labels = _group_values(frame[group]).to_numpy()
        for part in parts:
            part.insert(0, "group", labels)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else exits
    return table.groupby(keys, sort=False, observed=True).sum().reset_index(), []


def survival_counts(data, *, duration: str, event: str, group: str | None = None, entry: str | None = None,
                    client=None) -> pd.DataFrame:
    """Events, exits and entries per group and distinct time, summed over every partition.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per subject.
    duration, event, group, entry : str
        As in :func:`workbench.survival.km`.
    client : distributed.Client, str or None
        Where to compute: a client, a scheduler address, or None for Dask's current default.

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``time`` (float), ``events``, ``exits`` (subjects whose
        follow-up ends at ``time``, with or without an event) and ``entries`` (subjects entering
        at ``time``; all 0 without ``entry``), sorted by group and time.

    Raises
    ------
    ScaleDataError
        If a column is absent or a row breaks a rule of :func:`workbench.survival.km`; every
        bad row is named as ``(partition, label)``; nothing is computed.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [2, 3, 3, 5], "died": [1, 1, 0, 0]})
    >>> survival_counts(d, duration="days", event="died", client=None)
       time  events  exits  entries
    0   2.0       1      1        0
    1   3.0       1      2        0
    2   5.0       0      1        0
    """
    columns = [c for c in (group, duration, event, entry) if c is not None]
    ddf = as_dask(data, columns)
    keys = ["group", "time"] if group is not None else ["time"]

    def per_partition(frame, number):
        return _partition_counts(frame, number, duration=duration, event=event, group=group, entry=entry)

    table = aggregate(ddf, per_partition, sum_tables(keys), client=client, context="the survival data")
    if table is None or not len(table):
        table = pd.DataFrame({k: pd.Series(dtype=float) for k in keys + COUNT_COLUMNS})
    table["events"] = table["events"].round().astype(np.int64)
    if group is not None:
        dtype = ddf[group].dtype
        if isinstance(dtype, pd.CategoricalDtype) and "__UNKNOWN_CATEGORIES__" not in dtype.categories:
            table["group"] = table["group"].astype(dtype)
    out = table.sort_values(keys, ignore_index=True)[keys + COUNT_COLUMNS]
    out.attrs["time_dtype"] = ddf[duration].dtype
    return out


def _groups(counts: pd.DataFrame, grouped: bool):
    if not grouped:
        return [(None, counts)]
    return list(counts.groupby("group", sort=True, observed=True))


def km_from_counts(counts: pd.DataFrame, *, grouped: bool, entry: bool, ci: str = "log-log",
                   alpha: float = 0.05) -> pd.DataFrame:
    """The Kaplan-Meier table of :func:`workbench.survival.km` from :func:`survival_counts`."""
    parts = []
    for label, part in _groups(counts, grouped):
        exits = part["exits"].to_numpy(np.int64)
        exits_before = np.cumsum(exits) - exits                       # exit time < t
        if entry:
            entries = part["entries"].to_numpy(np.int64)
            n = (np.cumsum(entries) - entries) - exits_before          # entry < t <= exit
        else:
            n = exits.sum() - exits_before
        keep = exits > 0
        n = n[keep].astype(float)
        d = part["events"].to_numpy(float)[keep]
        surv, low, high = _km_curve(n, d, ci, alpha)
        frame = pd.DataFrame({"time": part["time"].to_numpy(float)[keep], "at_risk": n.astype(np.int64),
                              "events": d.astype(np.int64), "censored": (exits[keep] - d).astype(np.int64),
                              "survival": surv, "ci_low": low, "ci_high": high})
        if entry:
            frame = frame[frame["at_risk"] > 0]
        if grouped:
            frame.insert(0, "group", label)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    time_dtype = counts.attrs.get("time_dtype")
    if time_dtype is not None and np.issubdtype(time_dtype, np.integer):
        out["time"] = out["time"].astype(time_dtype)
    out.attrs.update(ci=ci, alpha=alpha)
    return out


@validate_params({"ci": CI, "alpha": ALPHA})
def km(data, *, duration: str, event: str, group: str | None = None, entry: str | None = None,
       ci: str = "log-log", alpha: float = 0.05, client=None) -> pd.DataFrame:
    """Kaplan-Meier estimate over a partitioned cohort; the same table as :func:`workbench.survival.km`.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per subject (a path is read with only the columns needed).
    duration, event, group, entry, ci, alpha
        As in :func:`workbench.survival.km`.
    client : distributed.Client, str or None
        A client, a scheduler address (``"tcp://host:8786"``), or None for Dask's current
        default (the active ``distributed.Client``, else local threads).

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``time``, ``at_risk``, ``events``, ``censored``,
        ``survival``, ``ci_low``, ``ci_high``; ``attrs`` has ``ci`` and ``alpha``.

    Raises
    ------
    ScaleDataError
        Every bad row (as ``(partition, label)``), column, value and rule; nothing computed.

    Notes
    -----
    Exact: the estimate and its Greenwood variance depend on the data only through the events,
    exits and entries per group and distinct time, which each partition counts and which are
    then summed. Memory on the client grows with the number of distinct (group, time) pairs,
    not with rows: whole days keep it small. Checked against :func:`workbench.survival.km` in
    ``tests/test_scale.py`` (equal to 1e-12).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [2, 3, 3, 5, 8, 8], "died": [1, 1, 0, 1, 0, 0]})
    >>> km(d, duration="days", event="died")[["time", "at_risk", "events", "survival"]]
       time  at_risk  events  survival
    0     2        6       1  0.833333
    1     3        5       1  0.666667
    2     5        3       1  0.444444
    3     8        2       0  0.444444
    """
    counts = survival_counts(data, duration=duration, event=event, group=group, entry=entry, client=client)
    return km_from_counts(counts, grouped=group is not None, entry=entry is not None, ci=ci, alpha=alpha)


@validate_params({"ci": CI, "alpha": ALPHA})
def km_summary(data, *, duration: str, event: str, group: str | None = None, entry: str | None = None,
               ci: str = "log-log", alpha: float = 0.05, client=None) -> pd.DataFrame:
    """Subjects, events and median survival with its interval per group, as
    :func:`workbench.survival.km_summary`, over a partitioned cohort.

    Returns
    -------
    DataFrame
        ``group`` (when grouped), ``n``, ``events``, ``median``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [2, 3, 3, 5, 8, 8], "died": [1, 1, 0, 1, 0, 0]})
    >>> km_summary(d, duration="days", event="died")[["n", "events", "median"]]
       n  events  median
    0  6       3     5.0
    """
    counts = survival_counts(data, duration=duration, event=event, group=group, entry=entry, client=client)
    table = km_from_counts(counts, grouped=group is not None, entry=entry is not None, ci=ci, alpha=alpha)
    totals = dict(_groups(counts, group is not None))
    rows = []
    for label, part in (table.groupby("group", sort=True, observed=True) if group is not None else [(None, table)]):
        changes = part[part["events"] > 0]
        t = changes["time"].to_numpy(float)
        row = {"n": int(totals[label]["exits"].sum()), "events": int(part["events"].sum()),
               "median": _quantile(t, changes["survival"].to_numpy(), 0.5),
               "ci_low": _quantile(t, changes["ci_low"].to_numpy(), 0.5),
               "ci_high": _quantile(t, changes["ci_high"].to_numpy(), 0.5)}
        rows.append({"group": label, **row} if group is not None else row)
    out = pd.DataFrame(rows)
    out.attrs.update(ci=ci, alpha=alpha)
    return out


def logrank_from_counts(counts: pd.DataFrame, *, group: str = "group") -> pd.DataFrame:
    """The log-rank test of :func:`workbench.survival.logrank` from grouped :func:`survival_counts`."""
    labels = pd.Index(pd.unique(counts["group"])).sort_values() if not isinstance(
        counts["group"].dtype, pd.CategoricalDtype) else counts["group"].cat.remove_unused_categories().cat.categories
    if len(labels) < 2:
        raise ValueError(f"The 'group' column {group!r} must have at least 2 groups. Got {list(labels)}.")
    times, row = np.unique(counts["time"].to_numpy(float), return_inverse=True)
    col = labels.get_indexer(counts["group"])
    k, m = len(labels), len(times)
    d_g = np.zeros((m, k))
    exits = np.zeros((m, k))
    np.add.at(d_g, (row, col), counts["events"].to_numpy(float))
    np.add.at(exits, (row, col), counts["exits"].to_numpy(float))
    statistic, dof = logrank_from_tables(d_g, exits)
    return pd.DataFrame({"statistic": [statistic], "dof": [dof], "p_value": [logrank_p_value(statistic, dof)]})


def logrank(data, *, duration: str, event: str, group: str, client=None) -> pd.DataFrame:
    """Log-rank test of equal survival across groups over a partitioned cohort, as
    :func:`workbench.survival.logrank` (R's ``survdiff``).

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per subject.
    duration, event, group : str
        As in :func:`workbench.survival.logrank`.
    client : distributed.Client, str or None
        As in :func:`km`.

    Returns
    -------
    DataFrame
        One row: ``statistic`` (chi-square), ``dof``, ``p_value``.

    Notes
    -----
    Exact: observed and expected events and their variance need only the events and the number
    at risk per group at each distinct time, summed from every partition's counts.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 0], "arm": list("aabbab")})
    >>> logrank(d, duration="days", event="event", group="arm").round(4)  # R survdiff: 0.899, p 0.343
       statistic  dof  p_value
    0      0.899    1    0.343
    """
    counts = survival_counts(data, duration=duration, event=event, group=group, client=client)
    return logrank_from_counts(counts, group=group)
