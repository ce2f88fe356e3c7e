"""Stepped-care policies as data: loading, validation and the condition language.

A policy is a versioned YAML file (the default ships in ``workbench/policies/``; schema in
``workbench/policies/README.md``). It is validated completely when loaded: a bad policy is
refused with every problem named by its key, before it can touch a resident's record.

Examples
--------
>>> policy = load_policy("default")
>>> policy.label
'default@1.1'
>>> policy.thresholds["screen_positive"]
{'phq9': 10, 'gad7': 10}
>>> [rule.id for rule in policy.rules]  # doctest: +NORMALIZE_WHITESPACE
['self_harm', 'severe', 'screener_positive', 'screeners_negative', 'not_scorable', 'self_harm_unknown',
 'screen_positive', 'universal']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from workbench._declarations import LANGUAGES, read_yaml, refuse
from workbench._declarations import texts as _texts
from workbench.instruments import get_instrument, instrument_ids

__all__ = ["CONDITIONS", "PSYCH_STATUSES", "Policy", "PolicyError", "Rule", "derive_policy", "load_policy", "policy_ids"]

_FOLDER = Path(__file__).resolve().parent / "policies"
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")

#: Chronic-condition columns a policy may name (booleans; an absent column means False).
CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")
#: Psychological statuses of the service matrix, in order.
PSYCH_STATUSES = ("normal", "subclinical", "clinical")

_TOP_KEYS = {"id", "version", "description", "source", "thresholds", "rules", "psych_status",
             "disease_categories", "services", "next_contact"}
# Condition keys reading the scored data, and keys reading what earlier steps decided.
_INPUT_KEYS = {"always", "flag", "flag_unknown", "given", "none_scorable", "any_scorable", "all_scorable", "at_least",
               "any_of"}
_OUTPUT_KEYS = {"tier", "urgent", "needs_review", "rule", "psych_status"}


class PolicyError(ValueError):
    """A policy file breaks a rule; the message names every key that is wrong."""


@dataclass(frozen=True)
class Rule:
    """One tier rule: when its condition holds (and no earlier rule's did), it decides."""

    id: str
    when: Mapping[str, Any]
    tier: int | None
    urgent: bool
    needs_review: bool
    description: Mapping[str, str]


@dataclass(frozen=True)
class Policy:
    """A validated stepped-care policy (build it with :func:`load_policy`)."""

    id: str
    version: str
    description: Mapping[str, str]
    source: str
    thresholds: Mapping[str, Mapping[str, int]]
    rules: tuple[Rule, ...]
    psych_status: tuple[tuple[str, Mapping[str, Any]], ...]
    disease_categories: tuple[tuple[str, tuple[str, ...], Mapping[str, str]], ...]
    services: Mapping[str, Mapping[str, str]]
    next_contact: tuple[tuple[Mapping[str, Any], int], ...]
    path: Path

    @property
    def label(self) -> str:
        """``id@version``, recorded with every assignment."""
        return f"{self.id}@{self.version}"

    @property
    def instruments(self) -> list[str]:
        """Questionnaires the policy reads (from its thresholds and conditions)."""
        found: set[str] = set()
        for values in self.thresholds.values():
            found.update(values)
        for cond in [r.when for r in self.rules] + [c for _, c in self.psych_status]:
            _walk(cond, lambda key, value: found.update(_instruments_of(key, value)))
        return sorted(found)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(f"policy {self.label} has no rule {rule_id!r}")

    def __repr__(self) -> str:
        return f"Policy({self.label!r}, rules={[r.id for r in self.rules]}, thresholds={dict(self.thresholds)})"


def _instruments_of(key: str, value: Any) -> list[str]:
    if key in ("given",):
        return [value]
    if key in ("none_scorable", "any_scorable", "all_scorable"):
        return list(value)
    if key in ("flag", "flag_unknown"):
        return [value.split("_", 1)[0]]
    return []


def _walk(cond: Mapping[str, Any], visit: Callable[[str, Any], None]) -> None:
    for key, value in cond.items():
        if key == "any_of":
            for sub in value:
                _walk(sub, visit)
        else:
            visit(key, value)


def policy_ids() -> list[str]:
    """Ids of the stepped-care policies shipped with the package (``chronic_*.yaml`` are the
    chronic-care policies of :mod:`workbench.chronic`, ``smd_*.yaml`` the severe-mental-disorder
    policies of :mod:`workbench.smd`, not stepped-care ones)."""
    return sorted(p.stem for p in _FOLDER.glob("*.yaml") if not p.stem.startswith(("chronic_", "smd_")))


def load_policy(policy: "str | Path | Policy" = "default") -> Policy:
    """A policy: a shipped one by id, a YAML file by path, or ``policy`` itself if already loaded.

    Raises
    ------
    PolicyError
        Naming every key that is wrong and what is wrong with it.
    """
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str) and _IDENT.match(policy):
        path = _FOLDER / f"{policy}.yaml"
        if not path.is_file() or policy not in policy_ids():
            raise KeyError(f"No shipped policy {policy!r}; shipped: {policy_ids()}. Pass a file path for your own.")
        return _load_cached(path)
    path = Path(policy)
    if not path.is_file():
        raise FileNotFoundError(f"No policy file at {path}")
    return _load(path)


