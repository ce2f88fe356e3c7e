"""Chronic-disease follow-up by policy: classify each follow-up, the indicators, the due list.

The national basic public health service rules for hypertension and type 2 diabetes are a
policy file (:mod:`workbench.chronic_policy`; the default is
``workbench/policies/chronic_default.yaml``): who is managed, the control targets, the danger
values, the classification of each follow-up, what follows it and when the next one is due, and
the indicator definitions. This module only applies the file, vectorised; every classified
follow-up records the policy version and the rule that fired.

- A **follow-up** is a reading in a face-to-face setting of the policy (clinic, home; a
  resident's own device is not one) of a resident **managed** for the condition: the condition
  is recorded and the resident is of the policy's age at the visit (an unknown birth date, blank
  in an export that suppressed it, does not exclude: the stricter target applies). A resident
  with both conditions gives two rows for one visit.
- ``controlled``: every measure of the condition's target below its bound; blank when the
  reading lacks a value (blank is never "controlled" nor "not controlled").
- "Twice running" and the other ``previous`` conditions look at the last earlier follow-up of the
  same condition at which the item was recorded.

Examples
--------
>>> people = pd.DataFrame({"resident_id": ["R1"], "birth_date": pd.to_datetime(["1950-03-01"]),
...                        "hypertension": [True], "diabetes": [False], "ckd": pd.array([None], dtype="boolean")})
>>> visits = pd.DataFrame({"measurement_id": ["M1", "M2"], "resident_id": "R1",
...                        "measured_on": pd.to_datetime(["2025-01-10", "2025-01-24"]), "setting": "clinic",
...                        "sbp": [150, 146], "dbp": [92, 88], "fasting_glucose": np.nan, "random_glucose": np.nan,
...                        "adverse_reaction": False, "complication": False, "alarm_symptoms": False})
>>> out = classify(visits, people)
>>> out[["measured_on", "target", "controlled", "rule", "next_due"]]
  measured_on        target  controlled                  rule   next_due
0  2025-01-10  <140/90 mmHg       False        not_controlled 2025-01-24
1  2025-01-24  <140/90 mmHg       False  not_controlled_twice 2025-02-07
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench.chronic_policy import (ACTIONS, CLASSIFICATIONS, ITEMS, ChronicPolicy, ChronicPolicyError,
                                      load_chronic_policy, value_texts)
from workbench.params import FRAME, Date, Either, Instance, Options, Predicate, check, validate_params
from workbench.problems import ProblemsError
from workbench._frames import _DAY_NS, _UNBORN, _bad, _blank, _columns, _month_index, _month_text, _typed, _ymd

__all__ = ["ACTIONS", "CLASSIFICATIONS", "CLASSIFY_COLUMNS", "ChronicInputError", "ChronicPolicy",
           "ChronicPolicyError", "DUE_COLUMNS", "INDICATOR_COLUMNS", "classify", "due_list", "indicators",
           "load_chronic_policy"]

#: Columns of :func:`classify`, in order.
CLASSIFY_COLUMNS = ["measurement_id", "resident_id", "measured_on", "condition", "target", "controlled",
                    "classification", "urgent", "action", "rule", "next_due", "policy_version"]
#: Columns of :func:`indicators`, in order.
INDICATOR_COLUMNS = ["condition", "community", "month", "period_start", "period_end", "managed", "regular",
                     "regular_rate", "with_reading", "controlled", "control_rate", "status", "policy_version"]
#: Columns of :func:`due_list`, in order.
DUE_COLUMNS = ["resident_id", "condition", "last_visit", "last_classification", "last_value", "next_due", "due",
               "overdue", "days_overdue", "uncontrolled_twice", "urgent_referral"]
#: How many bad rows of one column and rule an error lists before it says how many more there are.

POLICY = Either(Predicate(lambda v: isinstance(v, str) and bool(v), "a policy name"),
                Instance("pathlib.Path", "collections.abc.Mapping", "workbench.chronic_policy.ChronicPolicy", name=""),
                words="a chronic-care policy: a shipped name ('default'), a YAML path, a mapping or a ChronicPolicy")
TABLES = Instance("workbench.tables.Tables", name="the analysis tables (workbench.tables.Tables)")
MONTH = Predicate(lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None),
                  "None or a YYYY-MM text")
BY = Either(Options(None), Predicate(lambda v: isinstance(v, (tuple, list)) and len(v) == len(set(v)) > 0
                                     and set(v) <= {"community", "month"}, ""),
            words="None or a tuple of 'community' and/or 'month'")


class ChronicInputError(ProblemsError):
    """Measurements or residents that chronic-care rules cannot use; :attr:`problems` names every
    bad cell (table, row, column, value, rule); nothing was classified."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems, context="chronic-care follow-up", outcome="nothing was classified")


