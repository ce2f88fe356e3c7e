"""Chronic-disease follow-up policies as data: loading and validation.

A chronic-care policy is a versioned YAML file (the default ships as
``workbench/policies/chronic_default.yaml``; schema in ``workbench/policies/README.md``). It is
validated completely when loaded: a bad file is refused with every problem named by its key.
:mod:`workbench.chronic` applies it. Use :func:`workbench.chronic.load_chronic_policy`.

Examples
--------
>>> policy = load_chronic_policy("default")
>>> policy.version
'chronic_default@1.0'
>>> [t.text() for t in policy.conditions["hypertension"].targets]
['<150/90 mmHg', '<140/90 mmHg']
>>> policy.danger_values["glucose_low"].at_most
3.9
>>> policy.rule("not_controlled").description["en"]
'Not controlled for the first time: adjust the treatment, follow up within 14 days'
>>> policy.conditions["hypertension"].targets[0].description["zh"][:34]
'80岁及以上且已记录无糖尿病、无慢性肾病者：<150/90 mmHg'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from workbench._declarations import IDENT, load_policy_file
from workbench._declarations import render as _render
from workbench._declarations import source_key as _source
from workbench._declarations import unknown_keys as _unknown
from workbench._declarations import whole as _whole
from workbench._declarations import texts as _texts

__all__ = ["ACTIONS", "CLASSIFICATIONS", "ChronicPolicy", "ChronicPolicyError", "MANAGED_CONDITIONS",
           "interval_text", "load_chronic_policy", "value_text", "value_texts"]

_IDENT = IDENT

#: The classification of a follow-up (此次随访分类), as the contract names them.
CLASSIFICATIONS = ("controlled", "not_controlled", "adverse_reaction", "complication")
#: What follows a follow-up; ``recheck``: the follow-up lacks the condition's reading.
ACTIONS = ("routine", "adjust", "refer", "urgent_referral", "recheck")
#: Conditions a chronic-care policy may manage (boolean columns of ``residents``).
MANAGED_CONDITIONS = ("hypertension", "diabetes")
#: Boolean columns of ``residents`` a target may require recorded as absent.
RECORDED = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma", "ckd")
#: Items of a follow-up a condition may test: the visit's answers and the control found.
ITEMS = ("controlled", "adverse_reaction", "complication")

_TOP_KEYS = {"id", "version", "description", "source", "sources", "follow_up", "intervals", "danger_values",
             "conditions", "classification", "actions", "indicators"}


class ChronicPolicyError(ValueError):
    """A chronic-care policy file breaks a rule; the message names every key that is wrong."""


def _measures() -> Mapping[str, Any]:
    from workbench._declarations import measures

    return measures()


def _number(value: float, measure: str) -> str:
    """A value as staff read it: whole mmHg, glucose with its decimals (7.0, 8.25)."""
    if _measures()["measures"][measure]["dtype"].startswith("Int"):
        return str(int(round(value)))
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def value_text(measures: tuple[str, ...], values: tuple[float, ...]) -> str:
    """``'152/94 mmHg'``, ``'8.2 mmol/L'``: values joined by ``/`` with the (shared) unit.

    >>> value_text(("sbp", "dbp"), (152, 94))
    '152/94 mmHg'
    """
    units = [_measures()["measures"][m]["unit"] for m in measures]
    unit = units[0] if len(set(units)) == 1 else "/".join(units)
    return "/".join(_number(v, m) for m, v in zip(measures, values)) + f" {unit}"


def value_texts(measures: tuple[str, ...], values: list) -> "Any":
    """:func:`value_text` of many readings at once (arrays of each measure's values, no blanks).

    >>> import numpy as np
    >>> value_texts(("fasting_glucose",), [np.array([6.5, 7.0, 8.254])]).tolist()
    ['6.5 mmol/L', '7.0 mmol/L', '8.25 mmol/L']
    """
    import numpy as np

    parts = []
    for m, v in zip(measures, values):
        v = np.asarray(v, dtype=float)
        if _measures()["measures"][m]["dtype"].startswith("Int"):
            parts.append(np.round(v).astype(np.int64).astype(str))
        else:  # the shortest text of the value to 2 decimals, at least one decimal (7.0, 8.25)
            parts.append(np.round(v, 2).astype(str))
    units = [_measures()["measures"][m]["unit"] for m in measures]
    out = parts[0].astype(object)
    for part in parts[1:]:
        out = out + "/" + part.astype(object)
    return out + " " + (units[0] if len(set(units)) == 1 else "/".join(units))


@dataclass(frozen=True)
class Target:
    """One control target: controlled when every measure is below its bound (strict)."""

    id: str
    below: Mapping[str, float]
    age_at_least: int | None
    recorded_without: tuple[str, ...]
    source: str
    description: Mapping[str, str]

    def text(self) -> str:
        """The target as staff read it, e.g. ``'<140/90 mmHg'``."""
        return "<" + value_text(tuple(self.below), tuple(self.below.values()))


@dataclass(frozen=True)
class Danger:
    """A danger value: any of ``measures`` at or above ``at_least`` / at or below ``at_most``, or
    the ``answer`` recorded True."""

    id: str
    measures: tuple[str, ...]
    at_least: float | None
    at_most: float | None
    answer: str | None
    source: str


@dataclass(frozen=True)
class Condition:
    """A managed condition: who is managed, its targets (first match wins), its danger values."""

    id: str
    en: str
    zh: str
    min_age: int
    targets: tuple[Target, ...]
    danger: tuple[str, ...]
    source: str

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures of a reading of this condition (those its targets bound)."""
        return tuple(self.targets[0].below)


@dataclass(frozen=True)
class ActionRule:
    """What follows a follow-up when ``when`` holds (and no earlier rule's did)."""

    id: str
    when: Mapping[str, Any]
    action: str
    follow_up: str
    source: str
    description: Mapping[str, str]


@dataclass(frozen=True)
class ChronicPolicy:
    """A validated chronic-care policy (build it with :func:`load_chronic_policy`)."""

    id: str
    revision: str
    description: Mapping[str, str]
    source: str
    sources: Mapping[str, str]
    settings: tuple[str, ...]
    intervals: Mapping[str, tuple[str, int]]
    danger_values: Mapping[str, Danger]
    conditions: Mapping[str, Condition]
    classification: tuple[tuple[str, Mapping[str, Any]], ...]
    actions: tuple[ActionRule, ...]
    period_months: int
    regular_follow_ups: int
    min_denominator: int
    path: Path | None

    @property
    def version(self) -> str:
        """``id@version``, recorded with every classified follow-up."""
        return f"{self.id}@{self.revision}"

    label = version

    @property
    def measures(self) -> tuple[str, ...]:
        """Every measure the policy reads (targets and danger values)."""
        found = [m for c in self.conditions.values() for t in c.targets for m in t.below]
        found += [m for d in self.danger_values.values() for m in d.measures]
        return tuple(dict.fromkeys(found))

    @property
    def answers(self) -> tuple[str, ...]:
        """Every answer column the policy reads."""
        found = [d.answer for d in self.danger_values.values() if d.answer]
        for cond in [w for _, w in self.classification] + [a.when for a in self.actions]:
            found += [k for k in _flat_keys(cond) if k in ITEMS and k != "controlled"]
        return tuple(dict.fromkeys(found))

    def rule(self, rule_id: str) -> ActionRule:
        """The action rule with this id."""
        for rule in self.actions:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"policy {self.version} has no rule {rule_id!r}")

    def __repr__(self) -> str:
        return f"ChronicPolicy({self.version!r}, conditions={list(self.conditions)}, rules={[r.id for r in self.actions]})"