@functools.lru_cache(maxsize=None)
def _load_cached(path: Path) -> Policy:
    return _load(path)


def derive_policy(base: "str | Path | Policy" = "default", *, id: str, version: str,
                  thresholds: Mapping[str, Mapping[str, Any]]) -> Policy:
    """A new policy: ``base`` with some thresholds changed, validated like a file.

    To keep it, write the same change into a copy of the base file; this is for exploring
    ("what changes if PHQ-9 >= 7 is screen-positive?").

    Examples
    --------
    >>> local = derive_policy("default", id="shanghai_adults", version="2025.1",
    ...                       thresholds={"screen_positive": {"phq9": 7}})
    >>> local.label, local.thresholds["screen_positive"]
    ('shanghai_adults@2025.1', {'phq9': 7, 'gad7': 10})

    A screen-positive threshold outside its plausible range is refused
    (:func:`workbench.screening_thresholds.threshold_range`), as is a total the questionnaire cannot reach.
    """
    base = load_policy(base)
    raw = read_yaml(base.path, PolicyError)
    raw.update(id=id, version=version)
    for name, values in thresholds.items():
        if name not in raw["thresholds"]:
            raise PolicyError(f"thresholds.{name}: not a threshold set of {base.label} "
                              f"(sets: {sorted(raw['thresholds'])})")
        raw["thresholds"][name].update(values)
    derived = _from_raw(raw, base.path.with_name(f"{id}.yaml"))
    from workbench.screening_thresholds import check  # plausible screen-positive thresholds (declared)

    check(derived.thresholds)
    return derived


def _load(path: Path) -> Policy:
    return _from_raw(read_yaml(path, PolicyError), path)


def _from_raw(raw: Any, path: Path) -> Policy:
    problems: list[str] = []
    policy = _build(raw, path, problems)
    refuse(path, "policy", problems, PolicyError)
    return policy


# --- validation ----------------------------------------------------------------------------

def _threshold(inst_id: str, value: Any, where: str, problems: list[str]) -> int | None:
    if inst_id not in instrument_ids():
        problems.append(f"{where}: {inst_id!r} is not a declared questionnaire")
        return None
    inst = get_instrument(inst_id)
    if isinstance(value, Mapping) and set(value) == {"band"}:
        for band in inst.bands:
            if band.id == value["band"]:
                return int(band.lower if band.lower_closed else band.lower + 1)
        problems.append(f"{where}.band: {inst_id} has no band {value['band']!r} (bands: {inst.band_ids})")
        return None
    if isinstance(value, Mapping) and value == {"declared": "screen_positive"}:
        if inst.screen_positive is None:
            problems.append(f"{where}: {inst_id} declares no screen_positive threshold")
        return inst.screen_positive
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where}: must be a whole-number total, {{band: <id>}} or "
                        f"{{declared: screen_positive}}; got {value!r}")
        return None
    if not inst.score_min < value <= inst.score_max:
        problems.append(f"{where}: {value} is outside {inst_id}'s totals ({inst.score_min}, {inst.score_max}]")
        return None
    return value


