"""The raw wearable readings store (workbench.wearables.store): partitioned Parquet by kind and
local month, a batch committed whole or not at all, re-ingest idempotent, reads that open only the
partitions they need, and the same files as a Dask dataframe."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.wearables import store
from workbench.wearables.ingest import ReadingProblemsError, read_csv, read_omh_json
from workbench.wearables.store import (dask_readings, read_readings, read_rejected, readings_files, stored_batches,
                                       write_readings)

HERE = Path(__file__).parent / "wearables_files"
AS_OF = "2025-06-01"
FILES_AS_OF = "2025-03-06"  # the test files' day of receipt (export.csv has a reading from the future of it)


def _frame(rows) -> pd.DataFrame:
    """Readings in the contract's shape from (resident, device, kind, start, end, value, tz) tuples."""
    f = pd.DataFrame(rows, columns=["resident_id", "device_id", "kind", "start", "end", "value", "tz"])
    f["start"] = pd.to_datetime(f["start"], utc=True)
    f["end"] = pd.to_datetime(f["end"], utc=True)
    return f


def _months_frame() -> pd.DataFrame:
    """Heart rate in February, March and April; one reading on 31 March UTC that is 1 April in Shanghai."""
    rows = []
    for day in ("2025-02-10", "2025-03-10", "2025-03-20", "2025-04-10"):
        for r in ("R1", "R2"):
            for minute in range(3):
                t = f"{day} 10:0{minute}"
                rows.append((r, f"D-{r}", "heart_rate", t, t, 60.0 + minute, "Asia/Shanghai"))
    rows.append(("R1", "D-R1", "heart_rate", "2025-03-31 20:00", "2025-03-31 20:00", 55.0, "Asia/Shanghai"))
    rows.append(("R1", "D-R1", "hrv_rmssd", "2025-03-10 18:00", "2025-03-10 18:05", 42.123, "Asia/Shanghai"))
    return _frame(rows).sort_values(["resident_id", "device_id", "kind", "start"], ignore_index=True)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_round_trip_equals_the_input_times_zones_and_values(tmp_path):
    omh = read_omh_json(HERE / "omh_points.json", as_of=FILES_AS_OF)
    csv = read_csv(HERE / "export.csv", as_of=FILES_AS_OF)
    a = write_readings(omh, tmp_path, batch_id="omh-1", keep_rejected=True)
    b = write_readings(csv, tmp_path, batch_id="csv-1", keep_rejected=True)
    assert (a["status"], a["rows"], a["rejected_rows"]) == ("written", 7, 7)
    assert (b["rows"], b["rejected_rows"]) == (6, 19)
    expected = pd.concat([omh.readings, csv.readings], ignore_index=True)
    expected = expected.sort_values(["resident_id", "device_id", "kind", "start"], kind="stable").reset_index(drop=True)
    back = read_readings(tmp_path)
    pd.testing.assert_frame_equal(back, expected)
    assert back.loc[back["tz"] == "Etc/GMT-8", "start"].tolist() == [pd.Timestamp("2025-03-01 15:04", tz="UTC")]
    assert back["start"].dt.as_unit("ns").iloc[0].value % 1000 == 0 and str(back["start"].dtype) == "datetime64[ns, UTC]"
    # a value float32 cannot hold exactly comes back exactly (the file keeps float64)
    frame = _months_frame()
    write_readings(frame, tmp_path / "m", batch_id="m1", as_of=AS_OF)
    again = read_readings(tmp_path / "m")
    assert again.loc[again["kind"] == "hrv_rmssd", "value"].tolist() == [42.123]
    pd.testing.assert_frame_equal(again, store.canonical(frame))


def test_compact_file_types(tmp_path):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    hr = pq.read_schema(next((tmp_path / "kind=heart_rate" / "month=2025-03").glob("*.parquet")))
    rmssd = pq.read_schema(next((tmp_path / "kind=hrv_rmssd" / "month=2025-03").glob("*.parquet")))
    assert hr.field("resident_id").type == pa.dictionary(pa.int32(), pa.string())
    assert hr.field("device_id").type == pa.dictionary(pa.int32(), pa.string())
    assert hr.field("tz").type == pa.dictionary(pa.int32(), pa.string())
    assert hr.field("start").type == pa.timestamp("ns", tz="UTC")       # int64 UTC
    assert hr.field("value").type == pa.float32()                        # 60, 61, 62: exact in float32
    assert rmssd.field("value").type == pa.float64()                     # 42.123 is not
    assert "kind" not in hr.names and "month" not in hr.names            # the folders say them


