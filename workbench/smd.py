"""Severe mental disorders (SMD): classify each follow-up, the due list, the register's indicators.

Community teams keep a register of residents with the six severe mental disorders of
严重精神障碍管理治疗工作规范（2018年版） and follow each at least four times a year, each time with a
risk grade (0-5) and a stability judgement that sets the next follow-up. The rules are a policy
file (the default ships as ``workbench/policies/smd_default.yaml``; schema in
``workbench/policies/README.md``): the disorders, the risk grades with their zh/en definitions,
the stability rules, the intervals, referral, and the indicator definitions. This module only
applies the file, vectorised; every classified follow-up records the policy version and the rule
that fired. Everything here works on plain frames:

- ``register``: resident_id, diagnosis (a disorder id of the policy), diagnosed_on (blank
  allowed), registered_on, guardian (parent, spouse, child, sibling, other, none; blank: not
  recorded), consent (True/False; blank: not recorded), consent_on, left_on (blank: still
  registered), left_reason (moved, died, diagnosis_revised, other).
- ``followups``: followup_id, resident_id, followed_on, mode (face_to_face, phone), risk_grade
  (0-5; blank: not assessed, never grade 0), symptoms (remitted, residual, marked), insight
  (full, partial, none), social_function (fair, poor), on_medication (True/False),
  medication_regularity (regular, intermittent, none), adverse_reaction (none, mild, acute),
  physical_illness (none, mild, serious), outcome (stable, basically_stable, unstable: the
  judgement staff recorded; blank allowed), referred (True/False), recorded_by.
- ``residents``: resident_id, community (the analysis table ``residents``).

What uses what: :func:`classify` suggests a stability from the answers (never from ``outcome``);
:func:`indicators` counts what staff recorded (``outcome``, ``on_medication``,
``medication_regularity``), never a suggestion, and reports blanks as not judged / not recorded;
:func:`due_list` shows both and takes the earlier of the two next dates (safety first).

Examples
--------
>>> visits = pd.DataFrame({"followup_id": ["F1", "F2", "F3"], "resident_id": ["R1", "R1", "R2"],
...                        "followed_on": pd.to_datetime(["2025-01-31", "2025-05-02", "2025-03-01"]),
...                        "risk_grade": pd.array([0, 3, None], dtype="Int8"), "symptoms": "remitted",
...                        "insight": "full", "social_function": "fair", "adverse_reaction": "none",
...                        "physical_illness": "none"})
>>> out = classify(visits)
>>> out[["followup_id", "stability", "rule", "refer", "next_due"]]
  followup_id stability           rule  refer   next_due
0          F1    stable         stable  False 2025-04-30
1          F2  unstable  unstable_risk   True 2025-05-16
2          F3       NaN   not_assessed  False 2025-03-15
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench._declarations import IDENT, load_policy_file
from workbench._declarations import render as _render
from workbench._declarations import source_key as _source
from workbench._declarations import unknown_keys as _unknown
from workbench._declarations import whole as _whole
from workbench._declarations import texts as _texts
from workbench._frames import _bad, _month_index, _month_text, _typed, _ymd
from workbench.chronic_policy import interval_text
from workbench.params import FRAME, Date, Either, Instance, Options, Predicate, check, validate_params
from workbench.problems import ProblemsError
from workbench.smd_codes import (DISORDERS, GRADES, GUARDIANS, ITEM_VALUES, LEFT_REASONS, MODES, REGULARITY,  # noqa: F401
                                 STABILITIES)

__all__ = ["CLASSIFY_COLUMNS", "DISORDERS", "DUE_COLUMNS", "INDICATOR_COLUMNS", "ITEM_VALUES", "STABILITIES",
           "SmdInputError", "SmdPolicy", "SmdPolicyError", "classify", "due_list", "indicators", "load_smd_policy"]

_IDENT = IDENT

#: Columns of :func:`classify`, in order.
CLASSIFY_COLUMNS = ["followup_id", "resident_id", "followed_on", "risk_grade", "stability", "rule", "refer", "banner",
                    "next_due", "policy_version"]
#: Columns of :func:`due_list`, in order.
DUE_COLUMNS = ["resident_id", "diagnosis", "registered_on", "last_followup", "last_risk_grade", "last_outcome",
               "suggested", "rule", "next_due", "due", "overdue", "days_overdue", "unstable", "high_risk", "refer",
               "assessed_in_period"]
#: Columns of :func:`indicators`, in order.
INDICATOR_COLUMNS = ["community", "month", "period_start", "period_end", "population", "registered",
                     "prevalence_per_mille", "managed", "management_rate", "regular", "regular_management_rate",
                     "on_medication", "medication_rate", "medication_not_recorded", "regular_medication",
                     "regular_medication_rate", "regularity_not_recorded", "stable", "stability_rate",
                     "stability_not_judged", "status", "policy_version"]

_LEVEL_KEYS = ("risk_grade",) + tuple(ITEM_VALUES)


class SmdPolicyError(ValueError):
    """An SMD policy file breaks a rule; the message names every key that is wrong."""


class SmdInputError(ProblemsError):
    """A register, follow-ups or residents that the SMD rules cannot use; :attr:`problems` names
    every bad cell (table, row, column, value, rule); nothing was computed."""

    def __init__(self, problems: list[tuple]):
        super().__init__(problems, context="severe-mental-disorder follow-up", outcome="nothing was computed")


# --- the policy ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stability:
    """A stability class: its labels, the interval to the next follow-up and what staff do."""

    id: str
    en: str
    zh: str
    follow_up: str
    source: str
    description: Mapping[str, str]


@dataclass(frozen=True)
class Rule:
    """A suggestion rule: when ``kind`` (any, all, blank, always) holds over ``items``."""

    id: str
    kind: str
    items: Mapping[str, tuple]
    stability: str | None
    follow_up: str
    source: str
    description: Mapping[str, str]


@dataclass(frozen=True)
class Referral:
    """Refer (and raise the banner) when the grade is among ``risk_grades`` or the suggested
    stability among ``stability``."""

    risk_grades: tuple[int, ...]
    stability: tuple[str, ...]
    banner: bool
    follow_up: str
    source: str
    action: Mapping[str, str]


@dataclass(frozen=True)
class SmdPolicy:
    """A validated SMD policy (build it with :func:`load_smd_policy`)."""

    id: str
    revision: str
    description: Mapping[str, str]
    source: str
    sources: Mapping[str, str]
    disorders: Mapping[str, Mapping[str, str]]
    risk_grades: Mapping[int, Mapping[str, str]]
    items: Mapping[str, Mapping[str, Mapping[str, str]]]
    intervals: Mapping[str, tuple[str, int]]
    stability: Mapping[str, Stability]
    rules: tuple[Rule, ...]
    referral: Referral
    modes: tuple[str, ...]
    period_months: int
    managed_follow_ups: int
    regular_follow_ups: int
    per_mille: int
    min_denominator: int
    target_regular_management_rate: float
    national_2018: Mapping[str, float]
    path: Path | None

    @property
    def version(self) -> str:
        """``id@version``, recorded with every classified follow-up."""
        return f"{self.id}@{self.revision}"

    label = version

    def rule(self, rule_id: str) -> Rule:
        """The suggestion rule with this id."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"policy {self.version} has no rule {rule_id!r}")

    def interval(self, name: str, lang: str = "en") -> str:
        """An interval as staff read it: ``'14 days'``, ``'3个月'``."""
        return interval_text(*self.intervals[name], lang)

    def __repr__(self) -> str:
        return f"SmdPolicy({self.version!r}, rules={[r.id for r in self.rules]})"