def _flat_keys(cond: Mapping[str, Any]) -> list[str]:
    keys = []
    for key, value in cond.items():
        keys += _flat_keys(value) if key == "previous" and isinstance(value, Mapping) else [key]
    return keys


def load_chronic_policy(policy: "str | Path | Mapping | ChronicPolicy" = "default") -> ChronicPolicy:
    """A chronic-care policy: a shipped one by name (``"default"`` is ``chronic_default.yaml``), a
    YAML file by path, a mapping with the file's keys, or ``policy`` itself if already loaded.

    Raises
    ------
    ChronicPolicyError
        Naming every key that is wrong and what is wrong with it.
    """
    return load_policy_file(policy, kind=ChronicPolicy, prefix="chronic_", what="chronic-care policy", error=ChronicPolicyError, build=_build)


# --- validation ----------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def interval_text(unit: str, count: int, lang: str) -> str:
    """``'14 days'``, ``'3个月'``: an interval as staff read it.

    >>> interval_text("days", 14, "en"), interval_text("months", 3, "zh")
    ('14 days', '3个月')
    """
    if lang == "zh":
        return f"{count}{'天' if unit == 'days' else '个月'}"
    word = unit if count != 1 else unit[:-1]
    return f"{count} {word}"


def _check_when(cond: Any, where: str, allowed: set[str], problems: list[str]) -> None:
    if not isinstance(cond, Mapping) or not cond:
        problems.append(f"{where}: must be a mapping of conditions, e.g. {{controlled: false}}")
        return
    for key, value in cond.items():
        at = f"{where}.{key}"
        if key not in allowed:
            problems.append(f"{at}: unknown or not allowed here (allowed: {sorted(allowed)})")
        elif key == "always" and value is not True:
            problems.append(f"{at}: must be true")
        elif key in ITEMS + ("urgent",) and not isinstance(value, bool):
            problems.append(f"{at}: must be true or false, got {value!r}")
        elif key == "classification":
            values = value if isinstance(value, list) else [value]
            if not values or any(v not in CLASSIFICATIONS for v in values):
                problems.append(f"{at}: must be one of {list(CLASSIFICATIONS)} (or a list of them), got {value!r}")
        elif key == "previous":
            _check_when(value, at, set(ITEMS), problems)


