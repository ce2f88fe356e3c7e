"""How well wristband alerts find the periods they are meant to find, and how often they call for
nothing: the figures a programme watches before it trusts a rule.

An *alert* is a run of consecutive flagged days of one resident (its first day is when staff are
prompted); a *period* is a known time of trouble (a low-mood episode, an illness) given as
``resident_id, start, end``. Only periods during which the resident's band produced at least one
day of features (``wear_state`` not ``not_worn``) can be found, so the others are counted apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.params import FRAME, Interval, validate_params

__all__ = ["alert_onsets", "alert_performance"]


def _days(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).dt.normalize().to_numpy("datetime64[D]")


@validate_params({"days": FRAME})
def alert_onsets(days: pd.DataFrame) -> pd.DataFrame:
    """The alerts of a ``wearable_days`` table: one row per run of consecutive flagged days of a
    resident (``resident_id, start, end, days``).

    Examples
    --------
    >>> d = pd.DataFrame({"resident_id": ["A"] * 5, "day": pd.date_range("2025-01-01", periods=5),
    ...                   "flag": [False, True, True, False, True]})
    >>> alert_onsets(d)[["start", "days"]].astype(str).values.tolist()
    [['2025-01-02', '2'], ['2025-01-05', '1']]
    """
    d = days.loc[days["flag"].fillna(False).astype(bool), ["resident_id", "day"]].copy()
    if d.empty:
        return pd.DataFrame({"resident_id": pd.Series(dtype="string"), "start": pd.Series(dtype="datetime64[ns]"),
                             "end": pd.Series(dtype="datetime64[ns]"), "days": pd.Series(dtype="int64")})
    d["day"] = pd.to_datetime(d["day"])
    d = d.sort_values(["resident_id", "day"])
    new = (d["resident_id"] != d["resident_id"].shift()) | (d["day"].diff() != pd.Timedelta(days=1))
    d["run"] = new.cumsum()
    out = d.groupby("run").agg(resident_id=("resident_id", "first"), start=("day", "min"), end=("day", "max"),
                               days=("day", "size"))
    return out.reset_index(drop=True)


@validate_params({"days": FRAME, "periods": FRAME, "grace_days": Interval(int, 0, 60)})
def alert_performance(days: pd.DataFrame, periods: pd.DataFrame, *, grace_days: int = 3) -> pd.DataFrame:
    """Periods found, alerts that called for nothing, and how long people went unwatched.

    Parameters
    ----------
    days : DataFrame
        The ``wearable_days`` analysis table.
    periods : DataFrame
        Known periods of trouble: ``resident_id, start, end`` (dates, inclusive).
    grace_days : int
        An alert up to this many days after a period's end still belongs to it (the rule needs
        several nights, so it can fire after a short period has ended).

    Returns
    -------
    DataFrame
        One row: ``periods`` (of residents in ``days``, overlapping their days), ``periods_watched`` (with at least one
        worn day in them), ``found`` (an alert starting or running inside the period or its grace
        days), ``sensitivity`` with its Wilson interval ``ci_low, ci_high`` (over watched periods),
        ``alerts``, ``alerts_in_period``, ``ppv`` (share of alerts inside a period),
        ``false_alerts``, ``resident_months`` (days in ``days`` / 30.4375) and
        ``false_per_100_months``; and ``not_worn_share`` (days not worn or worn too little, of all days).

    Examples
    --------
    >>> d = pd.DataFrame({"resident_id": ["A"] * 10, "day": pd.date_range("2025-01-01", periods=10),
    ...                   "flag": [False] * 3 + [True] * 2 + [False] * 4 + [True],
    ...                   "wear_state": ["worn"] * 10})
    >>> p = pd.DataFrame({"resident_id": ["A"], "start": ["2025-01-02"], "end": ["2025-01-05"]})
    >>> r = alert_performance(d, p, grace_days=0).iloc[0]
    >>> int(r["found"]), int(r["alerts"]), int(r["false_alerts"])
    (1, 2, 1)
    """
    from workbench.epi import proportion_ci

    onsets = alert_onsets(days)
    worn = days.loc[days["wear_state"].astype("string") != "not_worn", ["resident_id", "day"]]
    worn_days = {(r, d) for r, d in zip(worn["resident_id"], _days(worn["day"]))}
    span = pd.DataFrame({"resident_id": days["resident_id"].to_numpy(), "day": _days(days["day"])}).groupby(
        "resident_id")["day"].agg(["min", "max"])
    p = periods[periods["resident_id"].isin(span.index)].reset_index(drop=True)
    p_start, p_end = _days(p["start"]), _days(p["end"])
    first = span["min"].reindex(p["resident_id"]).to_numpy("datetime64[D]")
    last = span["max"].reindex(p["resident_id"]).to_numpy("datetime64[D]")
    during = (p_start <= last) & (p_end >= first)  # periods while the resident had a band
    p, p_start, p_end = p[during].reset_index(drop=True), p_start[during], p_end[during]
    grace = np.timedelta64(grace_days, "D")
    found = np.zeros(len(p), dtype=bool)
    watched = np.zeros(len(p), dtype=bool)
    in_period = np.zeros(len(onsets), dtype=bool)
    o_start, o_end = _days(onsets["start"]), _days(onsets["end"])
    for i, (rid, s, e) in enumerate(zip(p["resident_id"], p_start, p_end)):
        watched[i] = any((rid, s + np.timedelta64(k, "D")) in worn_days for k in range(int((e - s) / np.timedelta64(1, "D")) + 1))
        mine = (onsets["resident_id"].to_numpy() == rid) & (o_start <= e + grace) & (o_end >= s)
        found[i] = mine.any()
        in_period |= mine
    n_watched, n_found = int(watched.sum()), int((found & watched).sum())
    low, high = (float(v[0]) for v in proportion_ci(n_found, n_watched)) if n_watched else (np.nan, np.nan)
    months = len(days) / 30.4375
    false = int((~in_period).sum())
    state = days["wear_state"].astype("string")
    return pd.DataFrame([{
        "periods": len(p), "periods_watched": n_watched, "found": n_found,
        "sensitivity": n_found / n_watched if n_watched else np.nan, "ci_low": low, "ci_high": high,
        "alerts": len(onsets), "alerts_in_period": int(in_period.sum()),
        "ppv": in_period.mean() if len(onsets) else np.nan, "false_alerts": false,
        "resident_months": months, "false_per_100_months": 100 * false / months if months else np.nan,
        "not_worn_share": float((state != "worn").mean()) if len(days) else np.nan,
    }])
