"""Minute epochs straight from synthetic minute matrices (:class:`workbench.synth.wearables.DeviceArrays`),
without building the long-form readings frame: the same rows :func:`workbench.wearables.epochs.epochs`
makes from ``DeviceArrays.to_readings()`` (tested equal through the daily features)."""

from __future__ import annotations

import numpy as np

from workbench.wearables.epochs import DAY, SLOTS, Epochs

WINDOWS_PER_HALF_DAY = SLOTS // 2


def device_epochs(arrays) -> Epochs:
    """The epochs of ``arrays`` (a ``DeviceArrays``): local days ``start - 1`` (from noon, as the
    readings) to ``end``, one row per resident and day with a reading.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.synth.wearables import device_arrays
    >>> a = device_arrays(pd.DataFrame({"resident_id": ["R1"], "age": [70]}), start="2025-03-01",
    ...                   end="2025-03-02", seed=1)
    >>> e = device_epochs(a)
    >>> e.hr.shape[1], sorted(set(e.resident_id))
    (1440, ['R1'])
    """
    n, k = len(arrays.resident_id), arrays.n_days + 1          # grid days 0 (start - 1) .. n_days (end)
    hr = arrays.heart_rate.reshape(n, -1, DAY)[:, :k].copy()
    steps = arrays.steps.reshape(n, -1, DAY)[:, :k].copy()
    hr[:, 0, :arrays.EMIT_FROM] = np.nan                        # readings begin at noon of day 0
    steps[:, 0, :arrays.EMIT_FROM] = np.nan
    rm = arrays.rmssd                                           # (n, n_days, 288): noon-to-noon nights
    rmssd = np.full((n, k, SLOTS), np.nan, np.float32)
    rmssd[:, :-1, WINDOWS_PER_HALF_DAY:] = rm[:, :, :WINDOWS_PER_HALF_DAY]
    rmssd[:, 1:, :WINDOWS_PER_HALF_DAY] = rm[:, :, WINDOWS_PER_HALF_DAY:]
    on, off = arrays.sleep_onset, arrays.sleep_wake             # grid minutes, NaN: none recorded
    i, night = np.nonzero(~np.isnan(on))
    s, e = on[i, night].astype(np.int64), off[i, night].astype(np.int64)
    edges = np.zeros(n * k * DAY + 1, np.int32)
    np.add.at(edges, i * k * DAY + s, 1)
    np.add.at(edges, i * k * DAY + e, -1)
    asleep = (np.cumsum(edges[:-1]) > 0).reshape(n, k, DAY)
    end_key, start_key = i * k + e // DAY, i * k + s // DAY
    sleep_n = np.bincount(end_key, minlength=n * k)
    sleep_minutes = np.bincount(end_key, weights=(e - s).astype(float), minlength=n * k)
    midpoint = np.full(n * k, np.nan)
    midpoint[end_key] = ((s + e) / 2 - (e // DAY) * DAY) / 60
    sleep_starts = np.bincount(start_key, minlength=n * k)
    hr_n = ~np.isnan(hr)
    rm_n = ~np.isnan(rmssd)
    device_day = (hr_n | ~np.isnan(steps)).any(axis=2).ravel()
    keep = np.flatnonzero(device_day | rm_n.any(axis=2).ravel() | (sleep_n > 0) | (sleep_starts > 0))
    who = keep // k
    first = int(np.datetime64(arrays.start, "D").astype(np.int64)) - 1
    return Epochs(
        resident_id=np.asarray(arrays.resident_id, dtype=object)[who], day=(keep % k + first).astype(np.int64),
        device_id=np.where(device_day[keep], np.asarray(arrays.device_id, dtype=object)[who], None),
        tz=np.full(len(keep), arrays.tz, dtype=object),
        hr=hr.reshape(n * k, DAY)[keep], hr_n=hr_n.reshape(n * k, DAY)[keep].astype(np.uint16),
        steps=steps.reshape(n * k, DAY)[keep], asleep=asleep.reshape(n * k, DAY)[keep],
        rmssd_sum=np.nan_to_num(rmssd).reshape(n * k, SLOTS)[keep], rmssd_n=rm_n.reshape(n * k, SLOTS)[keep].astype(np.uint8),
        rr_sq=np.zeros((len(keep), SLOTS)), rr_beats=np.zeros((len(keep), SLOTS), np.uint16),
        sleep_n=sleep_n[keep].astype(np.uint8), sleep_minutes=sleep_minutes[keep], sleep_midpoint=midpoint[keep],
        sleep_starts=sleep_starts[keep].astype(np.uint8))
