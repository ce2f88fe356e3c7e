"""Minute epochs: the readings of each resident and local day as arrays of 1440 minutes, and the
daily features computed from them (the standard actigraphy intermediate).

Long-form readings (one per row, :mod:`workbench.wearables.features`) cost about 60 ns each to turn
into daily features, and a wristband sends about 2,600 a day. :func:`epochs` bins them once (at
ingest, batch by batch) into one row per resident and local calendar day (:class:`Epochs`):

- ``hr`` (float32, 1440 minutes): the mean of the minute's heart-rate readings (NaN: none) and
  ``hr_n`` (uint16) their number (a minute is worn when ``hr_n > 0``);
- ``steps`` (float32): the steps of the step counts starting in the minute (NaN: none);
- ``asleep`` (bool): the minute lies inside a sleep episode;
- 288 five-minute slots of the local day: ``rmssd_sum`` / ``rmssd_n`` (the ``hrv_rmssd``
  windows starting in the slot), ``rr_sq`` / ``rr_beats`` (the sum of squared successive
  differences of the slot's plausible RR intervals, in time order, and their number);
- per day: ``sleep_n``, ``sleep_minutes``, ``sleep_midpoint`` (of the sleep episodes ending on the
  day, as :func:`~workbench.wearables.features.daily_features` declares them), ``sleep_starts``;
- the keys: ``resident_id``, ``day`` (days since 1970 of the local day), ``device_id`` (of the
  day's first heart-rate reading, else first step count; None without either), ``tz`` (the zone
  of one of the day's readings).

:func:`daily_features_from_epochs` gives the same rows as ``daily_features`` on the readings
(tested equal on hand-made and generated streams), with dense numpy over (days, 1440) matrices,
``chunk`` rows at a time. The night of D is the minute columns ``night.start_minute ..
end_minute`` after local midnight of D (a negative start takes the evening's columns from the
row of D-1). The five-minute slots require the RMSSD-from-RR window to be 5 minutes and the night
to start and end on a multiple of 5 minutes (the shipped settings; other settings are refused).
Times within a minute are not kept: RR beats of a repeated hour (autumn clock change) share the
hour's slots.

:func:`write_epochs` / :func:`read_epochs` store them as Parquet (fixed-size list columns),
partitioned by resident bucket (``bucket=NNNN/part-PPPPP.parquet``, ``crc32(resident_id) mod
buckets``), so one bucket holds whole residents (:mod:`workbench.scale._wearables`).

Examples
--------
>>> import pandas as pd
>>> t = pd.date_range("2025-03-01 16:00", periods=600, freq="min", tz="UTC")  # 00:00-10:00 in Shanghai
>>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
...                   "end": t, "value": 60.0, "tz": "Asia/Shanghai"})
>>> e = epochs(r)
>>> len(e), e.hr.shape, int(e.worn.sum())
(1, (1, 1440), 600)
>>> daily_features_from_epochs(e)[["day", "wear_minutes", "night_wear_minutes", "resting_hr"]]
         day  wear_minutes  night_wear_minutes  resting_hr
0 2025-03-02           600                 360        60.0
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from workbench.params import FRAME, Date, Either, Instance, Interval, Optional, Options, Predicate, validate_params
from workbench.wearables._arrays import MIN_NS, group_starts, offset_table, reading_arrays, sorted_by
from workbench.wearables.feature_settings import FeatureSettings, load_feature_settings

__all__ = ["Epochs", "SLOT_MINUTES", "daily_features_from_epochs", "epochs", "read_epochs",
           "wearable_days_from_epochs", "write_epochs"]

DAY = 1440
#: Minutes per RMSSD / RR slot.
SLOT_MINUTES = 5
SLOTS = DAY // SLOT_MINUTES
_MATRICES = {"hr": (np.float32, DAY), "hr_n": (np.uint16, DAY), "steps": (np.float32, DAY), "asleep": (np.bool_, DAY),
             "rmssd_sum": (np.float32, SLOTS), "rmssd_n": (np.uint8, SLOTS), "rr_sq": (np.float64, SLOTS),
             "rr_beats": (np.uint16, SLOTS)}
_SCALARS = {"sleep_n": np.uint8, "sleep_minutes": np.float64, "sleep_midpoint": np.float64, "sleep_starts": np.uint8}
_SETTINGS = Either(Options(None), Predicate(lambda v: isinstance(v, (str, Path)) and bool(str(v)), "a path"),
                   Instance("collections.abc.Mapping", "workbench.wearables.features.FeatureSettings", name=""),
                   words="None, a settings file, a mapping or FeatureSettings")
_FOLDER = Predicate(lambda v: isinstance(v, (str, os.PathLike)) and bool(str(v)), "a folder path")


@dataclass(frozen=True, eq=False)
class Epochs:
    """Minute epochs: one row per resident and local day (the module docstring declares each array).

    Build them with :func:`epochs` (from readings), :meth:`workbench.synth.wearables.DeviceArrays.to_epochs`
    or :func:`read_epochs`; :meth:`concat` and :meth:`take` combine and select rows.
    """

    resident_id: np.ndarray
    day: np.ndarray
    device_id: np.ndarray
    tz: np.ndarray
    hr: np.ndarray
    hr_n: np.ndarray
    steps: np.ndarray
    asleep: np.ndarray
    rmssd_sum: np.ndarray
    rmssd_n: np.ndarray
    rr_sq: np.ndarray
    rr_beats: np.ndarray
    sleep_n: np.ndarray
    sleep_minutes: np.ndarray
    sleep_midpoint: np.ndarray
    sleep_starts: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    @property
    def worn(self) -> np.ndarray:
        """(rows, 1440) bool: minutes with a heart-rate reading."""
        return self.hr_n > 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (about 16 kB a row)."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def take(self, rows) -> "Epochs":
        """The epochs of ``rows`` (positions or a boolean mask)."""
        return Epochs(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concat(cls, parts: "list[Epochs]") -> "Epochs":
        """Rows of several epochs, in order (a resident and day must not be in two of them)."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    @classmethod
    def empty(cls, rows: int = 0) -> "Epochs":
        """``rows`` rows without any reading (keys blank: fill them in)."""
        out = {"resident_id": np.full(rows, None, object), "day": np.zeros(rows, np.int64),
               "device_id": np.full(rows, None, object), "tz": np.full(rows, None, object)}
        for name, (dtype, width) in _MATRICES.items():
            fill = np.nan if np.issubdtype(dtype, np.floating) and name in ("hr", "steps") else 0
            out[name] = np.full((rows, width), fill, dtype=dtype)
        for name, dtype in _SCALARS.items():
            out[name] = np.full(rows, np.nan if name == "sleep_midpoint" else 0, dtype=dtype)
        return cls(**out)


