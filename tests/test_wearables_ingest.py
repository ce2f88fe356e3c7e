"""Wearable ingest (workbench.wearables.ingest): Open mHealth data points and CSV exports into the
readings frame; every bad or impossible reading named with its row, column, value and rule, none
silently dropped, a blank never read as 0.

The files are hand-made (tests/wearables_files/): omh_points.json (14 data points: heart rate,
RR interval, RMSSD, steps and sleep, with Z and +08:00 offsets) and export.csv (a spreadsheet
export with a BOM, odd header case and spaces, ``2025/3/1`` and Excel serial dates, NA and blank
cells, and one row breaking each rule)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.params import ParameterError
from workbench.wearables._checks import RULES, facts
from workbench.wearables.ingest import (KINDS, PROBLEM_COLUMNS, READING_COLUMNS, IngestResult, ReadingProblemsError,
                                        check_readings, read_csv, read_omh_json)
HERE = Path(__file__).parent / "wearables_files"
AS_OF = "2025-03-06T00:00:00Z"


@pytest.fixture(scope="module")
def csv_result() -> IngestResult:
    return read_csv(HERE / "export.csv", as_of=AS_OF)


@pytest.fixture(scope="module")
def omh_result() -> IngestResult:
    return read_omh_json(HERE / "omh_points.json", as_of=AS_OF)


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --- the CSV export --------------------------------------------------------------------------------

#: (line, column, value as given, words of the rule, action): one row per rule broken in export.csv.
CSV_PROBLEMS = [
    (3, "value", None, "is blank: a missing reading is refused, never read as 0", "rejected"),
    (4, "value", "400", "is outside the plausible range 20 to 250 beats/min for heart_rate", "rejected"),
    (5, "value", "-5", "is below 0: step_count cannot be negative", "rejected"),
    (8, "unit", "beats", "is not a declared unit of rr_interval: declared units are ms, s, sec", "rejected"),
    (9, "end", "2025-03-01 23:05", "is before the start 2025-03-01 15:10:00 UTC", "rejected"),
    (10, "start", "2025-03-01 23:30", "overlaps the sleep episode of row 11 of the same device: neither kept", "rejected"),
    (11, "start", "2025-03-02 05:00", "overlaps the sleep episode of row 10 of the same device: neither kept", "rejected"),
    (13, "start", "2025/3/1 23:00", "repeats row 2 exactly (same device, kind, start and value): kept once", "kept_once"),
    (14, "value", "60", "has the same device, kind and start as row 15 but a different value: conflicting readings, "
                        "neither kept", "rejected"),
    (15, "value", "64", "has the same device, kind and start as row 14 but a different value: conflicting readings, "
                        "neither kept", "rejected"),
    (16, "start", "2025-03-01 22:30", "is 30 min earlier than the latest reading before it from this device "
                                      "(2025-03-01 15:00:00 UTC): the device clock jumped backwards", "rejected"),
    (17, "device_id", None, "has no device: every reading must name the device it came from", "rejected"),
    (18, "resident_id", None, "has no resident: every reading must name its resident", "rejected"),
    (19, "start", "2025-03-09 23:00", "is more than 5 min after as_of 2025-03-06 00:00:00 UTC: a reading from the "
                                      "future (the device clock is wrong)", "rejected"),
    (20, "start", "01/03/2025 23:06", RULES["bad_time"][0], "rejected"),
    (21, "start", "2025-03-01T23:07:00+05:00", "has the offset +05:00, but Asia/Shanghai is +08:00 at that time",
     "rejected"),
    (23, "value", "500", "is more than 300 steps per minute over its 1 min interval", "rejected"),
    (24, "tz", "Mars/Olympus", "is not an IANA time zone (e.g. Asia/Shanghai)", "rejected"),
    (25, "kind", "blood_pressure", "is not a kind of reading: kinds are heart_rate, rr_interval, hrv_rmssd, step_count, "
                                   "sleep_episode", "rejected"),
    (27, "end", "2025-03-04 20:00", "makes the sleep_episode interval last 24 h: it must last 1 min to 18 h", "rejected"),
]


def test_every_csv_rule_is_named_with_row_column_value_and_rule(csv_result):
    problems = csv_result.problems
    assert problems.columns.tolist() == list(PROBLEM_COLUMNS)
    got = [(int(p.row), p.column, p.value, p.rule, p.action) for p in problems.itertuples(index=False)]
    assert got == CSV_PROBLEMS
    assert problems["source"].eq("export.csv").all()
    assert problems["rule_zh"].str.len().gt(0).all()


def test_the_csv_readings_kept_are_exactly_the_good_rows(csv_result):
    r = csv_result.readings
    assert r.columns.tolist() == list(READING_COLUMNS)
    assert list(r["kind"].cat.categories) == list(KINDS)
    assert str(r["start"].dtype) == "datetime64[ns, UTC]" and str(r["resident_id"].dtype) == "string"
    got = [(k, s.isoformat(), v if v == v else None) for k, s, v in zip(r["kind"], r["start"], r["value"])]
    assert got == [
        ("heart_rate", "2025-03-01T15:00:00+00:00", 58.0),      # 2025/3/1 23:00 Shanghai; its duplicate kept once
        ("heart_rate", "2025-03-01T15:08:00+00:00", 62.0),      # Z: the instant
        ("heart_rate", "2025-03-01T15:11:00+00:00", 72.5),      # unit 'BPM ' (case and spaces)
        ("rr_interval", "2025-03-01T15:10:00+00:00", 950.0),    # 0.95 s -> 950 ms
        ("step_count", "2025-03-01T15:05:00+00:00", 12.0),      # Excel serial days 45717.9618055556
        ("sleep_episode", "2025-03-02T15:15:00+00:00", None)]   # no value: NaN, never 0
    assert r.loc[r["kind"] == "step_count", "end"].iloc[0] == _utc("2025-03-01 15:06")
    assert (r["end"] == r["start"]).where(r["kind"].isin(["heart_rate", "rr_interval"])).dropna().all()
    assert set(r["tz"]) == {"Asia/Shanghai"} and set(r["resident_id"]) == {"R0002"}
    assert not (r["value"] == 0).any()


def test_nothing_is_silently_dropped(csv_result):
    data_lines = 26  # 27 lines after the header, one of them blank
    refused_rows = set(csv_result.rejected["row"].dropna().astype(int))
    kept_once = set(csv_result.problems.loc[csv_result.problems["action"] == "kept_once", "row"].astype(int))
    assert len(csv_result.readings) + len(refused_rows) + len(kept_once) == data_lines
    assert set(csv_result.rejected.columns) >= {"row", "start", "value", "unit", "rule", "rule_zh"}
    row4 = csv_result.rejected.set_index("row").loc[4]
    assert (row4["value"], row4["unit"], row4["start"]) == ("400", "bpm", "2025-03-01 23:02")
    assert row4["rule"] == "value: is outside the plausible range 20 to 250 beats/min for heart_rate"


def test_raise_if_problems_names_row_column_value_and_rule_in_english_and_chinese(csv_result):
    with pytest.raises(ReadingProblemsError) as err:
        csv_result.raise_if_problems()
    text = str(err.value)
    assert text.startswith("wearable readings from export.csv: 19 problems; no reading was kept:")
    assert "- export.csv, row 4, column 'value': value '400' is outside the plausible range 20 to 250 beats/min " \
           "for heart_rate" in text
    assert "row 13" not in text  # an identical duplicate kept once loses nothing
    assert err.value.problems.columns.tolist() == ["table", "row", "column", "value", "rule"]
    with pytest.raises(ReadingProblemsError) as err:
        csv_result.raise_if_problems(lang="zh")
    assert "- export.csv, row 4, column 'value': value '400' 超出 heart_rate 的合理范围 20 至 250 beats/min" in str(err.value)


def test_a_clean_file_passes_and_duplicates_alone_do_not_raise():
    rows = pd.DataFrame({"resident_id": ["R1"] * 2, "device_id": ["D1"] * 2, "kind": ["heart_rate"] * 2,
                         "start": ["2025-03-01 08:00"] * 2, "end": ["", ""], "value": ["60", "60.0"],
                         "unit": ["bpm", "beats/min"], "tz": ["Asia/Shanghai"] * 2})
    result = read_csv(rows, as_of=AS_OF)
    assert result.raise_if_problems() is result
    assert len(result.readings) == 1 and result.problems["action"].tolist() == ["kept_once"]
    assert "1 duplicates kept once" in repr(result)


def test_columns_of_a_csv_unknown_missing_or_twice():
    rows = pd.DataFrame({"resident": ["R1"], "device_id": ["D1"], "kind": ["heart_rate"], "start": ["2025-03-01 08:00"],
                         "value": ["60"], "unit": ["bpm"]})
    result = read_csv(rows, tz="Asia/Shanghai", as_of=AS_OF)
    assert result.readings.empty
    got = result.problems[["row", "column", "rule", "action"]].to_dict("records")
    assert got[0]["column"] == "resident" and "did you mean 'resident_id'?" in got[0]["rule"]
    assert got[1]["column"] == "resident_id, end" and got[1]["rule"].startswith("is absent")
    assert {g["action"] for g in got} == {"file"} and pd.isna(got[0]["row"])
    with pytest.raises(ReadingProblemsError, match="column 'resident'"):
        result.raise_if_problems()


def test_defaults_fill_blank_cells_and_absent_columns():
    rows = pd.DataFrame({"kind": ["heart_rate"], "start": ["2025-03-01 08:00"], "end": [None], "value": [60],
                         "unit": ["bpm"]})
    r = read_csv(rows, resident_id="R9", device_id="D9", tz="Asia/Shanghai", as_of=AS_OF).raise_if_problems()
    assert r.readings[["resident_id", "device_id", "tz"]].iloc[0].tolist() == ["R9", "D9", "Asia/Shanghai"]
    assert r.readings["start"].iloc[0] == _utc("2025-03-01 00:00")


def test_a_gbk_csv_from_a_chinese_excel(tmp_path):
    path = tmp_path / "导出.csv"
    text = ("resident_id,device_id,kind,start,end,value,unit,tz\n"
            "R1,D1,step_count,2025/3/1 9:00,2025年3月1日 9:01,80,步,Asia/Shanghai\n")
    path.write_bytes(text.encode("gb18030"))
    r = read_csv(path, as_of=AS_OF).raise_if_problems()
    assert r.readings["value"].tolist() == [80.0] and r.source == "导出.csv"
    assert r.readings[["start", "end"]].iloc[0].tolist() == [_utc("2025-03-01 01:00"), _utc("2025-03-01 01:01")]


def test_local_times_the_clock_change_skips_or_repeats_are_refused():
    rows = pd.DataFrame({"resident_id": ["R1"] * 3, "device_id": ["D1"] * 3, "kind": ["heart_rate"] * 3,
                         "start": ["2025-03-30 01:30", "2025-10-26 01:30", "2025-10-26T01:30:00+01:00"],
                         "end": [""] * 3, "value": ["60", "61", "62"], "unit": ["bpm"] * 3, "tz": ["Europe/London"] * 3})
    r = read_csv(rows, as_of="2025-12-01")
    assert r.problems[["row", "rule"]].values.tolist() == [
        [2, "does not exist or is ambiguous in Europe/London (the clocks changed): write it with its offset"],
        [3, "does not exist or is ambiguous in Europe/London (the clocks changed): write it with its offset"]]
    assert r.readings["start"].tolist() == [_utc("2025-10-26 00:30")]  # with its offset it is one instant


def test_point_readings_take_no_other_end_and_intervals_need_one():
    rows = pd.DataFrame({"resident_id": ["R1"] * 2, "device_id": ["D1"] * 2, "kind": ["heart_rate", "hrv_rmssd"],
                         "start": ["2025-03-01 08:00", "2025-03-01 08:00"], "end": ["2025-03-01 08:05", ""],
                         "value": ["60", "40"], "unit": ["bpm", "ms"], "tz": ["Asia/Shanghai"] * 2})
    r = read_csv(rows, as_of=AS_OF)
    assert r.problems[["row", "column", "rule"]].values.tolist() == [
        [2, "end", "differs from the start 2025-03-01 00:00:00 UTC: a heart_rate reading is a point in time (leave end "
                   "blank or equal to start)"],
        [3, "end", "is blank: a hrv_rmssd reading covers an interval and needs its end"]]


def test_a_number_that_is_not_one_and_whole_steps():
    rows = pd.DataFrame({"resident_id": ["R1"] * 3, "device_id": ["D1"] * 3, "kind": ["heart_rate", "step_count",
                                                                                       "sleep_episode"],
                         "start": ["2025-03-01 08:00", "2025-03-01 08:00", "2025-03-01 23:00"],
                         "end": ["", "2025-03-01 08:01", "2025-03-02 06:00"], "value": ["sixty", "10.5", "7"],
                         "unit": ["bpm", "steps", ""], "tz": ["Asia/Shanghai"] * 3})
    rules = read_csv(rows, as_of=AS_OF).problems[["row", "value", "rule"]].values.tolist()
    assert rules == [[2, "sixty", "is not a number"], [3, "10.5", "is not a whole number of steps"],
                     [4, "7", "is given, but a sleep episode has no value (leave it blank)"]]


# --- Open mHealth ----------------------------------------------------------------------------------

OMH_PROBLEMS = [
    (3, "body.heart_rate.value", "400", "is outside the plausible range 20 to 250 beats/min for heart_rate"),
    (8, "body.effective_time_frame.time_interval.start_date_time", "2025-03-01T23:20:00+08:00",
     "overlaps the sleep episode of row 9 of the same device: neither kept"),
    (9, "body.effective_time_frame.time_interval.start_date_time", "2025-03-02T05:00:00+08:00",
     "overlaps the sleep episode of row 8 of the same device: neither kept"),
    (10, "header.schema_id", "omh:blood-glucose:2.0", "is not an accepted Open mHealth schema: accepted are "
     "omh:heart-rate 1.0, 1.1, 2.0; omh:rr-interval 1.0; omh:heart-rate-variability 1.0; omh:step-count 1.0, 2.0, 3.0; "
     "omh:sleep-episode 1.0, 1.1"),
    (12, "header.acquisition_provenance.time_zone", None, RULES["tz_missing"][0]),
    (13, "body.heart_rate_variability_algorithm", "SDNN", "is not RMSSD: only RMSSD heart-rate variability is accepted"),
    (14, "body.heart_rate.unit", "beats/s", "is not a declared unit of heart_rate: declared units are beats/min, bpm, "
     "1/min, /min"),
]


def test_every_open_mhealth_rule_is_named_with_its_field(omh_result):
    got = [(int(p.row), p.column, p.value, p.rule) for p in omh_result.problems.itertuples(index=False)]
    assert got == OMH_PROBLEMS
    assert omh_result.problems["action"].eq("rejected").all()
    assert sorted(omh_result.rejected["row"].astype(int)) == [3, 8, 9, 10, 12, 13, 14]


def test_open_mhealth_readings_times_zones_and_values(omh_result):
    r = omh_result.readings
    got = [(k, d, s.isoformat(), e.isoformat(), v, z) for k, d, s, e, v, z in
           zip(r["kind"], r["device_id"], r["start"], r["end"], r["value"], r["tz"])]
    assert got == [
        ("heart_rate", "WB-0001", "2025-03-01T15:00:00+00:00", "2025-03-01T15:00:00+00:00", 58.0, "Asia/Shanghai"),
        ("heart_rate", "WB-0001", "2025-03-01T15:01:00+00:00", "2025-03-01T15:01:00+00:00", 61.0, "Asia/Shanghai"),
        ("rr_interval", "WB-0001", "2025-03-01T15:03:00.250000+00:00", "2025-03-01T15:03:00.250000+00:00", 950.0,
         "Asia/Shanghai"),
        ("hrv_rmssd", "WB-0001", "2025-03-01T15:00:00+00:00", "2025-03-01T15:05:00+00:00", 42.5, "Asia/Shanghai"),
        ("step_count", "WB-0001", "2025-03-01T10:00:00+00:00", "2025-03-01T10:01:00+00:00", 85.0, "Asia/Shanghai"),
        ("step_count", "WB-0001", "2025-03-01T10:01:00+00:00", "2025-03-01T10:02:00+00:00", 90.0, "Asia/Shanghai"),
        # an offset without a zone: the IANA fixed-offset zone of +08:00
        ("heart_rate", "WB-0009", "2025-03-01T15:04:00+00:00", "2025-03-01T15:04:00+00:00", 63.0, "Etc/GMT-8")]
    assert set(r["resident_id"]) == {"R0001"}  # header.user_id


def test_open_mhealth_arguments_points_in_memory_and_sleep_durations():
    points = json.loads((HERE / "omh_points.json").read_text(encoding="utf-8"))
    sleep = points[7]  # start 23:20 +08:00 and a duration of 7.5 h
    r = read_omh_json([sleep], resident_id="R42", as_of=AS_OF).raise_if_problems()
    assert r.readings[["resident_id", "start", "end"]].iloc[0].tolist() == [
        "R42", _utc("2025-03-01 15:20"), _utc("2025-03-01 22:50")]
    assert r.source == "data"
    no_zone = points[11]  # Z, no zone: refused without tz=, read with it
    r = read_omh_json(no_zone, tz="Asia/Shanghai", as_of=AS_OF).raise_if_problems()
    assert r.readings["tz"].tolist() == ["Asia/Shanghai"]


def test_open_mhealth_json_lines_rows_are_line_numbers(tmp_path):
    lines = (HERE / "omh_points.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "points.jsonl"
    path.write_text("\n".join([lines[0], "", "{not json", lines[2]]) + "\n", encoding="utf-8")
    r = read_omh_json(path, as_of=AS_OF)
    assert r.problems[["row", "column", "rule"]].values.tolist() == [
        [3, "(line)", "is not an Open mHealth data point: not JSON (Expecting property name enclosed in double quotes)"],
        [4, "body.heart_rate.value", "is outside the plausible range 20 to 250 beats/min for heart_rate"]]
    assert len(r.readings) == 1


def test_a_data_point_without_header_or_body():
    r = read_omh_json([{"body": {}}], device_id="D1", as_of=AS_OF)
    assert r.problems[["row", "column", "rule"]].values.tolist() == [
        [1, "(data point)", "is not an Open mHealth data point: a header and a body are required"]]


def test_parameters_are_checked_before_anything_is_read():
    with pytest.raises(ParameterError, match="The 'tz' parameter of read_csv must be None or an IANA time zone name"):
        read_csv(pd.DataFrame(), tz="Mars/Olympus")
    with pytest.raises(ParameterError, match="The 'resident_id' parameter of read_omh_json must be None or a non-empty"):
        read_omh_json([], resident_id="  ")


# --- frames in the contract's shape (synth) --------------------------------------------------------

def test_check_readings_applies_the_same_rules_to_a_frame():
    t = pd.to_datetime(["2025-03-01 00:00", "2025-03-01 00:01", "2025-03-01 00:00"], utc=True)
    frame = pd.DataFrame({"resident_id": ["R1"] * 3, "device_id": ["D1"] * 3, "kind": ["heart_rate"] * 3,
                          "start": t, "end": t, "value": [60.0, float("nan"), 61.0], "tz": ["Asia/Shanghai"] * 3})
    r = check_readings(frame, as_of=AS_OF, source="synth")
    assert r.problems[["source", "row", "column", "rule"]].values.tolist() == [
        ["synth", 1, "value", "has the same device, kind and start as row 3 but a different value: conflicting "
                              "readings, neither kept"],
        ["synth", 2, "value", "is blank: a missing reading is refused, never read as 0"],
        ["synth", 3, "value", "has the same device, kind and start as row 1 but a different value: conflicting "
                              "readings, neither kept"]]
    with pytest.raises(ReadingProblemsError, match="is absent"):
        check_readings(frame.drop(columns="tz"))


# --- the declared facts ----------------------------------------------------------------------------

def test_the_declared_facts_cover_every_kind_and_cite_their_numbers():
    declared = facts()
    assert list(declared["kinds"]) == list(KINDS)
    for kind, spec in declared["kinds"].items():
        assert spec["en"] and spec["zh"] and spec["timing"] in ("point", "interval")
        for key in ("range", "window_seconds"):
            if key in spec:
                low, high = spec[key]
                assert low < high, (kind, key)
                source = spec["range_source" if key == "range" else "window_source"]
                assert source in declared["sources"] or "[programme setting]" in source, (kind, key)
        if spec["unit"] is not None:
            assert spec["units"][spec["unit"]] == 1, kind  # the stored unit converts to itself
    assert {v["kind"] for k, v in declared["omh"].items() if k != "duration_units"} == set(KINDS)


def test_heart_rate_range_is_the_clinics_and_rr_follows_from_it():
    from workbench._declarations import measures

    hr = facts()["kinds"]["heart_rate"]["range"]
    assert hr == measures()["measures"]["heart_rate"]["range"]
    assert facts()["kinds"]["rr_interval"]["range"] == [60000 / hr[1], 60000 / hr[0]]


def test_every_rule_has_both_languages():
    for key, (en, zh) in RULES.items():
        assert en and zh and en != zh, key