_TOP_KEYS = {"id", "version", "description", "source", "sources", "disorders", "risk_grades", "items", "intervals",
             "stability", "rules", "referral", "indicators", "national_2018"}
_NATIONAL = ("registered", "prevalence_percent", "management_rate", "regular_management_rate", "medication_rate",
             "regular_medication_rate")


@validate_params({"policy": Either(Predicate(lambda v: isinstance(v, str) and bool(v), "a policy name"),
                                   Instance("pathlib.Path", "collections.abc.Mapping", "workbench.smd.SmdPolicy", name=""),
                                   words="an SMD policy: a shipped name ('default'), a YAML path, a mapping or an SmdPolicy")})
def load_smd_policy(policy: "str | Path | Mapping | SmdPolicy" = "default") -> SmdPolicy:
    """An SMD policy: a shipped one by name (``"default"`` is ``smd_default.yaml``), a YAML file by
    path, a mapping with the file's keys, or ``policy`` itself if already loaded.

    Parameters
    ----------
    policy : str, path, mapping or SmdPolicy
        What to load.

    Returns
    -------
    SmdPolicy

    Raises
    ------
    SmdPolicyError
        Naming every key that is wrong and what is wrong with it.

    Examples
    --------
    >>> p = load_smd_policy()
    >>> p.version, p.risk_grades[3]["zh"][:7], p.interval("three_months")
    ('smd_default@1.0', '3级：明显打砸', '3 months')
    """
    return load_policy_file(policy, kind=SmdPolicy, prefix="smd_", what="SMD policy", error=SmdPolicyError, build=_build)