def _build(raw: Any, path: Path | None, problems: list[str]) -> ChronicPolicy | None:
    if not isinstance(raw, Mapping):
        problems.append("the file must hold a mapping of keys")
        return None
    _unknown(raw, _TOP_KEYS, "policy", problems)
    problems[:] = [p.removeprefix("policy.") for p in problems]
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
    measures, answers = _measures()["measures"], _measures()["answers"]
    bool_answers = sorted(k for k, d in answers.items() if d["values"] == "boolean")

    # which readings are follow-ups
    follow = raw["follow_up"] if isinstance(raw["follow_up"], Mapping) else {}
    _unknown(follow, {"settings", "source"}, "follow_up", problems)
    settings = follow.get("settings")
    known_settings = list(_measures()["settings"])
    if not isinstance(settings, list) or not settings or any(s not in known_settings for s in settings):
        problems.append(f"follow_up.settings: must list settings among {known_settings}, got {settings!r}")
        settings = []
    _source(follow, "follow_up", sources, problems)

    intervals: dict[str, tuple[str, int]] = {}
    if not isinstance(raw["intervals"], Mapping) or not raw["intervals"]:
        problems.append("intervals: must map names to {days: n} or {months: n}")
    else:
        for name, entry in raw["intervals"].items():
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

    dangers: dict[str, Danger] = {}
    if not isinstance(raw["danger_values"], Mapping) or not raw["danger_values"]:
        problems.append("danger_values: must map names to danger values")
    else:
        for name, d in raw["danger_values"].items():
            at = f"danger_values.{name}"
            if not isinstance(d, Mapping) or not _IDENT.match(str(name)):
                problems.append(f"{at}: must be an identifier mapping to {{measures, at_least | at_most}} or {{answer}}")
                continue
            _unknown(d, {"measures", "at_least", "at_most", "answer", "source"}, at, problems)
            ms, least, most, answer = d.get("measures"), d.get("at_least"), d.get("at_most"), d.get("answer")
            if answer is not None:
                if answer not in bool_answers or ms is not None or least is not None or most is not None:
                    problems.append(f"{at}.answer: must be one of {bool_answers}, alone, got {answer!r}")
            elif not isinstance(ms, list) or not ms or any(m not in measures for m in ms):
                problems.append(f"{at}.measures: must list measures among {list(measures)}, got {ms!r}")
            elif (least is None) == (most is None):
                problems.append(f"{at}: give exactly one of at_least or at_most")
            else:
                bound = least if least is not None else most
                if not _is_number(bound):
                    problems.append(f"{at}.{'at_least' if least is not None else 'at_most'}: must be a number, got {bound!r}")
                else:
                    for m in ms:
                        low, high = measures[m]["range"]
                        if not low < bound < high:
                            problems.append(f"{at}: {bound} is outside the plausible range of {m} ({low}, {high})")
            dangers[str(name)] = Danger(str(name), tuple(ms or ()), least, most, answer, _source(d, at, sources, problems))

    conditions: dict[str, Condition] = {}
    raw_conditions = raw["conditions"] if isinstance(raw["conditions"], Mapping) else {}
    if not raw_conditions:
        problems.append(f"conditions: must map conditions among {list(MANAGED_CONDITIONS)} to their rules")
    for cid, c in raw_conditions.items():
        at = f"conditions.{cid}"
        if cid not in MANAGED_CONDITIONS:
            problems.append(f"{at}: not a condition this policy can manage ({list(MANAGED_CONDITIONS)})")
            continue
        if not isinstance(c, Mapping):
            problems.append(f"{at}: must be a mapping with en, zh, managed, targets and danger")
            continue
        _unknown(c, {"en", "zh", "managed", "targets", "danger"}, at, problems)
        labels = _texts(c, at, problems)
        managed = c.get("managed") if isinstance(c.get("managed"), Mapping) else {}
        _unknown(managed, {"min_age", "source"}, f"{at}.managed", problems)
        if not _whole(managed.get("min_age"), 0) or managed.get("min_age") > 120:
            problems.append(f"{at}.managed.min_age: must be a whole number of years in [0, 120], got {managed.get('min_age')!r}")
        source = _source(managed, f"{at}.managed", sources, problems)
        targets = []
        raw_targets = c.get("targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            problems.append(f"{at}.targets: must be a non-empty list")
            raw_targets = []
        for i, t in enumerate(raw_targets):
            tw = f"{at}.targets[{i}]"
            if not isinstance(t, Mapping):
                problems.append(f"{tw}: must be a mapping {{id, below, when, source, description}}")
                continue
            _unknown(t, {"id", "when", "below", "source", "description"}, tw, problems)
            if not isinstance(t.get("id"), str) or not _IDENT.match(t["id"]):
                problems.append(f"{tw}.id: {t.get('id')!r} must be a lower-case identifier")
            below = t.get("below")
            if not isinstance(below, Mapping) or not below:
                problems.append(f"{tw}.below: must map measures to their bounds, e.g. {{sbp: 140, dbp: 90}}")
                below = {}
            for m, bound in below.items():
                if m not in measures:
                    problems.append(f"{tw}.below.{m}: not a measure (measures: {list(measures)})")
                elif not _is_number(bound) or not measures[m]["range"][0] < bound < measures[m]["range"][1]:
                    problems.append(f"{tw}.below.{m}: must be a number inside the plausible range "
                                    f"{measures[m]['range']}, got {bound!r}")
            when = t.get("when") or {}
            last = i == len(raw_targets) - 1
            if last and when:
                problems.append(f"{tw}.when: the last target has no condition, so every reading has a target")
            if not isinstance(when, Mapping) or (not last and not when):
                problems.append(f"{tw}.when: must be a mapping {{age_at_least, recorded_without}}")
                when = {}
            _unknown(when, {"age_at_least", "recorded_without"}, f"{tw}.when", problems)
            age = when.get("age_at_least")
            if age is not None and (not _whole(age, 0) or age > 120):
                problems.append(f"{tw}.when.age_at_least: must be a whole number of years in [0, 120], got {age!r}")
            without = when.get("recorded_without", [])
            if not isinstance(without, list) or any(w not in RECORDED for w in without):
                problems.append(f"{tw}.when.recorded_without: must list resident columns among {list(RECORDED)}, got {without!r}")
                without = []
            below = {m: below[m] for m in measures if m in below}  # in the declared order: sbp before dbp
            target = Target(str(t.get("id")), below, age, tuple(without), _source(t, tw, sources, problems), {})
            text = target.text() if all(_is_number(v) for v in below.values()) else ""
            described = _render(_texts(t.get("description"), f"{tw}.description", problems),
                                {"age": "" if age is None else age, "target": text}, f"{tw}.description", problems)
            targets.append(Target(target.id, below, age, tuple(without), target.source, described))
        if len({tuple(t.below) for t in targets}) > 1:
            problems.append(f"{at}.targets: every target must bound the same measures, got {[list(t.below) for t in targets]}")
        danger = c.get("danger")
        if not isinstance(danger, list) or any(d not in dangers for d in danger):
            problems.append(f"{at}.danger: must list names of danger_values (known: {sorted(dangers)}), got {danger!r}")
            danger = []
        conditions[cid] = Condition(cid, labels["en"], labels["zh"], managed.get("min_age", 0), tuple(targets),
                                    tuple(danger), source)

    classification: list[tuple[str, Mapping]] = []
    raw_class = raw["classification"] if isinstance(raw["classification"], list) else []
    if not raw_class:
        problems.append("classification: must be a non-empty list")
    for i, entry in enumerate(raw_class):
        at = f"classification[{i}]"
        if not isinstance(entry, Mapping) or entry.get("id") not in CLASSIFICATIONS:
            problems.append(f"{at}.id: must be one of {list(CLASSIFICATIONS)}")
            continue
        _unknown(entry, {"id", "when", "source"}, at, problems)
        _check_when(entry.get("when"), f"{at}.when", set(ITEMS), problems)
        _source(entry, at, sources, problems)
        classification.append((entry["id"], entry.get("when") or {}))
    if len({c for c, _ in classification}) != len(classification):
        problems.append("classification: each classification once")

    actions: list[ActionRule] = []
    raw_actions = raw["actions"] if isinstance(raw["actions"], list) else []
    if not raw_actions:
        problems.append("actions: must be a non-empty list")
    for i, entry in enumerate(raw_actions):
        at = f"actions[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{at}: must be a mapping {{id, when, action, follow_up, source, description}}")
            continue
        _unknown(entry, {"id", "when", "action", "follow_up", "source", "description"}, at, problems)
        if not isinstance(entry.get("id"), str) or not _IDENT.match(entry["id"]):
            problems.append(f"{at}.id: {entry.get('id')!r} must be a lower-case identifier")
        if entry.get("action") not in ACTIONS:
            problems.append(f"{at}.action: must be one of {list(ACTIONS)}, got {entry.get('action')!r}")
        if entry.get("follow_up") not in intervals:
            problems.append(f"{at}.follow_up: must name an interval (known: {sorted(intervals)}), got {entry.get('follow_up')!r}")
        _check_when(entry.get("when"), f"{at}.when", set(ITEMS) | {"always", "urgent", "classification", "previous"}, problems)
        interval = intervals.get(entry.get("follow_up"), ("days", 0))
        described = _render(_texts(entry.get("description"), f"{at}.description", problems),
                            {"interval": lambda lang, i=interval: interval_text(*i, lang)}, f"{at}.description", problems)
        actions.append(ActionRule(str(entry.get("id")), entry.get("when") or {}, entry.get("action"), entry.get("follow_up"),
                                  _source(entry, at, sources, problems), described))
    ids = [a.id for a in actions]
    if len(set(ids)) != len(ids):
        problems.append(f"actions: every rule needs a distinct id, got {ids}")
    if raw_actions and (raw_actions[-1].get("when") if isinstance(raw_actions[-1], Mapping) else None) != {"always": True}:
        problems.append("actions: the last rule must have when: {always: true}, so every follow-up gets an action")

    ind = raw["indicators"] if isinstance(raw["indicators"], Mapping) else {}
    _unknown(ind, {"period_months", "regular_follow_ups", "min_denominator", "source"}, "indicators", problems)
    for key, low in (("period_months", 1), ("regular_follow_ups", 1), ("min_denominator", 1)):
        if not _whole(ind.get(key), low):
            problems.append(f"indicators.{key}: must be a whole number >= {low}, got {ind.get(key)!r}")
    _source(ind, "indicators", sources, problems)

    if problems:
        return None
    return ChronicPolicy(id=raw["id"], revision=raw["version"], description=description, source=raw["source"].strip(),
                         sources={str(k): v.strip() for k, v in sources.items()}, settings=tuple(settings),
                         intervals=intervals, danger_values=dangers, conditions=conditions,
                         classification=tuple(classification), actions=tuple(actions),
                         period_months=ind["period_months"], regular_follow_ups=ind["regular_follow_ups"],
                         min_denominator=ind["min_denominator"], path=path)
