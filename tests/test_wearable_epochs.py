"""Minute epochs (workbench.wearables.epochs, issue 17): the daily features from epochs equal those
from the long-form readings on generated streams (from the readings and straight from the synthetic
minute matrices), the analysis table too, the Parquet round trip keeps every array, and settings the
5-minute slots cannot hold are refused. (Every hand-made stream of tests/test_wearable_features.py
also goes through both paths.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.synth.wearables import device_arrays
from workbench.wearables.epochs import (Epochs, daily_features_from_epochs, epochs, read_epochs,
                                        wearable_days_from_epochs, write_epochs)
from workbench.wearables.features import daily_features, load_feature_settings, wearable_days


@pytest.fixture(scope="module")
def generated():
    n = 8
    residents = pd.DataFrame({"resident_id": [f"R{i:03d}" for i in range(n)], "age": np.linspace(62, 88, n)})
    mood = pd.DataFrame({"resident_id": ["R001", "R004"], "start": "2025-02-10", "end": "2025-02-20", "severity": 1.0})
    return device_arrays(residents, start="2025-01-01", end="2025-02-25", seed=5, mood=mood)


def test_epochs_from_generated_readings_give_the_same_daily_features(generated):
    readings = generated.to_readings()
    expected = daily_features(readings, start="2025-01-01", end="2025-02-25")
    e = epochs(readings)
    got = daily_features_from_epochs(e, start="2025-01-01", end="2025-02-25", chunk=97)    # several chunks
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert expected["rmssd"].notna().sum() > 300 and expected["steps"].notna().sum() > 300
    assert (expected["wear_state"] == "low_wear").any() and (expected["wear_state"] == "not_worn").any()
    # without a range: each resident's days with data, as from the readings
    pd.testing.assert_frame_equal(daily_features_from_epochs(e), daily_features(readings), check_exact=False, rtol=1e-9)


def test_epochs_straight_from_the_synthetic_matrices_equal_those_from_the_readings(generated):
    direct = generated.to_epochs()
    via = epochs(generated.to_readings())
    assert len(direct) == len(via)
    for name in ("hr", "hr_n", "steps", "asleep", "rmssd_n", "sleep_n", "sleep_minutes", "sleep_midpoint"):
        a, b = getattr(direct, name), getattr(via, name)
        order_a = np.lexsort((direct.day, direct.resident_id.astype(str)))
        order_b = np.lexsort((via.day, via.resident_id.astype(str)))
        np.testing.assert_array_equal(a[order_a], b[order_b], err_msg=name)
    pd.testing.assert_frame_equal(daily_features_from_epochs(direct, start="2025-01-01", end="2025-02-25"),
                                  daily_features_from_epochs(via, start="2025-01-01", end="2025-02-25"))


def test_wearable_days_from_epochs_equal_the_analysis_table(generated):
    readings = generated.to_readings()
    expected = wearable_days(readings, start="2025-01-20", end="2025-02-25")
    got = wearable_days_from_epochs(generated.to_epochs(), start="2025-01-20", end="2025-02-25")
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert got["flag"].any() and got["baseline_days"].max() >= 14


def test_parquet_round_trip_by_resident_bucket(generated, tmp_path):
    e = generated.to_epochs()
    half = np.isin(e.resident_id, ["R000", "R001", "R002", "R003"])
    write_epochs(e.take(half), tmp_path, buckets=3, part=0)
    write_epochs(e.take(~half), tmp_path, buckets=3, part=1)
    back = read_epochs(tmp_path)
    assert len(back) == len(e) and len(list(tmp_path.glob("bucket=*"))) > 1
    order_a = np.lexsort((e.day, e.resident_id.astype(str)))
    order_b = np.lexsort((back.day, back.resident_id.astype(str)))
    for name in ("resident_id", "day", "device_id", "tz", "hr", "hr_n", "steps", "asleep", "rmssd_sum", "rr_sq",
                 "sleep_midpoint", "sleep_starts"):
        a, b = getattr(e, name)[order_a], getattr(back, name)[order_b]
        assert a.dtype == b.dtype or name in ("resident_id", "device_id", "tz"), name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert read_epochs(tmp_path / "nothing").hr.shape == (0, 1440)


def test_rr_intervals_and_an_evening_night_through_epochs(tmp_path):
    # 70 beats of 800/850 ms alternating in each 5-minute window of 00:00-01:00: RMSSD 50 ms
    t = pd.date_range("2025-03-02 00:00", periods=12 * 70, freq="4286ms", tz="Asia/Shanghai").tz_convert("UTC")
    rr = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "rr_interval", "start": t, "end": t,
                       "value": np.where(np.arange(len(t)) % 2 == 0, 800.0, 850.0), "tz": "Asia/Shanghai"})
    h = pd.date_range("2025-03-01 21:00", periods=600, freq="min", tz="Asia/Shanghai").tz_convert("UTC")
    hr = pd.DataFrame({"resident_id": "R1", "device_id": "D1", "kind": "heart_rate", "start": h, "end": h,
                       "value": 55.0 + np.arange(600) % 7, "tz": "Asia/Shanghai"})
    r = pd.concat([rr, hr], ignore_index=True)
    evening = tmp_path / "evening.yaml"
    raw = {"features": {"version": "t", "sources": {"x": "test"}, **{k: dict(v, source="x") for k, v in {
        "night": {"start_minute": -120, "end_minute": 360, "min_wear_minutes": 240},
        "day": {"start_minute": 360, "min_wear_minutes": 600},
        "resting_hr": {"window_minutes": 5, "min_readings": 3, "lowest_windows": 3},
        "rmssd": {"min_windows": 6, "rr_window_minutes": 5, "rr_min_beats": 60},
        "sleep": {"regularity_nights": 7, "regularity_within_days": 14}}.items()}}}
    import yaml

    evening.write_text(yaml.safe_dump(raw), encoding="utf-8")
    for settings in (None, evening):
        expected = daily_features(r, settings=settings)
        got = daily_features_from_epochs(epochs(r), settings=settings)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert expected.loc[expected["day"] == "2025-03-02", "rmssd"].iloc[0] == pytest.approx(50.0)
    assert expected.loc[expected["day"] == "2025-03-02", "night_wear_minutes"].iloc[0] == 480


def test_settings_the_slots_cannot_hold_are_refused():
    raw = load_feature_settings()
    from dataclasses import replace

    with pytest.raises(ValueError, match="5-minute slots.*rmssd.rr_window_minutes = 10"):
        daily_features_from_epochs(Epochs.empty(0), settings=replace(raw, rr_window=10))
    with pytest.raises(ValueError, match="night.start_minute = -2"):
        daily_features_from_epochs(Epochs.empty(0), settings=replace(raw, night_start=-2))


def test_binning_a_few_residents_at_a_time_gives_the_same_epochs(generated, monkeypatch):
    import workbench.wearables.epochs as module

    in_order = generated.to_readings()                                   # by resident: slices of the readings
    shuffled = in_order.sample(frac=1, random_state=3).reset_index(drop=True)
    whole = epochs(in_order)
    monkeypatch.setattr(module, "_GRID_CELLS", 1440 * 60 * 3)          # 3 residents' 58 days at a time
    for readings in (in_order, shuffled):
        parts = epochs(readings)
        assert len(parts) == len(whole)
        for name in ("resident_id", "day", "device_id", "tz", "hr", "hr_n", "steps", "asleep", "rmssd_n",
                     "sleep_n", "sleep_midpoint"):
            np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name), err_msg=name)