def _rate(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1


def _levels(item: str) -> tuple:
    return GRADES if item == "risk_grade" else ITEM_VALUES[item]


def _build(raw: Any, path: Path | None, problems: list[str]) -> SmdPolicy | None:  # noqa: C901 - one pass, every key
    if not isinstance(raw, Mapping):
        problems.append("the file must hold a mapping of keys")
        return None
    for key in sorted(set(raw) - _TOP_KEYS, key=str):
        problems.append(f"{key}: unknown key (allowed: {sorted(_TOP_KEYS)})")
    for key in sorted(_TOP_KEYS - set(raw)):
        problems.append(f"{key}: required key is missing")
    if not _TOP_KEYS <= set(raw):
        return None
    if not isinstance(raw["id"], str) or not _IDENT.match(raw["id"]):
        problems.append(f"id: {raw['id']!r} must be a lower-case identifier")
    if not isinstance(raw["version"], str) or not raw["version"].strip():
        problems.append("version: must be a non-empty text, e.g. \"1.0\" (quote it)")
    description = _texts(raw["description"], "description", problems)
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        problems.append("source: must say where the policy's rules and numbers come from")
    sources = raw["sources"] if isinstance(raw["sources"], Mapping) else {}
    if not sources or not all(isinstance(v, str) and v.strip() for v in sources.values()):
        problems.append("sources: must map each source key to a citation text")

    def section(key: str, allowed: set[str]) -> Mapping:
        entry = raw[key] if isinstance(raw[key], Mapping) else {}
        if not entry:
            problems.append(f"{key}: must be a mapping with {sorted(allowed)}")
        _unknown(entry, allowed, key, problems)
        return entry

    dis = section("disorders", {"labels", "source"})
    _source(dis, "disorders", sources, problems)
    labels = dis.get("labels") if isinstance(dis.get("labels"), Mapping) else {}
    if set(labels) != set(DISORDERS):
        problems.append(f"disorders.labels: must label exactly the six registered disorders {list(DISORDERS)}, "
                        f"got {sorted(labels, key=str)}")
    disorders = {d: _texts(labels.get(d), f"disorders.labels.{d}", problems) for d in DISORDERS if d in labels}

    rg = section("risk_grades", {"grades", "source"})
    _source(rg, "risk_grades", sources, problems)
    grades_raw = rg.get("grades") if isinstance(rg.get("grades"), Mapping) else {}
    if set(grades_raw) != set(GRADES):
        problems.append(f"risk_grades.grades: must define exactly the grades {list(GRADES)}, got {sorted(grades_raw, key=str)}")
    risk_grades = {g: _texts(grades_raw.get(g), f"risk_grades.grades.{g}", problems) for g in GRADES if g in grades_raw}

    it = section("items", set(ITEM_VALUES))
    items = {}
    for item, values in ITEM_VALUES.items():
        entry = it.get(item) if isinstance(it.get(item), Mapping) else {}
        if set(entry) != set(values):
            problems.append(f"items.{item}: must label exactly the values {list(values)}, got {sorted(entry, key=str)}")
        items[item] = {v: _texts(entry.get(v), f"items.{item}.{v}", problems) for v in values if v in entry}

    intervals: dict[str, tuple[str, int]] = {}
    iv = raw["intervals"] if isinstance(raw["intervals"], Mapping) else {}
    if not iv:
        problems.append("intervals: must map names to {days: n} or {months: n}")
    for name, entry in iv.items():
        at = f"intervals.{name}"
        if not isinstance(entry, Mapping):
            problems.append(f"{at}: must be {{days: n}} or {{months: n}} with a source")
            continue
        _unknown(entry, {"days", "months", "source", "note"}, at, problems)
        units = [u for u in ("days", "months") if u in entry]
        if len(units) != 1 or not _whole(entry[units[0]], 1):
            problems.append(f"{at}: give exactly one of days or months, a whole number >= 1")
        else:
            intervals[str(name)] = (units[0], entry[units[0]])
        _source(entry, at, sources, problems)

    def follow(entry: Mapping, at: str) -> str:
        name = entry.get("follow_up")
        if name not in intervals:
            problems.append(f"{at}.follow_up: must name an interval (known: {sorted(intervals)}), got {name!r}")
        return name

    def described(entry: Mapping, at: str, key: str = "description") -> dict[str, str]:
        interval = intervals.get(entry.get("follow_up"), ("days", 0))
        return _render(_texts(entry.get(key), f"{at}.{key}", problems),
                       {"interval": lambda lang, i=interval: interval_text(*i, lang)}, f"{at}.{key}", problems)

    st = section("stability", set(STABILITIES))
    stability = {}
    for sid in STABILITIES:
        at = f"stability.{sid}"
        entry = st.get(sid)
        if not isinstance(entry, Mapping):
            problems.append(f"{at}: required, a mapping {{en, zh, follow_up, source, description}}")
            continue
        _unknown(entry, {"en", "zh", "follow_up", "source", "description"}, at, problems)
        names = _texts(entry, at, problems)
        stability[sid] = Stability(sid, names["en"], names["zh"], follow(entry, at),
                                   _source(entry, at, sources, problems), described(entry, at))

    rules: list[Rule] = []
    raw_rules = raw["rules"] if isinstance(raw["rules"], list) else []
    if not raw_rules:
        problems.append("rules: must be a non-empty list")
    for i, entry in enumerate(raw_rules):
        at = f"rules[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{at}: must be a mapping {{id, when, stability | follow_up, source}}")
            continue
        _unknown(entry, {"id", "when", "stability", "follow_up", "source", "description"}, at, problems)
        rid = entry.get("id")
        if not isinstance(rid, str) or not _IDENT.match(rid):
            problems.append(f"{at}.id: {rid!r} must be a lower-case identifier")
        when = entry.get("when")
        kind, parsed = "", {}
        if not isinstance(when, Mapping) or len(when) != 1:
            problems.append(f"{at}.when: must be one of {{any: {{item: [values]}}}}, {{all: {{...}}}}, "
                            f"{{blank: [items]}} or {{always: true}}, got {when!r}")
        else:
            (kind, body), = when.items()
            if kind in ("any", "all"):
                if not isinstance(body, Mapping) or not body:
                    problems.append(f"{at}.when.{kind}: must map items to lists of their values")
                    body = {}
                for item, values in body.items():
                    if item not in _LEVEL_KEYS:
                        problems.append(f"{at}.when.{kind}.{item}: not an item (items: {list(_LEVEL_KEYS)})")
                    elif not isinstance(values, list) or not values or any(v not in _levels(item) for v in values) \
                            or any(isinstance(v, bool) for v in values):
                        problems.append(f"{at}.when.{kind}.{item}: must list values among {list(_levels(item))}, got {values!r}")
                    else:
                        parsed[item] = tuple(values)
            elif kind == "blank":
                if not isinstance(body, list) or not body or any(b not in _LEVEL_KEYS for b in body):
                    problems.append(f"{at}.when.blank: must list items among {list(_LEVEL_KEYS)}, got {body!r}")
                else:
                    parsed = {b: () for b in body}
            elif kind == "always":
                if body is not True:
                    problems.append(f"{at}.when.always: must be true")
            else:
                problems.append(f"{at}.when.{kind}: unknown condition (known: any, all, blank, always)")
        sid = entry.get("stability")
        if sid is not None:
            if sid not in STABILITIES:
                problems.append(f"{at}.stability: must be one of {list(STABILITIES)}, got {sid!r}")
            if "follow_up" in entry or "description" in entry:
                problems.append(f"{at}: a rule that names a stability takes its follow_up and description from it")
            rule_follow = stability[sid].follow_up if sid in stability else ""
            text = stability[sid].description if sid in stability else {}
        else:
            rule_follow, text = follow(entry, at), described(entry, at)
        rules.append(Rule(str(rid), kind, parsed, sid, rule_follow, _source(entry, at, sources, problems), text))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        problems.append(f"rules: every rule needs a distinct id, got {ids}")
    if rules and rules[-1].kind != "always":
        problems.append("rules: the last rule must have when: {always: true}, so every follow-up gets a rule")
    if any(r.kind == "always" for r in rules[:-1]):
        problems.append("rules: only the last rule may have when: {always: true} (the rules after it could never fire)")

    ref = section("referral", {"risk_grades", "stability", "banner", "follow_up", "source", "action"})
    ref_grades = ref.get("risk_grades", [])
    if not isinstance(ref_grades, list) or any(g not in GRADES or isinstance(g, bool) for g in ref_grades):
        problems.append(f"referral.risk_grades: must list grades among {list(GRADES)}, got {ref_grades!r}")
        ref_grades = []
    ref_stab = ref.get("stability", [])
    if not isinstance(ref_stab, list) or any(s not in STABILITIES for s in ref_stab):
        problems.append(f"referral.stability: must list classes among {list(STABILITIES)}, got {ref_stab!r}")
        ref_stab = []
    if not isinstance(ref.get("banner"), bool):
        problems.append(f"referral.banner: must be true or false, got {ref.get('banner')!r}")
    referral = Referral(tuple(ref_grades), tuple(ref_stab), ref.get("banner") is True, follow(ref, "referral"),
                        _source(ref, "referral", sources, problems), described(ref, "referral", "action"))

    ind = section("indicators", {"modes", "modes_source", "period_months", "managed_follow_ups", "regular_follow_ups",
                                 "managed_source", "per_mille", "source", "min_denominator", "min_denominator_source",
                                 "target_regular_management_rate", "target_source"})
    modes = ind.get("modes")
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        problems.append(f"indicators.modes: must list follow-up modes among {list(MODES)}, got {modes!r}")
        modes = []
    for key in ("period_months", "managed_follow_ups", "regular_follow_ups", "per_mille", "min_denominator"):
        if not _whole(ind.get(key), 1):
            problems.append(f"indicators.{key}: must be a whole number >= 1, got {ind.get(key)!r}")
    if not _rate(ind.get("target_regular_management_rate")):
        problems.append(f"indicators.target_regular_management_rate: must be a rate in [0, 1], "
                        f"got {ind.get('target_regular_management_rate')!r}")
    for key in ("modes_source", "managed_source", "source", "min_denominator_source", "target_source"):
        _source(ind, "indicators", sources, problems, key)

    nat = section("national_2018", set(_NATIONAL) | {"source"})
    _source(nat, "national_2018", sources, problems)
    for key in _NATIONAL:
        value = nat.get(key)
        ok = _whole(value, 1) if key == "registered" else (isinstance(value, (int, float)) and not isinstance(value, bool)
                                                          and 0 <= value <= (100 if key.endswith("percent") else 1))
        if not ok:
            problems.append(f"national_2018.{key}: must be {'a whole number' if key == 'registered' else 'a rate'}, got {value!r}")

    if problems:
        return None
    return SmdPolicy(id=raw["id"], revision=raw["version"], description=description, source=raw["source"].strip(),
                     sources={str(k): v.strip() for k, v in sources.items()}, disorders=disorders,
                     risk_grades=risk_grades, items=items, intervals=intervals, stability=stability,
                     rules=tuple(rules), referral=referral, modes=tuple(modes),
                     period_months=ind["period_months"], managed_follow_ups=ind["managed_follow_ups"],
                     regular_follow_ups=ind["regular_follow_ups"], per_mille=ind["per_mille"],
                     min_denominator=ind["min_denominator"],
                     target_regular_management_rate=float(ind["target_regular_management_rate"]),
                     national_2018={k: nat[k] for k in _NATIONAL}, path=path)


