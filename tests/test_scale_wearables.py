"""Wearable days on Dask (workbench.scale._wearables, issue 17): bucket by bucket over Parquet
partitioned by resident equals workbench.wearables.features.wearable_days on all the readings at
once, row for row, on generated residents (with low-mood episodes, so flags are among the rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.scale._wearables import bucket_of, wearable_days as dask_wearable_days, write_buckets
from workbench.scale._wearables import wearable_days_from_epoch_buckets
from workbench.wearables.epochs import epochs, write_epochs
from workbench.synth.wearables import device_arrays
from workbench.wearables.features import wearable_days


@pytest.fixture(scope="module")
def readings():
    n = 12
    residents = pd.DataFrame({"resident_id": [f"R{i:03d}" for i in range(n)], "age": np.linspace(62, 88, n)})
    mood = pd.DataFrame({"resident_id": [f"R{i:03d}" for i in range(0, n, 2)] + [f"R{i:03d}" for i in (1, 3)],
                         "start": "2025-02-14", "end": "2025-02-24", "severity": 1.0})
    return device_arrays(residents, start="2025-01-01", end="2025-02-28", seed=21, mood=mood).to_readings()


def test_the_dask_path_equals_the_in_memory_path(readings, tmp_path):
    half = readings["resident_id"].isin([f"R{i:03d}" for i in range(6)])
    write_buckets(readings[half], tmp_path, buckets=4, part=0)       # two batches: several files per bucket
    write_buckets(readings[~half], tmp_path, buckets=4, part=1)
    assert len(list(tmp_path.glob("bucket=*"))) > 1
    expected = wearable_days(readings, start="2025-01-01", end="2025-02-28")
    got = dask_wearable_days(tmp_path, start="2025-01-01", end="2025-02-28")
    expected = expected.sort_values(["resident_id", "day"], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)
    assert got["flag"].any()                                          # the comparison covers flagged days


def test_the_dask_path_over_epoch_buckets_equals_the_in_memory_path(readings, tmp_path):
    e = epochs(readings)
    half = np.isin(e.resident_id, [f"R{i:03d}" for i in range(6)])
    write_epochs(e.take(half), tmp_path, buckets=4, part=0)
    write_epochs(e.take(~half), tmp_path, buckets=4, part=1)
    expected = wearable_days(readings, start="2025-01-01", end="2025-02-28")
    got = wearable_days_from_epoch_buckets(tmp_path, start="2025-01-01", end="2025-02-28")
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert got["flag"].any()
    with pytest.raises(FileNotFoundError, match="write_epochs"):
        wearable_days_from_epoch_buckets(tmp_path / "none")


def test_buckets_are_stable_and_keep_residents_whole():
    ids = [f"R{i:05d}" for i in range(1000)]
    b = bucket_of(ids, 16)
    assert b.min() >= 0 and b.max() < 16 and len(set(b)) == 16
    assert np.array_equal(b, bucket_of(list(reversed(ids)), 16)[::-1])
    with pytest.raises(FileNotFoundError, match="No bucket=NNNN folders"):
        dask_wearable_days("/nonexistent-wearables-folder")
