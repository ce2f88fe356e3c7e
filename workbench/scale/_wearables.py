"""Wearable days on Dask: daily features, the personal baseline and the alerts per partition of
residents, over readings in Parquet partitioned by resident bucket (issue 17).

Features, the baseline and the alert rules all look at one resident at a time (the baseline reads
the same person's previous days, never anyone else's), so a partition holding whole residents
gives exactly the rows :func:`workbench.wearables.features.wearable_days` gives on all the
readings at once. The layout therefore puts a resident's whole history in one bucket::

    bucket=0003/part-00000.parquet    readings of the residents whose bucket is 3 (any number of parts)

with ``bucket = crc32(resident_id) mod buckets`` (stable across runs and machines). This differs
from the raw-readings store (:mod:`workbench.wearables.store`: kind and local month, for ingest
and pruned reads); :func:`write_buckets` turns a readings frame, e.g. one read from the store, into
the bucketed layout. Each bucket is read and computed in one task (``dask.delayed``); nothing is
shuffled. Memory per task: one bucket's readings (about 30 bytes per reading, 2 readings per worn
minute: roughly 2.6 MB per resident-day of minute data), so choose ``buckets`` to keep a bucket
within a worker's memory.

Minute epochs (:mod:`workbench.wearables.epochs`, about 18 kB per resident-day in memory and much
less as Parquet) are the faster input: :func:`workbench.wearables.epochs.write_epochs` writes them
in the same ``bucket=NNNN`` layout and :func:`wearable_days_from_epoch_buckets` computes each bucket
with :func:`workbench.wearables.epochs.wearable_days_from_epochs`.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.params import FRAME, Instance, Interval, Optional, Predicate, validate_params

__all__ = ["bucket_of", "wearable_days", "wearable_days_from_epoch_buckets", "write_buckets"]

_FOLDER = Predicate(lambda v: isinstance(v, (str, os.PathLike)) and bool(str(v)), "a folder path")


def bucket_of(resident_ids: Any, buckets: int) -> np.ndarray:
    """The bucket of each resident id: ``crc32(id as UTF-8) mod buckets`` (stable everywhere).

    Examples
    --------
    >>> bucket_of(["R1", "R2", "R1"], 8).tolist()
    [3, 1, 3]
    """
    values = pd.Series(resident_ids, dtype="string").to_numpy(dtype=object)
    unique, inverse = np.unique(values, return_inverse=True)
    codes = np.array([zlib.crc32(str(v).encode("utf-8")) % buckets for v in unique], dtype=np.int64)
    return codes[inverse]


@validate_params({"readings": FRAME, "folder": _FOLDER, "buckets": Interval(int, 1, 100_000),
                  "part": Interval(int, 0, None)})
def write_buckets(readings: pd.DataFrame, folder: str | os.PathLike, *, buckets: int, part: int = 0) -> list[Path]:
    """Write canonical readings to ``folder/bucket=NNNN/part-PPPPP.parquet``, one file per bucket present.

    Call it once per batch of readings with a new ``part`` number (a batch's file of a bucket is
    replaced if it exists). Categorical ``resident_id``, ``device_id``, ``tz`` and ``kind`` are
    kept as dictionary-encoded columns.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> t = pd.Timestamp("2025-03-01 16:00", tz="UTC")
    >>> r = pd.DataFrame({"resident_id": ["R1", "R2"], "device_id": "D", "kind": "heart_rate",
    ...                   "start": t, "end": t, "value": 60.0, "tz": "Asia/Shanghai"})
    >>> [p.parent.name for p in write_buckets(r, tempfile.mkdtemp(), buckets=8)]
    ['bucket=0001', 'bucket=0003']
    """
    folder = Path(folder)
    which = bucket_of(readings["resident_id"], buckets)
    written = []
    order = np.argsort(which, kind="stable")
    which_sorted = which[order]
    edges = np.flatnonzero(np.diff(which_sorted)) + 1
    for rows in np.split(order, edges) if len(order) else []:
        b = int(which[rows[0]])
        path = folder / f"bucket={b:04d}" / f"part-{part:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        readings.iloc[rows].reset_index(drop=True).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        written.append(path)
    return written


def _bucket_days(files: list[str], start, end, policy) -> pd.DataFrame:
    from workbench.wearables.features import wearable_days as in_memory

    readings = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return in_memory(readings, start=start, end=end, policy=policy)


@validate_params({"folder": _FOLDER, "client": Optional(Instance("distributed.Client", name="a distributed.Client"))})
def wearable_days(folder: str | os.PathLike, *, start=None, end=None, policy: Any = "wearables_default",
                  client=None) -> pd.DataFrame:
    """The analysis table ``wearable_days`` computed bucket by bucket on Dask.

    Parameters
    ----------
    folder : path
        Readings written by :func:`write_buckets` (``bucket=NNNN/*.parquet``).
    start, end, policy
        As :func:`workbench.wearables.features.wearable_days` (checked there, in each task).
    client : distributed.Client, optional
        Run on this cluster; default: Dask's local threads.

    Returns
    -------
    DataFrame
        The rows of :func:`workbench.wearables.features.wearable_days` on all the readings, sorted
        by ``resident_id`` and ``day`` (equal to it: whole residents per bucket).

    Examples
    --------
    >>> import tempfile
    >>> from workbench.synth.wearables import device_streams
    >>> r = device_streams(pd.DataFrame({"resident_id": ["R1", "R2"], "age": [70, 80]}),
    ...                    start="2025-03-01", end="2025-03-02", seed=3)
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_buckets(r, folder, buckets=2)
    >>> wearable_days(folder, start="2025-03-01", end="2025-03-02")[["resident_id", "day", "wear_state"]]
      resident_id        day wear_state
    0          R1 2025-03-01       worn
    1          R1 2025-03-02       worn
    2          R2 2025-03-01       worn
    3          R2 2025-03-02       worn
    """
    import dask

    folder = Path(folder)
    buckets = sorted(p for p in folder.glob("bucket=*") if p.is_dir())
    if not buckets:
        raise FileNotFoundError(f"No bucket=NNNN folders of readings in {folder} (write them with write_buckets).")
    tasks = [dask.delayed(_bucket_days)(sorted(str(f) for f in b.glob("*.parquet")), start, end, policy)
             for b in buckets]
    parts = client.compute(tasks, sync=True) if client is not None else dask.compute(*tasks, scheduler="threads")
    parts = [p for p in parts if len(p)]
    if not parts:
        from workbench.wearables.features import WEARABLE_DAYS_COLUMNS

        return pd.DataFrame(columns=list(WEARABLE_DAYS_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    out["resident_id"] = out["resident_id"].astype("string")
    return out.sort_values(["resident_id", "day"], kind="stable", ignore_index=True)


def _epoch_bucket_days(folder: str, start, end, policy) -> pd.DataFrame:
    from workbench.wearables.epochs import read_epochs, wearable_days_from_epochs

    return wearable_days_from_epochs(read_epochs(folder), start=start, end=end, policy=policy)


@validate_params({"folder": _FOLDER, "client": Optional(Instance("distributed.Client", name="a distributed.Client"))})
def wearable_days_from_epoch_buckets(folder: str | os.PathLike, *, start=None, end=None,
                                     policy: Any = "wearables_default", client=None) -> pd.DataFrame:
    """The analysis table ``wearable_days`` from minute epochs written by
    :func:`workbench.wearables.epochs.write_epochs`, bucket by bucket on Dask (whole residents per
    bucket: equal to :func:`workbench.wearables.epochs.wearable_days_from_epochs` on all of them).

    Parameters are those of :func:`wearable_days`.

    Examples
    --------
    >>> import tempfile
    >>> from workbench.synth.wearables import device_arrays
    >>> from workbench.wearables.epochs import write_epochs
    >>> e = device_arrays(pd.DataFrame({"resident_id": ["R1", "R2"], "age": [70, 80]}),
    ...                   start="2025-03-01", end="2025-03-02", seed=3).to_epochs()
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_epochs(e, folder, buckets=2)
    >>> wearable_days_from_epoch_buckets(folder, start="2025-03-01", end="2025-03-02")[["resident_id", "wear_state"]]
      resident_id wear_state
    0          R1       worn
    1          R1       worn
    2          R2       worn
    3          R2       worn
    """
    import dask

    folder = Path(folder)
    buckets = sorted(p for p in folder.glob("bucket=*") if p.is_dir())
    if not buckets:
        raise FileNotFoundError(f"No bucket=NNNN folders of epochs in {folder} (write them with write_epochs).")
    tasks = [dask.delayed(_epoch_bucket_days)(str(b), start, end, policy) for b in buckets]
    parts = client.compute(tasks, sync=True) if client is not None else dask.compute(*tasks, scheduler="threads")
    parts = [p for p in parts if len(p)]
    if not parts:
        from workbench.wearables.features import WEARABLE_DAYS_COLUMNS

        return pd.DataFrame(columns=list(WEARABLE_DAYS_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["resident_id", "day"], kind="stable", ignore_index=True)