def _check_condition(cond: Any, where: str, allowed: set[str], ctx: dict, problems: list[str]) -> None:
    if not isinstance(cond, Mapping) or not cond:
        problems.append(f"{where}: must be a mapping of conditions, e.g. {{at_least: screen_positive}}")
        return
    for key, value in cond.items():
        at = f"{where}.{key}"
        if key not in allowed:
            problems.append(f"{at}: unknown or not allowed here (allowed: {sorted(allowed)})")
        elif key == "always" and value is not True:
            problems.append(f"{at}: must be true")
        elif key in ("flag", "flag_unknown"):
            flags = {f"{i}_{c.flag}" for i in instrument_ids() for c in get_instrument(i).critical_items}
            if value not in flags:
                problems.append(f"{at}: {value!r} is not a declared critical-item flag (known: {sorted(flags)})")
        elif key == "given" and value not in instrument_ids():
            problems.append(f"{at}: {value!r} is not a declared questionnaire")
        elif key in ("none_scorable", "any_scorable", "all_scorable"):
            if not isinstance(value, list) or not value or any(v not in instrument_ids() for v in value):
                problems.append(f"{at}: must list declared questionnaires, got {value!r}")
        elif key == "at_least" and value not in ctx["thresholds"]:
            problems.append(f"{at}: {value!r} is not a threshold set of this policy (known: {sorted(ctx['thresholds'])})")
        elif key == "any_of":
            if not isinstance(value, list) or not value:
                problems.append(f"{at}: must be a non-empty list of conditions")
            else:
                for i, sub in enumerate(value):
                    _check_condition(sub, f"{at}[{i}]", allowed, ctx, problems)
        elif key == "tier" and value not in (1, 2, 3, None):
            problems.append(f"{at}: must be 1, 2, 3 or null, got {value!r}")
        elif key in ("urgent", "needs_review") and not isinstance(value, bool):
            problems.append(f"{at}: must be true or false, got {value!r}")
        elif key == "rule":
            values = value if isinstance(value, list) else [value]
            unknown = [v for v in values if v not in ctx["rule_ids"]]
            if unknown:
                problems.append(f"{at}: {unknown} are not rules of this policy (rules: {ctx['rule_ids']})")
        elif key == "psych_status" and value not in PSYCH_STATUSES:
            problems.append(f"{at}: must be one of {list(PSYCH_STATUSES)}, got {value!r}")


def _ordered_list(raw: Any, key: str, problems: list[str]) -> list:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        problems.append(f"{key}: must be a non-empty list")
        return []
    return value