# --- checking the inputs ---------------------------------------------------------------------

POLICY = Either(Predicate(lambda v: isinstance(v, str) and bool(v), "a policy name"),
                Instance("pathlib.Path", "collections.abc.Mapping", "workbench.smd.SmdPolicy", name=""),
                words="an SMD policy: a shipped name ('default'), a YAML path, a mapping or an SmdPolicy")
MONTH = Predicate(lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None),
                  "None or a YYYY-MM text")
BY = Either(Options(None), Predicate(lambda v: isinstance(v, (tuple, list)) and len(v) == len(set(v)) > 0
                                     and set(v) <= {"community", "month"}, ""),
            words="None or a tuple of 'community' and/or 'month'")


def _codes(table: str, frame: pd.DataFrame, column: str, values: tuple, problems: list[tuple], *,
           required: bool) -> np.ndarray:
    """Positions of the column's values in ``values`` (-1: blank); a value not among them is named."""
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    lookup = np.array([values.index(u) if u in values else -2 for u in uniques] + [-1], dtype=np.int64)
    out = lookup[codes]
    problems += _bad(table, frame, out == -2, column, f"must be one of {', '.join(map(str, values))}")
    if required:
        problems += _bad(table, frame, out == -1, column, "is blank but required")
    return out


def _required(table: str, frame: pd.DataFrame, column: str, problems: list[tuple]) -> None:
    problems += _bad(table, frame, frame[column].isna().to_numpy(), column, "is blank but required")


def _unique(table: str, frame: pd.DataFrame, column: str, problems: list[tuple]) -> None:
    dup = frame[column].duplicated().to_numpy() & frame[column].notna().to_numpy()
    problems += _bad(table, frame, dup, column, "is repeated: it must be unique")