def test_partitions_by_kind_and_local_month_and_reads_open_only_those_needed(tmp_path, monkeypatch):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    folders = sorted({f.rsplit("/", 1)[0] for f in _files(tmp_path) if f.startswith("kind=")})
    assert folders == ["kind=heart_rate/month=2025-02", "kind=heart_rate/month=2025-03",
                       "kind=heart_rate/month=2025-04", "kind=hrv_rmssd/month=2025-03"]
    # 2025-03-31 20:00 UTC is 1 April in Shanghai: filed under April
    april = pq.read_table(next((tmp_path / "kind=heart_rate" / "month=2025-04").glob("*.parquet"))).to_pandas()
    assert pd.Timestamp("2025-03-31 20:00", tz="UTC") in set(april["start"])

    scans: list[list[str]] = []
    real = store.ds.dataset

    def spy(source, *args, **kwargs):
        scans.append([Path(p).relative_to(tmp_path).as_posix() for p in source])
        return real(source, *args, **kwargs)

    monkeypatch.setattr(store.ds, "dataset", spy)
    got = read_readings(tmp_path, start="2025-03-05", end="2025-03-25", kinds=["heart_rate"])
    scanned = scans[-1]  # the dataset the rows are read from: only its files are opened
    assert [f.rsplit("/", 1)[0] for f in scanned] == ["kind=heart_rate/month=2025-03"]  # February, April never opened
    assert readings_files(tmp_path, start="2025-03-05", end="2025-03-25", kinds=["heart_rate"]) == scanned
    assert sorted(got["start"].dt.strftime("%m-%d").unique()) == ["03-10", "03-20"] and len(got) == 12
    # a window at the end of a UTC month reaches the next local month's files
    late = read_readings(tmp_path, start="2025-03-31 18:00", end="2025-04-01")
    assert late["start"].tolist() == [pd.Timestamp("2025-03-31 20:00", tz="UTC")]
    # one-sided windows prune too
    assert {f.split("/")[1] for f in readings_files(tmp_path, start="2025-04-02")} == {"month=2025-04"}
    assert {f.split("/")[1] for f in readings_files(tmp_path, end="2025-02-20")} == {"month=2025-02"}


def test_filters_residents_kinds_and_times(tmp_path):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    got = read_readings(tmp_path, residents=["R2"], kinds=["heart_rate"], start="2025-04-01")
    assert set(got["resident_id"]) == {"R2"} and len(got) == 3
    assert read_readings(tmp_path, kinds=["step_count"]).empty
    assert read_readings(tmp_path, kinds=["step_count"]).columns.tolist() == list(store.READING_COLUMNS)
    assert read_readings(tmp_path / "nothing-here").empty


def test_a_batch_with_refused_readings_is_refused_whole_unless_kept(tmp_path):
    result = read_csv(HERE / "export.csv", as_of=FILES_AS_OF)
    with pytest.raises(ReadingProblemsError, match="row 4, column 'value': value '400'"):
        write_readings(result, tmp_path, batch_id="csv-1")
    assert _files(tmp_path) == []
    summary = write_readings(result, tmp_path, batch_id="csv-1", keep_rejected=True)
    kept = read_rejected(tmp_path)
    assert len(kept) == summary["rejected_rows"] == 19 and set(kept["batch_id"]) == {"csv-1"}
    row4 = kept.set_index("row").loc[4]
    assert (row4["value"], row4["rule"]) == ("400", "value: is outside the plausible range 20 to 250 beats/min for "
                                                    "heart_rate")
    assert "超出" in row4["rule_zh"]
    assert len(read_readings(tmp_path)) == 6  # the rejected folder is never read as readings
    # a plain frame is checked too
    bad = _frame([("R1", "D1", "heart_rate", "2025-03-01", "2025-03-01", 400.0, "Asia/Shanghai")])
    with pytest.raises(ReadingProblemsError, match="plausible range"):
        write_readings(bad, tmp_path / "frame", as_of=AS_OF)
    assert not (tmp_path / "frame").exists() or _files(tmp_path / "frame") == []


