"""The readings frame as integer arrays: codes, UTC and local instants, sorting and grouping helpers
(the vectorised core of :mod:`workbench.wearables.features`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError

KINDS = ("heart_rate", "rr_interval", "hrv_rmssd", "step_count", "sleep_episode")
DAY_NS = 86_400 * 10**9
MIN_NS = 60 * 10**9

# --- readings -> arrays ------------------------------------------------------------------------

_REQUIRED = ("resident_id", "device_id", "kind", "start", "end", "value", "tz")


def factor_codes(column: pd.Series, *, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1: blank) and the values they stand for; a categorical column's own codes,
    so a large readings frame is not hashed again (categories without rows may stay)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        categories = np.asarray(column.cat.categories, dtype=object)
        order = np.argsort(categories.astype(str), kind="stable") if sort else np.arange(len(categories))
        if np.array_equal(order, np.arange(len(categories))):
            return codes.astype(np.int64), categories
        lookup = np.full(len(categories) + 1, -1, dtype=np.int64)
        lookup[order] = np.arange(len(order))
        return lookup[codes], categories[order]
    codes, uniques = pd.factorize(column, sort=sort)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def _utc_ns(column: pd.Series, name: str, problems: list) -> np.ndarray | None:
    """Nanoseconds since 1970 UTC of a time-zone aware column (a view when it already is ns)."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        problems.append((0, name, str(column.dtype), "must be datetime64[ns, UTC] (time-zone aware instants)"))
        return None
    values = column.array
    return (values if values.unit == "ns" else values.as_unit("ns")).asi8


def offset_table(tz_names, lo_ns: int, hi_ns: int) -> tuple[np.ndarray, int]:
    """Minutes east of UTC of each zone at each UTC minute from ``lo_ns`` (zones change offset on
    whole minutes; a zone's historical offset in seconds is floored to the minute)."""
    t0 = lo_ns // MIN_NS
    minutes = np.arange(t0, hi_ns // MIN_NS + 1, dtype=np.int64)
    table = np.empty((len(tz_names), len(minutes)), dtype=np.int32)
    stamps = pd.DatetimeIndex(minutes * MIN_NS, tz="UTC")
    for k, name in enumerate(tz_names):
        local = stamps.tz_convert(str(name)).tz_localize(None).asi8
        table[k] = (local - stamps.asi8) // MIN_NS
    return table, int(t0)


def _check(readings: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in readings.columns]
    if missing:
        raise RowProblemsError([(None, c, None, "column missing from the readings") for c in missing],
                               context="the wearable readings", table="readings")


def reading_arrays(readings: pd.DataFrame) -> dict[str, Any]:
    """Codes and instants of every reading; every bad row named at once."""
    _check(readings)
    problems: list[tuple] = []
    rid, residents = factor_codes(readings["resident_id"], sort=True)
    for i in np.flatnonzero(rid < 0)[:1000]:
        problems.append((readings.index[i], "resident_id", None, "must not be blank"))
    kind, kinds = factor_codes(readings["kind"], sort=False)
    kmap = np.array([KINDS.index(n) if n in KINDS else -1 for n in kinds] + [-1], dtype=np.int8)
    kind = kmap[kind]                                      # the contract's codes; -1: unknown or blank
    for i in np.flatnonzero(kind < 0)[:1000]:
        problems.append((readings.index[i], "kind", readings["kind"].iloc[i], f"must be one of {list(KINDS)}"))
    tzc, tz_names = factor_codes(readings["tz"], sort=False)
    from zoneinfo import ZoneInfo

    for k, name in enumerate(tz_names):
        try:
            ZoneInfo(str(name))
        except (ValueError, KeyError, OSError):
            tz_names[k] = "UTC"                            # a category without rows is not looked up
            for i in np.flatnonzero(tzc == k)[:1000]:
                problems.append((readings.index[i], "tz", name, "must be an IANA time zone (e.g. Asia/Shanghai)"))
    for i in np.flatnonzero(tzc < 0)[:1000]:
        problems.append((readings.index[i], "tz", None, "must not be blank"))
    start, end = _utc_ns(readings["start"], "start", problems), _utc_ns(readings["end"], "end", problems)
    value = readings["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    for i in np.flatnonzero(np.isnan(value) & (kind != 4))[:1000]:
        problems.append((readings.index[i], "value", None, "must not be blank (only a sleep episode has no value)"))
    if start is not None and end is not None:
        nat = (start == np.iinfo(np.int64).min) | (end == np.iinfo(np.int64).min)
        for i in np.flatnonzero(nat)[:1000]:
            problems.append((readings.index[i], "start", None, "start and end must not be blank"))
        for i in np.flatnonzero((end < start) & ~nat)[:1000]:
            problems.append((readings.index[i], "end", readings["end"].iloc[i], "must not be before start"))
    if problems:
        raise RowProblemsError(problems, context="the wearable readings", table="readings")
    return {"rid": rid, "residents": residents, "kind": kind, "tzc": tzc, "tz_names": tz_names,
            "start": start, "end": end, "value": value}


def sorted_by(key: np.ndarray, *others: np.ndarray) -> tuple:
    """``key`` and ``others`` in the order of ``key`` (stable), and the order (None: already in
    order, not sorted again; readings usually come sorted by resident and time). A key below 2**31
    is sorted packed with its position in one int64 (``np.sort`` is several times faster than
    ``np.argsort``)."""
    if len(key) < 2 or not np.count_nonzero(key[1:] < key[:-1]):
        return (key, *others, None)
    if key.min() >= 0 and key.max() < 2**31 and len(key) < 2**32:
        packed = (key << 32) | np.arange(len(key), dtype=np.int64)
        packed.sort()
        order = packed & 0xFFFFFFFF
        return (packed >> 32, *(o[order] for o in others), order)
    order = np.argsort(key, kind="stable")
    return (key[order], *(o[order] for o in others), order)


def kind_rows(kind: np.ndarray, code: int) -> "slice | np.ndarray":
    """The rows of one kind: a slice when they are together (no copy), else their positions."""
    rows = np.flatnonzero(kind == code)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def group_starts(key: np.ndarray) -> np.ndarray:
    """Positions where a sorted ``key`` begins a new value."""
    if not len(key):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))


