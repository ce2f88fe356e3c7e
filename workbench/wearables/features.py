"""Daily wearable features per resident and local day, and the personal baseline they are read against.

:func:`daily_features` turns the canonical readings frame (one reading per row: ``resident_id``,
``device_id``, ``kind``, ``start``, ``end``, ``value``, ``tz``) into one row per resident and local
calendar day, for every day of the range even without data. :func:`personal_baseline` adds each
feature's z against the person's own previous 28 days. :func:`wearable_days` does both and applies
the alert policy (:mod:`workbench.wearables.alerts`): the analysis table ``wearable_days``.

How each feature is computed, and the wear it needs, is data: the ``features:`` key of
``workbench/data/wearables.yaml`` when it has one, else ``workbench/data/wearable_features.yaml``
(:func:`load_feature_settings`). The defaults:

- Local day: each reading's ``start`` in its own ``tz`` (wall-clock time; a day with a change to or
  from summer time has 1380 or 1500 real minutes but at most 1440 wall-clock minutes).
- ``wear_minutes``: wall-clock minutes of the day with at least one heart-rate reading.
- The night of day D: 00:00-06:00 local of D (it ends on the morning of D); ``night_wear_minutes``
  its minutes with a heart-rate reading; the nocturnal features need 240 of them.
- ``resting_hr``: the mean of the 3 lowest 5-minute mean heart rates of the night (windows with at
  least 3 readings).
- ``rmssd``: the mean of the night's ``hrv_rmssd`` windows; without any, computed from the night's
  ``rr_interval`` readings per 5-minute window (implausible beats dropped, RMSSD =
  sqrt(mean(diff(RR)^2)), at least 60 beats); at least 6 windows either way.
- ``steps``: the sum of the day's ``step_count`` readings (by their start), when 06:00-24:00 has
  at least 600 minutes of wear (Troiano 2008) and the device sent step counts that day.
- ``sleep_minutes``: the minutes of the sleep episodes ending on D; ``sleep_midpoint`` the midpoint
  of the longest one, in hours after local midnight of D (negative: before midnight); both need
  the night's wear. ``sleep_regularity``: the SD (n-1), in minutes, of the midpoints of the last 7
  valid nights up to D, all within 14 days; blank when D is not a valid night.
- ``wear_state``: ``worn`` (the night's wear requirement met), ``low_wear`` (some heart-rate
  reading in the day or the night, not enough), ``not_worn`` (none).

Every feature is blank (NA) when its requirement is not met: never 0, never carried forward.

For large volumes bin the readings once into minute epochs (:mod:`workbench.wearables.epochs`:
``daily_features_from_epochs(epochs(readings))`` gives the same rows, about 15 us a resident-day).

The work is vectorised: integer keys ``resident code * n_days + day index`` and
``resident code * n_days * 1440 + local minute``; heart rate and steps sorted by that key once
(readings that come sorted by resident and time are not sorted again), then binary searches at
each day's and night's edges, ``np.add.reduceat`` over the night's 5-minute windows and
``np.bincount`` elsewhere; local time from one offset per time zone and UTC minute. About 60 ns
of CPU per reading and 4 us per resident-day (categorical ``resident_id``, ``kind``, ``tz``;
plain strings are hashed first, about 3 times slower). The personal baseline and the alerts work
on a resident-by-day grid with cumulative sums.

Examples
--------
>>> import pandas as pd
>>> t = pd.date_range("2025-03-01 16:00", periods=600, freq="min", tz="UTC")  # 00:00-10:00 in Shanghai
>>> readings = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
...                          "end": t, "value": 60.0, "tz": "Asia/Shanghai"})
>>> days = daily_features(readings, end="2025-03-03")
>>> days[["day", "wear_minutes", "night_wear_minutes", "resting_hr", "steps", "wear_state"]]
         day  wear_minutes  night_wear_minutes  resting_hr  steps wear_state
0 2025-03-02           600                 360        60.0   <NA>       worn
1 2025-03-03             0                   0        <NA>   <NA>   not_worn
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from workbench._declarations import whole
from workbench._errors import RowProblemsError
from workbench.params import FRAME, Date, Either, Instance, Optional, Options, Predicate, Sequence, validate_params
from workbench.wearables._arrays import (DAY_NS, KINDS, MIN_NS, factor_codes, group_starts, kind_rows, lowest_mean,
                                         offset_table, reading_arrays, sorted_by, window_median_mad)
from workbench.wearables.feature_settings import Z_COLUMNS, FeatureSettings, FeatureSettingsError, load_feature_settings

__all__ = ["BASELINE_COLUMNS", "FEATURE_COLUMNS", "FeatureSettings", "FeatureSettingsError", "KINDS",
           "WEARABLE_DAYS_COLUMNS", "Z_COLUMNS", "daily_features", "load_feature_settings", "personal_baseline",
           "wearable_days"]

#: The columns :func:`daily_features` returns.
FEATURE_COLUMNS = ("resident_id", "day", "device_id", "wear_minutes", "night_wear_minutes", "resting_hr", "rmssd",
                   "steps", "sleep_minutes", "sleep_midpoint", "sleep_regularity", "wear_state")
#: The columns :func:`personal_baseline` adds.
BASELINE_COLUMNS = ("baseline_days", *Z_COLUMNS.values())
#: The analysis table ``wearable_days``, in order.
WEARABLE_DAYS_COLUMNS = ("resident_id", "day", "device_id", "wear_minutes", "night_wear_minutes", "resting_hr", "rmssd",
                         "steps", "sleep_minutes", "sleep_midpoint", "sleep_regularity", *BASELINE_COLUMNS,
                         "wear_state", "alert_state", "flag", "nights_low", "nights_valid", "rule")



# --- the daily features ----------------------------------------------------------------------

#: Readings spanning more UTC minutes than this (about 4 years) are converted to local time zone by
#: zone instead of through a table of offsets.
_TABLE_MINUTES = 2_100_000


def _day_number(value) -> int:
    return int(pd.Timestamp(value).normalize().value // DAY_NS)


def _int_array(values: np.ndarray, valid: np.ndarray, dtype: str) -> pd.arrays.IntegerArray:
    out = np.where(valid, np.round(np.where(valid, values, 0)), 0).astype(dtype)
    return pd.arrays.IntegerArray(out, ~valid)


def _float_array(values: np.ndarray, valid: np.ndarray) -> pd.arrays.FloatingArray:
    valid = valid & np.isfinite(values)
    return pd.arrays.FloatingArray(np.where(valid, values, 0.0), ~valid)


@validate_params({"readings": FRAME, "start": Optional(Date()), "end": Optional(Date()),
                  "settings": Either(Options(None), Predicate(lambda v: isinstance(v, (str, Path)) and bool(str(v)), "a path"),
                                     Instance("collections.abc.Mapping", "workbench.wearables.features.FeatureSettings",
                                              name=""), words="None, a settings file, a mapping or FeatureSettings")})
def daily_features(readings: pd.DataFrame, *, start=None, end=None,
                   settings: "str | Path | Mapping | FeatureSettings | None" = None) -> pd.DataFrame:
    """One row per resident and local day with the day's wear and features.

    Parameters
    ----------
    readings : DataFrame
        The canonical readings (``resident_id``, ``device_id``, ``kind``, ``start``, ``end``,
        ``value``, ``tz``; ``start``/``end`` time-zone aware). Categorical ``resident_id``,
        ``kind`` and ``tz`` are fastest.
    start, end : date, optional
        The first and last local day (inclusive) of every resident. Default: each resident's
        first and last day with data (a heart-rate minute, a step count, a night's RMSSD window or
        RR beat, a sleep episode's start or end).
    settings : path, mapping or FeatureSettings, optional
        The ``features:`` settings (default: the shipped ones, :func:`load_feature_settings`).

    Returns
    -------
    DataFrame
        :data:`FEATURE_COLUMNS`, sorted by ``resident_id`` and ``day``: ``resident_id`` (string),
        ``day`` (datetime64, the local day), ``device_id`` (of the day's first heart-rate reading,
        else of its first step count; blank without either), ``wear_minutes``, ``night_wear_minutes`` (Int16), ``resting_hr``, ``rmssd``
        (Float64), ``steps`` (Int32), ``sleep_minutes`` (Int16), ``sleep_midpoint`` (Float64,
        hours), ``sleep_regularity`` (Float64, minutes), ``wear_state``. ``attrs["settings"]`` holds
        the settings used. Residents without readings in the range have no rows.

    Raises
    ------
    RowProblemsError
        Naming each reading that cannot be used (unknown kind or time zone, a blank value,
        a naive time, an end before its start); nothing is computed.

    Notes
    -----
    The module docstring declares each feature; the numbers are the settings'. A feature is
    blank (never 0) when its wear requirement is not met or it has no readings.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2025-06-01 23:00", periods=420, freq="min", tz="Europe/London")
    >>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate",
    ...                   "start": t.tz_convert("UTC"), "end": t.tz_convert("UTC"), "value": 58.0,
    ...                   "tz": "Europe/London"})
    >>> daily_features(r)[["day", "wear_minutes", "night_wear_minutes", "resting_hr"]]
             day  wear_minutes  night_wear_minutes  resting_hr
    0 2025-06-01            60                   0        <NA>
    1 2025-06-02           360                 360        58.0
    """
    return _features(readings, start=start, end=end, settings=settings, before=False)


def _features(readings: pd.DataFrame, *, start, end, settings, before: bool) -> pd.DataFrame:
    """:func:`daily_features`; ``before``: each resident's rows begin at the earlier of ``start`` and
    the first reading's day (the baseline of the first days of the range reads the days before it)."""
    s = load_feature_settings(settings)
    a = reading_arrays(readings)
    n = len(a["rid"])
    residents = a["residents"]
    start_day = None if start is None else _day_number(start)
    end_day = None if end is None else _day_number(end)
    if n == 0:
        return _frame(residents[:0], np.zeros(0, np.int64), 0, 1, {}, s)
    rid, kind, value, tzc = a["rid"], a["kind"], a["value"], a["tzc"]
    utc_min = a["start"] // MIN_NS
    lo, hi = int(utc_min.min()), int(max(utc_min.max(), a["end"].max() // MIN_NS))
    tz_names = a["tz_names"]
    if hi - lo <= _TABLE_MINUTES:
        table, t0 = offset_table(tz_names, lo * MIN_NS, hi * MIN_NS)
        constant = len(tz_names) == 1 and bool(np.all(table[0] == table[0, 0]))

    def local_min(utc_minutes: np.ndarray, rows) -> np.ndarray:
        """Local wall-clock minutes since 1970 (one lookup per time zone and UTC minute)."""
        codes = tzc if rows is None else tzc[rows]
        if hi - lo > _TABLE_MINUTES:                       # years of readings: convert zone by zone
            out = np.empty_like(utc_minutes)
            for k, name in enumerate(tz_names):
                at = codes == k
                stamps = pd.DatetimeIndex(utc_minutes[at] * MIN_NS, tz="UTC")
                out[at] = stamps.tz_convert(str(name)).tz_localize(None).asi8 // MIN_NS
            return out
        if constant:
            return utc_minutes + int(table[0, 0])
        return utc_minutes + table[codes, utc_minutes - t0]

    lm = local_min(utc_min, None)
    first_day, last_day = int(lm.min()) // 1440, int(lm.max()) // 1440
    if start_day is not None:
        first_day = min(first_day, start_day)
    if end_day is not None:
        last_day = max(last_day, end_day)
    d0 = first_day - 1                                     # a day of margin on each side: a night
    n_days = last_day - d0 + 2                             # may begin the evening before its day
    n_res = len(residents)
    n_keys = n_res * n_days
    span = n_days * 1440
    minute = lm - d0 * 1440 + rid * span                   # resident and local wall-clock minute, one key
    del lm, utc_min
    base = np.arange(n_keys + 1, dtype=np.int64) * 1440    # day key k runs over minutes [base[k], base[k + 1])
    night_len = s.night_end - s.night_start
    f: dict[str, np.ndarray] = {}
    first_row = np.full(n_keys, -1, dtype=np.int64)        # the row of each day's first reading (its device)

    # heart rate, sorted by minute: wear, night wear and the night's readings, by binary search
    hr = kind_rows(kind, 0)
    mk, hv, order = sorted_by(minute[hr], value[hr])
    new = np.empty(len(mk), bool)
    new[:1] = True
    np.not_equal(mk[1:], mk[:-1], out=new[1:])
    distinct = np.concatenate(([0], np.cumsum(new)))       # distinct minutes before each position

    def count(lo_min, hi_min):
        return distinct[np.searchsorted(mk, hi_min)] - distinct[np.searchsorted(mk, lo_min)]

    at = np.searchsorted(mk, base)
    f["wear"] = distinct[at[1:]] - distinct[at[:-1]]
    f["day_wear"] = count(base[:-1] + s.day_start, base[1:])
    night_lo, night_hi = base[:-1] + s.night_start, base[:-1] + s.night_end
    f["night_wear"] = count(night_lo, night_hi)
    has = f["wear"] > 0
    first_row[has] = _original(hr, order, at[:-1][has])
    edges = np.zeros(len(mk) + 1, dtype=np.int8)           # +1 where a night begins, -1 where it ends
    np.add.at(edges, np.searchsorted(mk, night_lo), 1)
    np.add.at(edges, np.searchsorted(mk, night_hi), -1)
    inn = np.cumsum(edges[:-1], dtype=np.int8) > 0
    bins, hv_in = (mk[inn] - s.night_start) // s.hr_window, hv[inn]
    first = group_starts(bins)
    counts = np.diff(np.append(first, len(bins)))
    means = np.add.reduceat(hv_in, first) / counts if len(first) else np.zeros(0)
    ok = counts >= s.hr_min_readings
    nights, rhr = lowest_mean(means[ok], (bins[first] * s.hr_window // 1440)[ok], s.hr_lowest)
    f["resting_hr"] = np.full(n_keys, np.nan)
    f["resting_hr"][nights] = rhr
    del hv, new, edges, inn

    # RMSSD windows of the night (by their start), else RMSSD from RR intervals
    rows = kind_rows(kind, 2)
    shifted = minute[rows] - s.night_start
    inn = shifted % 1440 < night_len
    key = shifted[inn] // 1440
    win_n = np.bincount(key, minlength=n_keys)
    win_sum = np.bincount(key, weights=value[rows][inn], minlength=n_keys)
    rr = np.flatnonzero(kind == 1)
    rv = value[rr]
    rr = rr[(rv >= s.rr_range[0]) & (rv <= s.rr_range[1])]
    order_key = rid[rr]
    if len(rr) > 1:
        dc, du = np.diff(order_key), np.diff(a["start"][rr])
        if not bool(np.all((dc > 0) | ((dc == 0) & (du >= 0)))):
            rr = rr[np.lexsort((a["start"][rr], order_key))]
    shifted = minute[rr] - s.night_start
    inn = shifted % 1440 < night_len
    wk, rv = shifted[inn] // s.rr_window, value[rr][inn]
    first = group_starts(wk)
    beats = np.diff(np.append(first, len(wk)))
    sq = np.zeros(len(wk))
    if len(wk) > 1:
        same = wk[1:] == wk[:-1]
        sq[1:] = np.where(same, np.diff(rv) ** 2, 0.0)
    sums = np.add.reduceat(sq, first) if len(first) else np.zeros(0)
    ok = beats >= s.rr_min_beats
    w_night = (wk[first] * s.rr_window // 1440)[ok]
    rr_n = np.bincount(w_night, minlength=n_keys)
    rr_sum = np.bincount(w_night, weights=np.sqrt(sums[ok] / (beats[ok] - 1)), minlength=n_keys)
    use_hrv = win_n > 0
    f["rmssd_windows"] = np.where(use_hrv, win_n, rr_n)
    with np.errstate(invalid="ignore", divide="ignore"):
        f["rmssd"] = np.where(use_hrv, win_sum / win_n, rr_sum / rr_n)

    # steps of the day (by their start), sorted by minute: sums by binary search
    st = kind_rows(kind, 3)
    sk, sv, order = sorted_by(minute[st], value[st])
    at = np.searchsorted(sk, base)
    total = np.concatenate(([0.0], np.cumsum(sv)))
    f["step_n"] = np.diff(at)
    f["steps"] = total[at[1:]] - total[at[:-1]]
    fill = (first_row < 0) & (f["step_n"] > 0)
    first_row[fill] = _original(st, order, at[:-1][fill])
    del sk, sv, total

    # sleep episodes ending on the day
    sl = np.flatnonzero(kind == 4)
    e_utc, s_utc = a["end"][sl], a["start"][sl]
    e_min = local_min(e_utc // MIN_NS, sl)
    key = rid[sl] * n_days + (e_min // 1440 - d0)
    mid = s_utc + (e_utc - s_utc) // 2
    mid_min = local_min(mid // MIN_NS, sl) + (mid % MIN_NS) / MIN_NS          # local minutes, with seconds
    dur = (e_utc - s_utc) / MIN_NS
    f["sleep_n"] = np.bincount(key, minlength=n_keys)
    f["sleep_minutes"] = np.bincount(key, weights=dur, minlength=n_keys)
    order = np.lexsort((-dur, key))
    longest = order[group_starts(key[order])]
    f["sleep_midpoint"] = np.full(n_keys, np.nan)
    f["sleep_midpoint"][key[longest]] = (mid_min[longest] - (e_min[longest] // 1440) * 1440) / 60
    f["first_row"] = first_row

    # the rows of the range: each resident from start (or the first day with data) to end (or the last)
    data = (f["wear"] + f["step_n"] + win_n + rr_n + f["sleep_n"]).reshape(n_res, n_days) > 0
    if len(sl):
        data.ravel()[rid[sl] * n_days + (local_min(s_utc // MIN_NS, sl) // 1440 - d0)] = True
    return _frame(residents, _rows_in_range(data, d0, start_day, end_day, before), d0, n_days, f, s, readings=readings)


def _rows_in_range(data: np.ndarray, d0: int, start_day, end_day, before: bool) -> np.ndarray:
    """Grid keys of the rows to return: each resident (a row of the (residents, days) ``data``:
    a day with data) from ``start_day`` (or the first day with data; with ``before`` the earlier of
    the two) to ``end_day`` (or the last day with data); residents without data have none."""
    n_res, n_days = data.shape
    grid_day = np.arange(n_days) + d0
    any_data = data.any(axis=1)
    res_first = np.where(any_data, grid_day[np.argmax(data, axis=1)], np.iinfo(np.int64).max)
    res_last = np.where(any_data, grid_day[n_days - 1 - np.argmax(data[:, ::-1], axis=1)], np.iinfo(np.int64).min)
    lo_day = np.full(n_res, start_day) if start_day is not None else res_first
    if before:
        lo_day = np.minimum(lo_day, res_first)
    hi_day = np.full(n_res, end_day) if end_day is not None else res_last
    inside = (grid_day[None, :] >= lo_day[:, None]) & (grid_day[None, :] <= hi_day[:, None]) & any_data[:, None]
    return np.flatnonzero(inside.ravel())


def _original(rows, order, positions: np.ndarray) -> np.ndarray:
    """Row numbers in the readings of ``positions`` of a kind's sorted arrays."""
    positions = positions if order is None else order[positions]
    return positions + rows.start if isinstance(rows, slice) else rows[positions]


def _regularity(mid: np.ndarray, valid: np.ndarray, n_days: int, s: FeatureSettings) -> np.ndarray:
    """SD (n-1) in minutes of the midpoints of the last ``regularity_nights`` valid nights up to each
    valid night, all within ``regularity_within`` days; NaN elsewhere."""
    out = np.full(len(mid), np.nan)
    k = s.regularity_nights
    at = np.flatnonzero(valid)
    if len(at) < k:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(at, k)          # the k valid nights ending at each
    same = (windows[:, 0] // n_days == windows[:, -1] // n_days) & (windows[:, -1] - windows[:, 0] < s.regularity_within)
    sd = np.std(mid[windows], axis=1, ddof=1) * 60
    out[windows[same, -1]] = sd[same]
    return out


def _frame(residents, sel: np.ndarray, d0: int, n_days: int, f: dict, s: FeatureSettings,
           readings: pd.DataFrame | None = None) -> pd.DataFrame:
    n_keys = len(residents) * n_days
    if not f:
        f = {name: np.zeros(n_keys) for name in ("wear", "night_wear", "day_wear", "step_n", "sleep_n",
                                                    "rmssd_windows", "steps", "sleep_minutes")}
        f.update({name: np.full(n_keys, np.nan) for name in ("resting_hr", "rmssd", "sleep_midpoint")})
        f["first_row"] = np.full(n_keys, -1)
    night_ok = f["night_wear"] >= s.night_min_wear
    sleep_ok = night_ok & (f["sleep_n"] > 0)
    regularity = _regularity(f["sleep_midpoint"], sleep_ok, n_days, s)
    rows = f["first_row"][sel]
    device = pd.array(np.full(len(sel), None, dtype=object), dtype="string")
    has = rows >= 0
    if readings is not None and has.any():
        device[has] = np.asarray(readings["device_id"].array.take(rows[has]), dtype=object)
    wear, night = f["wear"][sel], f["night_wear"][sel]
    state = np.where(night_ok[sel], "worn", np.where((wear > 0) | (night > 0), "low_wear", "not_worn"))
    out = pd.DataFrame({
        "resident_id": pd.array(np.asarray(residents, dtype=object)[sel // n_days], dtype="string"),
        "day": ((sel % n_days + d0) * DAY_NS).astype("datetime64[ns]"),
        "device_id": device,
        "wear_minutes": _int_array(wear, np.ones(len(sel), bool), "int16"),
        "night_wear_minutes": _int_array(night, np.ones(len(sel), bool), "int16"),
        "resting_hr": _float_array(f["resting_hr"][sel], night_ok[sel]),
        "rmssd": _float_array(f["rmssd"][sel], night_ok[sel] & (f["rmssd_windows"][sel] >= s.rmssd_min_windows)),
        "steps": _int_array(f["steps"][sel], (f["day_wear"][sel] >= s.day_min_wear) & (f["step_n"][sel] > 0), "int32"),
        "sleep_minutes": _int_array(f["sleep_minutes"][sel], sleep_ok[sel], "int16"),
        "sleep_midpoint": _float_array(f["sleep_midpoint"][sel], sleep_ok[sel]),
        "sleep_regularity": _float_array(regularity[sel], sleep_ok[sel]),
        "wear_state": pd.array(state, dtype="string"),
    })
    out.attrs["settings"] = s
    return out


# --- the personal baseline -------------------------------------------------------------------

@validate_params({"days": FRAME, "window": Predicate(lambda v: whole(v, 2) and v <= 127, "an int in [2, 127]"),
                  "min_days": Predicate(lambda v: whole(v, 2) and v <= 127, "an int in [2, 127]"),
                  "columns": Sequence(Options(*Z_COLUMNS), min_length=1),
                  "days_of": Options(*Z_COLUMNS),
                  "gap_days": Predicate(lambda v: whole(v, 0) and v <= 60, "an int in [0, 60]"),
                  "centre": Options("mean", "median")})
def personal_baseline(days: pd.DataFrame, *, window: int = 28, min_days: int = 14,
                      columns: tuple = tuple(Z_COLUMNS), days_of: str = "rmssd", gap_days: int = 0,
                      centre: str = "mean") -> pd.DataFrame:
    """Each feature against the person's own previous ``window`` days.

    Parameters
    ----------
    days : DataFrame
        :func:`daily_features` (``resident_id``, ``day`` and the feature columns; one row per
        resident and day: a day without a row counts as a day without a valid value).
    window : int, default 28
        Days the baseline is read from: the ``window`` days ending ``gap_days`` days before the day.
    min_days : int, default 14
        Fewer valid days in the window: no baseline, the z is blank.
    columns : list, default all of :data:`Z_COLUMNS`
        The features to standardise (``rmssd``, ``resting_hr``, ``steps``, ``sleep_minutes``).
    days_of : str, default "rmssd"
        The feature whose valid days ``baseline_days`` counts (the alert rule's).
    gap_days : int, default 0
        Days left out between the baseline window and the day: the baseline of day D is days
        D-gap_days-window .. D-gap_days-1, so the nights of an episode under way (up to
        ``gap_days`` of them before D) do not pull their own baseline down. 0: the ``window`` days
        right before D. The shipped policy's ``baseline.gap_days``.
    centre : {"mean", "median"}, default "mean"
        ``mean``: z = (value - mean) / SD (n-1). ``median``: the robust z = (value - median) /
        (1.4826 * MAD), MAD the median absolute deviation from the median (1.4826 makes it the
        SD of a normal distribution), so a few outlying baseline nights barely move it. The
        shipped policy's ``baseline.centre``.

    Returns
    -------
    DataFrame
        ``days`` with ``baseline_days`` (Int8) and the z columns (Float64; those not in
        ``columns`` blank) set.

    Notes
    -----
    Over the valid (non-blank) values among days D-gap_days-window .. D-gap_days-1: mean, SD with n-1 in the
    denominator (the sample SD), z = (value - mean) / SD. Blank when the day's value is blank,
    when fewer than ``min_days`` days are valid, or when the SD is 0. Computed with cumulative
    sums over a resident-by-day grid (each resident's values centred first, for precision).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"resident_id": "R1", "day": pd.date_range("2025-01-01", periods=4),
    ...                   "rmssd": pd.array([30.0, 34.0, None, 20.0], dtype="Float64")})
    >>> personal_baseline(d, window=3, min_days=2, columns=["rmssd"])[["rmssd", "baseline_days", "rmssd_z"]]
       rmssd  baseline_days   rmssd_z
    0   30.0              0      <NA>
    1   34.0              1      <NA>
    2   <NA>              2      <NA>
    3   20.0              2 -4.242641
    """
    for c in ("resident_id", "day", *columns, days_of):
        if c not in days.columns:
            raise RowProblemsError([(None, c, None, "column missing from the days")], context="the wearable days",
                                   table="days")
    out = days.copy()
    n = len(out)
    rid, _ = factor_codes(out["resident_id"], sort=False)
    dn = out["day"].to_numpy(dtype="datetime64[ns]").view(np.int64) // DAY_NS
    if n == 0:
        out["baseline_days"] = pd.array([], dtype="Int8")
        for c in Z_COLUMNS.values():
            out[c] = pd.array([], dtype="Float64")
        return out
    d0 = int(dn.min())
    n_days = int(dn.max()) - d0 + 1
    n_res = int(rid.max()) + 1
    flat = rid * n_days + (dn - d0)
    dup = np.flatnonzero(np.bincount(flat, minlength=n_res * n_days)[flat] > 1)
    if len(dup):
        raise RowProblemsError([(out.index[i], "day", str(out["day"].iloc[i])[:10], "more than one row of the resident "
                                 "and day") for i in dup[:1000]], context="the wearable days", table="days")
    for feature in dict.fromkeys([*columns, days_of]):
        x = out[feature].to_numpy(dtype=np.float64, na_value=np.nan)
        valid = np.isfinite(x)
        grid_n = np.zeros((n_res, n_days + 1))
        grid_x = np.zeros((n_res, n_days + 1))
        grid_n[rid[valid], dn[valid] - d0 + 1] = 1.0
        grid_x[rid[valid], dn[valid] - d0 + 1] = x[valid]
        count_r = grid_n.sum(axis=1)
        shift = np.divide(grid_x.sum(axis=1), count_r, out=np.zeros(n_res), where=count_r > 0)
        grid_x = np.where(grid_n > 0, grid_x - shift[:, None], 0.0)
        cn, c1, c2 = (np.cumsum(g, axis=1) for g in (grid_n, grid_x, grid_x**2))
        # window sums over days D-window .. D-1: cumulative to D-1 minus cumulative to D-window-1
        at = np.maximum(dn - d0 - gap_days, 0)         # cumulative index of D-gap-1 (column 0: before the grid)
        back = np.maximum(at - window, 0)
        wn = cn[rid, at] - cn[rid, back]
        w1 = c1[rid, at] - c1[rid, back]
        w2 = c2[rid, at] - c2[rid, back]
        if feature == days_of:
            out["baseline_days"] = pd.array(np.round(wn).astype(np.int8), dtype="Int8")
        if feature not in columns:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = w1 / wn
            var = (w2 - w1 * mean) / (wn - 1)
            sd = np.sqrt(np.where(var > 0, var, np.nan))
            z = (x - shift[rid] - mean) / sd
        if centre == "median":
            grid = np.where(grid_n[:, 1:] > 0, grid_x[:, 1:], np.nan)
            med, mad = window_median_mad(grid, window)
            q = dn - d0 - gap_days                     # the grid column after the window's last day
            inside = q >= 0
            qc = np.where(inside, q, 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.where(inside, (x - shift[rid] - med[rid, qc]) / (1.4826 * mad[rid, qc]), np.nan)
        ok = valid & (wn >= min_days) & np.isfinite(z)
        out[Z_COLUMNS[feature]] = _float_array(z, ok)
    for c in Z_COLUMNS.values():
        if c not in out.columns:
            out[c] = pd.array(np.full(n, None), dtype="Float64")
    return out


@validate_params({"readings": FRAME, "start": Optional(Date()), "end": Optional(Date()),
                  "policy": Either(Predicate(lambda v: isinstance(v, (str, Path)) and bool(str(v)), "a policy name or path"),
                                   Instance("collections.abc.Mapping", "workbench.wearables.alerts.WearablePolicy",
                                            name=""), words="a wearable alert policy: a name, a path, a mapping or a "
                                   "WearablePolicy"),
                  "settings": Either(Options(None), Predicate(lambda v: isinstance(v, (str, Path)) and bool(str(v)), "a path"),
                                     Instance("collections.abc.Mapping", "workbench.wearables.features.FeatureSettings",
                                              name=""), words="None, a settings file, a mapping or FeatureSettings")})
def wearable_days(readings: pd.DataFrame, *, start=None, end=None, policy="wearables_default",
                  settings: "str | Path | Mapping | FeatureSettings | None" = None) -> pd.DataFrame:
    """The analysis table ``wearable_days``: :func:`daily_features`, :func:`personal_baseline` with the
    policy's window, gap and centre, and :func:`workbench.wearables.alerts.apply_alerts`.

    The baseline of the first days of the range reads the readings before ``start`` when there
    are any (so pass the policy's window + gap days before it, 35 by default, for a full baseline); only ``start`` .. ``end`` is returned.

    Returns
    -------
    DataFrame
        :data:`WEARABLE_DAYS_COLUMNS`, one row per resident and day of the range.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2025-03-01 16:00", periods=600, freq="min", tz="UTC")
    >>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
    ...                   "end": t, "value": 60.0, "tz": "Asia/Shanghai"})
    >>> wearable_days(r)[["day", "wear_state", "baseline_days", "alert_state", "flag"]]
             day wear_state  baseline_days alert_state   flag
    0 2025-03-02       worn              0    low_wear  False
    >>> # worn all night, but the band gave no heart-rate variability: too little data to tell
    """
    from workbench.wearables.alerts import apply_alerts, load_wearable_policy

    p = load_wearable_policy(policy)
    days = _features(readings, start=start, end=end, settings=settings, before=True)
    days = personal_baseline(days, window=p.baseline_window, min_days=p.baseline_min_days,
                             gap_days=p.baseline_gap_days, centre=p.baseline_centre)
    days = apply_alerts(days, policy=p)
    if start is not None:
        days = days[days["day"] >= pd.Timestamp(start).normalize()].reset_index(drop=True)
    return days[list(WEARABLE_DAYS_COLUMNS)]