def _build(raw: Any, path: Path, problems: list[str]) -> Policy | None:
    if not isinstance(raw, Mapping):
        problems.append("the file must hold a mapping of keys")
        return None
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"{key}: unknown key (allowed: {sorted(_TOP_KEYS)})")
    for key in sorted(_TOP_KEYS - set(raw)):
        problems.append(f"{key}: required key is missing")
    if problems:
        return None
    if not isinstance(raw["id"], str) or not _IDENT.match(raw["id"]):
        problems.append(f"id: {raw['id']!r} must be a lower-case identifier")
    if not isinstance(raw["version"], str) or not raw["version"].strip():
        problems.append("version: must be a non-empty text, e.g. \"1.0\" (quote it)")
    description = _texts(raw["description"], "description", problems)
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        problems.append("source: must say where the policy's rules and numbers come from")

    thresholds: dict[str, dict[str, int]] = {}
    if not isinstance(raw["thresholds"], Mapping) or not raw["thresholds"]:
        problems.append("thresholds: must map set names to {questionnaire: threshold}")
    else:
        for name, values in raw["thresholds"].items():
            if not _IDENT.match(str(name)) or not isinstance(values, Mapping) or not values:
                problems.append(f"thresholds.{name}: must be an identifier mapping questionnaires to thresholds")
                continue
            thresholds[name] = {i: _threshold(i, v, f"thresholds.{name}.{i}", problems) for i, v in values.items()}

    rules: list[Rule] = []
    raw_rules = _ordered_list(raw, "rules", problems)
    rule_ids = [r.get("id") for r in raw_rules if isinstance(r, Mapping)]
    ctx = {"thresholds": thresholds, "rule_ids": rule_ids}
    if len(set(rule_ids)) != len(rule_ids) or len(rule_ids) != len(raw_rules):
        problems.append(f"rules: every rule needs a distinct id, got {rule_ids}")
    for i, r in enumerate(raw_rules):
        where = f"rules[{i}]"
        if not isinstance(r, Mapping):
            continue
        unknown = set(r) - {"id", "when", "tier", "urgent", "needs_review", "description"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(r.get("id"), str) or not _IDENT.match(r["id"]):
            problems.append(f"{where}.id: {r.get('id')!r} must be a lower-case identifier")
        if "tier" not in r or r["tier"] not in (1, 2, 3, None):
            problems.append(f"{where}.tier: must be 1, 2, 3 or null (no tier), got {r.get('tier')!r}")
        for flag in ("urgent", "needs_review"):
            if not isinstance(r.get(flag, False), bool):
                problems.append(f"{where}.{flag}: must be true or false, got {r[flag]!r}")
        _check_condition(r.get("when"), f"{where}.when", _INPUT_KEYS, ctx, problems)
        rules.append(Rule(id=str(r.get("id")), when=r.get("when") or {}, tier=r.get("tier"),
                          urgent=bool(r.get("urgent", False)), needs_review=bool(r.get("needs_review", False)),
                          description=_texts(r.get("description"), f"{where}.description", problems)))
    if raw_rules and (raw_rules[-1].get("when") if isinstance(raw_rules[-1], Mapping) else None) != {"always": True}:
        problems.append("rules: the last rule must have when: {always: true}, so every resident gets a rule")

    psych: list[tuple[str, Mapping]] = []
    for i, entry in enumerate(_ordered_list(raw, "psych_status", problems)):
        where = f"psych_status[{i}]"
        if not isinstance(entry, Mapping) or entry.get("status") not in PSYCH_STATUSES:
            problems.append(f"{where}.status: must be one of {list(PSYCH_STATUSES)}")
            continue
        _check_condition(entry.get("when"), f"{where}.when", _INPUT_KEYS | {"rule", "tier", "urgent", "needs_review"},
                         ctx, problems)
        psych.append((entry["status"], entry.get("when") or {}))
    if sorted({s for s, _ in psych}) != sorted(PSYCH_STATUSES):
        problems.append(f"psych_status: must give a rule for each of {list(PSYCH_STATUSES)}")

    categories: list[tuple[str, tuple[str, ...], Mapping[str, str]]] = []
    for i, cat in enumerate(_ordered_list(raw, "disease_categories", problems)):
        where = f"disease_categories[{i}]"
        if not isinstance(cat, Mapping) or not isinstance(cat.get("id"), str):
            problems.append(f"{where}: must be {{id, conditions, en, zh}}")
            continue
        conds = cat.get("conditions")
        if not isinstance(conds, list) or any(c not in CONDITIONS for c in conds):
            problems.append(f"{where}.conditions: must list chronic conditions among {list(CONDITIONS)}, got {conds!r}")
            conds = []
        categories.append((cat["id"], tuple(conds), _texts(cat, where, problems)))
    if categories and categories[-1][1]:
        problems.append("disease_categories: the last category must have conditions: [] (residents with none of the others)")
    if len({c[0] for c in categories}) != len(categories):
        problems.append("disease_categories: ids must be distinct")

    services: dict[str, dict[str, str]] = {}
    cells = [f"{c[0]}-{s}" for c in categories for s in PSYCH_STATUSES]
    raw_services = raw["services"] if isinstance(raw["services"], Mapping) else {}
    for cell in cells:
        if cell not in raw_services:
            problems.append(f"services.{cell}: every cell of the service matrix needs a named service package")
        else:
            services[cell] = _texts(raw_services[cell], f"services.{cell}", problems)
    for cell in sorted(set(raw_services) - set(cells)):
        problems.append(f"services.{cell}: not a cell of the matrix (cells: {cells})")

    next_contact: list[tuple[Mapping, int]] = []
    raw_next = _ordered_list(raw, "next_contact", problems)
    for i, entry in enumerate(raw_next):
        where = f"next_contact[{i}]"
        days = entry.get("days") if isinstance(entry, Mapping) else None
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            problems.append(f"{where}.days: must be a whole number of days >= 0, got {days!r}")
            continue
        _check_condition(entry.get("when"), f"{where}.when", {"always"} | _OUTPUT_KEYS, ctx, problems)
        next_contact.append((entry.get("when") or {}, days))
    if raw_next and (raw_next[-1].get("when") if isinstance(raw_next[-1], Mapping) else None) != {"always": True}:
        problems.append("next_contact: the last entry must have when: {always: true}, so every resident gets a date")

    if problems:
        return None
    return Policy(id=raw["id"], version=raw["version"], description=description, source=raw["source"].strip(),
                  thresholds=thresholds, rules=tuple(rules), psych_status=tuple(psych),
                  disease_categories=tuple(categories), services=services, next_contact=tuple(next_contact),
                  path=path)


# --- evaluating conditions -----------------------------------------------------------------

def evaluate(cond: Mapping[str, Any], frame: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Where ``cond`` holds, as a boolean array; every key must hold (AND), ``any_of`` is OR.

    ``frame`` has the scored columns (``{id}_score``, ``{id}_n_answered``, flag columns) and,
    for output conditions, the columns decided so far (``tier``, ``urgent``, ``rule`` ...).
    A score that is missing never meets a threshold.
    """
    n = len(frame)
    result = np.ones(n, dtype=bool)
    for key, value in cond.items():
        if key == "always":
            part = np.ones(n, dtype=bool)
        elif key == "flag":
            part = frame[value].fillna(False).to_numpy(dtype=bool)
        elif key == "flag_unknown":
            part = frame[value].isna().to_numpy()
        elif key == "given":
            part = frame[f"{value}_n_answered"].to_numpy() > 0
        elif key == "none_scorable":
            part = np.logical_and.reduce([frame[f"{i}_score"].isna().to_numpy() for i in value])
        elif key == "any_scorable":
            part = np.logical_or.reduce([frame[f"{i}_score"].notna().to_numpy() for i in value])
        elif key == "all_scorable":
            part = np.logical_and.reduce([frame[f"{i}_score"].notna().to_numpy() for i in value])
        elif key == "at_least":
            part = np.logical_or.reduce([(frame[f"{i}_score"] >= t).to_numpy()
                                         for i, t in policy.thresholds[value].items()])
        elif key == "any_of":
            part = np.logical_or.reduce([evaluate(sub, frame, policy) for sub in value])
        else:  # an output column equal to one of the given values
            values = value if isinstance(value, list) else [value]
            column = frame[key]
            part = column.isin(values).to_numpy() if None not in values else (column.isin(values) | column.isna()).to_numpy()
        result &= part
    return result