# --- readings -> epochs -------------------------------------------------------------------------

def _local_minutes(utc_min: np.ndarray, codes: np.ndarray, tz_names) -> np.ndarray:
    """Local wall-clock minutes since 1970 of UTC minutes in the zones ``tz_names[codes]``."""
    if not len(utc_min):
        return utc_min.copy()
    lo, hi = int(utc_min.min()), int(utc_min.max())
    if hi - lo > 2_100_000:                                # years apart: zone by zone
        out = np.empty_like(utc_min)
        for k, name in enumerate(tz_names):
            at = codes == k
            stamps = pd.DatetimeIndex(utc_min[at] * MIN_NS, tz="UTC")
            out[at] = stamps.tz_convert(str(name)).tz_localize(None).asi8 // MIN_NS
        return out
    table, t0 = offset_table(tz_names, lo * MIN_NS, hi * MIN_NS)
    if len(tz_names) == 1 and bool(np.all(table[0] == table[0, 0])):
        return utc_min + int(table[0, 0])
    return utc_min + table[codes, utc_min - t0]


@validate_params({"readings": FRAME})
def epochs(readings: pd.DataFrame) -> Epochs:
    """Bin canonical readings into minute epochs, one row per resident and local day with a reading.

    Parameters
    ----------
    readings : DataFrame
        The canonical readings (as :func:`~workbench.wearables.features.daily_features` reads them;
        every bad row is named the same way).

    Returns
    -------
    Epochs
        Rows sorted by ``resident_id`` and ``day``. A day has a row when a heart-rate, step,
        RMSSD or plausible RR reading starts on it, or a sleep episode starts or ends on it.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2025-03-01 08:00", periods=3, freq="20s", tz="UTC")
    >>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
    ...                   "end": t, "value": [60.0, 62.0, 70.0], "tz": "UTC"})
    >>> e = epochs(r)
    >>> e.hr[0, 480:482].tolist(), e.hr_n[0, 480:482].tolist(), e.device_id.tolist()
    ([64.0, nan], [3, 0], ['D1'])
    """
    a = reading_arrays(readings)
    if len(a["rid"]) == 0:
        return Epochs.empty(0)
    lm = _local_minutes(a["start"] // MIN_NS, a["tzc"], a["tz_names"])
    sl = np.flatnonzero(a["kind"] == 4)
    e_min = _local_minutes(a["end"][sl] // MIN_NS, a["tzc"][sl], a["tz_names"])
    d0 = int(min(lm.min(), e_min.min() if len(sl) else lm.min())) // DAY
    n_days = int(max(lm.max(), e_min.max() if len(sl) else lm.max())) // DAY - d0 + 1
    a["m"] = lm - d0 * DAY                                 # local minutes since midnight of day d0
    from workbench.wearables.feature_settings import _rr_range

    a["rr_range"] = _rr_range() if bool((a["kind"] == 1).any()) else (0.0, 0.0)
    del lm
    n_res = len(a["residents"])
    per_block = max(1, _GRID_CELLS // (n_days * DAY))
    devices = readings["device_id"].array
    if per_block >= n_res:
        return _block(a, sl, e_min - d0 * DAY, 0, n_res, n_days, d0, devices)
    parts = []
    in_order = not np.count_nonzero(a["rid"][1:] < a["rid"][:-1])
    for lo in range(0, n_res, per_block):                 # a grid of at most _GRID_CELLS minutes at a time
        hi = min(lo + per_block, n_res)
        if in_order:                                       # readings by resident: a slice, no copy
            take = np.arange(*np.searchsorted(a["rid"], [lo, hi]))
            pick = slice(int(take[0]), int(take[-1]) + 1) if len(take) else slice(0, 0)
        else:
            take = pick = np.flatnonzero((a["rid"] >= lo) & (a["rid"] < hi))
        sub = {k: (v[pick] if isinstance(v, np.ndarray) and len(v) == len(a["rid"]) else v) for k, v in a.items()}
        sub["index"] = take
        in_sl = (a["rid"][sl] >= lo) & (a["rid"][sl] < hi)
        parts.append(_block(sub, np.searchsorted(take, sl[in_sl]), e_min[in_sl] - d0 * DAY, lo, hi, n_days, d0, devices))
    return Epochs.concat(parts)


#: The most resident-day minutes binned at once (32 MB per float64 array: small enough for the
#: allocator to reuse memory from block to block instead of asking the system for new pages).
_GRID_CELLS = 2**22


def _block(a: dict, sl: np.ndarray, e_m: np.ndarray, lo: int, hi: int, n_days: int, d0: int, devices) -> Epochs:
    """Epochs of residents ``lo .. hi - 1``: every reading binned on a dense (resident, day, minute)
    grid with one multiply-add per reading (no division), then the days with a reading kept."""
    rid, kind, value, m = a["rid"] - lo, a["kind"], a["value"], a["m"]
    grid = (hi - lo) * n_days                              # grid rows: resident-days
    key = rid * (n_days * DAY) + m                         # grid row * 1440 + minute
    mats, first = {}, {}
    for code, name in ((0, "hr"), (3, "steps")):
        at = np.flatnonzero(kind == code)
        k = key[at]
        ordered = sorted_by(k)
        first[name] = (at, ordered[0], ordered[-1])
        if ordered[-1] is None and not np.count_nonzero(k[1:] == k[:-1]):      # one reading a minute, in order:
            n_, sum_ = np.zeros(grid * DAY, np.uint16), np.zeros(grid * DAY, np.float32)     # no sums needed
            n_[k] = 1
            sum_[k] = value[at]
        else:
            n_ = np.bincount(k, minlength=grid * DAY)
            sum_ = np.bincount(k, weights=value[at], minlength=grid * DAY)
        mats[name + "_n"], mats[name] = n_.reshape(grid, DAY), sum_.reshape(grid, DAY)
    slots = {}
    at = np.flatnonzero(kind == 2)
    sk = key[at] // SLOT_MINUTES
    slots["rmssd_n"] = np.bincount(sk, minlength=grid * SLOTS).reshape(grid, SLOTS)
    slots["rmssd_sum"] = np.bincount(sk, weights=value[at], minlength=grid * SLOTS).reshape(grid, SLOTS)
    slots["rr_beats"], slots["rr_sq"] = _rr(a, key, grid)
    s_key = rid[sl] * (n_days * DAY) + m[sl]
    e_key = rid[sl] * (n_days * DAY) + e_m
    present = ((mats["hr_n"] > 0).any(axis=1) | (mats["steps_n"] > 0).any(axis=1) | (slots["rmssd_n"] > 0).any(axis=1)
               | (slots["rr_beats"] > 0).any(axis=1))
    present[s_key // DAY] = True
    present[e_key // DAY] = True
    keep = np.flatnonzero(present)
    out = Epochs.empty(len(keep))
    out.resident_id[:] = np.asarray(a["residents"], dtype=object)[lo + keep // n_days]
    out.day[:] = keep % n_days + d0
    hr_n = mats["hr_n"][keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        out.hr[:] = np.where(hr_n > 0, mats["hr"][keep] / hr_n, np.nan)
    out.hr_n[:] = np.minimum(hr_n, np.iinfo(np.uint16).max)
    out.steps[:] = np.where(mats["steps_n"][keep] > 0, mats["steps"][keep], np.nan)
    for name, values in slots.items():
        getattr(out, name)[:] = values[keep]
    device = np.full(len(keep), -1, np.int64)              # the day's first heart-rate reading, else step count
    for name in ("hr", "steps"):
        at, sorted_key, order = first[name]
        has = (mats[name + "_n"][keep] > 0)
        need = np.flatnonzero(has.any(axis=1) & (device < 0))
        pos = np.searchsorted(sorted_key, keep[need] * DAY + np.argmax(has[need], axis=1))
        device[need] = at[pos if order is None else order[pos]]
    index = a.get("index")
    rows = device if index is None else np.where(device >= 0, index[np.maximum(device, 0)], -1)
    out.device_id[device >= 0] = np.asarray(devices.take(rows[device >= 0]), dtype=object)
    names = np.asarray(a["tz_names"], dtype=object)
    if len(names) == 1:
        out.tz[:] = names[0]
    else:                                                  # the zone of one of the day's readings
        zone = np.full(grid, -1, np.int64)
        zone[key // DAY] = a["tzc"]
        zone[s_key // DAY] = a["tzc"][sl]
        out.tz[:] = names[zone[keep]]
    if len(sl):
        _sleep(out, a, sl, s_key, e_key, keep, grid)
    return out


def _rr(a: dict, key: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """RR beats: per slot, the beats and the sum of squared successive differences (in time order)."""
    low, high = a["rr_range"]
    rr = np.flatnonzero(a["kind"] == 1)
    rv = a["value"][rr]
    rr = rr[(rv >= low) & (rv <= high)]
    slot = key[rr] // SLOT_MINUTES
    order = np.lexsort((a["start"][rr], slot))
    k, v = slot[order], a["value"][rr][order]
    sq = np.zeros(len(rr))
    if len(rr) > 1:
        sq[1:] = np.where(k[1:] == k[:-1], np.diff(v) ** 2, 0.0)
    return (np.bincount(k, minlength=grid * SLOTS).reshape(grid, SLOTS),
            np.bincount(k, weights=sq, minlength=grid * SLOTS).reshape(grid, SLOTS))


def _sleep(out: Epochs, a: dict, sl, s_key, e_key, keep, grid) -> None:
    """Sleep episodes: the minutes asleep, and per day those ending on it (count, minutes, midpoint)."""
    edges = np.zeros(grid * DAY + 1, np.int32)
    np.add.at(edges, s_key, 1)
    np.add.at(edges, e_key, -1)
    out.asleep[:] = (np.cumsum(edges[:-1], dtype=np.int32) > 0).reshape(grid, DAY)[keep]
    row_of = np.full(grid, -1, np.int64)
    row_of[keep] = np.arange(len(keep))
    start_row, end_row = row_of[s_key // DAY], row_of[e_key // DAY]
    rows = len(keep)
    out.sleep_starts[:] = np.bincount(start_row, minlength=rows)
    s_utc, e_utc = a["start"][sl], a["end"][sl]
    mid = s_utc + (e_utc - s_utc) // 2
    mid_min = _local_minutes(mid // MIN_NS, a["tzc"][sl], a["tz_names"]) + (mid % MIN_NS) / MIN_NS
    dur = (e_utc - s_utc) / MIN_NS
    out.sleep_n[:] = np.bincount(end_row, minlength=rows)
    out.sleep_minutes[:] = np.bincount(end_row, weights=dur, minlength=rows)
    order = np.lexsort((-dur, end_row))
    longest = order[group_starts(end_row[order])]
    end_local = _local_minutes(e_utc[longest] // MIN_NS, a["tzc"][sl][longest], a["tz_names"])
    out.sleep_midpoint[end_row[longest]] = (mid_min[longest] - (end_local // DAY) * DAY) / 60


# --- epochs -> daily features -------------------------------------------------------------------

def _take(matrix: np.ndarray, rows: np.ndarray, cols: slice, fill) -> np.ndarray:
    """``matrix[rows, cols]`` with ``fill`` where a row is -1 (no such day)."""
    out = matrix[np.maximum(rows, 0), cols]
    if (rows < 0).any():
        out = out.copy()
        out[rows < 0] = fill
    return out


def _night(matrix: np.ndarray, rows: np.ndarray, prev: np.ndarray, lo: int, hi: int, fill) -> np.ndarray:
    """Columns ``lo .. hi`` around midnight (negative: the previous day's) of each row's day."""
    parts = []
    if lo < 0:
        parts.append(_take(matrix, prev, slice(matrix.shape[1] + lo, None), fill))
    parts.append(_take(matrix, rows, slice(max(lo, 0), hi), fill))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def _features_from_epochs(e: Epochs, *, start, end, settings, before: bool, chunk: int) -> pd.DataFrame:
    from workbench.wearables.features import _day_number, _frame, _rows_in_range

    s = load_feature_settings(settings)
    problems = [f"{name} = {v}" for name, v in (("rmssd.rr_window_minutes", s.rr_window), ("night.start_minute",
                s.night_start), ("night.end_minute", s.night_end)) if v % SLOT_MINUTES or
                (name.startswith("rmssd") and v != SLOT_MINUTES)]
    if problems:
        raise ValueError(f"Minute epochs hold {SLOT_MINUTES}-minute slots: the feature settings need an RR window of "
                         f"{SLOT_MINUTES} minutes and a night on multiples of {SLOT_MINUTES}; got {', '.join(problems)}.")
    start_day = None if start is None else _day_number(start)
    end_day = None if end is None else _day_number(end)
    codes, residents = pd.factorize(pd.Series(e.resident_id, dtype=object), sort=True)
    residents = np.asarray(residents, dtype=object)
    if len(e) == 0:
        return _frame(residents[:0], np.zeros(0, np.int64), 0, 1, {}, s)
    day = e.day.astype(np.int64)
    first_day, last_day = int(day.min()), int(day.max())
    first_day = first_day if start_day is None else min(first_day, start_day)
    last_day = last_day if end_day is None else max(last_day, end_day)
    d0 = first_day - 1
    n_days = last_day - d0 + 2
    n_keys = len(residents) * n_days
    row_at = np.full(n_keys, -1, np.int64)
    key = codes.astype(np.int64) * n_days + (day - d0)
    if np.bincount(key, minlength=n_keys).max() > 1:
        raise ValueError("Minute epochs hold a resident and day twice: concatenate epochs of different days only.")
    row_at[key] = np.arange(len(e))
    targets = np.flatnonzero((row_at >= 0) | (np.roll(row_at >= 0, 1) & (s.night_start < 0)))
    ns, ne = s.night_start, s.night_end
    f: dict[str, np.ndarray] = {k: np.zeros(n_keys) for k in ("wear", "day_wear", "night_wear", "step_n", "steps",
                                                               "rmssd_windows", "sleep_n", "sleep_minutes")}
    f.update({k: np.full(n_keys, np.nan) for k in ("resting_hr", "rmssd", "sleep_midpoint")})
    f["first_row"] = np.full(n_keys, -1, np.int64)
    data = np.zeros(n_keys, bool)
    w, k_low = s.hr_window, s.hr_lowest
    for c0 in range(0, len(targets), chunk):
        tk = targets[c0:c0 + chunk]
        rows, prev = row_at[tk], row_at[tk - 1]
        hr_n = _take(e.hr_n, rows, slice(None), 0)
        worn = hr_n > 0
        f["wear"][tk] = worn.sum(axis=1)
        f["day_wear"][tk] = worn[:, s.day_start:].sum(axis=1)
        n_n = _night(e.hr_n, rows, prev, ns, ne, 0).astype(np.float64)
        f["night_wear"][tk] = (n_n > 0).sum(axis=1)
        n_sum = np.nan_to_num(_night(e.hr, rows, prev, ns, ne, np.nan).astype(np.float64)) * n_n
        cnt = n_n.reshape(len(tk), -1, w).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(cnt >= s.hr_min_readings, n_sum.reshape(len(tk), -1, w).sum(axis=2) / cnt, np.inf)
        lowest = np.sort(means, axis=1)[:, :k_low] if k_low < means.shape[1] else means
        finite = np.isfinite(lowest)
        with np.errstate(invalid="ignore", divide="ignore"):
            f["resting_hr"][tk] = np.where(finite, lowest, 0).sum(axis=1) / np.where(finite.any(axis=1),
                                                                                  finite.sum(axis=1), np.nan)
        win_n = _night(e.rmssd_n, rows, prev, ns // SLOT_MINUTES, ne // SLOT_MINUTES, 0).sum(axis=1)
        win_sum = _night(e.rmssd_sum, rows, prev, ns // SLOT_MINUTES, ne // SLOT_MINUTES, 0).astype(np.float64).sum(axis=1)
        beats = _night(e.rr_beats, rows, prev, ns // SLOT_MINUTES, ne // SLOT_MINUTES, 0).astype(np.float64)
        sq = _night(e.rr_sq, rows, prev, ns // SLOT_MINUTES, ne // SLOT_MINUTES, 0)
        ok = beats >= s.rr_min_beats
        rr_n = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rr_sum = np.where(ok, np.sqrt(sq / (beats - 1)), 0.0).sum(axis=1)
            use_hrv = win_n > 0
            f["rmssd_windows"][tk] = np.where(use_hrv, win_n, rr_n)
            f["rmssd"][tk] = np.where(use_hrv, win_sum / win_n, rr_sum / rr_n)
        steps = _take(e.steps, rows, slice(None), np.nan)
        has_steps = ~np.isnan(steps)
        f["step_n"][tk] = has_steps.sum(axis=1)
        f["steps"][tk] = np.where(has_steps, steps, 0).astype(np.float64).sum(axis=1)
        own = rows >= 0
        f["first_row"][tk[own]] = np.where((f["wear"][tk[own]] + f["step_n"][tk[own]]) > 0, rows[own], -1)
        for name in ("sleep_n", "sleep_minutes", "sleep_midpoint"):
            f[name][tk[own]] = getattr(e, name)[rows[own]]
        data[tk] = (f["wear"][tk] + f["step_n"][tk] + win_n + rr_n + f["sleep_n"][tk]) > 0
    data[key[e.sleep_starts > 0]] = True
    sel = _rows_in_range(data.reshape(len(residents), n_days), d0, start_day, end_day, before)
    devices = pd.DataFrame({"device_id": pd.array(e.device_id, dtype="string")})
    return _frame(residents, sel, d0, n_days, f, s, readings=devices)


@validate_params({"epochs": Instance("workbench.wearables.epochs.Epochs", name="Epochs"), "start": Optional(Date()),
                  "end": Optional(Date()), "settings": _SETTINGS, "chunk": Interval(int, 1, None)})
def daily_features_from_epochs(epochs: Epochs, *, start=None, end=None,
                               settings: "str | Path | Mapping | FeatureSettings | None" = None,
                               chunk: int = 1024) -> pd.DataFrame:
    """The daily features (:func:`~workbench.wearables.features.daily_features`) from minute epochs.

    Parameters
    ----------
    epochs : Epochs
    start, end, settings
        As :func:`~workbench.wearables.features.daily_features` (the range's default: each
        resident's first and last day with data).
    chunk : int, default 1024
        Days computed at a time (memory: about 40 kB a day).

    Returns
    -------
    DataFrame
        :data:`~workbench.wearables.features.FEATURE_COLUMNS`, equal to ``daily_features`` on the
        readings the epochs were made from.

    Raises
    ------
    ValueError
        Settings whose RR window or night do not fall on the 5-minute slots; a resident and day twice.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2025-03-01 16:00", periods=420, freq="min", tz="UTC")  # 00:00-07:00 local
    >>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
    ...                   "end": t, "value": 61.0, "tz": "Asia/Shanghai"})
    >>> daily_features_from_epochs(epochs(r), end="2025-03-03")[["day", "night_wear_minutes", "resting_hr"]]
             day  night_wear_minutes  resting_hr
    0 2025-03-02                 360        61.0
    1 2025-03-03                   0        <NA>
    """
    return _features_from_epochs(epochs, start=start, end=end, settings=settings, before=False, chunk=chunk)


@validate_params({"epochs": Instance("workbench.wearables.epochs.Epochs", name="Epochs"), "start": Optional(Date()),
                  "end": Optional(Date()), "settings": _SETTINGS, "chunk": Interval(int, 1, None)})
def wearable_days_from_epochs(epochs: Epochs, *, start=None, end=None, policy="wearables_default",
                              settings: "str | Path | Mapping | FeatureSettings | None" = None,
                              chunk: int = 1024) -> pd.DataFrame:
    """The analysis table ``wearable_days`` from minute epochs (as
    :func:`~workbench.wearables.features.wearable_days` from readings: the baseline of the first days
    reads the epochs before ``start``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2025-03-01 16:00", periods=600, freq="min", tz="UTC")
    >>> r = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": t,
    ...                   "end": t, "value": 60.0, "tz": "Asia/Shanghai"})
    >>> wearable_days_from_epochs(epochs(r))[["day", "wear_state", "alert_state"]]
             day wear_state alert_state
    0 2025-03-02       worn    low_wear
    """
    from workbench.wearables.alerts import apply_alerts, load_wearable_policy
    from workbench.wearables.features import WEARABLE_DAYS_COLUMNS, personal_baseline

    p = load_wearable_policy(policy)
    days = _features_from_epochs(epochs, start=start, end=end, settings=settings, before=True, chunk=chunk)
    days = personal_baseline(days, window=p.baseline_window, min_days=p.baseline_min_days,
                             gap_days=p.baseline_gap_days, centre=p.baseline_centre)
    days = apply_alerts(days, policy=p)
    if start is not None:
        days = days[days["day"] >= pd.Timestamp(start).normalize()].reset_index(drop=True)
    return days[list(WEARABLE_DAYS_COLUMNS)]


# --- Parquet ------------------------------------------------------------------------------------

def bucket_of(resident_ids, buckets: int) -> np.ndarray:
    """``crc32(resident_id as UTF-8) mod buckets`` of each id (as :mod:`workbench.scale._wearables`).

    Examples
    --------
    >>> bucket_of(["R1", "R2", "R1"], 8).tolist()
    [3, 1, 3]
    """
    values = np.asarray(pd.Series(resident_ids, dtype="string").to_numpy(dtype=object))
    unique, inverse = np.unique(values, return_inverse=True)
    return np.array([zlib.crc32(str(v).encode("utf-8")) % buckets for v in unique], dtype=np.int64)[inverse]


def _table(e: Epochs):
    import pyarrow as pa

    columns = {"resident_id": pa.array(e.resident_id, pa.string()), "day": pa.array(e.day.astype("datetime64[D]")),
               "device_id": pa.array(e.device_id, pa.string()), "tz": pa.array(e.tz, pa.string())}
    for name, (_, width) in _MATRICES.items():
        values = getattr(e, name)
        columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1), from_pandas=False), width)
    for name in _SCALARS:
        columns[name] = pa.array(getattr(e, name))
    return pa.table(columns)


@validate_params({"epochs": Instance("workbench.wearables.epochs.Epochs", name="Epochs"), "folder": _FOLDER,
                  "buckets": Interval(int, 1, 100_000), "part": Interval(int, 0, None)})
def write_epochs(epochs: Epochs, folder: "str | os.PathLike", *, buckets: int, part: int = 0) -> list[Path]:
    """Write epochs to ``folder/bucket=NNNN/part-PPPPP.parquet`` (one file per bucket present; a
    batch's file of a bucket is replaced). Call once per batch with a new ``part``.

    Examples
    --------
    >>> import tempfile
    >>> e = Epochs.empty(2)
    >>> e.resident_id[:] = ["R1", "R2"]
    >>> folder = tempfile.mkdtemp()
    >>> [p.parent.name for p in write_epochs(e, folder, buckets=8)]
    ['bucket=0001', 'bucket=0003']
    >>> back = read_epochs(folder)
    >>> sorted(back.resident_id.tolist()), back.hr.shape
    (['R1', 'R2'], (2, 1440))
    """
    import pyarrow.parquet as pq

    folder = Path(folder)
    which = bucket_of(epochs.resident_id, buckets) if len(epochs) else np.zeros(0, np.int64)
    written = []
    for b in np.unique(which):
        path = folder / f"bucket={int(b):04d}" / f"part-{part:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pq.write_table(_table(epochs.take(np.flatnonzero(which == b))), tmp, compression="zstd")
        os.replace(tmp, path)
        written.append(path)
    return written


def read_epochs(path: "str | os.PathLike") -> Epochs:
    """Epochs from a Parquet file, a bucket folder or a folder of buckets (:func:`write_epochs`)."""
    import pyarrow.parquet as pq

    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        return Epochs.empty(0)
    parts = []
    for file in files:
        t = pq.read_table(file)
        out = {"resident_id": np.asarray(t["resident_id"].to_numpy(zero_copy_only=False), dtype=object),
               "day": t["day"].to_numpy().astype("datetime64[D]").astype(np.int64),
               "device_id": np.asarray(t["device_id"].to_numpy(zero_copy_only=False), dtype=object),
               "tz": np.asarray(t["tz"].to_numpy(zero_copy_only=False), dtype=object)}
        for name, (dtype, width) in _MATRICES.items():
            flat = t[name].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            out[name] = np.asarray(flat, dtype=dtype).reshape(-1, width)
        for name, dtype in _SCALARS.items():
            out[name] = t[name].to_numpy().astype(dtype)
        parts.append(Epochs(**out))
    return Epochs.concat(parts)