class _Residents:
    """The residents' columns the rules read, as arrays by resident position."""

    def __init__(self, residents: pd.DataFrame, policy: ChronicPolicy, problems: list[tuple], extra: tuple = ()):
        wanted = {"resident_id": "text", "birth_date": "date", **{c: "bool" for c in policy.conditions}}
        for cond in policy.conditions.values():
            for target in cond.targets:
                wanted.update({w: "bool" for w in target.recorded_without})
        wanted.update({c: "text" for c in extra})
        before = len(problems)
        residents = _typed("residents", residents, wanted, problems)
        if len(problems) > before:
            return
        self.index = pd.Index(residents["resident_id"])
        problems += _bad("residents", residents, _blank(residents["resident_id"]), "resident_id", "is blank but required")
        if not self.index.is_unique:
            problems += _bad("residents", residents, self.index.duplicated() & residents["resident_id"].notna().to_numpy(),
                             "resident_id", "is repeated: it must be unique")
        self.has = {}
        for c in policy.conditions:
            blank = residents[c].isna().to_numpy()
            problems += _bad("residents", residents, blank, c, "is blank: record whether the resident has it")
            self.has[c] = residents[c].fillna(False).to_numpy(dtype=bool)
        # recorded as absent: False, not blank (a blank ckd is 'not recorded', never 'without')
        self.absent = {w: (~residents[w].fillna(True).to_numpy(dtype=bool)) for w in wanted if wanted[w] == "bool"}
        self.birth_year, self.birth_md, self.birth_known = _ymd(residents["birth_date"].to_numpy("datetime64[ns]"))
        self.frame = residents

    def age_on(self, year: np.ndarray | int, md: np.ndarray | int, who: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Whole years of age on the given day(s) (-1 when the birth date is not known)."""
        age = year - self.birth_year[who] - (md < self.birth_md[who])
        return np.where(self.birth_known[who], age, -1)


def _codes(n: int) -> np.dtype:
    """The smallest integer type for codes -1 .. n - 1 (categorical codes, rules)."""
    return np.dtype(np.int8 if n < 127 else np.int16 if n < 32_767 else np.int64)


def _setting_codes(column: pd.Series, settings: list[str]) -> np.ndarray:
    """Position of each row's setting in ``settings`` (-1: blank or not declared)."""
    values = column
    if isinstance(column.array, pd.arrays.StringArray):  # its Python strings as they are: no copy with the blanks set to None
        values = np.asarray(column.array)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lookup = np.array([settings.index(u) if u in settings else -1 for u in uniques] + [-1], dtype=np.int8)
    return lookup[codes]


class _FollowUps:
    """The checked follow-ups (face-to-face readings of known residents), sorted by resident,
    day and setting, and the readings' measures and answers by row of ``measurements``."""

    def __init__(self, measurements: pd.DataFrame, residents: pd.DataFrame, policy: ChronicPolicy, extra: tuple = ()):
        from workbench.tables import _measures

        declared = _measures()
        problems: list[tuple] = []
        res = _Residents(residents, policy, problems, extra)
        wanted = {"measurement_id": "text", "resident_id": "text", "measured_on": "date", "setting": "text",
                  **{m: "number" for m in policy.measures}, **{a: "bool" for a in policy.answers}}
        given = measurements
        measurements = _typed("measurements", measurements, wanted, problems)
        if problems and (not hasattr(res, "index") or res.index.has_duplicates or any(p[1] is None for p in problems)):
            raise ChronicInputError(problems)
        m = measurements
        settings = list(declared["settings"])
        setting = _setting_codes(m["setting"], settings)
        problems += _bad("measurements", m, setting < 0, "setting", f"must be one of {', '.join(settings)}")
        date = m["measured_on"].to_numpy("datetime64[ns]")
        problems += _bad("measurements", m, given["measured_on"].isna().to_numpy(), "measured_on", "is blank but required")
        who = res.index.get_indexer(m["resident_id"])
        problems += _bad("measurements", m, who < 0, "resident_id", "refers to no row of residents (resident_id)")
        #: each measure by row of ``measurements`` (NaN: blank); each answer: (recorded, True)
        self.values, self.answers = {}, {}
        for name in policy.measures:
            v = m[name].to_numpy(dtype="float64", na_value=np.nan)
            low, high = declared["measures"][name]["range"]
            problems += _bad("measurements", m, (v < low) | (v > high), name,
                             f"is outside the plausible range {low} to {high} {declared['measures'][name]['unit']}")
            self.values[name] = v
        for name in policy.answers:
            self.answers[name] = (m[name].notna().to_numpy(), m[name].to_numpy(dtype=bool, na_value=False))
        face = np.zeros(len(settings) + 1, dtype=bool)  # the last entry: setting -1
        face[[settings.index(s) for s in policy.settings]] = True
        rows = np.flatnonzero(face[setting] & (who >= 0) & ~np.isnat(date))
        date = date[rows]
        day, rest = np.divmod(date.view(np.int64), _DAY_NS)  # day as astype("datetime64[D]"): floor
        lo = int(day.min()) if len(rows) else 0
        midnight = not rest.any()
        if midnight:
            date = None  # read back from the day below
        # one int64 key (resident, day, setting) in bit fields: the sort gives each back by a shift
        day -= lo
        day_bits = int(day.max()).bit_length() if len(rows) else 0
        setting_bits = (len(settings) - 1).bit_length()
        key = np.take(who, rows)
        key <<= day_bits
        key |= day
        key <<= setting_bits
        key |= setting[rows]
        del day
        row_bits = max(int(len(m) - 1).bit_length(), 1)
        if midnight and int(len(res.index)).bit_length() + day_bits + setting_bits + row_bits <= 63:
            # the row below the key: one sort of values (faster than an argsort), ties in the order of the table
            key <<= row_bits
            key |= rows
            key.sort()
            rows = key & ((1 << row_bits) - 1)
            key >>= row_bits
        else:  # times of day (a repeated key then lies next to its twin) or too many bits: by time, then row
            order = np.argsort(key, kind="stable") if midnight else np.lexsort((date.view(np.int64), key))
            rows, key = rows[order], key[order]
            date = None if midnight else date[order]
        same = key[1:] == key[:-1]
        if not midnight:  # the same day, setting and resident at another time is no repeat
            same &= date[1:] == date[:-1]
        repeated = np.zeros(len(m), dtype=bool)
        repeated[rows[1:][same]] = True
        problems += _bad("measurements", m, repeated, "resident_id, measured_on, setting",
                         "repeats the key of an earlier row: it must be unique")
        if problems:
            raise ChronicInputError(problems)
        self.res, self.rows = res, rows
        key >>= setting_bits
        #: the day of each follow-up, in days from the first (``span_lo``), and its date
        self.day = key & ((1 << day_bits) - 1)
        if midnight:
            np.add(self.day, lo, out=rest)
            rest *= _DAY_NS
            date = rest.view("datetime64[ns]")
        self.date = date
        key >>= day_bits
        self.who = key
        # the days spanned (few): the age of each follow-up from year*10000 + month*100 + day
        span = pd.DatetimeIndex(np.arange(lo, lo + (1 << day_bits)).astype("datetime64[D]"))
        self.span_lo, self.span_days = lo, span
        on = (span.year * 10_000 + span.month * 100 + span.day).to_numpy(np.int32)
        born = np.where(res.birth_known, res.birth_year * 10_000 + res.birth_md, _UNBORN).astype(np.int32)
        #: whole years of age (negative when the birth date is not known, as :meth:`_Residents.age_on`'s -1)
        self.age = on[self.day]
        self.age -= born[self.who]
        self.age //= 10_000


# --- the rules -------------------------------------------------------------------------------

def _holds(when: Mapping[str, Any], items: Mapping, n: int, *, urgent=None, cls=None, previous=None) -> np.ndarray:
    out = np.ones(n, dtype=bool)
    for key, value in when.items():
        if key == "always":
            continue
        if key == "urgent":
            part = urgent == value
        elif key == "classification":
            wanted = np.zeros(len(CLASSIFICATIONS) + 1, dtype=bool)  # the last entry: not classified (-1)
            wanted[[CLASSIFICATIONS.index(v) for v in (value if isinstance(value, list) else [value])]] = True
            part = wanted[cls]
        elif key == "previous":
            part = _holds(value, previous, n)
        else:  # an item: recorded and equal (a blank never matches)
            known, val = items[key]
            part = known & (val == value)
        out &= part
    return out


def _previous(known: np.ndarray, val: np.ndarray, group_start: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The item at the last earlier row of the same group where it was recorded (``index``: 0 .. n-1).

    Row j recorded as 2j + value: the running maximum holds the last such row and its value at once.
    """
    n = len(known)
    if not n:
        return np.zeros(0, bool), np.zeros(0, bool)
    code = np.empty(n, dtype=index.dtype)
    code[0] = -1  # none earlier (-1 >> 1 is -1, before every group)
    np.maximum.accumulate(np.where(known[:-1], 2 * index[:-1] + val[:-1], -1), out=code[1:])
    ok = (code >> 1) >= group_start
    return ok, ok & (code & 1).astype(bool)


def _add(dates: np.ndarray, unit: str, count: int) -> np.ndarray:
    if unit == "days":
        return dates + np.timedelta64(count, "D")
    return (pd.DatetimeIndex(dates) + pd.DateOffset(months=count)).to_numpy("datetime64[ns]")


def _engine(measurements, residents, policy: ChronicPolicy, *, until=None, extra: tuple = ()):
    """Per managed condition, the classified follow-ups in resident, day, setting order."""
    f = _FollowUps(measurements, residents, policy, extra)
    res, who, age = f.res, f.who, f.age
    looked_back = {k for act in policy.actions for k in act.when.get("previous", {})}
    interval_of = np.array([list(policy.intervals).index(a.follow_up) for a in policy.actions], dtype=np.int64)
    # how far each interval moves each day spanned: next due = the day's date + this (keeps a time of day)
    span_ns = f.span_days.to_numpy("datetime64[ns]")
    shift = np.concatenate([(_add(span_ns, *policy.intervals[name]) - span_ns).view(np.int64) for name in policy.intervals])
    rule_dtype = _codes(len(policy.actions))
    segments = []
    for k, (cid, cond) in enumerate(policy.conditions.items()):
        managed = res.has[cid][who] & ((age < 0) | (age >= cond.min_age))
        if until is not None:
            managed &= f.date <= np.datetime64(until, "ns")
        sel = np.flatnonzero(managed)
        rows, r, a, day, n = f.rows[sel], who[sel], age[sel], f.date[sel], len(sel)
        choice = np.full(n, -1, dtype=np.int8)
        for t, target in enumerate(cond.targets):
            fits = np.ones(n, dtype=bool)
            if target.age_at_least is not None:
                fits &= a >= target.age_at_least
            for w in target.recorded_without:
                fits &= res.absent[w][r]
            choice[(choice == -1) & fits] = t
        # each column the condition reads, gathered once (np.take: faster than indexing)
        needed = set(cond.measures) | {mm for name in cond.danger for mm in policy.danger_values[name].measures}
        vals = {mm: np.take(f.values[mm], rows) for mm in needed}
        values = [vals[mm] for mm in cond.measures]
        known = np.logical_and.reduce([~np.isnan(v) for v in values])
        ok = known.copy()
        for t, target in enumerate(cond.targets):
            below = np.logical_and.reduce([v < bound for v, bound in zip(values, target.below.values())])
            ok &= (choice != t) | below
        answers = {x: (np.take(kn, rows), np.take(val, rows)) for x, (kn, val) in f.answers.items()}
        urgent = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            for name in cond.danger:
                d = policy.danger_values[name]
                if d.answer:
                    urgent |= answers[d.answer][0] & answers[d.answer][1]
                for mm in d.measures:
                    urgent |= (vals[mm] >= d.at_least) if d.at_least is not None else (vals[mm] <= d.at_most)
        items = {"controlled": (known, ok), **{x: answers[x] for x in ITEMS if x in answers}}
        cls = np.full(n, -1, dtype=np.int8)
        for cname, when in reversed(policy.classification):  # the first that holds wins
            cls = np.where(_holds(when, items, n), np.int8(CLASSIFICATIONS.index(cname)), cls)
        index = np.arange(n, dtype=np.int32 if n < 2**30 else np.int64)  # (2 * index + 1 must fit)
        starts = np.empty(n, dtype=bool)
        starts[:1] = True
        np.not_equal(r[1:], r[:-1], out=starts[1:])
        group_start = np.maximum.accumulate(np.where(starts, index, 0)) if n else np.zeros(0, index.dtype)
        previous = {x: _previous(*items[x], group_start, index) for x in looked_back}
        rule = np.full(n, -1, dtype=rule_dtype)
        for j in reversed(range(len(policy.actions))):  # the first that holds wins
            rule = np.where(_holds(policy.actions[j].when, items, n, urgent=urgent, cls=cls, previous=previous),
                            rule_dtype.type(j), rule)
        due = day + np.take(shift, np.take(interval_of, rule) * len(span_ns) + f.day[sel]).view("timedelta64[ns]")
        segments.append({"k": k, "condition": cid, "rows": rows, "who": r, "date": day,
                         "target": choice, "known": known, "controlled": ok,
                         "cls": cls, "urgent": urgent, "rule": rule, "next_due": due, "values": values,
                         "group_start": group_start})
    return res, segments


# --- classify --------------------------------------------------------------------------------

@validate_params({"measurements": FRAME, "residents": FRAME, "policy": POLICY})
def classify(measurements: pd.DataFrame, residents: pd.DataFrame, *, policy: "str | ChronicPolicy" = "default") -> pd.DataFrame:
    """Classify every follow-up of a managed condition by the chronic-care policy.

    Parameters
    ----------
    measurements : DataFrame
        The ``measurements`` analysis table (:data:`workbench.tables.TABLES`), at least
        ``measurement_id, resident_id, measured_on, setting``, the measures and the answers the
        policy reads (``sbp, dbp, fasting_glucose, random_glucose, adverse_reaction,
        complication, alarm_symptoms`` for the default).
    residents : DataFrame
        The ``residents`` analysis table: ``resident_id, birth_date``, the managed conditions
        (``hypertension, diabetes``: True/False, never blank) and ``ckd`` (blank: not recorded).
    policy : str, path, mapping or ChronicPolicy
        ``"default"`` (``workbench/policies/chronic_default.yaml``), a YAML file, or a loaded policy.

    Returns
    -------
    DataFrame
        :data:`CLASSIFY_COLUMNS`, one row per follow-up per managed condition, condition by
        condition (in the policy's order), residents in the order of ``residents``, each one's
        follow-ups by day and setting (a resident with both conditions has a row under each):
        ``measurement_id, resident_id, measured_on``; ``condition`` (``hypertension`` /
        ``diabetes``); ``target`` (text, e.g. ``<140/90 mmHg``); ``controlled`` (boolean, blank
        when the reading lacks a value); ``classification`` (``controlled``, ``not_controlled``,
        ``adverse_reaction``, ``complication``; blank when nothing could classify it);
        ``urgent`` (a danger value or alarm symptoms); ``action`` (:data:`ACTIONS`); ``rule``
        (the policy rule that fired); ``next_due`` (date); ``policy_version`` (``id@version``).
        Text columns are categorical. Device readings and residents not managed give no row.

    Raises
    ------
    ChronicInputError
        A missing column, a column of the wrong type, a blank date or condition, a setting or
        resident not declared, an implausible value or a repeated key; every bad cell is named.
    """
    pol = load_chronic_policy(policy)
    res, segments = _engine(measurements, residents, pol)
    return _classified(measurements, res, segments, pol)


def _classified(measurements: pd.DataFrame, res: "_Residents", segments: list[dict], pol: ChronicPolicy) -> pd.DataFrame:
    # condition by condition, each in resident, day, setting order: concatenated, never sorted again
    rows = np.concatenate([s["rows"] for s in segments]) if segments else np.zeros(0, np.int64)

    def cat(name):
        return np.concatenate([s[name] for s in segments]) if segments else np.zeros(0, np.int64)

    texts = [t.text() for c in pol.conditions.values() for t in c.targets]
    offsets = np.cumsum([0] + [len(c.targets) for c in pol.conditions.values()])
    target = np.concatenate([s["target"] + offsets[s["k"]] for s in segments]) if segments else rows
    rule = cat("rule")
    action_of_rule = np.array([ACTIONS.index(a.action) for a in pol.actions], dtype=np.int64)
    ncode = np.concatenate([np.full(len(s["rows"]), s["k"]) for s in segments]) if segments else rows
    known = cat("known").astype(bool, copy=False)
    ids = measurements["resident_id"]
    if isinstance(ids.dtype, pd.StringDtype) and ids.dtype == res.frame["resident_id"].dtype:
        # the same text from the residents' column, read in resident order (cache-friendly), not the readings'
        ids = res.frame["resident_id"].array.take(cat("who"))
    else:
        ids = ids.array.take(rows)
    out = pd.DataFrame({
        "measurement_id": measurements["measurement_id"].array.take(rows),
        "resident_id": ids,
        "measured_on": cat("date").astype("datetime64[ns]", copy=False) if segments else np.zeros(0, "datetime64[ns]"),
        "condition": pd.Categorical.from_codes(ncode, categories=list(pol.conditions)),
        "target": pd.Categorical.from_codes(target, categories=list(dict.fromkeys(texts))) if len(set(texts)) == len(texts)
        else pd.Categorical(np.array(texts, dtype=object)[target]),
        "controlled": pd.arrays.BooleanArray(cat("controlled").astype(bool, copy=False), ~known),
        "classification": pd.Categorical.from_codes(cat("cls"), categories=list(CLASSIFICATIONS)),
        "urgent": cat("urgent").astype(bool, copy=False),
        "action": pd.Categorical.from_codes(action_of_rule[rule] if len(rule) else rule, categories=list(ACTIONS)),
        "rule": pd.Categorical.from_codes(rule, categories=[a.id for a in pol.actions]),
        "next_due": cat("next_due").astype("datetime64[ns]", copy=False) if segments else np.zeros(0, "datetime64[ns]"),
        "policy_version": pd.Categorical.from_codes(np.zeros(len(rows), np.int8), categories=[pol.version]),
    }, copy=False)  # every column is new here
    out.attrs["policy_version"] = pol.version
    return out


# --- indicators ------------------------------------------------------------------------------

def _deaths(tables, res: "_Residents") -> np.ndarray:
    """Date of death by resident position (NaT: no death recorded), from ``events``."""
    out = np.full(len(res.index), np.datetime64("NaT"), dtype="datetime64[ns]")
    ev = tables["events"]
    if not len(ev):
        return out
    problems = _columns("events", ev, {"resident_id": "text", "event_on": "date", "kind": "text"})
    if problems:
        raise ChronicInputError(problems)
    dead = ev[ev["kind"] == "death"]
    if len(dead):
        first = dead.groupby("resident_id", observed=True)["event_on"].min()
        at = res.index.get_indexer(first.index)
        out[at[at >= 0]] = first.to_numpy("datetime64[ns]")[at >= 0]
    return out


@validate_params({"tables": TABLES, "policy": POLICY, "by": BY, "start": MONTH, "end": MONTH})
def indicators(tables, *, policy: "str | ChronicPolicy" = "default", by: tuple | None = ("community", "month"),
               start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """规范管理率 and 控制率 per condition, community and month, over the policy's period.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``measurements``, ``residents``, and ``events`` for deaths).
    policy : str, path, mapping or ChronicPolicy
        The chronic-care policy (its ``indicators``: period, follow-ups for regular management,
        minimum denominator).
    by : tuple or None
        ``("community", "month")`` (default): each community and ``all``, each month;
        ``("month",)``: ``all`` only; ``("community",)``: each community, the ``end`` month only;
        None: ``all`` and the ``end`` month only.
    start, end : str, optional
        ``YYYY-MM``; by default the first and last month with a follow-up.

    Returns
    -------
    DataFrame
        :data:`INDICATOR_COLUMNS`. For each month, the period is the ``period_months`` months up
        to its end (``period_start`` to ``period_end``). ``managed``: residents with the
        condition, of the policy's age at the period end (unknown age included) and not dead by
        then; ``regular``: of them, with at least ``regular_follow_ups`` classified follow-ups in
        the period (规范管理); ``with_reading``: with a reading in the period; ``controlled``:
        whose latest reading in the period is controlled (控制); rates over ``managed`` (NaN
        when none); ``status``: ``insufficient`` when ``managed`` is below ``min_denominator``
        (too few to judge, as in :mod:`workbench.quality`), else ``ok``. A resident whose
        community is blank counts in ``all`` only.

    Notes
    -----
    The denominator is every managed patient, as the indicator defines it: a patient with no
    reading in the period is in the denominator and not among the controlled (``with_reading``
    says how many had one). On one day, a later setting in the declared order is the latest.
    """
    pol = load_chronic_policy(policy)
    res, segments = _engine(tables["measurements"], tables["residents"], pol, extra=("community",))
    deaths = _deaths(tables, res)
    dates = np.concatenate([s["date"] for s in segments]) if segments else np.zeros(0, "datetime64[ns]")
    if start is None or end is None:
        if not len(dates):
            return pd.DataFrame({c: [] for c in INDICATOR_COLUMNS})
        y, md, _ = _ymd(np.array([dates.min(), dates.max()]))
        first, last = y * 12 + md // 100 - 1
        start, end = start or _month_text(int(first)), end or _month_text(int(last))
    q0, q1 = _month_index(start), _month_index(end)
    if q0 > q1:
        check("indicators", "start", start, Predicate(lambda v: False, f"a month not after end ({end})"))
    if not by or "month" not in by:
        q0 = q1
    period = pol.period_months
    g0 = q0 - period + 1
    width = q1 - g0 + 1
    comm_codes, communities = pd.factorize(res.frame["community"], sort=True, use_na_sentinel=True)
    ncomm = len(communities)
    show_comm = bool(by) and "community" in by
    parts = []
    for s in segments:
        cond = pol.conditions[s["condition"]]
        pairs = np.flatnonzero(res.has[s["condition"]])
        slot = np.full(len(res.index), -1, dtype=np.int64)
        slot[pairs] = np.arange(len(pairs))
        y, md, _ = _ymd(s["date"])
        mi = y * 12 + md // 100 - 1 - g0
        inside = (mi >= 0) & (mi < width)
        cell = slot[s["who"]] * width + mi
        counts = np.bincount(cell[inside & (s["cls"] >= 0)], minlength=len(pairs) * width).reshape(len(pairs), width)
        cum = np.concatenate([np.zeros((len(pairs), 1), np.int64), np.cumsum(counts, axis=1)], axis=1)
        reading = inside & s["known"]
        rc, rv = cell[reading], s["controlled"][reading]
        last_of_cell = np.concatenate([rc[1:] != rc[:-1], [True]]) if len(rc) else np.zeros(0, bool)
        has = np.zeros(len(pairs) * width, dtype=bool)
        ctrl = np.zeros(len(pairs) * width, dtype=bool)
        has[rc[last_of_cell]] = True
        ctrl[rc[last_of_cell]] = rv[last_of_cell]
        has, ctrl = has.reshape(len(pairs), width), ctrl.reshape(len(pairs), width)
        latest = np.maximum.accumulate(np.where(has, np.arange(width), -1), axis=1)
        comm = comm_codes[pairs]
        for q in range(q0, q1 + 1):
            j = q - g0
            lo = j - period + 1
            end_day = (pd.Timestamp(year=q // 12, month=q % 12 + 1, day=1) + pd.offsets.MonthEnd(0))
            age = res.age_on(end_day.year, end_day.month * 100 + end_day.day, pairs)
            dead = deaths[pairs] <= np.datetime64(end_day, "ns")
            managed = ((age < 0) | (age >= cond.min_age)) & ~dead
            with_reading = managed & (latest[:, j] >= lo)
            controlled = with_reading & ctrl[np.arange(len(pairs)), np.maximum(latest[:, j], 0)]
            regular = managed & ((cum[:, j + 1] - cum[:, lo]) >= pol.regular_follow_ups)
            sums = [np.bincount(comm[comm >= 0], weights=x[comm >= 0], minlength=ncomm) for x in
                    (managed, regular, with_reading, controlled)] if show_comm else [np.zeros(0)] * 4
            rows = {"community": list(communities) + ["all"] if show_comm else ["all"]}
            for name, x, total in zip(("managed", "regular", "with_reading", "controlled"), sums,
                                      (managed, regular, with_reading, controlled)):
                rows[name] = np.append(x, total.sum()).astype(np.int64)
            frame = pd.DataFrame(rows)
            frame.insert(0, "condition", s["condition"])
            frame.insert(2, "month", _month_text(q))
            frame.insert(3, "period_start", pd.Timestamp(year=(q - period + 1) // 12, month=(q - period + 1) % 12 + 1, day=1))
            frame.insert(4, "period_end", end_day)
            parts.append(frame)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in INDICATOR_COLUMNS})
    with np.errstate(invalid="ignore", divide="ignore"):
        out["regular_rate"] = np.where(out["managed"] > 0, out["regular"] / out["managed"].where(out["managed"] > 0, 1), np.nan)
        out["control_rate"] = np.where(out["managed"] > 0, out["controlled"] / out["managed"].where(out["managed"] > 0, 1), np.nan)
    out["status"] = np.where(out["managed"] >= pol.min_denominator, "ok", "insufficient")
    out["policy_version"] = pol.version
    out = out[INDICATOR_COLUMNS]
    out.attrs.update(policy_version=pol.version, period_months=period, regular_follow_ups=pol.regular_follow_ups,
                     min_denominator=pol.min_denominator,
                     residents_without_birth_date=int((~res.birth_known).sum()),
                     residents_without_community=int((comm_codes < 0).sum()))
    return out


# --- due list --------------------------------------------------------------------------------

@validate_params({"tables": TABLES, "today": Date(), "policy": POLICY})
def due_list(tables, *, today, policy: "str | ChronicPolicy" = "default") -> pd.DataFrame:
    """Who is due or overdue for a follow-up, not controlled twice running, or urgently referred.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``measurements``, ``residents``, ``events`` for deaths).
    today : date
        The day the list is for (no hidden "today"); later readings are not read.
    policy : str, path, mapping or ChronicPolicy
        The chronic-care policy.

    Returns
    -------
    DataFrame
        :data:`DUE_COLUMNS`, one row per resident and condition managed on ``today`` (the
        condition recorded, of the policy's age or of unknown age, not dead), residents in the
        order of ``residents``, then the conditions: ``last_visit`` (the last follow-up; blank: none yet),
        ``last_classification`` and ``last_value`` (its reading as text, e.g. ``152/94 mmHg``;
        blank when it had none), ``next_due`` (from it), ``due`` (``next_due`` on or before
        today, or no follow-up yet), ``overdue`` (before today; blank when no follow-up yet: not
        known since when), ``days_overdue`` (0 when not overdue; blank when no follow-up yet),
        ``uncontrolled_twice`` (the last two follow-ups with a reading were both not
        controlled), ``urgent_referral`` (the last follow-up was urgent).
    """
    pol = load_chronic_policy(policy)
    day = pd.Timestamp(today).normalize()
    res, segments = _engine(tables["measurements"], tables["residents"], pol, until=day)
    deaths = _deaths(tables, res)
    action_of_rule = np.array([ACTIONS.index(a.action) for a in pol.actions], dtype=np.int64)
    parts, positions = [], []
    for s in segments:
        cond = pol.conditions[s["condition"]]
        age = res.age_on(day.year, day.month * 100 + day.day)
        managed = np.flatnonzero(res.has[s["condition"]] & ((age < 0) | (age >= cond.min_age))
                                 & ~(deaths <= np.datetime64(day, "ns")))
        if not len(s["who"]):  # nobody followed up yet: one dummy row that no one points at
            s = {**s, "who": np.array([-1]), "known": np.array([False]), "controlled": np.array([False]),
                 "values": [np.array([np.nan]) for _ in cond.measures], "group_start": np.array([0]),
                 "date": np.array(["NaT"], "datetime64[ns]"), "next_due": np.array(["NaT"], "datetime64[ns]"),
                 "cls": np.array([-1]), "rule": np.array([len(pol.actions) - 1])}
        who, n = s["who"], len(s["who"])
        last = np.flatnonzero(np.concatenate([who[1:] != who[:-1], [True]]))
        at = np.full(len(res.index) + 1, -1, dtype=np.int64)
        at[who[last]] = last
        pick = at[managed]
        seen = pick >= 0
        p = np.where(seen, pick, 0)
        # the last two readings of the resident: the last recorded at or before the last follow-up, and the one before
        lastk = np.maximum.accumulate(np.where(s["known"], np.arange(n), -1))
        start = s["group_start"][p]
        k1 = np.where(seen & (lastk[p] >= start), lastk[p], -1)
        k0 = np.where(k1 > 0, lastk[np.maximum(k1 - 1, 0)], -1)
        k0 = np.where((k1 >= 0) & (k0 >= start), k0, -1)
        ctrl = s["controlled"]
        twice = (k1 >= 0) & (k0 >= 0) & ~ctrl[np.maximum(k1, 0)] & ~ctrl[np.maximum(k0, 0)]
        has_value = seen & s["known"][p]
        text = np.full(len(managed), None, dtype=object)
        if has_value.any():
            text[has_value] = value_texts(cond.measures, [v[p[has_value]] for v in s["values"]])
        nat = np.datetime64("NaT", "ns")
        next_due = np.where(seen, s["next_due"][p], nat).astype("datetime64[ns]")
        late = ((np.datetime64(day, "ns") - np.where(seen, next_due, np.datetime64(day, "ns"))) // np.timedelta64(1, "D"))
        urgent_rule = action_of_rule[s["rule"][p]] == ACTIONS.index("urgent_referral")
        frame = pd.DataFrame({
            "resident_id": pd.Series(res.frame["resident_id"].array.take(managed)),
            "condition": s["condition"],
            "last_visit": np.where(seen, s["date"][p], nat).astype("datetime64[ns]"),
            "last_classification": pd.Categorical.from_codes(np.where(seen, s["cls"][p], -1),
                                                             categories=list(CLASSIFICATIONS)),
            "last_value": pd.array(text, dtype="string"),
            "next_due": next_due,
            "due": ~seen | (next_due <= np.datetime64(day, "ns")),
            "overdue": pd.arrays.BooleanArray(seen & (late > 0), ~seen),
            "days_overdue": pd.arrays.IntegerArray(np.where(seen, np.maximum(late, 0), 0).astype(np.int64), ~seen),
            "uncontrolled_twice": twice,
            "urgent_referral": seen & urgent_rule,
        })
        parts.append(frame)
        positions.append(managed * len(pol.conditions) + s["k"])
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in DUE_COLUMNS})
    if len(out):  # residents in the order of the table, then the conditions: sorted runs, merged
        out = out.take(np.argsort(np.concatenate(positions), kind="stable")).reset_index(drop=True)
    out = out[DUE_COLUMNS]
    out.attrs.update(policy_version=pol.version, today=day)
    return out
