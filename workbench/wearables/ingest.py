"""Reading wearable device data: Open mHealth data points (JSON or JSON Lines) and flat CSV exports,
into the contract's readings frame, every bad or impossible reading named, none silently dropped.

- :func:`read_omh_json`: Open mHealth data points (schemas heart-rate, rr-interval, step-count,
  sleep-episode, and the programme's heart-rate-variability for RMSSD: see
  ``workbench/data/wearables.yaml``).
- :func:`read_csv`: one reading per row (``resident_id, device_id, kind, start, end, value, unit,
  tz``), tolerant of what spreadsheets do (a BOM, GBK text from a Chinese Excel, header case and
  spaces, ``2025/3/1 8:00`` and Excel serial dates as text, ``NA``/``#N/A``/blank), strict about
  what it accepts.
- :func:`check_readings`: the same rules on a readings frame already in the contract's shape
  (from :mod:`workbench.synth`, or read back from the store).

Each returns an :class:`IngestResult`: ``.readings`` (the readings kept, in the contract's
columns, sorted by resident, device, kind, start), ``.problems`` (every problem: ``source, row,
column, value, rule, rule_zh, action``) and ``.rejected`` (the refused readings as given, with
their rules). By default both come back: nothing is raised, so a person sees every problem of a
file at once; :meth:`IngestResult.raise_if_problems` refuses the whole batch instead, and
:func:`workbench.wearables.store.write_readings` refuses a batch with rejected readings unless told
``keep_rejected=True`` (then they are kept in the store's ``rejected/`` folder with their rules:
nothing is lost). The store also compares a batch with the readings stored before it: a reading
stored already is not written again, one that conflicts with a stored reading is refused
(:attr:`IngestResult.rows` lets it name the reading's row).

The rules (texts in English and Chinese; numbers from ``wearables.yaml``):

- resident and device: present (a blank is never guessed);
- kind: one of heart_rate, rr_interval, hrv_rmssd, step_count, sleep_episode;
- times: written year first; an offset (``Z``, ``+08:00``) makes the time that instant. A time
  without an offset is UTC in Open mHealth (its date-time-1.0 schema says so) and the wall clock of
  the row's ``tz`` in a CSV export (a local time that the change of clocks skips or repeats is
  refused). The end of a point reading is blank or equal to its start; an interval needs an end
  after its start, and a length within the kind's window;
- time zone: an IANA name, from the reading (CSV ``tz`` column; Open mHealth
  ``header.acquisition_provenance.time_zone``, a programme extension), else the ``tz=`` argument.
  **When only an offset is present**, a whole-hour offset other than 0 gives the IANA fixed-offset
  zone (``+08:00`` -> ``Etc/GMT-8``: local days are right for that reading, but the place is not
  known, so give ``tz=`` when you can); ``Z``, ``+00:00`` and offsets such as ``+05:30`` name no
  zone and are refused without ``tz``. An offset that disagrees with the declared zone at that
  instant is refused (``Z`` is always consistent: it only says the time is in UTC);
- value: a number (a blank is refused, never read as 0), in a declared unit (converted to the
  stored one), in the plausible range; steps whole, not negative, at most 300 a minute; a sleep
  episode has no value;
- clock: a reading more than 5 minutes after ``as_of`` (default: now) is from the future; within
  one device's stream of one kind, in the order of the file, a reading more than 2 minutes earlier
  than the latest one before it is a clock jump backwards;
- duplicates (same device, kind and start): identical ones are kept once and reported
  (``action`` ``kept_once``); conflicting ones are refused, all of them;
- two sleep episodes of one device may not overlap: both are refused.

``row`` is the line of the file for CSV and JSON Lines (the header is line 1 of a CSV; a frame's
rows are numbered as they would be in a CSV with a header) and the 1-based position of the data
point in a JSON array.

Examples
--------
>>> import pandas as pd
>>> csv = pd.DataFrame({"resident_id": ["R1", "R1"], "device_id": ["D1", "D1"], "kind": ["heart_rate"] * 2,
...                     "start": ["2025-03-01 08:00", "2025-03-01 08:01"], "end": ["", ""], "value": ["62", "400"],
...                     "unit": ["bpm", "bpm"], "tz": ["Asia/Shanghai"] * 2})
>>> result = read_csv(csv, as_of="2025-03-02")
>>> result.readings[["kind", "start", "value", "tz"]]
         kind                     start  value             tz
0  heart_rate 2025-03-01 00:00:00+00:00   62.0  Asia/Shanghai
>>> result.problems[["row", "column", "value", "rule"]].to_dict("records")
[{'row': 3, 'column': 'value', 'value': '400', 'rule': 'is outside the plausible range 20 to 250 beats/min for heart_rate'}]
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError
from workbench.params import Either, Instance, NonEmptyStr, Optional, Predicate, validate_params
from workbench.problems import ProblemsError
from workbench.wearables._checks import (KINDS, PROBLEM_COLUMNS, READING_COLUMNS, REJECTED_COLUMNS, RULES, blank,
                                         canonical, facts, is_instant, problem, run)

__all__ = ["CSV_COLUMNS", "KINDS", "PROBLEM_COLUMNS", "READING_COLUMNS", "REJECTED_COLUMNS", "RULES", "IngestResult",
           "ReadingProblemsError", "check_readings", "read_csv", "read_omh_json"]

#: The columns of a CSV export, in order.
CSV_COLUMNS: tuple[str, ...] = ("resident_id", "device_id", "kind", "start", "end", "value", "unit", "tz")


class ReadingProblemsError(RowProblemsError):
    """Wearable readings refused; :attr:`problems` names each as ``table`` (the source), ``row``,
    ``column``, ``value``, ``rule``."""

    def __init__(self, problems, *, context: str = "wearable readings", table: str | None = None):
        ProblemsError.__init__(self, problems, context=context, outcome="no reading was kept")


@dataclasses.dataclass
class IngestResult:
    """What a reader made of its input.

    Attributes
    ----------
    readings : DataFrame
        The readings kept: ``resident_id, device_id, kind, start, end, value, tz`` (the contract's
        frame; ``kind`` categorical in the contract's order), sorted by resident, device, kind, start.
    problems : DataFrame
        ``source, row, column, value, rule, rule_zh, action``: ``action`` is ``rejected`` (the
        reading is not in ``readings``), ``kept_once`` (an identical duplicate, kept once) or
        ``file`` (a problem of the file as a whole, e.g. an unknown column).
    rejected : DataFrame
        The refused readings as given (text), one per row, with all their rules
        (:data:`REJECTED_COLUMNS`), and the file problems.
    source : str
        Where the readings came from (the file name, or ``data``).
    rows : ndarray of int, optional
        The row of each kept reading (aligned with ``readings``), so that a reading refused later
        (by :func:`~workbench.wearables.store.write_readings`: it conflicts with a stored one) is
        named by its row. None: the readings are numbered from 1 in their order.
    """

    readings: pd.DataFrame
    problems: pd.DataFrame
    rejected: pd.DataFrame
    source: str = "data"
    rows: np.ndarray | None = None

    @property
    def refused(self) -> pd.DataFrame:
        """The problems that refuse something (every action but ``kept_once``)."""
        return self.problems[self.problems["action"] != "kept_once"]

    def raise_if_problems(self, *, lang: str = "en") -> IngestResult:
        """``self`` when no reading was refused, else :class:`ReadingProblemsError` naming every
        refused reading (row, column, value, rule; ``lang="zh"``: the rules in Chinese). Identical
        duplicates kept once do not raise (nothing was lost)."""
        refused = self.refused
        if len(refused):
            rule = "rule_zh" if lang == "zh" else "rule"
            rows = [(p["source"], None if pd.isna(p["row"]) else int(p["row"]), p["column"], p["value"], p[rule])
                    for p in refused.to_dict("records")]
            raise ReadingProblemsError(rows, context=f"wearable readings from {self.source}")
        return self

    def __repr__(self) -> str:
        kept = len(self.problems) - len(self.refused)
        return (f"IngestResult({self.source}: {len(self.readings)} readings kept, {len(self.refused)} problems"
                f"{f', {kept} duplicates kept once' if kept else ''})")


_AS_OF = Optional(Predicate(is_instant, "an instant (pandas.Timestamp, datetime or ISO text)"))
_ID = Optional(NonEmptyStr())
_TZ = Optional(Predicate(lambda v: isinstance(v, str) and v in _zones(), "an IANA time zone name (e.g. 'Asia/Shanghai')"))
_SOURCE = Optional(NonEmptyStr())


def _zones():
    from workbench.wearables._checks import zones
    return zones()


def _instant(as_of) -> pd.Timestamp:
    """``as_of`` as a UTC instant (naive: UTC); None: now, at the call."""
    if as_of is None:
        return pd.Timestamp.now(tz="UTC")
    t = pd.Timestamp(as_of)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _result(readings, problems, rejected, source) -> IngestResult:
    rows = readings.pop("row").to_numpy(dtype="int64") if "row" in readings else None
    return IngestResult(readings=readings, problems=problems, rejected=rejected, source=source, rows=rows)


# --- Open mHealth ----------------------------------------------------------------------------------

def _points(path_or_obj) -> tuple[str, list[tuple[int, Any]], list[dict]]:
    """``(source, [(row, data point)], problems)`` from a file (a JSON array, one data point, or
    JSON Lines) or from data points in memory."""
    if isinstance(path_or_obj, (str, Path)):
        path = Path(path_or_obj)
        text = path.read_text(encoding="utf-8-sig")
        source = path.name
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            points, problems = [], []
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    points.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    problems.append(problem(source, number, "(line)", line[:80], "bad_point",
                                            what=f"not JSON ({exc.msg})"))
            return source, points, problems
    else:
        source, data = "data", path_or_obj
    data = data if isinstance(data, list) else [data]
    return source, list(enumerate(data, start=1)), []


def _seconds(duration: Any) -> float | None:
    units = facts()["omh"]["duration_units"]
    if isinstance(duration, dict) and duration.get("unit") in units and _is_number(duration.get("value")):
        return float(duration["value"]) * units[duration["unit"]]
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text(v: Any) -> str | None:
    """A JSON value as the text the rules read (a number as written; anything else quoted, so it is
    never taken for a number)."""
    if v is None:
        return None
    if _is_number(v):
        return repr(v)
    return v if isinstance(v, str) else json.dumps(v)


def _omh_row(source: str, row: int, point: Any, args: dict) -> tuple[dict | None, dict | None]:
    """One data point as a row of text for the rules, or a problem that refuses it whole."""
    schemas = {k: v for k, v in facts()["omh"].items() if k != "duration_units"}
    if not isinstance(point, dict) or not isinstance(point.get("header"), dict) or not isinstance(point.get("body"), dict):
        return None, problem(source, row, "(data point)", _text(point)[:80] if point is not None else None,
                             "bad_point", what="a header and a body are required")
    header, body = point["header"], point["body"]
    sid = header.get("schema_id") if isinstance(header.get("schema_id"), dict) else {}
    spec = schemas.get(sid.get("name")) if sid.get("namespace") == "omh" else None
    if spec is None or str(sid.get("version")) not in spec["versions"]:
        accepted = "; ".join(f"omh:{k} {', '.join(v['versions'])}" for k, v in schemas.items())
        shown = f"{sid.get('namespace')}:{sid.get('name')}:{sid.get('version')}" if sid else None
        return None, problem(source, row, "header.schema_id", shown, "bad_schema", schemas=accepted)
    prov = header.get("acquisition_provenance") if isinstance(header.get("acquisition_provenance"), dict) else {}
    frame = body.get("effective_time_frame") if isinstance(body.get("effective_time_frame"), dict) else {}
    interval = frame.get("time_interval") if isinstance(frame.get("time_interval"), dict) else None
    where = {"start": "body.effective_time_frame", "end": "body.effective_time_frame.time_interval"}
    start = end = duration = None
    if "date_time" in frame:
        start, where["start"] = frame["date_time"], "body.effective_time_frame.date_time"
    elif interval is not None:
        base = "body.effective_time_frame.time_interval."
        start, end = interval.get("start_date_time"), interval.get("end_date_time")
        where["start"], where["end"] = base + "start_date_time", base + "end_date_time"
        seconds = _seconds(interval.get("duration"))
        if start is None and end is not None and seconds is not None:
            start = (pd.Timestamp(end) - pd.Timedelta(seconds=seconds)).isoformat() if _parses(end) else end
        elif end is None and seconds is not None:
            duration, where["end"] = seconds, base + "duration"
    field = spec["field"]
    out = {"source": source, "row": row, "kind": spec["kind"], "start": _text(start), "end": _text(end),
           "duration_s": duration, "value": None, "unit": None,
           "resident_id": args["resident_id"] or _text(header.get("user_id")),
           "device_id": _text(prov.get("device_id")) or args["device_id"],
           "tz": _text(prov.get("time_zone")) or args["tz"],
           "algorithm": None, "where_value": "body", "where_unit": "body"}
    out["where_start"], out["where_end"] = where["start"], where["end"]
    if field is not None:
        v = body.get(field)
        out["where_value"], out["where_unit"] = f"body.{field}.value", f"body.{field}.unit"
        if isinstance(v, dict):
            out["value"], out["unit"] = _text(v.get("value")), _text(v.get("unit"))
        else:  # step-count 1.0 and 2.0: a bare number of steps
            out["value"], out["unit"], out["where_value"] = _text(v), "steps", f"body.{field}"
        if spec.get("algorithm_field"):
            out["algorithm"] = _text(body.get(spec["algorithm_field"]))
    return out, None


def _parses(text: Any) -> bool:
    try:
        return isinstance(text, str) and not pd.isna(pd.Timestamp(text))
    except ValueError:
        return False


@validate_params({"resident_id": _ID, "device_id": _ID, "tz": _TZ, "as_of": _AS_OF, "source": _SOURCE})
def read_omh_json(path_or_obj, *, resident_id: str | None = None, device_id: str | None = None,
                  tz: str | None = None, as_of=None, source: str | None = None) -> IngestResult:
    """Open mHealth data points as readings, every problem named.

    Parameters
    ----------
    path_or_obj : str, Path, list or dict
        A file holding a JSON array of data points, one data point, or JSON Lines (one data point a
        line); or data points already parsed. A data point is ``{"header": {id, schema_id
        {namespace, name, version}, creation_date_time, acquisition_provenance, user_id}, "body":
        {...}}`` with the body of its schema (``effective_time_frame`` a ``date_time`` or a
        ``time_interval``; the value ``{value, unit}``).
    resident_id : str, optional
        The resident the readings belong to; overrides ``header.user_id`` (a platform's user id is
        seldom the registry's).
    device_id : str, optional
        The device, for data points without ``header.acquisition_provenance.device_id`` (a
        programme extension: Open mHealth has no device field).
    tz : str, optional
        The IANA zone, for data points without ``header.acquisition_provenance.time_zone``.
    as_of : instant, optional
        When the data was received (naive: UTC); readings more than 5 minutes later are from the
        future. Default: now, at the call.
    source : str, optional
        The name problems give the source (default: the file name, or ``data``).

    Returns
    -------
    IngestResult

    Examples
    --------
    >>> point = {"header": {"id": "1", "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
    ...                     "creation_date_time": "2025-03-01T08:00:05+08:00", "user_id": "u1"},
    ...          "body": {"heart_rate": {"value": 61, "unit": "beats/min"},
    ...                   "effective_time_frame": {"date_time": "2025-03-01T08:00:00+08:00"}}}
    >>> r = read_omh_json([point], resident_id="R1", device_id="D1", as_of="2025-03-02")
    >>> r.readings.loc[0, "start"], float(r.readings.loc[0, "value"]), r.readings.loc[0, "tz"]
    (Timestamp('2025-03-01 00:00:00+0000', tz='UTC'), 61.0, 'Etc/GMT-8')
    """
    name, points, problems = _points(path_or_obj)
    name = source or name
    args = {"resident_id": resident_id, "device_id": device_id, "tz": tz}
    rows = []
    for row, point in points:
        out, refused = _omh_row(name, row, point, args)
        if refused is not None:
            problems.append(refused)
        else:
            rows.append(out)
    columns = ["source", "row", *CSV_COLUMNS, "duration_s", "algorithm", "where_value", "where_unit", "where_start",
               "where_end"]
    work = pd.DataFrame(rows, columns=columns).astype({c: "string" for c in [*CSV_COLUMNS, "algorithm"]})
    work["duration_s"] = work["duration_s"].astype("float64")
    wrong = work["algorithm"].str.upper().ne("RMSSD").fillna(True) & (work["kind"] == "hrv_rmssd")
    for i in wrong[wrong].index:
        problems.append(problem(name, int(work.at[i, "row"]), "body.heart_rate_variability_algorithm",
                                work.at[i, "algorithm"], "algorithm"))
    refused_rows = set(work.loc[wrong, "row"].tolist())
    where = {"resident_id": "resident_id" if resident_id else "header.user_id",
             "device_id": "header.acquisition_provenance.device_id", "kind": "header.schema_id",
             "tz": "header.acquisition_provenance.time_zone", "value": work["where_value"],
             "unit": work["where_unit"], "start": work["where_start"], "end": work["where_end"]}
    keep = ~work["row"].isin(refused_rows)
    readings, found, rejected = run(work[keep].drop(columns=["algorithm"]), as_of=_instant(as_of), no_offset="utc",
                                    where={k: (v[keep].reset_index(drop=True) if isinstance(v, pd.Series) else v)
                                           for k, v in where.items()}, file_problems=problems)
    return _result(readings, _ordered(found), rejected, name)


def _ordered(problems: pd.DataFrame) -> pd.DataFrame:
    return problems.sort_values(["row", "column"], kind="stable", na_position="first").reset_index(drop=True)


# --- CSV -------------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without a BOM), else GB18030 (a Chinese Excel's "CSV")."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _header(name: Any) -> str:
    return str(name).replace("\ufeff", "").strip().lower().replace(" ", "_").replace("-", "_")


@validate_params({"resident_id": _ID, "device_id": _ID, "tz": _TZ, "as_of": _AS_OF, "source": _SOURCE})
def read_csv(path_or_frame, *, resident_id: str | None = None, device_id: str | None = None, tz: str | None = None,
             as_of=None, source: str | None = None) -> IngestResult:
    """A flat CSV export (one reading per row) as readings, every problem named.

    Parameters
    ----------
    path_or_frame : str, Path or DataFrame
        The file (UTF-8 with or without a BOM, or GBK/GB18030), or its rows as a frame. Columns
        (any case, spaces around, ``Start`` = ``start``): ``resident_id, device_id, kind, start,
        end, value, unit, tz``. ``start``/``end``: year first, with an offset (``+08:00``, ``Z``)
        or a local time in ``tz`` (``2025-03-01 08:00``, ``2025/3/1 8:00``, ``2025年3月1日 8:00``,
        an Excel serial day number such as ``45717.3333``); day-first and month-first dates are refused (ambiguous).
        ``value`` and ``unit`` are blank for a sleep episode; ``end`` blank for a point reading.
    resident_id, device_id, tz : str, optional
        For rows whose cell is blank, or a file without that column.
    as_of : instant, optional
        When the file was received (naive: UTC; default now, at the call).
    source : str, optional
        The name problems give the source (default: the file name, or ``data``).

    Returns
    -------
    IngestResult

    Examples
    --------
    >>> rows = pd.DataFrame({" Kind ": ["sleep_episode"], "START": ["2025/3/1 23:10"], "end": ["2025/3/2 6:40"],
    ...                      "value": ["NA"], "unit": [""]})
    >>> r = read_csv(rows, resident_id="R1", device_id="D1", tz="Asia/Shanghai", as_of="2025-03-02")
    >>> r.readings[["start", "end"]].iloc[0].tolist(), bool(r.readings["value"].isna().all())
    ([Timestamp('2025-03-01 15:10:00+0000', tz='UTC'), Timestamp('2025-03-01 22:40:00+0000', tz='UTC')], True)
    """
    if isinstance(path_or_frame, pd.DataFrame):
        frame, name = path_or_frame.copy(), "data"
        frame = frame.astype(object).where(frame.notna(), None).astype("string")
    else:
        path = Path(path_or_frame)
        frame = pd.read_csv(io.StringIO(_read_text(path)), dtype=str, keep_default_na=False, skip_blank_lines=False)
        name = path.name
    name = source or name
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    headers = [_header(c) for c in frame.columns]
    problems = []
    defaults = {"resident_id": resident_id, "device_id": device_id, "tz": tz}
    for c, h in zip(frame.columns, headers):
        if h not in CSV_COLUMNS:
            close = difflib.get_close_matches(h, CSV_COLUMNS, n=1, cutoff=0.6)
            problems.append(problem(name, None, str(c), None, "bad_column", action="file",
                                    hint=f" (did you mean {close[0]!r}?)" if close else "", columns=", ".join(CSV_COLUMNS)))
    for h in {h for h in headers if headers.count(h) > 1 and h in CSV_COLUMNS}:
        problems.append(problem(name, None, h, None, "bad_column", action="file", hint=" (given twice)",
                                columns=", ".join(CSV_COLUMNS)))
    missing = [c for c in CSV_COLUMNS if c not in headers and defaults.get(c) is None]
    if missing:
        problems.append(problem(name, None, ", ".join(missing), None, "column_missing", action="file",
                                columns=", ".join(c for c in CSV_COLUMNS)))
    frame.columns = headers
    if missing or len(set(headers)) != len(headers):
        empty = canonical(pd.DataFrame({c: [] for c in READING_COLUMNS}))
        table = pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)).astype({"row": "Int64"})
        rejected = pd.DataFrame([{"source": p["source"], "rule": f"{p['column']}: {p['rule']}",
                                  "rule_zh": f"{p['column']}: {p['rule_zh']}"} for p in problems],
                                columns=list(REJECTED_COLUMNS)).astype({"row": "Int64"})
        return _result(empty, table, rejected, name)
    work = pd.DataFrame({"source": name, "row": frame.index}, index=frame.index)
    for c in CSV_COLUMNS:
        cell = blank(frame[c]) if c in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
        work[c] = cell.fillna(defaults[c]) if defaults.get(c) is not None else cell
    empty_row = work[list(CSV_COLUMNS)].isna().all(axis=1)
    work = work[~empty_row].reset_index(drop=True)
    readings, found, rejected = run(work, as_of=_instant(as_of), no_offset="local", serials=True,
                                    file_problems=problems)
    return _result(readings, _ordered(found), rejected, name)


# --- frames in the contract's shape ----------------------------------------------------------------

@validate_params({"readings": Instance(pd.DataFrame, name="a pandas DataFrame"), "as_of": _AS_OF,
                  "source": Either(NonEmptyStr(), words="a non-empty str")})
def check_readings(readings: pd.DataFrame, *, as_of=None, source: str = "readings") -> IngestResult:
    """Every rule of :mod:`workbench.wearables.ingest` on a frame already in the contract's shape
    (``resident_id, device_id, kind, start, end, value, tz``, values in the stored units), in
    its row order (the clock rule reads the order). Rows are numbered from 1.

    Examples
    --------
    >>> frame = pd.DataFrame({"resident_id": ["R1"], "device_id": ["D1"], "kind": ["step_count"],
    ...                       "start": pd.to_datetime(["2025-03-01 00:00"], utc=True),
    ...                       "end": pd.to_datetime(["2025-03-01 00:01"], utc=True), "value": [-3.0], "tz": ["UTC"]})
    >>> check_readings(frame, as_of="2025-03-02").problems["rule"].tolist()
    ['is below 0: step_count cannot be negative']
    """
    missing = [c for c in READING_COLUMNS if c not in readings.columns]
    if missing:
        raise ReadingProblemsError([(source, None, ", ".join(missing), None,
                                     RULES["column_missing"][0].format(columns=", ".join(READING_COLUMNS)))],
                                   context=f"wearable readings from {source}")
    work = readings[list(READING_COLUMNS)].reset_index(drop=True).copy()
    work["kind"] = work["kind"].astype("string")
    work.insert(0, "row", range(1, len(work) + 1))
    work.insert(0, "source", source)
    found = run(work, as_of=_instant(as_of))
    return _result(found[0], _ordered(found[1]), found[2], source)