def lowest_mean(values: np.ndarray, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group of a sorted ``groups``: the mean of its ``k`` lowest values (all when fewer)."""
    first = group_starts(groups)
    sizes = np.diff(np.append(first, len(groups)))
    member = np.repeat(np.arange(len(first)), sizes)
    m = values.astype(np.float64, copy=True)
    total, n = np.zeros(len(first)), np.zeros(len(first))
    for _ in range(k):
        low = np.minimum.reduceat(m, first) if len(first) else np.zeros(0)
        ok = np.isfinite(low)
        total[ok] += low[ok]
        n[ok] += 1
        hit = np.flatnonzero(m == low[member])
        once = hit[np.concatenate(([True], member[hit][1:] != member[hit][:-1]))] if len(hit) else hit
        m[once] = np.inf
    return groups[first], total / np.where(n > 0, n, np.nan)


def window_median_mad(grid: np.ndarray, window: int, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Per row and column ``q`` of a (rows, days) ``grid`` (NaN: no value): the median and the
    median absolute deviation of the non-NaN values of columns ``q - window .. q - 1`` (NaN when
    none), computed ``block`` rows at a time to bound memory."""
    import warnings

    rows, days = grid.shape
    med, mad = np.full((rows, days), np.nan), np.full((rows, days), np.nan)
    for r0 in range(0, rows, block):
        padded = np.concatenate((np.full((min(block, rows - r0), window), np.nan), grid[r0:r0 + block]), axis=1)
        view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[:, :days]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)       # a window without values: NaN
            m = np.nanmedian(view, axis=2)
            med[r0:r0 + block] = m
            mad[r0:r0 + block] = np.nanmedian(np.abs(view - m[..., None]), axis=2)
    return med, mad
