"""Synthetic wristband streams (workbench.synth.wearables, issue 17): the contract's shape, the
seed, the diurnal pattern, wear gaps at the declared rates, the responses to age, low mood and
illness, refusals naming the row; and the alert reproduced on cases nobody hand-wrote (features and
alerts of workbench.wearables run on generated residents with random low-mood episodes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench._errors import RowProblemsError
from workbench.synth.wearables import (DAY, KINDS, READING_COLUMNS, device_arrays, device_streams,
                                       wearable_params)


def people(n: int, *, age=70, seed: int = 0) -> pd.DataFrame:
    ages = age if np.isscalar(age) else np.asarray(age)
    return pd.DataFrame({"resident_id": [f"R{i:04d}" for i in range(n)], "age": ages,
                         "sex": np.where(np.arange(n) % 2 == 0, "female", "male")})


@pytest.fixture(scope="module")
def small():
    mood = pd.DataFrame({"resident_id": ["R0001"], "start": ["2025-03-12"], "end": ["2025-03-20"], "severity": [1.0]})
    return device_streams(people(4), start="2025-03-01", end="2025-03-21", seed=11, mood=mood)


def test_the_contract_shape_and_dtypes(small):
    assert small.columns.tolist() == READING_COLUMNS == ["resident_id", "device_id", "kind", "start", "end", "value", "tz"]
    assert str(small["resident_id"].dtype) == "string" and str(small["device_id"].dtype) == "string"
    assert str(small["tz"].dtype) == "string" and set(small["tz"]) == {"Asia/Shanghai"}
    assert isinstance(small["kind"].dtype, pd.CategoricalDtype) and list(small["kind"].cat.categories) == list(KINDS)
    assert str(small["start"].dtype) == str(small["end"].dtype) == "datetime64[ns, UTC]"
    assert small["value"].dtype == np.float64
    kinds = small["kind"].astype(str)
    assert set(kinds) == {"heart_rate", "step_count", "hrv_rmssd", "sleep_episode"}
    assert small.loc[kinds == "sleep_episode", "value"].isna().all()
    assert small.loc[kinds != "sleep_episode", "value"].notna().all()       # NaN only for sleep episodes
    span = small["end"] - small["start"]
    assert (span[kinds == "heart_rate"] == pd.Timedelta(0)).all()
    assert (span[kinds == "step_count"] == pd.Timedelta(minutes=1)).all()
    assert (span[kinds == "hrv_rmssd"] == pd.Timedelta(minutes=5)).all()
    assert (span[kinds == "sleep_episode"] >= pd.Timedelta(hours=3)).all()
    # one device per resident; one reading per kind and minute
    assert small.groupby("resident_id")["device_id"].nunique().eq(1).all()
    assert not small.duplicated(["resident_id", "kind", "start"]).any()
    # local noon of the day before start to local midnight after end (UTC+8)
    local = small["start"].dt.tz_convert("Asia/Shanghai")
    assert local.min() >= pd.Timestamp("2025-02-28 12:00", tz="Asia/Shanghai")
    assert local.max() < pd.Timestamp("2025-03-22 00:00", tz="Asia/Shanghai")
    # at most one sleep episode a night, ending on the morning of a day from start to end
    sleep = local[kinds == "sleep_episode"]
    woke = small.loc[kinds == "sleep_episode", "end"].dt.tz_convert("Asia/Shanghai")
    assert not small[kinds == "sleep_episode"].assign(d=woke.dt.date).duplicated(["resident_id", "d"]).any()
    assert woke.dt.date.min() >= pd.Timestamp("2025-03-01").date() and woke.dt.hour.max() < 12
    assert len(sleep) <= 4 * 21


def test_reproducible_with_the_seed_and_different_with_another():
    args = dict(start="2025-03-01", end="2025-03-03", mood=None)
    a = device_streams(people(2), seed=5, **args)
    b = device_streams(people(2), seed=5, **args)
    pd.testing.assert_frame_equal(a, b)
    fast = device_arrays(people(2), seed=5, **args).to_readings(strings=False)      # categoricals, same values
    assert isinstance(fast["resident_id"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(fast.astype({"resident_id": "string", "device_id": "string", "tz": "string"}), a)
    c = device_streams(people(2), seed=6, **args)
    assert len(a) != len(c) or not np.array_equal(a["value"].to_numpy(), c["value"].to_numpy(), equal_nan=True)


def test_diurnal_pattern_night_heart_rate_below_day_and_steps_by_day(small):
    local = small["start"].dt.tz_convert("Asia/Shanghai")
    hour = local.dt.hour
    kinds = small["kind"].astype(str)
    hr = small[kinds == "heart_rate"].assign(hour=hour)
    night = hr[hr["hour"].between(1, 4)].groupby("resident_id")["value"].mean()
    day = hr[hr["hour"].between(10, 18)].groupby("resident_id")["value"].mean()
    assert (night < day - 5).all(), (night, day)
    steps = small[kinds == "step_count"].assign(hour=hour)
    assert steps.loc[steps["hour"].between(1, 4), "value"].eq(0).mean() > 0.98      # mostly 0 at night
    assert steps.loc[steps["hour"].between(8, 19), "value"].sum() > \
        20 * steps.loc[steps["hour"].between(1, 4), "value"].sum()
    # RMSSD windows only within a recorded sleep episode of the same resident
    rm = small[kinds == "hrv_rmssd"]
    ep = small[kinds == "sleep_episode"]
    inside = rm.merge(ep[["resident_id", "start", "end"]], on="resident_id", suffixes=("", "_sleep"))
    inside = inside[(inside["start"] >= inside["start_sleep"]) & (inside["end"] <= inside["end_sleep"])]
    assert len(inside) == len(rm)


def test_wear_gaps_at_the_declared_rates():
    wp = wearable_params()["wear"]
    n, days = 150, 60
    a = device_arrays(people(n), start="2025-01-01", end=str(np.datetime64("2025-01-01") + days - 1), seed=3)
    worn_minutes = (~np.isnan(a.heart_rate[:, DAY:(days + 1) * DAY])).reshape(n, days, DAY).sum(axis=2)
    day_off = (worn_minutes == 0).mean()
    assert abs(day_off - wp["p_day_off"]) < 0.025, day_off
    assert np.array_equal(worn_minutes > 0, a.truth["worn_day"])
    # nights without an episode, among nights whose evening and morning days were worn
    both = a.truth["worn_day"][:, 1:] & a.truth["worn_day"][:, :-1]
    night_off = np.isnan(a.sleep_onset[:, 1:])[both].mean()
    assert abs(night_off - wp["p_night_off"]) < 0.03, night_off
    # with no day or night gaps, the minutes missed are the daytime charges only
    only_charge = device_arrays(people(n), start="2025-01-01", end="2025-01-30", seed=4,
                                params={"wear": {"p_day_off": 0.0, "p_night_off": 0.0}})
    missed = np.isnan(only_charge.heart_rate[:, DAY:31 * DAY]).reshape(n, 30, DAY)
    expected = np.mean(wp["charge_minutes"]) / wp["charge_every_days"]
    assert abs(missed.sum(axis=2).mean() - expected) < 0.2 * expected
    hours = np.nonzero(missed.any(axis=(0, 1)))[0] / 60
    assert hours.min() >= 8 and hours.max() < 20        # charging in the daytime


def test_older_residents_walk_less_and_have_lower_rmssd():
    ages = np.r_[np.full(80, 45), np.full(80, 85)]
    a = device_arrays(people(160, age=ages), start="2025-05-01", end="2025-05-10", seed=8)
    rmssd = np.nanmedian(a.rmssd.reshape(160, -1), axis=1)
    steps = np.nanmean(a.truth["steps_day"], axis=1)
    assert np.median(rmssd[80:]) < 0.7 * np.median(rmssd[:80])
    assert np.median(steps[80:]) < 0.6 * np.median(steps[:80])


def test_low_mood_and_illness_change_the_nights_and_days():
    n = 60
    who = [f"R{i:04d}" for i in range(n)]
    mood = pd.DataFrame({"resident_id": who[:30], "start": "2025-04-15", "end": "2025-04-28", "severity": 1.0})
    ill = pd.DataFrame({"resident_id": who[30:], "start": "2025-04-15", "end": "2025-04-21", "severity": 1.0})
    a = device_arrays(people(n), start="2025-04-01", end="2025-04-30", seed=9, mood=mood, illness=ill)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):      # nights without windows are NaN
        nightly = np.nanmedian(a.rmssd, axis=2)                       # observed night level (windows)
    before, during = slice(0, 14), slice(14, 28)
    ratio = np.nanmedian(nightly[:, during], axis=1) / np.nanmedian(nightly[:, before], axis=1)
    ill_ratio = np.nanmedian(nightly[:, 14:21], axis=1) / np.nanmedian(nightly[:, before], axis=1)
    assert np.median(ratio[:30]) < 0.82 and np.median(ill_ratio[30:]) < 0.88
    hr_rise = a.truth["resting_hr"][:, 14:21].mean(axis=1) - a.truth["resting_hr"][:, :14].mean(axis=1)
    assert np.median(hr_rise[30:]) > 4 and np.median(hr_rise[:30]) > 2
    onset_sd = np.nanstd(a.sleep_onset[:30, during] - 1440 * np.arange(14, 28), axis=1)
    onset_sd_before = np.nanstd(a.sleep_onset[:30, before] - 1440 * np.arange(14), axis=1)
    assert np.median(onset_sd) > np.median(onset_sd_before)          # more irregular sleep in low mood
    assert (a.truth["mood"][:30, 14:28] == 1).all() and (a.truth["mood"][30:] == 0).all()


def test_bad_input_is_named_by_row_column_and_rule():
    with pytest.raises(RowProblemsError) as err:
        device_streams(pd.DataFrame({"resident_id": ["R1", " ", "R1"], "age": [70, 71, 200]}),
                       start="2025-01-01", end="2025-01-02", seed=1)
    found = set(zip(err.value.problems["row"], err.value.problems["column"]))
    assert found == {(1, "resident_id"), (2, "resident_id"), (2, "age")}
    with pytest.raises(RowProblemsError) as err:
        device_streams(people(1), start="2025-01-01", end="2025-01-02", seed=1,
                       mood=pd.DataFrame({"resident_id": ["R0000", "nobody"], "start": ["2025-01-02", "2025-01-01"],
                                          "end": ["2025-01-01", "2025-01-02"], "severity": [0.5, 2]}))
    assert set(zip(err.value.problems["row"], err.value.problems["column"])) == \
        {(0, "end"), (1, "resident_id"), (1, "severity")}
    assert set(err.value.problems["table"]) == {"mood"}
    with pytest.raises(ValueError, match="'wearables.wear.p_day_off' must be a number in"):
        device_streams(people(1), start="2025-01-01", end="2025-01-02", seed=1, params={"wear": {"p_day_off": -1}})
    with pytest.raises(ValueError, match="The 'seed' parameter of device_streams"):
        device_streams(people(1), start="2025-01-01", end="2025-01-02", seed=-1)
    with pytest.raises(ValueError, match="The 'end' parameter of device_arrays"):
        device_streams(people(1), start="2025-01-02", end="2025-01-01", seed=1)


# --- the alert reproduced on cases nobody hand-wrote -------------------------------------------

#: Declared levels for the default policy (wearables_default@1.1) on generated residents with a
#: full-severity low-mood episode of 7-14 days starting after day 40 of 90: the share of episodes
#: with a flag on a day inside the episode, and the false alerts (runs of flagged days) per 100
#: resident-months among residents without an episode. Measured at the seed below (printed with
#: -s): 26 of 30 episodes found (0.87), 0 false alerts in 88.7 resident-months. Policy 1.0 (the
#: baseline = the 28 days right before the day) found 12 of 30 (0.40): the trailing baseline took
#: an episode's first low nights in (lower mean, larger SD), so the later nights rarely reached -2
#: on 3 of 4 nights. Policy 1.1 reads the 28 days ending 7 days before the day (baseline.gap_days).
#: The declared floor leaves room for another seed and fails for policy 1.0.
SENSITIVITY_AT_LEAST = 0.70
FALSE_ALERTS_PER_100_MONTHS_AT_MOST = 3.0


def _episodes(n: int, days: int, first: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """A random half of ``n`` residents with one low-mood episode of 7-14 days starting after day 40."""
    who = np.sort(rng.choice(n, n // 2, replace=False))
    length = rng.integers(7, 15, len(who))
    begin = rng.integers(41, days - 14, len(who))
    return pd.DataFrame({"resident_id": [f"R{i:04d}" for i in who], "start": first + pd.to_timedelta(begin, "D"),
                         "end": first + pd.to_timedelta(begin + length - 1, "D"), "severity": 1.0})


def alert_performance(out: pd.DataFrame, episodes: pd.DataFrame, n: int, days: int) -> dict:
    """Sensitivity (episodes with a flag inside them) and false alerts per 100 resident-months."""
    flags = out.loc[out["flag"].astype(bool), ["resident_id", "day"]]
    inside = flags.merge(episodes, on="resident_id")
    inside = inside[(inside["day"] >= inside["start"]) & (inside["day"] <= inside["end"])]
    found = inside["resident_id"].nunique()
    others = flags[~flags["resident_id"].isin(episodes["resident_id"])].sort_values(["resident_id", "day"])
    new_run = (others["day"].diff() != pd.Timedelta(days=1)) | (others["resident_id"] != others["resident_id"].shift())
    months = (n - len(episodes)) * days / 30.4375
    return {"episodes": len(episodes), "found": found, "sensitivity": found / len(episodes),
            "false_alerts": int(new_run.sum()), "resident_months": months,
            "false_alerts_per_100_months": 100 * int(new_run.sum()) / months,
            "flag_days_outside_episodes_of_residents_with_one": int(
                len(flags[flags["resident_id"].isin(episodes["resident_id"])]) - len(inside))}


def test_the_alert_finds_generated_low_mood_episodes():
    from workbench.wearables.features import wearable_days

    n, days, first = 60, 90, pd.Timestamp("2025-01-01")
    rng = np.random.default_rng(20261201)
    residents = people(n, age=rng.integers(60, 90, n))
    episodes = _episodes(n, days, first, rng)
    end = str((first + pd.Timedelta(days=days - 1)).date())
    readings = device_streams(residents, start=str(first.date()), end=end, seed=17, mood=episodes)
    out = wearable_days(readings, start=str(first.date()), end=end)
    assert len(out) == n * days
    result = alert_performance(out, episodes, n, days)
    print(result)
    assert result["sensitivity"] >= SENSITIVITY_AT_LEAST, result
    assert result["false_alerts_per_100_months"] <= FALSE_ALERTS_PER_100_MONTHS_AT_MOST, result
    # missing wear is its own state, never "clear"
    assert not ((out["wear_state"] == "not_worn") & (out["alert_state"] == "clear")).any()