def _boolean(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(recorded, value) arrays of a True/False column with blanks."""
    s = frame[column]
    return s.notna().to_numpy(), s.fillna(False).to_numpy(dtype=bool)


class _Followups:
    """The follow-ups' columns the rules read, checked, as arrays (rows in the frame's order)."""

    def __init__(self, followups: pd.DataFrame, problems: list[tuple], extra: Mapping[str, str] = {}):
        wanted = {"followup_id": "text", "resident_id": "text", "followed_on": "date", "risk_grade": "number",
                  **{i: "text" for i in ITEM_VALUES}, **extra}
        before = len(problems)
        f = _typed("followups", followups, wanted, problems)
        if len(problems) > before:
            self.ok = False
            return
        self.ok = True
        for column in ("followup_id", "resident_id", "followed_on"):
            _required("followups", f, column, problems)
        _unique("followups", f, "followup_id", problems)
        self.date = f["followed_on"].to_numpy("datetime64[ns]")
        grade = f["risk_grade"].to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(grade)
        bad = known & ~np.isin(grade, GRADES)
        problems += _bad("followups", f, bad, "risk_grade", "must be a whole grade from 0 to 5 (blank: not assessed)")
        self.grade = np.where(known & ~bad, grade, -1).astype(np.int64)
        self.items = {i: _codes("followups", f, i, v, problems, required=False) for i, v in ITEM_VALUES.items()}
        if "mode" in extra:
            self.mode = _codes("followups", f, "mode", MODES, problems, required=True)
        if "outcome" in extra:
            self.outcome = _codes("followups", f, "outcome", STABILITIES, problems, required=False)
        if "medication_regularity" in extra:
            self.regularity = _codes("followups", f, "medication_regularity", REGULARITY, problems, required=False)
            self.on_med = _boolean(f, "on_medication")
            taking = self.on_med[0] & self.on_med[1]
            stopped = self.on_med[0] & ~self.on_med[1]
            problems += _bad("followups", f, stopped & np.isin(self.regularity, [0, 1]), "medication_regularity",
                             "contradicts on_medication False (not taking medication: regularity none or blank)")
            problems += _bad("followups", f, taking & (self.regularity == 2), "medication_regularity",
                             "contradicts on_medication True (taking medication: regularity regular or intermittent)")
        self.frame = f


class _Register:
    """The register's columns, checked, as arrays (rows in the frame's order)."""

    def __init__(self, register: pd.DataFrame, policy: SmdPolicy, problems: list[tuple]):
        wanted = {"resident_id": "text", "diagnosis": "text", "diagnosed_on": "date", "registered_on": "date",
                  "guardian": "text", "consent": "bool", "consent_on": "date", "left_on": "date", "left_reason": "text"}
        before = len(problems)
        r = _typed("register", register, wanted, problems)
        if len(problems) > before:
            self.ok = False
            return
        self.ok = True
        for column in ("resident_id", "registered_on"):
            _required("register", r, column, problems)
        _unique("register", r, "resident_id", problems)
        self.diagnosis = _codes("register", r, "diagnosis", tuple(policy.disorders), problems, required=True)
        _codes("register", r, "guardian", GUARDIANS, problems, required=False)
        reason = _codes("register", r, "left_reason", LEFT_REASONS, problems, required=False)
        self.registered_on = r["registered_on"].to_numpy("datetime64[ns]")
        self.left_on = r["left_on"].to_numpy("datetime64[ns]")
        diagnosed = r["diagnosed_on"].to_numpy("datetime64[ns]")
        left = ~np.isnat(self.left_on)
        problems += _bad("register", r, ~np.isnat(diagnosed) & (diagnosed > self.registered_on), "diagnosed_on",
                         "is after registered_on: a patient is registered after the diagnosis")
        problems += _bad("register", r, left & (self.left_on < self.registered_on), "left_on", "is before registered_on")
        problems += _bad("register", r, left & (reason == -1), "left_reason", "is blank but required when left_on is given")
        problems += _bad("register", r, ~left & (reason >= 0), "left_reason", "is given but left_on is blank")
        self.index = pd.Index(r["resident_id"])
        self.frame = r

    def on(self, day: np.datetime64) -> np.ndarray:
        """Registered on ``day`` (在册): registered on or before it, not left on or before it."""
        return (self.registered_on <= day) & (np.isnat(self.left_on) | (self.left_on > day))


def _linked(reg: _Register, fu: _Followups, problems: list[tuple]) -> np.ndarray:
    """Register position of each follow-up; a follow-up of nobody on the register is named."""
    first = ~reg.index.duplicated()  # a repeated resident_id is named by _Register; the first row stands
    sub = reg.index[first].get_indexer(fu.frame["resident_id"])
    at = np.where(sub >= 0, np.flatnonzero(first)[np.maximum(sub, 0)], -1)
    problems += _bad("followups", fu.frame, (at < 0) & fu.frame["resident_id"].notna().to_numpy(), "resident_id",
                     "refers to no row of register (resident_id)")
    # one follow-up per resident and day: "the latest" must be one follow-up
    key = fu.frame[["resident_id", "followed_on"]]
    problems += _bad("followups", fu.frame, key.duplicated().to_numpy() & key.notna().all(axis=1).to_numpy(),
                     "resident_id, followed_on", "repeats the key of an earlier row: one follow-up per resident and day")
    return at


# --- the rules -------------------------------------------------------------------------------

def _add(dates: np.ndarray, unit: str, count: int) -> np.ndarray:
    if unit == "days":
        return dates + np.timedelta64(count, "D")
    return (pd.DatetimeIndex(dates) + pd.DateOffset(months=count)).to_numpy("datetime64[ns]")


def _apply(fu: _Followups, pol: SmdPolicy, rows: np.ndarray | slice = slice(None)):
    """Rule, stability (-1: none), refer and next due of each follow-up (vectorised)."""
    grade = fu.grade[rows]
    values = {"risk_grade": grade, **{i: c[rows] for i, c in fu.items.items()}}
    n = len(grade)
    rule = np.full(n, -1, dtype=np.int64)
    for k, r in enumerate(pol.rules):
        if r.kind == "always":
            hit = np.ones(n, dtype=bool)
        elif r.kind == "blank":
            hit = np.zeros(n, dtype=bool)
            for item in r.items:
                hit |= values[item] < 0
        else:
            parts = [np.isin(values[item], [_levels(item).index(v) for v in wanted]) for item, wanted in r.items.items()]
            hit = np.logical_or.reduce(parts) if r.kind == "any" else np.logical_and.reduce(parts)
        rule[(rule < 0) & hit] = k
    stab_of_rule = np.array([STABILITIES.index(r.stability) if r.stability else -1 for r in pol.rules], dtype=np.int64)
    stability = stab_of_rule[rule]
    refer = np.isin(grade, pol.referral.risk_grades) | np.isin(stability, [STABILITIES.index(s) for s in pol.referral.stability])
    date = fu.date[rows]
    due = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    for k, r in enumerate(pol.rules):
        sel = rule == k
        if sel.any():
            due[sel] = _add(date[sel], *pol.intervals[r.follow_up])
    if refer.any():
        ref_due = _add(date[refer], *pol.intervals[pol.referral.follow_up])
        due[refer] = np.minimum(due[refer], ref_due)
    return rule, stability, refer, due


@validate_params({"followups": FRAME, "policy": POLICY})
def classify(followups: pd.DataFrame, *, policy: "str | Path | SmdPolicy" = "default") -> pd.DataFrame:
    """The suggested stability of each follow-up, the rule that fired, referral and the next date.

    Parameters
    ----------
    followups : DataFrame
        Follow-ups with followup_id, resident_id, followed_on, risk_grade (0-5, blank: not
        assessed) and the answers symptoms, insight, social_function, adverse_reaction,
        physical_illness (blank: not recorded). Other columns are not read (the recorded
        ``outcome`` neither: the suggestion is made from the answers alone).
    policy : str, path, mapping or SmdPolicy
        The SMD policy (:func:`load_smd_policy`).

    Returns
    -------
    DataFrame
        :data:`CLASSIFY_COLUMNS`, one row per follow-up in the order given: ``stability`` (the
        suggestion: stable, basically_stable, unstable; blank when a rule without a class fired,
        e.g. ``not_assessed`` when no risk grade was recorded, never read as grade 0), ``rule``
        (the id of the first rule of the policy that holds), ``refer`` (the grade or the
        suggestion is among the policy's referral ones), ``banner`` (``refer`` and the policy
        shows a banner), ``next_due`` (the follow-up date plus the rule's interval; for a
        referral, the earlier of that and the referral's interval), ``policy_version``.

    Raises
    ------
    SmdInputError
        Naming every bad cell (row, column, value, rule); nothing was classified.
    """
    pol = load_smd_policy(policy)
    problems: list[tuple] = []
    fu = _Followups(followups, problems)
    if problems:
        raise SmdInputError(problems)
    rule, stability, refer, due = _apply(fu, pol)
    out = pd.DataFrame({
        "followup_id": pd.Series(fu.frame["followup_id"].array, copy=False),
        "resident_id": pd.Series(fu.frame["resident_id"].array, copy=False),
        "followed_on": fu.date,
        "risk_grade": pd.arrays.IntegerArray(np.maximum(fu.grade, 0).astype(np.int8), fu.grade < 0),
        "stability": pd.Categorical.from_codes(stability, categories=list(STABILITIES)),
        "rule": pd.Categorical.from_codes(rule, categories=[r.id for r in pol.rules]),
        "refer": refer,
        "banner": refer & pol.referral.banner,
        "next_due": due,
        "policy_version": pd.Categorical.from_codes(np.zeros(len(rule), np.int64), categories=[pol.version]),
    })
    out.attrs["policy_version"] = pol.version
    return out


# --- due list --------------------------------------------------------------------------------

@validate_params({"register": FRAME, "followups": FRAME, "today": Date(), "policy": POLICY})
def due_list(register: pd.DataFrame, followups: pd.DataFrame, *, today,
             policy: "str | Path | SmdPolicy" = "default") -> pd.DataFrame:
    """Who is due or overdue, unstable or at a high risk grade at the last follow-up.

    Parameters
    ----------
    register : DataFrame
        The SMD register (columns in the module docstring).
    followups : DataFrame
        The follow-ups (columns in the module docstring); only those of the policy's modes, on or
        before ``today``, are read.
    today : date
        The day the list is for (no hidden "today").
    policy : str, path, mapping or SmdPolicy
        The SMD policy.

    Returns
    -------
    DataFrame
        :data:`DUE_COLUMNS`, one row per patient registered on ``today`` (在册), in the order of
        the register: ``last_followup`` (blank: none yet), ``last_risk_grade`` (blank: not
        assessed), ``last_outcome`` (what staff recorded; blank: not judged), ``suggested`` and
        ``rule`` (:func:`classify` of that follow-up), ``next_due`` (the earlier of the
        suggestion's next date and the recorded outcome's interval: safety first), ``due``
        (``next_due`` on or before today, or never followed up), ``overdue`` (before today; blank
        when never followed up: since when is not known), ``days_overdue`` (0 when not overdue),
        ``unstable`` (recorded **or** suggested unstable), ``high_risk`` (the grade is among the
        referral grades, 3-5 by default), ``refer`` (:func:`classify`'s), ``assessed_in_period``
        (risk-assessed follow-ups in the ``period_months`` up to today; fewer than
        ``regular_follow_ups`` means not regularly managed).
    """
    pol = load_smd_policy(policy)
    day = np.datetime64(pd.Timestamp(today).normalize(), "ns")
    problems: list[tuple] = []
    reg = _Register(register, pol, problems)
    fu = _Followups(followups, problems, {"mode": "text", "outcome": "text"})
    if not (reg.ok and fu.ok):
        raise SmdInputError(problems)
    at = _linked(reg, fu, problems)
    if problems:
        raise SmdInputError(problems)
    rule, stability, refer, due = _apply(fu, pol)
    counted = (at >= 0) & np.isin(fu.mode, [MODES.index(m) for m in pol.modes]) & (fu.date <= day)
    rows = np.flatnonzero(counted)
    rows = rows[np.lexsort((fu.date[rows], at[rows]))]
    who = at[rows]
    last = rows[np.concatenate([who[1:] != who[:-1], [True]])] if len(rows) else rows
    pick = np.full(len(reg.index), -1, dtype=np.int64)
    pick[at[last]] = last
    since = np.datetime64(pd.Timestamp(day) - pd.DateOffset(months=pol.period_months), "ns")
    assessed = counted & (fu.grade >= 0) & (fu.date > since)
    n_assessed = np.bincount(at[assessed], minlength=len(reg.index))
    keep = np.flatnonzero(reg.on(day))
    p = pick[keep]
    seen = p >= 0
    q = np.where(seen, p, 0)
    nat = np.datetime64("NaT", "ns")

    def last(values: np.ndarray, fill) -> np.ndarray:
        """``values`` at each patient's last follow-up, ``fill`` where there is none (every
        patient when nobody has been followed up: ``values`` is then empty)."""
        if not len(values):
            return np.full(len(keep), fill, dtype=values.dtype)
        return np.where(seen, values[q], fill)

    outcome = last(fu.outcome, -1)
    last_day = last(fu.date, nat)
    out_due = np.full(len(keep), nat, dtype="datetime64[ns]")
    for s, stab in pol.stability.items():
        sel = outcome == STABILITIES.index(s)
        if sel.any():
            out_due[sel] = _add(last_day[sel], *pol.intervals[stab.follow_up])
    suggested_due = last(due, nat)
    next_due = np.where(np.isnat(out_due), suggested_due, np.minimum(out_due, suggested_due)).astype("datetime64[ns]")
    late = (day - np.where(seen, next_due, day)) // np.timedelta64(1, "D")
    stab = last(stability, -1)
    grade = last(fu.grade, -1)
    unstable_code = STABILITIES.index("unstable")
    out = pd.DataFrame({
        "resident_id": pd.Series(reg.frame["resident_id"].array.take(keep)),
        "diagnosis": pd.Categorical.from_codes(reg.diagnosis[keep], categories=list(pol.disorders)),
        "registered_on": reg.registered_on[keep],
        "last_followup": last_day.astype("datetime64[ns]"),
        "last_risk_grade": pd.arrays.IntegerArray(np.maximum(grade, 0).astype(np.int8), grade < 0),
        "last_outcome": pd.Categorical.from_codes(outcome, categories=list(STABILITIES)),
        "suggested": pd.Categorical.from_codes(stab, categories=list(STABILITIES)),
        "rule": pd.Categorical.from_codes(last(rule, -1), categories=[r.id for r in pol.rules]),
        "next_due": next_due,
        "due": ~seen | (next_due <= day),
        "overdue": pd.arrays.BooleanArray(seen & (late > 0), ~seen),
        "days_overdue": pd.arrays.IntegerArray(np.where(seen, np.maximum(late, 0), 0).astype(np.int64), ~seen),
        "unstable": seen & ((outcome == unstable_code) | (stab == unstable_code)),
        "high_risk": seen & np.isin(grade, pol.referral.risk_grades),
        "refer": seen & last(refer, False),
        "assessed_in_period": n_assessed[keep].astype(np.int64),
    })
    out.attrs.update(policy_version=pol.version, today=pd.Timestamp(day))
    return out


# --- indicators ------------------------------------------------------------------------------

def _month_end(index: int) -> pd.Timestamp:
    return pd.Timestamp(year=index // 12, month=index % 12 + 1, day=1) + pd.offsets.MonthEnd(0)


@validate_params({"register": FRAME, "followups": FRAME, "residents": FRAME, "policy": POLICY, "by": BY,
                  "start": MONTH, "end": MONTH})
def indicators(register: pd.DataFrame, followups: pd.DataFrame, residents: pd.DataFrame, *,
               by: tuple | None = ("community", "month"), start: str | None = None, end: str | None = None,
               policy: "str | Path | SmdPolicy" = "default") -> pd.DataFrame:
    """The register's indicators per community and month, each over the 12 months to the month-end.

    Parameters
    ----------
    register, followups : DataFrame
        The SMD register and its follow-ups (columns in the module docstring).
    residents : DataFrame
        resident_id and community of every resident (the analysis table ``residents``): the
        population, and the community of each registered patient.
    by : tuple or None
        ``("community", "month")`` (default): each community and ``all``, each month;
        ``("month",)``: ``all`` only; ``("community",)``: each community, the ``end`` month
        only; None: ``all`` and the ``end`` month only.
    start, end : str, optional
        ``YYYY-MM``; by default the months of the first and the last follow-up.
    policy : str, path, mapping or SmdPolicy
        The SMD policy (its ``indicators``).

    Returns
    -------
    DataFrame
        :data:`INDICATOR_COLUMNS`. For each month-end: ``population`` (residents of the
        community), ``registered`` (在册 at the month-end: registered on or before it and not
        left by then; the denominator of every rate below), ``prevalence_per_mille``
        (registered per ``per_mille`` residents: 报告患病率). Over the ``period_months`` up to the
        month-end (``period_start`` .. ``period_end``), counting follow-ups of the policy's modes
        on or after the registration: ``managed`` (at least ``managed_follow_ups``: 在管),
        ``regular`` (at least ``regular_follow_ups`` with a risk grade recorded: 规范管理). At
        the latest follow-up in the period, as **recorded by staff**: ``on_medication``
        (on_medication True: 服药), ``regular_medication`` (medication_regularity regular:
        规律服药), ``stable`` (outcome stable: 病情稳定). A patient with no follow-up in the
        period, or whose latest one left the item blank, is in the denominator and counted in
        ``medication_not_recorded`` / ``regularity_not_recorded`` / ``stability_not_judged``,
        never filled in (not with classify's suggestion either). Rates are NaN when nobody is
        registered (never 0); ``status`` is ``insufficient`` (too few to judge) when
        ``registered`` is below ``min_denominator``, else ``ok``. A patient whose community is
        blank counts in ``all`` only.

    Notes
    -----
    ``regular_management_rate`` is indicator S3 and ``regular_medication_rate`` indicator S4 of
    the programme's list (../shared/INDICATORS.md), on the same denominator (在册).

    Raises
    ------
    SmdInputError
        Naming every bad cell; nothing was computed.
    """
    pol = load_smd_policy(policy)
    problems: list[tuple] = []
    reg = _Register(register, pol, problems)
    fu = _Followups(followups, problems, {"mode": "text", "outcome": "text", "on_medication": "bool",
                                          "medication_regularity": "text"})
    before = len(problems)
    res = _typed("residents", residents, {"resident_id": "text", "community": "text"}, problems)
    if not (reg.ok and fu.ok) or len(problems) > before:  # a column missing or of the wrong type
        raise SmdInputError(problems)
    _required("residents", res, "resident_id", problems)
    _unique("residents", res, "resident_id", problems)
    at = _linked(reg, fu, problems)
    home = pd.Index(res["resident_id"]).get_indexer(reg.frame["resident_id"]) if res["resident_id"].is_unique else \
        np.zeros(len(reg.index), np.int64)
    problems += _bad("register", reg.frame, (home < 0) & reg.frame["resident_id"].notna().to_numpy(), "resident_id",
                     "refers to no row of residents (resident_id)")
    if problems:
        raise SmdInputError(problems)
    counted = np.isin(fu.mode, [MODES.index(m) for m in pol.modes])
    before_registration = counted & (fu.date < reg.registered_on[at])
    use = np.flatnonzero(counted & ~before_registration)
    if start is None or end is None:
        if not len(use):
            return pd.DataFrame({c: [] for c in INDICATOR_COLUMNS})
        y, md, _ = _ymd(np.array([fu.date[use].min(), fu.date[use].max()]))
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
    npat = len(reg.index)
    # follow-ups in patient, day order; their month slot in [g0, q1]
    use = use[np.lexsort((fu.date[use], at[use]))]
    y, md, _ = _ymd(fu.date[use])
    mi = y * 12 + md // 100 - 1 - g0
    inside = (mi >= 0) & (mi < width)
    use, mi = use[inside], mi[inside]
    cell = at[use] * width + mi
    counts = np.bincount(cell, minlength=npat * width).reshape(npat, width)
    assessed = np.bincount(cell[fu.grade[use] >= 0], minlength=npat * width).reshape(npat, width)
    cum = np.concatenate([np.zeros((npat, 1), np.int64), np.cumsum(counts, axis=1)], axis=1)
    cum_assessed = np.concatenate([np.zeros((npat, 1), np.int64), np.cumsum(assessed, axis=1)], axis=1)
    last_of_cell = np.concatenate([cell[1:] != cell[:-1], [True]]) if len(cell) else np.zeros(0, bool)
    latest_row = np.full(npat * width, -1, dtype=np.int64)
    latest_row[cell[last_of_cell]] = use[last_of_cell]
    latest_row = latest_row.reshape(npat, width)
    latest_month = np.maximum.accumulate(np.where(latest_row >= 0, np.arange(width), -1), axis=1)
    on_known, on_value = fu.on_med
    comm_codes, communities = pd.factorize(res["community"], sort=True, use_na_sentinel=True)
    ncomm = len(communities)
    population = np.bincount(comm_codes[comm_codes >= 0], minlength=ncomm)
    pat_comm = comm_codes[home]
    show_comm = bool(by) and "community" in by
    measures = ("registered", "managed", "regular", "on_medication", "medication_not_recorded", "regular_medication",
                "regularity_not_recorded", "stable", "stability_not_judged")
    parts = []
    for q in range(q0, q1 + 1):
        j = q - g0
        lo = j - period + 1
        end_day = _month_end(q)
        registered = reg.on(np.datetime64(end_day, "ns"))
        lm = latest_month[:, j]
        has = registered & (lm >= lo)
        row = np.where(has, latest_row[np.arange(npat), np.maximum(lm, 0)], 0)
        med_known, med = has & on_known[row], on_value[row]
        regu = np.where(has, fu.regularity[row], -1)
        outc = np.where(has, fu.outcome[row], -1)
        values = {
            "registered": registered,
            "managed": registered & ((cum[:, j + 1] - cum[:, lo]) >= pol.managed_follow_ups),
            "regular": registered & ((cum_assessed[:, j + 1] - cum_assessed[:, lo]) >= pol.regular_follow_ups),
            "on_medication": med_known & med,
            "medication_not_recorded": registered & ~med_known,
            "regular_medication": regu == REGULARITY.index("regular"),
            "regularity_not_recorded": registered & (regu < 0),
            "stable": outc == STABILITIES.index("stable"),
            "stability_not_judged": registered & (outc < 0),
        }
        frame = {"community": (list(communities) if show_comm else []) + ["all"]}
        for name in measures:
            x = values[name]
            per = np.bincount(pat_comm[x & (pat_comm >= 0)], minlength=ncomm) if show_comm else np.zeros(0, np.int64)
            frame[name] = np.append(per, x.sum()).astype(np.int64)
        frame = pd.DataFrame(frame)
        frame["population"] = np.append(population if show_comm else np.zeros(0, np.int64), len(res)).astype(np.int64)
        frame["month"] = _month_text(q)
        frame["period_start"] = pd.Timestamp(year=(q - period + 1) // 12, month=(q - period + 1) % 12 + 1, day=1)
        frame["period_end"] = end_day
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    reg_n = out["registered"].to_numpy(dtype=float)
    pop_n = out["population"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["prevalence_per_mille"] = np.where(pop_n > 0, reg_n / np.where(pop_n > 0, pop_n, 1) * pol.per_mille, np.nan)
        for name, rate in (("managed", "management_rate"), ("regular", "regular_management_rate"),
                           ("on_medication", "medication_rate"), ("regular_medication", "regular_medication_rate"),
                           ("stable", "stability_rate")):
            out[rate] = np.where(reg_n > 0, out[name].to_numpy(dtype=float) / np.where(reg_n > 0, reg_n, 1), np.nan)
    out["status"] = np.where(out["registered"] >= pol.min_denominator, "ok", "insufficient")
    out["policy_version"] = pol.version
    out = out[INDICATOR_COLUMNS]
    out.attrs.update(policy_version=pol.version, period_months=period, min_denominator=pol.min_denominator,
                     target_regular_management_rate=pol.target_regular_management_rate,
                     followups_before_registration=int(before_registration.sum()),
                     patients_without_community=int((pat_comm < 0).sum()),
                     counted_from="stored outcome, on_medication and medication_regularity at the latest follow-up; "
                                  "classify's suggestion is never used")
    return out