def test_re_ingest_of_a_batch_is_unchanged_and_another_content_is_refused(tmp_path):
    frame = _months_frame()
    first = write_readings(frame, tmp_path, as_of=AS_OF)
    assert first["batch_id"].startswith("b-") and first["status"] == "written"
    files = _files(tmp_path)
    again = write_readings(frame.copy(), tmp_path, as_of=AS_OF)  # the same readings again
    assert again["status"] == "unchanged" and again["batch_id"] == first["batch_id"] and _files(tmp_path) == files
    changed = frame.assign(value=frame["value"] + 1)
    with pytest.raises(FileExistsError, match=f"The batch '{first['batch_id']}' is already stored"):
        write_readings(changed, tmp_path, batch_id=first["batch_id"], as_of=AS_OF)
    assert _files(tmp_path) == files
    assert stored_batches(tmp_path)["batch_id"].tolist() == [first["batch_id"]]
    assert len(read_readings(tmp_path)) == len(frame)


@pytest.mark.parametrize("fail_at", ["write", "move", "commit"])
def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch, fail_at):
    write_readings(_months_frame().iloc[:3], tmp_path, batch_id="before", as_of=AS_OF)
    before = _files(tmp_path)
    calls = {"n": 0}

    if fail_at == "write":
        real = store.pq.write_table

        def failing(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
            return real(*args, **kwargs)
        monkeypatch.setattr(store.pq, "write_table", failing)
    else:
        real = store.os.replace

        def failing(src, dst):
            calls["n"] += 1
            is_manifest = str(dst).endswith(".json")
            if (fail_at == "commit" and is_manifest) or (fail_at == "move" and calls["n"] == 2):
                raise OSError("disk full")
            return real(src, dst)
        monkeypatch.setattr(store.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        write_readings(_months_frame(), tmp_path, batch_id="after", as_of=AS_OF)
    assert _files(tmp_path) == before
    assert not (tmp_path / "_tmp").exists()
    assert stored_batches(tmp_path)["batch_id"].tolist() == ["before"]


def test_files_no_manifest_lists_are_never_read(tmp_path):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    stray = tmp_path / "kind=heart_rate" / "month=2025-03" / "half-written.parquet"
    pq.write_table(pq.read_table(next((tmp_path / "kind=heart_rate" / "month=2025-03").glob("m1-*.parquet"))), stray)
    assert len(read_readings(tmp_path)) == len(_months_frame())
    assert all("half-written" not in f for f in readings_files(tmp_path))


def test_dask_reads_the_same_readings(tmp_path):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    lazy = dask_readings(tmp_path, kinds=["heart_rate"], start="2025-03-01", end="2025-04-01")
    assert lazy.npartitions == 3  # one a file: heart rate of the local months March reaches (February to April)
    got = lazy.compute()
    got = got.sort_values(["resident_id", "device_id", "kind", "start"]).reset_index(drop=True)
    got = got.astype({c: "string" for c in ("resident_id", "device_id", "tz")})  # Dask keeps text as string[pyarrow]
    pd.testing.assert_frame_equal(got, read_readings(tmp_path, kinds=["heart_rate"], start="2025-03-01",
                                                     end="2025-04-01"))
    assert np.isclose(dask_readings(tmp_path)["value"].sum().compute(), _months_frame()["value"].sum())


# --- each reading stored once: overlapping uploads, and readings that conflict with stored ones ----

def _clean_points() -> list[dict]:
    """The good data points of omh_points.json (7 readings; steps 85 + 90)."""
    points = json.loads((HERE / "omh_points.json").read_text(encoding="utf-8"))
    return [p for i, p in enumerate(points, start=1) if i not in (3, 8, 9, 10, 12, 13, 14)]


def _steps(frame: pd.DataFrame) -> float:
    return frame.loc[frame["kind"] == "step_count", "value"].sum()


def test_an_overlapping_upload_is_stored_once_and_steps_are_not_double_counted(tmp_path):
    clean = _clean_points()
    first = write_readings(read_omh_json(clean, as_of=FILES_AS_OF), tmp_path, batch_id="a")
    assert (first["status"], first["rows"], first["already_stored"]) == ("written", 7, 0)
    assert _steps(read_readings(tmp_path)) == 175
    files = _files(tmp_path)
    # the first four readings again, in another export: nothing new, no readings file written
    again = write_readings(read_omh_json(clean[:4], as_of=FILES_AS_OF), tmp_path, batch_id="b")
    assert (again["status"], again["rows"], again["already_stored"], again["files"]) == ("already_stored", 0, 4, [])
    assert [f for f in _files(tmp_path) if f not in files] == ["_batches/b.json"]
    assert len(read_readings(tmp_path)) == 7
    # an export overlapping both step readings, with one new minute of steps: only that one is written
    later = copy.deepcopy(clean[5])
    later["body"]["step_count"] = 40
    later["body"]["effective_time_frame"]["time_interval"] = {"start_date_time": "2025-03-01T18:02:00+08:00",
                                                              "end_date_time": "2025-03-01T18:03:00+08:00"}
    overlap = write_readings(read_omh_json([*clean[2:], later], as_of=FILES_AS_OF), tmp_path, batch_id="c")
    assert (overlap["status"], overlap["rows"], overlap["already_stored"]) == ("written", 1, 5)
    back = read_readings(tmp_path)
    assert len(back) == 8 and _steps(back) == 175 + 40
    assert stored_batches(tmp_path)[["batch_id", "rows", "already_stored"]].values.tolist() == [
        ["a", 7, 0], ["b", 0, 4], ["c", 1, 5]]
    # a value that differs only past float32 precision (what a stored file may keep) is the same reading
    hrv = copy.deepcopy(clean[3])
    hrv["body"]["heart_rate_variability"]["value"] = 42.5000001
    assert write_readings(read_omh_json([hrv], as_of=FILES_AS_OF), tmp_path, batch_id="d")["already_stored"] == 1


def _base() -> pd.DataFrame:
    return _frame([("R1", "D1", "heart_rate", "2025-03-10 10:00", "2025-03-10 10:00", 61.0, "Asia/Shanghai"),
                   ("R1", "D1", "hrv_rmssd", "2025-03-10 18:00", "2025-03-10 18:05", 42.123, "Asia/Shanghai")])


@pytest.mark.parametrize("row, column, given, stored", [
    (1, "value", 62.0, "value 61"),
    (2, "end", pd.Timestamp("2025-03-10 18:10", tz="UTC"), "end 2025-03-10 18:05:00 UTC"),
    (1, "tz", "Asia/Tokyo", "tz Asia/Shanghai"),            # another zone: another local day
    (1, "resident_id", "R9", "resident_id R1"),              # the same device's reading for someone else
])
def test_a_reading_that_conflicts_with_a_stored_one_refuses_the_batch(tmp_path, row, column, given, stored):
    write_readings(_base(), tmp_path, batch_id="a", as_of=AS_OF)
    files = _files(tmp_path)
    changed = _base()
    changed.loc[row - 1, column] = given  # check_readings numbers a frame's rows from 1
    with pytest.raises(ReadingProblemsError) as caught:
        write_readings(changed, tmp_path, batch_id="b", as_of=AS_OF)
    message = str(caught.value)
    assert "wearable readings from readings for batch 'b': 1 problem; no reading was kept" in message
    assert (f"row {row}, column '{column}'" in message
            and f"conflicts with the reading stored in batch 'a' (same device, kind and start; stored {stored})" in message)
    assert _files(tmp_path) == files  # nothing written: the other reading (already stored) neither
    assert read_readings(tmp_path).equals(store.canonical(_base()))


def test_keep_rejected_keeps_a_conflicting_reading_under_rejected(tmp_path):
    clean = _clean_points()
    write_readings(read_omh_json(clean, as_of=FILES_AS_OF), tmp_path, batch_id="a")
    changed = copy.deepcopy(clean[:2])
    changed[1]["body"]["heart_rate"]["value"] = 75  # stored: 61
    new = copy.deepcopy(clean[0])
    new["body"]["effective_time_frame"]["date_time"] = "2025-03-01T23:10:00+08:00"
    result = read_omh_json([*changed, new], as_of=FILES_AS_OF)
    summary = write_readings(result, tmp_path, batch_id="b", keep_rejected=True)
    assert (summary["status"], summary["rows"], summary["already_stored"], summary["rejected_rows"]) == (
        "written", 1, 1, 1)
    assert summary["problems"][["row", "column", "value"]].values.tolist() == [[2, "value", 75.0]]
    kept = read_rejected(tmp_path).iloc[0]
    assert (kept["batch_id"], kept["row"], kept["value"], kept["unit"]) == ("b", 2, "75", "beats/min")
    assert kept["rule"] == ("value: conflicts with the reading stored in batch 'a' (same device, kind and start; "
                            "stored value 61)")
    assert "与批次 'a' 中已存的读数矛盾" in kept["rule_zh"]
    back = read_readings(tmp_path, kinds=["heart_rate"])
    assert back.loc[back["start"] == pd.Timestamp("2025-03-01 15:01", tz="UTC"), "value"].tolist() == [61.0]
    assert len(back) == 4  # 3 stored by a, 1 new from b


def test_a_sleep_episode_overlapping_a_stored_one_is_a_conflict(tmp_path):
    nan = float("nan")

    def sleep(start, end, device="D1"):
        return ("R1", device, "sleep_episode", start, end, nan, "Asia/Shanghai")

    write_readings(_frame([sleep("2025-03-01 15:00", "2025-03-01 22:30"), sleep("2025-03-02 15:00", "2025-03-02 22:30")]),
                   tmp_path, batch_id="a", as_of=AS_OF)
    later = _frame([sleep("2025-03-01 10:00", "2025-03-01 15:00"),   # ends as a stored one begins: fine
                    sleep("2025-03-01 15:00", "2025-03-01 22:30"),   # stored already
                    sleep("2025-03-01 22:30", "2025-03-02 01:00"),   # begins as a stored one ends: fine
                    sleep("2025-03-02 14:00", "2025-03-02 15:30"),   # overlaps the stored night of 2 March
                    sleep("2025-03-02 15:00", "2025-03-02 22:30", device="D2")])  # another device: fine
    with pytest.raises(ReadingProblemsError, match=r"row 4, column 'start': value '2025-03-02T14:00:00\+00:00' "
                       r"overlaps the sleep episode 2025-03-02 15:00:00 UTC to 2025-03-02 22:30:00 UTC of the same "
                       r"device: conflicts with the reading stored in batch 'a'"):
        write_readings(later, tmp_path, batch_id="b", as_of=AS_OF)
    summary = write_readings(later, tmp_path, batch_id="b", as_of=AS_OF, keep_rejected=True)
    assert (summary["rows"], summary["already_stored"], summary["rejected_rows"]) == (3, 1, 1)
    assert read_rejected(tmp_path)["row"].tolist() == [4]
    assert len(read_readings(tmp_path, kinds=["sleep_episode"])) == 5


def test_the_check_opens_only_the_partitions_of_the_batchs_kinds_and_months(tmp_path, monkeypatch):
    write_readings(_months_frame(), tmp_path, batch_id="m1", as_of=AS_OF)
    opened: list[list[str]] = []
    real = store.ds.dataset

    def spy(source, *args, **kwargs):
        opened.append(sorted(Path(p).relative_to(tmp_path).as_posix().rsplit("/", 1)[0] for p in source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(store.ds, "dataset", spy)
    mid_march = _frame([("R1", "D-R1", "heart_rate", "2025-03-15 10:00", "2025-03-15 10:00", 70.0, "Asia/Shanghai")])
    assert write_readings(mid_march, tmp_path, batch_id="m2", as_of=AS_OF)["rows"] == 1
    assert opened == [["kind=heart_rate/month=2025-03"]]  # not February, April, nor the RMSSD of March


def test_reads_never_return_a_reading_twice_even_from_a_store_written_before_the_check(tmp_path, monkeypatch):
    from workbench.wearables._checks import PROBLEM_COLUMNS

    # a store as written before write_readings looked up stored readings: an overlapping upload twice
    monkeypatch.setattr(store, "against_store", lambda committed, good, rows, **_: (
        np.zeros(len(good), dtype=bool), pd.DataFrame(columns=[*PROBLEM_COLUMNS, "pos"])), raising=False)
    clean = _clean_points()
    write_readings(read_omh_json(clean, as_of=FILES_AS_OF), tmp_path, batch_id="a")
    write_readings(read_omh_json(clean[2:], as_of=FILES_AS_OF), tmp_path, batch_id="b")
    changed = copy.deepcopy(clean[:1])
    changed[0]["body"]["heart_rate"]["value"] = 59
    write_readings(read_omh_json(changed, as_of=FILES_AS_OF), tmp_path, batch_id="c")
    stored = sum(pq.read_metadata(tmp_path / f).num_rows for f in readings_files(tmp_path))
    assert stored == 7 + 5 + 1
    back = read_readings(tmp_path)
    assert _steps(back) == 175
    # exact duplicates kept once; two readings that disagree are both returned (neither is the right one)
    assert len(back) == 8 and back["value"].tolist().count(58.0) == 1 and 59.0 in back["value"].tolist()
    assert len(read_readings(tmp_path, kinds=["step_count"])) == 2
