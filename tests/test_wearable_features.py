"""Daily wearable features on hand-made streams: every expected value is worked out by hand from the
readings built here (the settings are the shipped ones: night 00:00-06:00 with 240 minutes worn,
steps with 600 minutes worn 06:00-24:00, resting HR = mean of the 3 lowest 5-minute means,
RMSSD windows >= 6, RR windows of 5 minutes with >= 60 beats, regularity over 7 nights in 14 days)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench._errors import RowProblemsError
from workbench.wearables.epochs import daily_features_from_epochs, epochs
from workbench.wearables.features import FEATURE_COLUMNS, WEARABLE_DAYS_COLUMNS, FeatureSettingsError
from workbench.wearables.features import daily_features as long_form_features
from workbench.wearables.features import load_feature_settings, personal_baseline, wearable_days

SH = "Asia/Shanghai"


def daily_features(readings, **kwargs):
    """``daily_features`` on the readings, checked equal to ``daily_features_from_epochs(epochs(readings))``
    (every hand-made stream of this module goes through both paths)."""
    expected = long_form_features(readings, **kwargs)
    settings = load_feature_settings(kwargs.get("settings"))
    if settings.rr_window == 5 and settings.night_start % 5 == 0 and settings.night_end % 5 == 0:
        got = daily_features_from_epochs(epochs(readings), **kwargs)
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    return expected


def stream(kind, local_start, n, value, *, rid="R1", tz=SH, freq="min", length=None, device="D1"):
    """``n`` readings of ``kind`` from local time ``local_start`` every ``freq``; ``length``: the
    interval of each (end - start)."""
    t = pd.date_range(local_start, periods=n, freq=freq, tz=tz).tz_convert("UTC")
    end = t + pd.Timedelta(length) if length is not None else t
    values = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    return pd.DataFrame({"resident_id": rid, "device_id": device, "kind": kind, "start": t, "end": end,
                         "value": values, "tz": tz})


def sleep(local_start, local_end, *, rid="R1", tz=SH):
    s = pd.Timestamp(local_start, tz=tz).tz_convert("UTC")
    e = pd.Timestamp(local_end, tz=tz).tz_convert("UTC")
    return pd.DataFrame({"resident_id": [rid], "device_id": "D1", "kind": "sleep_episode", "start": [s], "end": [e],
                         "value": [np.nan], "tz": tz})


def rows(*frames):
    return pd.concat(frames, ignore_index=True)


def on(days, day, rid="R1"):
    hit = days[(days["resident_id"] == rid) & (days["day"] == pd.Timestamp(day))]
    assert len(hit) == 1, (rid, day)
    return hit.iloc[0]


# --- wear ---------------------------------------------------------------------------------------

def test_wear_minutes_count_distinct_local_minutes_and_the_night_belongs_to_its_morning():
    # 23:00 on the 1st to 06:59 on the 2nd, every minute, plus a second reading in 30 minutes of it
    r = rows(stream("heart_rate", "2025-03-01 23:00", 480, 60),
             stream("heart_rate", "2025-03-02 01:00:30", 30, 60))
    d = daily_features(r)
    assert list(d.columns) == list(FEATURE_COLUMNS)
    assert (on(d, "2025-03-01")["wear_minutes"], on(d, "2025-03-01")["night_wear_minutes"]) == (60, 0)
    assert (on(d, "2025-03-02")["wear_minutes"], on(d, "2025-03-02")["night_wear_minutes"]) == (420, 360)
    assert on(d, "2025-03-02")["wear_state"] == "worn" and on(d, "2025-03-01")["wear_state"] == "low_wear"
    assert str(d["wear_minutes"].dtype) == "Int16" and str(d["steps"].dtype) == "Int32"


@pytest.mark.parametrize("minutes,worn", [(240, True), (239, False)])
def test_night_wear_just_above_and_below_the_requirement(minutes, worn):
    r = stream("heart_rate", "2025-03-02 00:00", minutes, 55)
    day = on(daily_features(r), "2025-03-02")
    assert day["night_wear_minutes"] == minutes
    assert day["wear_state"] == ("worn" if worn else "low_wear")
    if worn:
        assert day["resting_hr"] == 55
    else:
        assert pd.isna(day["resting_hr"]) and pd.isna(day["rmssd"]) and pd.isna(day["sleep_minutes"])


def test_every_day_of_the_range_has_a_row_and_a_day_without_data_is_not_worn_never_zero():
    r = stream("heart_rate", "2025-03-02 00:00", 300, 60)
    d = daily_features(r, start="2025-03-01", end="2025-03-04")
    assert [str(x)[:10] for x in d["day"]] == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
    empty = on(d, "2025-03-04")
    assert empty["wear_state"] == "not_worn" and empty["wear_minutes"] == 0 and pd.isna(empty["device_id"])
    for c in ("resting_hr", "rmssd", "steps", "sleep_minutes", "sleep_midpoint", "sleep_regularity"):
        assert pd.isna(empty[c]), c
    assert on(d, "2025-03-02")["device_id"] == "D1"


# --- resting heart rate -----------------------------------------------------------------------

def test_resting_hr_is_the_mean_of_the_three_lowest_five_minute_means():
    night = stream("heart_rate", "2025-03-02 00:00", 360, 70.0)
    night.loc[60:64, "value"] = 50.0          # 01:00-01:04: mean 50
    night.loc[120:124, "value"] = [51, 52, 53, 54, 55]   # 02:00-02:04: mean 53
    night.loc[180:184, "value"] = 56.0        # 03:00-03:04: mean 56
    night.loc[240:244, "value"] = 58.0        # 04:00-04:04: mean 58 (the 4th lowest: not used)
    # 05:00-05:04 has only 2 readings, both 30 bpm: fewer than 3 readings, the window is not used
    night = night.drop(index=range(302, 305))
    night.loc[300:301, "value"] = 30.0
    day = on(daily_features(night), "2025-03-02")
    assert day["resting_hr"] == pytest.approx((50 + 53 + 56) / 3)
    assert day["night_wear_minutes"] == 357


def test_readings_out_of_order_give_the_same_features():
    night = stream("heart_rate", "2025-03-02 00:00", 360, 70.0)
    night.loc[10:14, "value"] = 40.0
    shuffled = night.sample(frac=1, random_state=3).reset_index(drop=True)
    a, b = daily_features(night), daily_features(shuffled)
    pd.testing.assert_frame_equal(a, b)
    assert on(a, "2025-03-02")["resting_hr"] == pytest.approx((40 + 70 + 70) / 3)


# --- RMSSD ------------------------------------------------------------------------------------

def test_rmssd_is_the_mean_of_the_nights_windows_and_needs_six():
    hr = stream("heart_rate", "2025-03-02 00:00", 360, 60)
    windows = stream("hrv_rmssd", "2025-03-02 00:00", 6, [30, 40, 50, 20, 60, 40], freq="5min", length="5min")
    late = stream("hrv_rmssd", "2025-03-02 07:00", 1, 500, freq="5min", length="5min")   # daytime: not the night's
    day = on(daily_features(rows(hr, windows, late)), "2025-03-02")
    assert day["rmssd"] == pytest.approx(40.0)
    day = on(daily_features(rows(hr, windows.iloc[:5])), "2025-03-02")
    assert pd.isna(day["rmssd"])


def _rr(local_start, n_beats, pattern, *, rid="R1"):
    """Beats one after another from ``local_start``: RR values cycling through ``pattern`` (ms)."""
    values = np.resize(np.asarray(pattern, dtype=float), n_beats)
    step = np.where((values >= 240) & (values <= 3000), values, 1.0)   # an artefact takes no time
    offsets = np.concatenate(([0.0], np.cumsum(step)[:-1]))
    t = pd.Timestamp(local_start, tz=SH).tz_convert("UTC") + pd.to_timedelta(offsets, unit="ms")
    return pd.DataFrame({"resident_id": rid, "device_id": "D1", "kind": "rr_interval", "start": t, "end": t,
                         "value": values, "tz": SH})


def test_rmssd_from_rr_intervals_drops_implausible_beats():
    hr = stream("heart_rate", "2025-03-02 00:00", 360, 60)
    # 01:00 on: beats alternating 800 / 850 ms with an implausible 5000 ms and 100 ms between pairs:
    # once those are dropped every successive difference is +-50 ms, so each window's RMSSD is 50
    rr = _rr("2025-03-02 01:00", 4800, [800, 5000, 850, 100])   # 2400 beats: 33 minutes
    day = on(daily_features(rows(hr, rr)), "2025-03-02")
    assert day["rmssd"] == pytest.approx(50.0)
    # RR alternating 1000 / 1030: RMSSD 30; RMSSD windows of the night take precedence over RR
    rr2 = _rr("2025-03-03 01:00", 2400, [1000, 1030])
    hr2 = stream("heart_rate", "2025-03-03 00:00", 360, 60)
    day = on(daily_features(rows(hr, rr, hr2, rr2)), "2025-03-03")
    assert day["rmssd"] == pytest.approx(30.0)
    windows = stream("hrv_rmssd", "2025-03-03 02:00", 6, 41, freq="5min", length="5min")
    day = on(daily_features(rows(hr2, rr2, windows)), "2025-03-03")
    assert day["rmssd"] == pytest.approx(41.0)


def test_rr_windows_need_sixty_beats():
    hr = stream("heart_rate", "2025-03-02 00:00", 360, 60)
    # one beat every 6 s: 50 beats per 5-minute window, too few
    sparse = _rr("2025-03-02 01:00", 600, [800, 850])
    sparse["start"] = pd.date_range("2025-03-02 01:00", periods=600, freq="6s", tz=SH).tz_convert("UTC")
    sparse["end"] = sparse["start"]
    assert pd.isna(on(daily_features(rows(hr, sparse)), "2025-03-02")["rmssd"])


# --- steps ------------------------------------------------------------------------------------

@pytest.mark.parametrize("worn,expected", [(600, 1234), (599, None)])
def test_steps_need_ten_hours_of_daytime_wear(worn, expected):
    hr = stream("heart_rate", "2025-03-02 06:00", worn, 80)
    steps = stream("step_count", "2025-03-02 09:00", 2, [1000, 234], length="1min")
    night = stream("heart_rate", "2025-03-02 00:00", 300, 60)        # night wear does not count for steps
    day = on(daily_features(rows(night, hr, steps)), "2025-03-02")
    assert (pd.isna(day["steps"]) if expected is None else day["steps"] == expected)


def test_steps_without_any_step_reading_are_blank_but_zero_steps_recorded_are_zero():
    hr = stream("heart_rate", "2025-03-02 06:00", 700, 80)
    assert pd.isna(on(daily_features(hr), "2025-03-02")["steps"])
    zeros = stream("step_count", "2025-03-02 07:00", 60, 0, length="1min")
    assert on(daily_features(rows(hr, zeros)), "2025-03-02")["steps"] == 0


# --- sleep ------------------------------------------------------------------------------------

def test_sleep_across_midnight_naps_and_the_midpoint():
    hr = rows(stream("heart_rate", "2025-03-02 00:00", 360, 60), stream("heart_rate", "2025-03-03 00:00", 360, 60))
    r = rows(hr, sleep("2025-03-01 22:30", "2025-03-02 06:30"),    # 480 min, midpoint 02:30
             sleep("2025-03-02 13:00", "2025-03-02 14:00"),        # a nap ending the same day: 60 min
             sleep("2025-03-02 21:00", "2025-03-03 01:00"))        # 240 min, midpoint 23:00 the day before
    d = daily_features(r)
    assert on(d, "2025-03-02")["sleep_minutes"] == 540
    assert on(d, "2025-03-02")["sleep_midpoint"] == pytest.approx(2.5)
    assert on(d, "2025-03-03")["sleep_minutes"] == 240
    assert on(d, "2025-03-03")["sleep_midpoint"] == pytest.approx(-1.0)
    # a night without enough wear: no sleep features, never 0
    assert pd.isna(on(daily_features(rows(stream("heart_rate", "2025-03-02 00:00", 100, 60),
                                          sleep("2025-03-01 23:00", "2025-03-02 06:00"))), "2025-03-02")["sleep_minutes"])


def test_sleep_regularity_is_the_sd_of_the_last_seven_valid_midpoints_in_minutes():
    shifts = [0, 10, -10, 20, -20, 0, 0]           # minutes around 02:30
    frames = []
    for k, shift in enumerate(shifts):
        day = pd.Timestamp("2025-03-02") + pd.Timedelta(days=k)
        frames.append(stream("heart_rate", f"{day:%Y-%m-%d} 00:00", 360, 60))
        start = day - pd.Timedelta(minutes=90) + pd.Timedelta(minutes=shift)
        frames.append(sleep(start, start + pd.Timedelta(hours=8)))
    d = daily_features(rows(*frames))
    expected = math.sqrt(sum(s * s for s in shifts) / 6)        # mean 0, SD with n-1 = 6
    assert on(d, "2025-03-08")["sleep_regularity"] == pytest.approx(expected)
    assert pd.isna(on(d, "2025-03-07")["sleep_regularity"])     # only 6 valid nights so far
    assert on(d, "2025-03-05")["sleep_midpoint"] == pytest.approx(2.5 + 20 / 60)


# --- local days and time zones -------------------------------------------------------------------

def test_the_local_day_follows_each_readings_time_zone():
    # the same UTC instants: 16:00-21:59 UTC is 00:00-05:59 of the next day in Shanghai, 11:00-16:59 in New York
    t = pd.date_range("2025-03-01 16:00", periods=360, freq="min", tz="UTC")
    base = dict(device_id="D1", kind="heart_rate", start=t, end=t, value=60.0)
    r = rows(pd.DataFrame({"resident_id": "SH", "tz": SH, **base}),
             pd.DataFrame({"resident_id": "NY", "tz": "America/New_York", **base}))
    d = daily_features(r)
    assert on(d, "2025-03-02", "SH")["night_wear_minutes"] == 360
    ny = on(d, "2025-03-01", "NY")
    assert ny["wear_minutes"] == 360 and ny["night_wear_minutes"] == 0
    assert (d["resident_id"] == "NY").sum() == 1 and (d["resident_id"] == "SH").sum() == 1


def test_a_resident_who_changes_time_zone_gets_each_reading_in_its_own_zone():
    # Shanghai until 2025-03-02 05:59 local, then Urumqi-style UTC+6 (Asia/Dhaka) for the evening
    a = stream("heart_rate", "2025-03-02 00:00", 360, 60)
    b = stream("heart_rate", "2025-03-02 20:00", 120, 60, tz="Asia/Dhaka")
    d = daily_features(rows(a, b))
    assert on(d, "2025-03-02")["wear_minutes"] == 480


def test_london_spring_forward_night_has_300_wall_clock_minutes():
    # every UTC minute 00:00-04:59 on 2025-03-30: 00:00-00:59 GMT, then 02:00-05:59 BST (01:xx does not exist)
    t = pd.date_range("2025-03-30 00:00", periods=300, freq="min", tz="UTC")
    r = pd.DataFrame({"resident_id": "L", "device_id": "D1", "kind": "heart_rate", "start": t, "end": t,
                      "value": 60.0, "tz": "Europe/London"})
    day = on(daily_features(r), "2025-03-30", "L")
    assert day["night_wear_minutes"] == 300 and day["wear_minutes"] == 300


def test_london_fall_back_night_counts_the_repeated_hour_once():
    # every UTC minute from 2025-10-25 23:00 (00:00 BST) to 05:59 UTC (05:59 GMT): 420 real minutes,
    # 360 wall-clock minutes of the night (01:00-01:59 happens twice)
    t = pd.date_range("2025-10-25 23:00", periods=420, freq="min", tz="UTC")
    r = pd.DataFrame({"resident_id": "L", "device_id": "D1", "kind": "heart_rate", "start": t, "end": t,
                      "value": 60.0, "tz": "Europe/London"})
    d = daily_features(r)
    assert len(d) == 1
    day = on(d, "2025-10-26", "L")
    assert day["night_wear_minutes"] == 360 and day["wear_minutes"] == 360
    # a sleep episode over the change: 8 real hours (480 minutes), 23:00 BST to 06:00 GMT
    s = pd.DataFrame({"resident_id": ["L"], "device_id": "D1", "kind": "sleep_episode",
                      "start": [pd.Timestamp("2025-10-25 22:00", tz="UTC")],
                      "end": [pd.Timestamp("2025-10-26 06:00", tz="UTC")], "value": [np.nan], "tz": "Europe/London"})
    day = on(daily_features(rows(r, s)), "2025-10-26", "L")
    assert day["sleep_minutes"] == 480
    assert day["sleep_midpoint"] == pytest.approx(2.0)     # 02:00 UTC = 02:00 GMT, after the change


# --- bad input ----------------------------------------------------------------------------------

def test_bad_readings_are_named_row_by_row_and_nothing_is_computed():
    r = stream("heart_rate", "2025-03-02 00:00", 5, 60)
    r.loc[1, "kind"] = "blood_pressure"
    r.loc[2, "tz"] = "Mars/Olympus"
    r.loc[3, "value"] = np.nan
    with pytest.raises(RowProblemsError) as err:
        daily_features(r)
    found = {(p[1], p[2]) for p in err.value.problems.itertuples(index=False)} if hasattr(err.value.problems, "itertuples") \
        else {(p[1], p[2]) for p in err.value.problems}
    assert {(1, "kind"), (2, "tz"), (3, "value")} <= found
    naive = stream("heart_rate", "2025-03-02 00:00", 5, 60)
    naive["start"] = naive["start"].dt.tz_localize(None)
    with pytest.raises(RowProblemsError, match="start"):
        daily_features(naive)


def test_settings_are_checked_and_a_changed_setting_changes_the_feature(tmp_path):
    with pytest.raises(FeatureSettingsError, match=r"features.night.min_wear_minutes"):
        load_feature_settings({"version": "1", "sources": {"p": "x"}, "night": {"start_minute": 0, "end_minute": 360,
                                                                               "min_wear_minutes": 400, "source": "p"},
                               "day": {"start_minute": 360, "min_wear_minutes": 600, "source": "p"},
                               "resting_hr": {"window_minutes": 5, "min_readings": 3, "lowest_windows": 3, "source": "p"},
                               "rmssd": {"min_windows": 6, "rr_window_minutes": 5, "rr_min_beats": 60, "source": "p"},
                               "sleep": {"regularity_nights": 7, "regularity_within_days": 14, "source": "p"}})
    import yaml
    from workbench.wearables.feature_settings import _DATA

    raw = yaml.safe_load((_DATA / "wearable_features.yaml").read_text(encoding="utf-8"))
    raw["features"]["night"]["min_wear_minutes"] = 120
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    r = stream("heart_rate", "2025-03-02 00:00", 150, 60)
    assert on(daily_features(r), "2025-03-02")["wear_state"] == "low_wear"
    assert on(daily_features(r, settings=path), "2025-03-02")["wear_state"] == "worn"


# --- the personal baseline ---------------------------------------------------------------------

def _days(values, *, rid="R1", first="2025-01-01", column="rmssd"):
    return pd.DataFrame({"resident_id": rid, "day": pd.date_range(first, periods=len(values)),
                         column: pd.array(values, dtype="Float64")})


def test_baseline_mean_and_sd_by_hand():
    # 14 days alternating 40 and 50: mean 45, SD (n-1) = sqrt(14 * 25 / 13); then a day of 30
    values = [40.0, 50.0] * 7 + [30.0]
    out = personal_baseline(_days(values), columns=["rmssd"])
    last = out.iloc[-1]
    assert last["baseline_days"] == 14
    assert last["rmssd_z"] == pytest.approx((30 - 45) / math.sqrt(14 * 25 / 13))
    assert out["rmssd_z"].iloc[:14].isna().all()        # fewer than 14 days before them


def test_the_baseline_leaves_out_the_day_itself_and_days_older_than_the_window():
    # day 0: 1000 (35 days before the last day: outside the 28-day window); days 7-34: 28 days of 40/50
    values = [1000.0] + [None] * 6 + [40.0, 50.0] * 14 + [45.0]
    out = personal_baseline(_days(values), columns=["rmssd"])
    last = out.iloc[-1]
    assert last["baseline_days"] == 28
    assert last["rmssd_z"] == pytest.approx(0.0)
    # the day before: its window (days 6-33) holds day 6 (blank) and 27 values, 40, 50, ..., 40
    window = [40.0, 50.0] * 13 + [40.0]
    assert out.iloc[-2]["baseline_days"] == 27
    assert out.iloc[-2]["rmssd_z"] == pytest.approx((50 - np.mean(window)) / np.std(window, ddof=1))


def test_too_few_baseline_days_blank_and_missing_rows_are_not_valid_days():
    values = [40.0, 50.0] * 6 + [45.0]                    # 12 valid days before the last
    out = personal_baseline(_days(values), columns=["rmssd"])
    assert out.iloc[-1]["baseline_days"] == 12 and pd.isna(out.iloc[-1]["rmssd_z"])
    out = personal_baseline(_days(values), columns=["rmssd"], min_days=12)
    assert out.iloc[-1]["rmssd_z"] == pytest.approx(0.0)
    # every other row missing: the window holds fewer valid days
    sparse = _days([40.0, 50.0] * 14 + [30.0]).iloc[::2]
    assert personal_baseline(sparse, columns=["rmssd"]).iloc[-1]["baseline_days"] == 14


def test_a_gap_keeps_the_last_nights_out_of_their_own_baseline():
    # 14 days of 40/50, then 3 low days 30, 20, 10; gap 2: the baseline of the last day (day 16) is
    # days -14 .. 13 (28 days ending 2 days before it): the 14 days of 40/50, no low day in it
    values = [40.0, 50.0] * 7 + [30.0, 20.0, 10.0]
    window = [40.0, 50.0] * 7
    out = personal_baseline(_days(values), columns=["rmssd"], gap_days=2)
    assert out["baseline_days"].tolist() == [0, 0, 0] + list(range(1, 15))
    assert out.iloc[-1]["rmssd_z"] == pytest.approx((10 - np.mean(window)) / np.std(window, ddof=1))
    assert out["rmssd_z"].iloc[:16].isna().all()         # day 15: 13 days in its baseline
    # without a gap the low days join the baseline of the last one
    assert personal_baseline(_days(values), columns=["rmssd"]).iloc[-1]["baseline_days"] == 16


def test_the_robust_baseline_is_the_median_and_1_4826_mad():
    # 15 days, five each of 40, 44 and 50: median 44; |deviations| five each of 4, 0, 6: MAD 4
    values = [40.0, 50.0, 44.0] * 5 + [35.0]
    out = personal_baseline(_days(values), columns=["rmssd"], centre="median")
    assert out.iloc[-1]["rmssd_z"] == pytest.approx((35 - 44) / (1.4826 * 4))
    assert out.iloc[-1]["baseline_days"] == 15
    # one 44 becomes 1000 (sorted: 40 x5, 44 x4, 50 x5, 1000): the median and MAD stay 44 and 4
    values[14] = 1000.0
    out = personal_baseline(_days(values), columns=["rmssd"], centre="median")
    assert out.iloc[-1]["rmssd_z"] == pytest.approx((35 - 44) / (1.4826 * 4))
    assert personal_baseline(_days(values), columns=["rmssd"]).iloc[-1]["rmssd_z"] > -1    # the mean and SD move
    # a MAD of 0 gives no z, as an SD of 0 does
    assert pd.isna(personal_baseline(_days([60.0] * 14 + [70.0]), columns=["rmssd"], centre="median").iloc[-1]["rmssd_z"])


def test_each_resident_has_their_own_baseline_and_a_zero_sd_gives_no_z():
    a = _days([40.0, 50.0] * 7 + [30.0], rid="A")
    b = _days([60.0] * 14 + [70.0], rid="B")
    out = personal_baseline(pd.concat([b, a], ignore_index=True), columns=["rmssd"])
    assert out[out["resident_id"] == "A"].iloc[-1]["rmssd_z"] == pytest.approx(-15 / math.sqrt(350 / 13))
    assert pd.isna(out[out["resident_id"] == "B"].iloc[-1]["rmssd_z"])


def test_wearable_days_has_the_contracts_columns_and_dtypes():
    r = stream("heart_rate", "2025-03-02 00:00", 300, 60)
    d = wearable_days(r, start="2025-03-01", end="2025-03-03")
    assert tuple(d.columns) == WEARABLE_DAYS_COLUMNS and len(d) == 3
    from workbench.tables import TABLES

    spec = TABLES["wearable_days"]
    dtypes = {c.name: c.dtype for c in spec.columns}
    from workbench.tables import DTYPES

    for column in d.columns:
        assert str(d[column].dtype) == DTYPES[dtypes[column]], column


def test_categorical_interleaved_and_shuffled_input_gives_the_same_days():
    frames = []
    for rid, tz, hr in (("B", SH, 62.0), ("A", "Europe/London", 58.0)):
        frames += [stream("heart_rate", "2025-03-02 00:00", 1200, hr, rid=rid, tz=tz),
                   stream("step_count", "2025-03-02 06:00", 600, 2, rid=rid, tz=tz, length="1min"),
                   stream("hrv_rmssd", "2025-03-02 00:00", 8, 35, rid=rid, tz=tz, freq="5min", length="5min"),
                   sleep("2025-03-01 23:00", "2025-03-02 06:00", rid=rid, tz=tz)]
    plain = rows(*frames)
    mixed = plain.sample(frac=1, random_state=7).reset_index(drop=True)
    for column, categories in (("resident_id", ["B", "A", "Z"]), ("kind", None), ("tz", None), ("device_id", None)):
        mixed[column] = pd.Categorical(mixed[column], categories=categories)
    a, b = daily_features(plain), daily_features(mixed)
    pd.testing.assert_frame_equal(a, b)
    assert a["resident_id"].unique().tolist() == ["A", "B"]        # sorted; a category without rows has none
    assert on(a, "2025-03-02", "A")["steps"] == 1200 and on(a, "2025-03-02", "B")["resting_hr"] == 62.0


def test_readings_years_apart_are_converted_zone_by_zone_with_the_same_result(monkeypatch):
    import workbench.wearables.features as features

    r = rows(stream("heart_rate", "2025-03-30 00:00", 300, 60, tz="Europe/London", rid="L"),
             stream("heart_rate", "2025-03-02 00:00", 300, 61, rid="S"))
    expected = daily_features(r)
    monkeypatch.setattr(features, "_TABLE_MINUTES", 10)
    got = daily_features(r)
    pd.testing.assert_frame_equal(expected, got)
    assert on(got, "2025-03-30", "L")["night_wear_minutes"] == 300
