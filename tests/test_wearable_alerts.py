"""The wearable alert policy on hand-made days and streams: 3 of the last 4 nights low flags, 2 does
not, a night without enough wear counts neither way, no baseline before 14 valid nights, missing
wear is never "clear", and an edited copy of the policy changes the outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.wearables.alerts import (ALERT_STATES, WearablePolicyError, alert_reason, apply_alerts,
                                        load_wearable_policy)
from workbench.wearables.features import wearable_days

POLICY_FILE = "workbench/policies/wearables_default.yaml"
RULE = "wearables_default@1.1:rmssd_low"


def days(z, *, wear=None, rid="R1", rhr_z=None, steps_z=None, first="2025-01-01"):
    """One row per night: ``z`` the RMSSD z (None: blank); ``wear`` the night's wear minutes
    (default 300; under 240 the features are blank, as daily_features makes them)."""
    n = len(z)
    wear = [300] * n if wear is None else wear
    worn = np.array(wear) >= 240
    z = [v if w else None for v, w in zip(z, worn)]
    rmssd = [40.0 if w else None for w in worn]
    rhr_z = rhr_z or [None] * n
    steps_z = steps_z or [None] * n
    return pd.DataFrame({
        "resident_id": rid, "day": pd.date_range(first, periods=n), "wear_minutes": wear,
        "night_wear_minutes": wear, "baseline_days": 20,
        "rmssd": pd.array(rmssd, dtype="Float64"), "rmssd_z": pd.array(z, dtype="Float64"),
        "resting_hr": pd.array([60.0 if w else None for w in worn], dtype="Float64"),
        "resting_hr_z": pd.array(rhr_z, dtype="Float64"),
        "steps": pd.array([3000 if v is not None else None for v in steps_z], dtype="Int32"),
        "steps_z": pd.array(steps_z, dtype="Float64")})


def last(frame):
    return frame.iloc[-1]


def test_three_of_the_last_four_nights_low_flags():
    out = apply_alerts(days([0.0, 0.0, -2.5, 0.3, -2.0, -3.1]))
    row = last(out)
    assert (row["alert_state"], row["flag"], row["nights_low"], row["nights_valid"], row["rule"]) == \
        ("flag", True, 3, 4, RULE)
    assert out["alert_state"].iloc[3] == "clear"           # 1 low of the 4 up to it


def test_two_of_the_last_four_nights_low_does_not_flag():
    row = last(apply_alerts(days([0.0, 0.0, -2.5, 0.3, -1.9, -3.1])))
    assert (row["alert_state"], row["flag"], row["nights_low"], row["nights_valid"]) == ("clear", False, 2, 4)


def test_a_night_without_enough_wear_counts_neither_low_nor_normal():
    # 3 low and 1 night of 200 minutes: 3 of the last 4 nights were low, with 3 valid nights
    row = last(apply_alerts(days([0.0, 0.0, -2.5, -2.2, 0.0, -3.1], wear=[300, 300, 300, 300, 200, 300])))
    assert (row["alert_state"], row["nights_low"], row["nights_valid"]) == ("flag", 3, 3)
    # 2 low, 1 normal and 1 unworn: had the unworn night been low the rule would fire: too little wear to tell
    row = last(apply_alerts(days([0.0, 0.0, 0.1, -2.2, 0.0, -3.1], wear=[300, 300, 300, 300, 200, 300])))
    assert (row["alert_state"], row["flag"], row["nights_low"], row["nights_valid"]) == ("low_wear", False, 2, 3)
    # 1 low, 2 normal, 1 unworn: the rule cannot fire whatever that night was: clear
    row = last(apply_alerts(days([0.0, 0.0, 0.1, 0.2, 0.0, -3.1], wear=[300, 300, 300, 300, 200, 300])))
    assert (row["alert_state"], row["nights_low"], row["nights_valid"]) == ("clear", 1, 3)


def test_the_day_itself_without_enough_wear_is_low_wear_and_a_missing_day_too():
    out = apply_alerts(days([0.0, 0.1, 0.2, 0.3, 0.0], wear=[300, 300, 300, 300, 100]))
    assert out["alert_state"].iloc[-1] == "low_wear" and out["wear_state"].iloc[-1] == "low_wear"
    out = apply_alerts(days([0.0, 0.1, 0.2, 0.3, 0.0], wear=[300, 300, 300, 300, 0]))
    assert out["alert_state"].iloc[-1] == "low_wear" and out["wear_state"].iloc[-1] == "not_worn"
    # days without a row are nights without wear: 2 low with 2 days missing is not clear
    gappy = days([-2.5, 0.0, 0.0, -2.4]).iloc[[0, 3]]
    assert last(apply_alerts(gappy))["alert_state"] == "low_wear"


def test_missing_wear_never_yields_clear():
    rng = np.random.default_rng(17)
    n = 400
    z = rng.normal(-1, 1.5, n).round(2).tolist()
    wear = rng.choice([0, 100, 239, 240, 300, 360], n).tolist()
    frame = days(z, wear=wear)
    frame.loc[rng.random(n) < 0.1, "rmssd_z"] = pd.NA          # worn, but no baseline
    out = apply_alerts(frame)
    assert set(out["alert_state"]) <= set(ALERT_STATES)
    assert not (out["alert_state"] == "clear")[out["wear_state"] != "worn"].any()
    assert not (out["alert_state"] == "clear")[out["rmssd_z"].isna()].any()
    assert (out["flag"] == (out["alert_state"] == "flag")).all()
    assert (out["nights_low"] <= out["nights_valid"]).all()


def test_worn_nights_without_a_baseline_are_no_baseline():
    frame = days([0.0, 0.0, 0.0, 0.0])
    frame.loc[3, "rmssd_z"] = pd.NA
    assert last(apply_alerts(frame))["alert_state"] == "no_baseline"


def test_the_second_rule_resting_hr_up_and_steps_down_on_two_of_three_days():
    frame = days([0.0] * 5, rhr_z=[0.0, 0.0, 2.5, 0.0, 2.1], steps_z=[0.0, 0.0, -1.5, 0.0, -1.0])
    row = last(apply_alerts(frame))
    assert (row["alert_state"], row["rule"], row["nights_low"], row["nights_valid"]) == \
        ("flag", "wearables_default@1.1:resting_hr_high_low_steps", 2, 3)
    # resting HR up but steps as usual: not this rule, and the first rule decides: clear
    frame = days([0.0] * 5, rhr_z=[0.0, 0.0, 2.5, 0.0, 2.1], steps_z=[0.0, 0.0, -1.5, 0.0, 0.5])
    row = last(apply_alerts(frame))
    assert (row["alert_state"], row["rule"]) == ("clear", RULE)


# --- end to end from readings ---------------------------------------------------------------------

def _night(day, rmssd, *, rid="R1", hr=60.0, minutes=360):
    t = pd.date_range(f"{day:%Y-%m-%d} 00:00", periods=minutes, freq="min", tz="Asia/Shanghai").tz_convert("UTC")
    hr_rows = pd.DataFrame({"kind": "heart_rate", "start": t, "end": t, "value": hr})
    w = t[::5][:6]
    hrv = pd.DataFrame({"kind": "hrv_rmssd", "start": w, "end": w + pd.Timedelta("5min"), "value": rmssd})
    out = pd.concat([hr_rows, hrv], ignore_index=True)
    out.insert(0, "resident_id", rid)
    out.insert(1, "device_id", "D1")
    out["tz"] = "Asia/Shanghai"
    return out


def _stream(values, *, wear=None, first="2025-01-01"):
    frames = []
    for k, v in enumerate(values):
        day = pd.Timestamp(first) + pd.Timedelta(days=k)
        frames.append(_night(day, v, minutes=360 if wear is None else wear[k]))
    return pd.concat(frames, ignore_index=True)


def test_no_baseline_before_fourteen_valid_nights_then_clear_then_a_flag_from_readings():
    # the baseline of night k: nights k-35 .. k-8 (28 days ending 7 days before it; policy 1.1)
    base = [40.0, 44.0] * 7 + [42.0] * 7          # nights 0-20; nights 0-13: mean 42, SD sqrt(14 * 4 / 13)
    out = wearable_days(_stream(base + [42.0, 30.0, 41.0, 31.0, 32.0]))
    assert (out["alert_state"].iloc[:21] == "no_baseline").all()
    assert out["baseline_days"].tolist()[:23] == [0] * 8 + list(range(1, 16))
    # night 21 has its baseline (nights 0-13), but 3 of its last 4 nights had none and could have been low
    assert out["alert_state"].iloc[21] == "no_baseline" and out["rmssd_z"].iloc[21] == pytest.approx(0.0)
    assert out["alert_state"].iloc[23] == "clear" and out["nights_low"].iloc[23] == 1
    # 30, 41, 31, 32: the low nights are not in their own baseline (nights 0-17 at most)
    assert out["alert_state"].iloc[-1] == "flag" and out["nights_low"].iloc[-1] == 3
    assert out["rule"].iloc[-1] == RULE
    # night 22: 15 baseline nights (40, 44 seven times each, and 42): mean 42, SD sqrt(14 * 2^2 / 14) = 2
    assert out["rmssd_z"].iloc[22] == pytest.approx((30 - 42) / 2)
    # night 25: 18 baseline nights (40, 44 seven times each, 42 four times): SD sqrt(56 / 17)
    assert out["rmssd_z"].iloc[25] == pytest.approx((32 - 42) / np.sqrt(56 / 17))


def test_a_low_wear_night_from_readings_is_not_counted():
    base = [40.0, 44.0] * 7 + [42.0] * 7          # 21 nights: night 21 on has a baseline (gap 7)
    wear = [360] * 21 + [360, 360, 200, 360, 360]
    out = wearable_days(_stream(base + [30.0, 31.0, 42.0, 30.0, 42.0], wear=wear))
    assert out["wear_state"].iloc[23] == "low_wear" and out["alert_state"].iloc[23] == "low_wear"
    assert pd.isna(out["rmssd"].iloc[23])
    row = out.iloc[24]                            # 30, 31, (unworn), 30: 3 low of 3 valid
    assert (row["alert_state"], row["nights_low"], row["nights_valid"]) == ("flag", 3, 3)


# --- the policy as data -------------------------------------------------------------------------

def test_an_edited_copy_of_the_policy_changes_the_outcome(tmp_path):
    frame = days([0.0, 0.0, -2.5, 0.3, -1.9, -3.1])
    assert last(apply_alerts(frame))["alert_state"] == "clear"
    raw = yaml.safe_load(open(POLICY_FILE, encoding="utf-8"))
    raw["id"], raw["version"] = "site_a", "2.0"
    raw["rules"][0]["when"][0]["at_most"] = -1.5
    path = tmp_path / "wearables_site_a.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    row = last(apply_alerts(frame, policy=path))
    assert (row["alert_state"], row["nights_low"], row["rule"]) == ("flag", 3, "site_a@2.0:rmssd_low")
    raw["rules"][0]["when"][0]["at_most"] = -2
    raw["rules"][0]["min_nights"] = 2
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert last(apply_alerts(frame, policy=path))["alert_state"] == "flag"


def test_a_broken_policy_is_refused_naming_every_key(tmp_path):
    raw = yaml.safe_load(open(POLICY_FILE, encoding="utf-8"))
    raw["rules"][0]["min_nights"] = 5
    raw["rules"][0]["when"][0]["column"] = "mood_z"
    raw["rules"][1]["reason"]["zh"] = "{nights_low}晚{unknown_number}"
    raw["baseline"]["min_days"] = 40
    raw["baseline"]["gap_days"] = -1
    raw["baseline"]["centre"] = "average"
    raw["colour"] = "red"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WearablePolicyError) as err:
        load_wearable_policy(path)
    text = str(err.value)
    for key in ("rules.rmssd_low.min_nights", "rules.rmssd_low.when[0].column", "rules.resting_hr_high_low_steps.reason.zh",
                "baseline.min_days", "baseline.gap_days", "baseline.centre", "policy.colour"):
        assert key in text, key


def test_the_shipped_policy_says_it_is_not_a_diagnosis():
    p = load_wearable_policy("wearables_default")
    assert "不是诊断" in p.statement["zh"] and "not a diagnosis" in p.statement["en"]
    assert load_wearable_policy("default") is p


def test_the_reason_shows_the_stored_numbers():
    row = last(apply_alerts(days([0.0, 0.0, -2.5, 0.3, -2.0, -3.14])))
    zh, en = alert_reason(row, lang="zh"), alert_reason(row, lang="en")
    assert zh.startswith("夜间心率变异性（RMSSD）最近4晚中有3晚低于本人基线（7天以前的28天）2个标准差以上（昨夜RMSSD 40.0毫秒，z = -3.1")
    assert zh.endswith("不是诊断。")
    assert "3 of the last 4 nights" in en and "z = -3.1" in en and en.endswith("not a diagnosis.")
    low = last(apply_alerts(days([0.0, 0.0, 0.0, 0.0], wear=[300, 300, 300, 100])))
    assert alert_reason(low, lang="zh") == "佩戴时间不足，无法判断（夜间佩戴100分钟，至少需要240分钟）：不等于正常。"
    frame = days([0.0, 0.0, 0.0, 0.0])
    frame["baseline_days"] = 9
    frame.loc[3, "rmssd_z"] = pd.NA
    assert "9 valid nights in the 28 days before the last 7, at least 14" in alert_reason(last(apply_alerts(frame)), lang="en")
    with pytest.raises(ValueError, match="site_a@2.0"):
        alert_reason({**row.to_dict(), "rule": "site_a@2.0:rmssd_low"}, lang="en")


def test_two_rows_of_one_resident_and_day_are_refused():
    from workbench._errors import RowProblemsError

    frame = days([0.0, 0.0, 0.0])
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    with pytest.raises(RowProblemsError, match="more than one row"):
        apply_alerts(frame)
