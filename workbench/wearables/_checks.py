"""The rules every wearable reading is checked against (private: :mod:`workbench.wearables.ingest`
is the public face), the declared facts they read (``workbench/data/wearables.yaml``), and the
parsing of times written the ways devices and spreadsheets write them.

Every rule has an English and a Chinese text (:data:`RULES`); a problem names the source, the row,
the column (a CSV column or an Open mHealth field path), the value as given, and the rule.

>>> sorted(RULES)[:3]
['algorithm', 'bad_column', 'bad_kind']
>>> facts()["kinds"]["heart_rate"]["range"]
[20, 250]
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._declarations import load_yaml

#: The kinds of the canonical readings frame, in the contract's order.
KINDS: tuple[str, ...] = ("heart_rate", "rr_interval", "hrv_rmssd", "step_count", "sleep_episode")
#: The canonical readings frame's columns, in order.
READING_COLUMNS: tuple[str, ...] = ("resident_id", "device_id", "kind", "start", "end", "value", "tz")
#: The problems table's columns (``action``: rejected | kept_once | file).
PROBLEM_COLUMNS: tuple[str, ...] = ("source", "row", "column", "value", "rule", "rule_zh", "action")
#: The rejected table's columns: each refused reading as given (text), with its rules.
REJECTED_COLUMNS: tuple[str, ...] = ("source", "row", "resident_id", "device_id", "kind", "start", "end", "value",
                                     "unit", "tz", "rule", "rule_zh")
#: Cells read as blank (never as 0).
BLANKS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "#n/a", "空", "无"})

#: rule key -> (English, Chinese). Each reads after "value 'x' ...".
RULES: dict[str, tuple[str, str]] = {
    "resident_missing": ("has no resident: every reading must name its resident",
                         "没有居民编号：每条读数必须写明是哪位居民的"),
    "device_missing": ("has no device: every reading must name the device it came from",
                       "没有设备编号：每条读数必须写明来自哪个设备"),
    "bad_kind": ("is not a kind of reading: kinds are {kinds}", "不是可接受的读数类型：可用类型为 {kinds}"),
    "bad_schema": ("is not an accepted Open mHealth schema: accepted are {schemas}",
                   "不是可接受的 Open mHealth 数据格式：可用格式为 {schemas}"),
    "bad_point": ("is not an Open mHealth data point: {what}", "不是 Open mHealth 数据点：{what}"),
    "time_missing": ("is blank: a reading needs its {what}", "为空：读数需要{what_zh}"),
    "bad_time": ("is not a date and time written year first (2025-03-01T08:00:00+08:00, or 2025-03-01 08:00 "
                 "with the tz column)", "不是年份在前的日期时间（如 2025-03-01T08:00:00+08:00，或 2025-03-01 08:00 加时区列）"),
    "local_gap": ("does not exist or is ambiguous in {tz} (the clocks changed): write it with its offset",
                  "在 {tz} 时区不存在或有歧义（调整了时钟）：请写上时差"),
    "bad_tz": ("is not an IANA time zone (e.g. Asia/Shanghai)", "不是 IANA 时区名称（如 Asia/Shanghai）"),
    "tz_missing": ("has no time zone: give tz= or a tz for the reading (an offset such as +05:30 names no zone, "
                   "and Z says only that the time is in UTC)",
                   "没有时区：请给出 tz= 或读数自己的时区（+05:30 这样的时差不能确定时区，Z 只说明时间是 UTC）"),
    "offset_mismatch": ("has the offset {offset}, but {tz} is {tz_offset} at that time",
                        "时差为 {offset}，但 {tz} 时区当时为 {tz_offset}"),
    "bad_number": ("is not a number", "不是数字"),
    "value_missing": ("is blank: a missing reading is refused, never read as 0",
                      "为空：缺失的读数不予接收，绝不当作 0"),
    "sleep_value": ("is given, but a sleep episode has no value (leave it blank)",
                    "有数值，但睡眠时段没有数值（请留空）"),
    "unit_missing": ("is blank: the unit of {kind} must be one of {units}", "为空：{kind} 的单位必须是 {units} 之一"),
    "unit_undeclared": ("is not a declared unit of {kind}: declared units are {units}",
                        "不是 {kind} 的已声明单位：可用单位为 {units}"),
    "out_of_range": ("is outside the plausible range {low} to {high} {unit} for {kind}",
                     "超出 {kind} 的合理范围 {low} 至 {high} {unit}"),
    "negative": ("is below 0: {kind} cannot be negative", "小于 0：{kind} 不能为负数"),
    "not_whole": ("is not a whole number of {unit}", "不是整数{unit}"),
    "steps_rate": ("is more than {high} steps per minute over its {minutes} min interval",
                   "在 {minutes} 分钟内超过每分钟 {high} 步"),
    "end_before_start": ("is before the start {start}", "早于开始时间 {start}"),
    "end_missing": ("is blank: a {kind} reading covers an interval and needs its end",
                    "为空：{kind} 读数是一段时间，需要结束时间"),
    "point_end": ("differs from the start {start}: a {kind} reading is a point in time (leave end blank or equal "
                  "to start)", "与开始时间 {start} 不同：{kind} 读数是一个时间点（结束时间留空或与开始相同）"),
    "window": ("makes the {kind} interval last {length}: it must last {low} to {high}",
               "使 {kind} 时段长 {length}：应为 {low} 至 {high}"),
    "future": ("is more than {tolerance} after as_of {as_of}: a reading from the future (the device clock is wrong)",
               "比截止时间 {as_of} 晚 {tolerance} 以上：来自未来的读数（设备时钟有误）"),
    "clock_jump": ("is {gap} earlier than the latest reading before it from this device ({latest}): the device "
                   "clock jumped backwards", "比该设备之前最晚的读数（{latest}）早 {gap}：设备时钟往回跳了"),
    "duplicate": ("repeats row {other} exactly (same device, kind, start and value): kept once",
                  "与第 {other} 行完全重复（同一设备、类型、开始时间和数值）：只保留一条"),
    "conflict": ("has the same device, kind and start as row {other} but a different {what}: conflicting "
                 "readings, neither kept", "与第 {other} 行设备、类型和开始时间相同但{what_zh}不同：读数矛盾，两条都不保留"),
    "overlap": ("overlaps the sleep episode of row {other} of the same device: neither kept",
                "与同一设备第 {other} 行的睡眠时段重叠：两条都不保留"),
    "stored_conflict": ("conflicts with the reading stored in batch {batch} (same device, kind and start; stored "
                        "{stored})", "与批次 {batch} 中已存的读数矛盾（设备、类型和开始时间相同；已存的{stored_zh}）"),
    "stored_overlap": ("overlaps the sleep episode {stored} of the same device: conflicts with the reading stored in "
                       "batch {batch}", "与同一设备已存的睡眠时段 {stored} 重叠：与批次 {batch} 中已存的读数矛盾"),
    "algorithm": ("is not RMSSD: only RMSSD heart-rate variability is accepted", "不是 RMSSD：只接收 RMSSD 心率变异性"),
    "bad_column": ("is not a column of a wearable readings file{hint}: columns are {columns}",
                   "不是可穿戴设备读数文件的列{hint}：可用列为 {columns}"),
    "column_missing": ("is absent: a wearable readings file needs the columns {columns}",
                       "缺失：可穿戴设备读数文件需要以下列 {columns}"),
}
_WHAT_ZH = {"start": "开始时间", "end": "结束时间", "value": "数值", "resident_id": "居民", "tz": "时区"}


@functools.lru_cache(maxsize=1)
def facts() -> dict[str, Any]:
    """``workbench/data/wearables.yaml``, read once."""
    return load_yaml((Path(__file__).parents[1] / "data" / "wearables.yaml").read_text(encoding="utf-8"))


def is_instant(value: Any) -> bool:
    """Whether ``value`` is a point in time: a Timestamp, a datetime or date, ISO text (not a number).

    >>> is_instant("2025-03-01T08:00+08:00"), is_instant("soon"), is_instant(20250301), is_instant(None)
    (True, False, False, False)
    """
    if value is None or isinstance(value, (bool, int, float, np.number)):
        return False
    try:
        return not pd.isna(pd.Timestamp(value))
    except (TypeError, ValueError, OverflowError):
        return False


def problem(source, row, column, value, key: str, action: str = "rejected", **words) -> dict:
    """One problem record (:data:`PROBLEM_COLUMNS`) for rule ``key`` with its words filled in."""
    if "what" in words:
        words.setdefault("what_zh", _WHAT_ZH.get(words["what"], words["what"]))
    en, zh = RULES[key]
    return {"source": source, "row": row, "column": column, "value": value, "rule": en.format(**words),
            "rule_zh": zh.format(**words), "action": action}


@functools.lru_cache(maxsize=1)
def zones() -> frozenset[str]:
    """The IANA time zone names this machine knows."""
    return frozenset(zoneinfo.available_timezones())


def blank(text: pd.Series) -> pd.Series:
    """Cells as stripped text; blanks and the usual spreadsheet blanks (NA, N/A, #N/A, -) as NA."""
    codes, uniques = pd.factorize(text.astype("string"), use_na_sentinel=True)
    clean = pd.Series(uniques, dtype="string").str.strip()  # once per distinct cell: ids and zones repeat
    clean = clean.mask(clean.str.lower().isin(BLANKS))
    return pd.Series(clean.array.take(codes, allow_fill=True), index=text.index)


# --- times -----------------------------------------------------------------------------------------

_TIME = re.compile(r"^(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})"
                   r"(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
                   r"\s*(?P<off>[Zz]|[+-]\d{2}:?\d{2})?$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")  # an Excel date cell read as text: days since 1899-12-30
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def offset_text(minutes: float) -> str:
    """``+08:00`` for 480 minutes.

    >>> offset_text(480), offset_text(-330), offset_text(0)
    ('+08:00', '-05:30', '+00:00')
    """
    m = int(minutes)
    return f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


def zone_of_offset(minutes: float) -> str | None:
    """The IANA fixed-offset zone of a whole-hour offset other than 0 (``Etc/GMT-8`` is UTC+8: the
    IANA names invert the sign), or None.

    >>> zone_of_offset(480), zone_of_offset(-300), zone_of_offset(330), zone_of_offset(0)
    ('Etc/GMT-8', 'Etc/GMT+5', None, None)
    """
    if pd.isna(minutes) or minutes == 0 or minutes % 60:
        return None
    name = f"Etc/GMT{-int(minutes) // 60:+d}"
    return name if name in zones() else None


def parse_times(text: pd.Series, tz: pd.Series, *, no_offset: str, serials: bool = False):
    """Times as written (``text``, NA for blank) to UTC instants.

    Written year first: ``2025-03-01T08:00:00+08:00``, ``2025-03-01 08:00``, ``2025/3/1 8:00``,
    ``2025年3月1日 8:00`` (a Chinese Excel's date cells as text). A time with an offset (``Z``,
    ``+08:00``) is that instant. A time without one is, with
    ``no_offset="utc"``, UTC (Open mHealth date-time-1.0) or, with ``no_offset="local"``, the wall
    clock of the row's ``tz`` (a CSV export). ``serials``: also read Excel serial day numbers as
    local times. Returns ``(utc, offset_minutes, bad, gap)``: ``bad`` marks text that is not a
    time, ``gap`` a local time that does not exist or is ambiguous in its zone; a local time whose
    zone is missing or unknown stays NaT without either mark (the zone is the problem).
    """
    index = text.index
    text = text.str.replace(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*", r"\1-\2-\3 ", regex=True).str.strip()
    parts = text.str.extract(_TIME)
    serial = text.str.fullmatch(_SERIAL.pattern).fillna(False).astype(bool) if serials else \
        pd.Series(False, index=index)
    iso = (parts["y"] + "-" + parts["mo"].str.zfill(2) + "-" + parts["d"].str.zfill(2) + " "
           + parts["h"].fillna("0").str.zfill(2) + ":" + parts["mi"].fillna("00") + ":" + parts["s"].fillna("00"))
    naive = pd.to_datetime(iso.astype(object), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    fraction = pd.to_numeric(parts["f"].str.pad(9, side="right", fillchar="0"), errors="coerce").fillna(0)
    naive = naive + pd.to_timedelta(fraction.astype("int64"), unit="ns")
    if serial.any():
        days = pd.to_numeric(text.where(serial), errors="coerce")
        naive = naive.where(~serial, _EXCEL_EPOCH + pd.to_timedelta((days * 86400).round(), unit="s"))
    bad = text.notna() & naive.isna()
    off = parts["off"].astype("string")
    sign = np.where((off.str[0] == "-").fillna(False).astype(bool), -1, 1)
    digits = off.str.replace(":", "", regex=False).str[1:]
    minutes = pd.Series(sign * (pd.to_numeric(digits.str[:2], errors="coerce") * 60
                                + pd.to_numeric(digits.str[2:], errors="coerce")), index=index, dtype="float64")
    minutes = minutes.mask((off.str.upper() == "Z").fillna(False).astype(bool), 0.0)
    utc = (naive - pd.to_timedelta(minutes.fillna(0), unit="min")).dt.tz_localize("UTC")
    utc = utc.where(minutes.notna() | naive.isna(), pd.NaT) if no_offset == "local" else utc
    gap = pd.Series(False, index=index)
    if no_offset == "local":
        local = naive.notna() & minutes.isna()
        known = tz.isin(zones()).fillna(False).astype(bool)
        for name in tz[local & known].unique():
            at = local & (tz == name).fillna(False).astype(bool)
            moved = naive[at].dt.tz_localize(name, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
            utc.loc[at] = moved
            gap |= (at & utc.isna())
    return utc.astype("datetime64[ns, UTC]"), minutes, bad, gap


def tz_offsets(utc: pd.Series, tz: pd.Series) -> pd.Series:
    """The UTC offset (minutes) of each row's zone at its instant (NaN where either is missing)."""
    out = pd.Series(np.nan, index=utc.index, dtype="float64")
    ok = utc.notna() & tz.isin(zones()).fillna(False).astype(bool)
    for name in tz[ok].unique():
        at = ok & (tz == name).fillna(False).astype(bool)
        local = utc[at].dt.tz_convert(name).dt.tz_localize(None)
        out.loc[at] = (local - utc[at].dt.tz_localize(None)).dt.total_seconds() / 60
    return out


def duration_text(seconds: float) -> str:
    """A length of time as a person says it.

    >>> duration_text(30), duration_text(300), duration_text(5400), duration_text(90000)
    ('30 s', '5 min', '1 h 30 min', '25 h')
    """
    s = float(seconds)
    if abs(s) < 60:
        return f"{s:g} s"
    if abs(s) < 3600:
        return f"{s / 60:g} min"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h" + (f" {m} min" if m else "")


def when(t: pd.Timestamp) -> str:
    """A UTC instant as text: ``2025-03-01 08:00:00 UTC``."""
    return "(none)" if pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the rules -------------------------------------------------------------------------------------

def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column)


def _shown_value(v) -> Any:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v.item() if isinstance(v, np.generic) else v


def run(work: pd.DataFrame, *, as_of: pd.Timestamp, no_offset: str = "utc", serials: bool = False,
        where: dict[str, Any] | None = None, file_problems: list[dict] | None = None):
    """Check readings (``work``: one per row, with ``source``, ``row`` and the reading columns as
    text or typed; optional ``unit``, ``duration_s``) against every rule.

    Returns ``(readings, problems, rejected)``: the canonical frame of the readings kept, the
    problems table (:data:`PROBLEM_COLUMNS`) and the rejected readings as given
    (:data:`REJECTED_COLUMNS`). ``where`` maps a column to the name used in messages (a CSV column,
    an Open mHealth field path; a Series when it differs by row).
    """
    kinds = facts()["kinds"]
    clock = facts()["clock"]
    work = work.reset_index(drop=True)
    n = len(work)
    given = work.copy()
    where = {c: c for c in ("resident_id", "device_id", "kind", "start", "end", "value", "unit", "tz")} | (where or {})
    found: list[tuple] = []
    bad = np.zeros(n, dtype=bool)

    def flag(mask, column, key, action="rejected", words=None, **fixed):
        """Name rule ``key`` for the rows of ``mask`` (booleans, or positions as a list)."""
        where_ = mask if isinstance(mask, list) else np.flatnonzero(np.asarray(mask, dtype=bool))
        for i in where_:
            found.append((i, column, key, action, {**fixed, **(words(i) if words else {})}))
            if action == "rejected":
                bad[i] = True

    text = {c: blank(work[c]) if c in work and _is_text(work[c]) else None
            for c in ("resident_id", "device_id", "kind", "tz", "unit")}
    resident = text["resident_id"] if text["resident_id"] is not None else work["resident_id"].astype("string")
    device = text["device_id"] if text["device_id"] is not None else work["device_id"].astype("string")
    kind = (text["kind"] if text["kind"] is not None else work["kind"].astype("string"))
    tz = text["tz"] if text["tz"] is not None else work["tz"].astype("string")
    flag(resident.isna(), "resident_id", "resident_missing")
    flag(device.isna(), "device_id", "device_missing")
    codes = pd.Series(pd.Categorical(kind.astype(object), categories=list(KINDS)).codes, index=work.index)
    is_kind = {k: codes == i for i, k in enumerate(KINDS)}
    known_kind = codes >= 0
    flag(~known_kind, "kind", "bad_kind", kinds=", ".join(KINDS))
    flag(tz.notna() & ~tz.isin(zones()).fillna(False).astype(bool), "tz", "bad_tz")

    # times
    offsets = {}
    times = {}
    for name in ("start", "end"):
        col = work[name] if name in work else pd.Series(pd.NaT, index=work.index)
        if _is_text(col):
            raw = blank(col)
            t, offsets[name], bad_t, gap = parse_times(raw, tz, no_offset=no_offset, serials=serials)
            flag(bad_t, name, "bad_time")
            flag(gap, name, "local_gap", words=lambda i: {"tz": tz.iloc[i]})
            if name == "start":
                flag(raw.isna(), "start", "time_missing", what="start")
        else:
            t = pd.to_datetime(col, utc=True)
            offsets[name] = pd.Series(np.nan, index=work.index)
            if name == "start":
                flag(t.isna(), "start", "time_missing", what="start")
        times[name] = t.astype("datetime64[ns, UTC]")
    start, end = times["start"], times["end"]
    needs = tz.isna() & offsets["start"].notna()
    if needs.any():
        tz = tz.fillna(offsets["start"].where(needs).map(zone_of_offset).astype("string"))
    flag(tz.isna(), "tz", "tz_missing")
    for name in ("start", "end"):
        off = offsets[name]
        has = off.notna() & (off != 0) & tz.isin(zones()).fillna(False).astype(bool)
        if has.any():
            actual = tz_offsets(times[name].where(has), tz)
            flag(has & (actual != off), name, "offset_mismatch", words=lambda i, o=off, a=actual: {
                "offset": offset_text(o.iloc[i]), "tz": tz.iloc[i], "tz_offset": offset_text(a.iloc[i])})
    if "duration_s" in work:
        end = end.fillna(start + pd.to_timedelta(work["duration_s"], unit="s"))
    point = codes.isin([i for i, k in enumerate(KINDS) if kinds[k]["timing"] == "point"])
    interval = codes.isin([i for i, k in enumerate(KINDS) if kinds[k]["timing"] == "interval"])
    flag(point & end.notna() & start.notna() & (end != start), "end", "point_end",
         words=lambda i: {"start": when(start.iloc[i]), "kind": kind.iloc[i]})
    end = end.where(~point | end.notna(), start)
    flag(interval & end.isna() & start.notna(), "end", "end_missing", words=lambda i: {"kind": kind.iloc[i]})
    flag(end.notna() & start.notna() & (end < start), "end", "end_before_start",
         words=lambda i: {"start": when(start.iloc[i])})
    seconds = (end - start).dt.total_seconds()
    for k in KINDS:
        low, high = kinds[k].get("window_seconds", [None, None])
        if low is None:
            continue
        out = is_kind[k] & seconds.notna() & (seconds >= 0) & \
            ((seconds < low) | (seconds > high))
        flag(out, "end", "window", words=lambda i: {"length": duration_text(seconds.iloc[i])},
             kind=k, low=duration_text(low), high=duration_text(high))

    # values and units
    value_col = work["value"] if "value" in work else pd.Series(np.nan, index=work.index)
    if _is_text(value_col):
        raw_value = blank(value_col)
        value = pd.to_numeric(raw_value, errors="coerce").astype("float64")
        flag(raw_value.notna() & value.isna(), "value", "bad_number")
        value_blank = raw_value.isna()
    else:
        value = value_col.astype("float64")
        value_blank = value.isna()
    sleep = is_kind["sleep_episode"]
    flag(sleep & ~value_blank, "value", "sleep_value")
    flag(known_kind & ~sleep & value_blank, "value", "value_missing")
    unit = text["unit"]
    factor = pd.Series(1.0, index=work.index)
    unit_ok = pd.Series(True, index=work.index)
    if unit is not None:
        lowered = unit.str.lower()
        for k in KINDS:
            declared = {str(u).lower(): float(f) for u, f in (kinds[k].get("units") or {}).items()}
            if not declared:
                continue
            at = is_kind[k]
            listed = ", ".join(kinds[k]["units"])
            flag(at & unit.isna(), "unit", "unit_missing", kind=k, units=listed)
            known = lowered.isin(declared).fillna(False).astype(bool)
            flag(at & unit.notna() & ~known, "unit", "unit_undeclared", kind=k, units=listed)
            unit_ok &= ~at | known
            factor = factor.mask(at & known, lowered.map(declared))
    value = value * factor
    checked = value.where(unit_ok)  # a value in an unknown unit has no range to be in
    for k in KINDS:
        spec = kinds[k]
        if "range" not in spec:
            continue
        at = is_kind[k] & checked.notna()
        low, high = spec["range"]
        if spec.get("range_per") == "minute":
            flag(at & (value < 0), "value", "negative", kind=k)
            if spec.get("whole_numbers"):
                flag(at & (value >= 0) & (value != np.floor(value)), "value", "not_whole", unit=spec["unit"])
            minutes = seconds / 60
            flag(at & minutes.notna() & (minutes > 0) & (value > high * minutes), "value", "steps_rate",
                 words=lambda i: {"minutes": f"{minutes.iloc[i]:g}"}, high=high)
        else:
            flag(at & ((value < low) | (value > high)), "value", "out_of_range", kind=k, low=low, high=high,
                 unit=spec["unit"])

    # the future
    limit = as_of + pd.Timedelta(seconds=clock["max_future_seconds"])
    words = {"tolerance": duration_text(clock["max_future_seconds"]), "as_of": when(as_of)}
    late_start = start.notna() & (start > limit)
    flag(late_start, "start", "future", **words)
    flag(~late_start & end.notna() & (end > limit), "end", "future", **words)

    # duplicates, clock jumps and overlaps among the readings that passed every rule above
    frame = pd.DataFrame({"resident_id": resident, "device_id": device, "kind": kind, "start": start, "end": end,
                          "value": value, "tz": tz, "row": work["row"]})
    keep = np.ones(n, dtype=bool)
    ok = ~bad
    key = ["device_id", "kind", "start"]
    cand = frame[ok]
    repeated = cand.duplicated(key, keep=False)
    if repeated.any():
        group = cand[repeated]
        by = group.groupby(key, sort=False, dropna=False, observed=True)
        rows = by["row"]
        first, second = rows.transform("first"), rows.transform(lambda r: r.iloc[1])
        signature = ["resident_id", "end", "value", "tz"]
        spread = by[signature].transform(lambda c: c.nunique(dropna=False))
        for pos in group.index:
            row, f = frame.at[pos, "row"], first.at[pos]
            differs = [c for c in signature if spread.at[pos, c] > 1]
            if differs:
                flag([pos], "value" if "value" in differs else differs[0], "conflict",
                     other=second.at[pos] if row == f else f, what=" and ".join(differs),
                     what_zh="、".join(_WHAT_ZH.get(c, c) for c in differs))
            elif row != f:
                flag([pos], "start", "duplicate", action="kept_once", other=f)
                keep[pos] = False
    ok = ~bad & keep
    cand = frame[ok]
    if len(cand):
        groups = [cand["device_id"], cand["kind"]]
        latest = cand.groupby(groups, sort=False)["start"].cummax().groupby(groups, sort=False).shift(1)
        gap = (latest - cand["start"]).dt.total_seconds()
        jumped = gap > clock["max_backward_seconds"]
        for pos in cand.index[jumped.to_numpy()]:
            flag([pos], "start", "clock_jump", gap=duration_text(gap.loc[pos]),
                 latest=when(latest.loc[pos]))
    ok = ~bad & keep
    sleeps = frame[ok & sleep.to_numpy()].sort_values(["device_id", "start", "row"])
    if len(sleeps) > 1:
        dev = sleeps["device_id"]
        top = sleeps.groupby(dev, sort=False)["end"].cummax()
        holder = pd.Series(sleeps.index, index=sleeps.index).where(sleeps["end"] == top).groupby(dev).ffill()
        before_end = top.groupby(dev, sort=False).shift(1)
        before_holder = holder.groupby(dev, sort=False).shift(1)
        overlapping = (sleeps["start"] < before_end).to_numpy()
        partners: dict[int, int] = {}
        for pos, other in zip(sleeps.index[overlapping], before_holder[overlapping]):
            partners[pos] = int(other)
            partners.setdefault(int(other), pos)
        for pos, other in partners.items():
            flag([pos], "start", "overlap", other=frame.at[other, "row"])

    kept = frame[~bad & keep]
    readings = canonical(kept, extra=("row",))  # each reading's row: the store names a later conflict by it
    problems = _problems_table(found, work, given, where, file_problems)
    rejected = _rejected_table(np.flatnonzero(bad), problems, work, given, file_problems)
    return readings, problems, rejected


def canonical(frame: pd.DataFrame, *, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The contract's readings frame (typed, in column order, sorted by resident, device, kind,
    start), followed by the ``extra`` columns of ``frame`` as they are."""
    out = pd.DataFrame({
        "resident_id": frame["resident_id"].astype("string"),
        "device_id": frame["device_id"].astype("string"),
        "kind": pd.Categorical(frame["kind"].astype(object), categories=list(KINDS)),
        "start": pd.to_datetime(frame["start"], utc=True).astype("datetime64[ns, UTC]"),
        "end": pd.to_datetime(frame["end"], utc=True).astype("datetime64[ns, UTC]"),
        "value": frame["value"].astype("float64"),
        "tz": frame["tz"].astype("string")})
    for column in extra:
        out[column] = frame[column].to_numpy()
    return out.sort_values(["resident_id", "device_id", "kind", "start"], kind="stable").reset_index(drop=True)


def _label(where: dict, column: str, i: int) -> str:
    label = where.get(column, column)
    return str(label.iloc[i]) if isinstance(label, pd.Series) else str(label)


def _problems_table(found, work, given, where, file_problems) -> pd.DataFrame:
    rows = list(file_problems or [])
    for i, column, key, action, words in sorted(found, key=lambda f: (f[0], f[1])):
        value = _shown_value(given.at[i, column]) if column in given else None
        rows.append(problem(work.at[i, "source"], int(work.at[i, "row"]), _label(where, column, i), value, key,
                            action, **words))
    return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS)).astype({"row": "Int64"})


def _rejected_table(positions, problems, work, given, extra) -> pd.DataFrame:
    rejected = problems[problems["action"] != "kept_once"]
    texts = rejected.groupby(["source", "row"], sort=False, dropna=False).agg(
        rule=("rule", lambda r: "; ".join(f"{c}: {t}" for c, t in zip(rejected.loc[r.index, "column"], r))),
        rule_zh=("rule_zh", lambda r: "; ".join(f"{c}: {t}" for c, t in zip(rejected.loc[r.index, "column"], r))))
    out = []
    for i in positions:
        row = {"source": work.at[i, "source"], "row": int(work.at[i, "row"])}
        for c in ("resident_id", "device_id", "kind", "start", "end", "value", "unit", "tz"):
            v = _shown_value(given.at[i, c]) if c in given else None
            row[c] = None if v is None else str(v)
        rule = texts.loc[(row["source"], row["row"])]
        out.append({**row, "rule": rule["rule"], "rule_zh": rule["rule_zh"]})
    for p in extra or []:  # refused before the rules (a file's columns, a data point of another schema)
        out.append({"source": p["source"], "row": p["row"], "value": None if p["value"] is None else str(p["value"]),
                    "rule": f"{p['column']}: {p['rule']}", "rule_zh": f"{p['column']}: {p['rule_zh']}"})
    frame = pd.DataFrame(out, columns=list(REJECTED_COLUMNS))
    return frame.astype({c: "string" for c in REJECTED_COLUMNS if c != "row"}).astype({"row": "Int64"})
