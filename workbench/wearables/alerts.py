"""Wearable alerts as policy data: a flag for a person to act on, with the reason shown; never a diagnosis.

A wearable alert policy is a versioned YAML file (the default ships as
``workbench/policies/wearables_default.yaml``; schema in ``workbench/policies/README.md``,
"Wearable alert policies"), validated completely when loaded (:func:`load_wearable_policy`).
:func:`apply_alerts` applies it to the daily features with their personal baseline
(:func:`workbench.wearables.features.personal_baseline`); :func:`alert_reason` says why.

The states of a day (``alert_state``):

- ``flag``: a rule fired (at least ``min_nights`` of its last ``nights`` nights low);
- ``low_wear``: the day's night lacks the wear or the data its rule needs, or the rule could still
  fire if the nights without enough wear had been low: too little wear to tell, never ``clear``;
- ``no_baseline``: worn, but too few baseline days (or a night of the window lacks a baseline and
  could have decided the rule);
- ``clear``: the day's night counted and the rule cannot fire whatever the uncounted nights were.

The first rule decides ``clear`` / ``low_wear`` / ``no_baseline``; a later rule can only add a flag.
``nights_low`` and ``nights_valid`` are those of the rule named in ``rule`` (the first that fired,
else the first). A day without a row in ``days`` is a night without wear.

Examples
--------
>>> p = load_wearable_policy("wearables_default")
>>> p.version, [r.id for r in p.rules], p.baseline_window, p.baseline_min_days, p.baseline_gap_days
('wearables_default@1.1', ['rmssd_low', 'resting_hr_high_low_steps'], 28, 14, 7)
>>> p.rules[0].description["zh"]
'最近4晚中至少3晚夜间心率变异性（RMSSD）比本人基线低2个标准差以上'
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench._declarations import IDENT, load_policy_file, texts, unknown_keys, whole
from workbench._errors import RowProblemsError
from workbench.params import FRAME, Either, Instance, Options, Predicate, validate_params
from workbench.wearables._arrays import DAY_NS
from workbench.wearables.feature_settings import Z_COLUMNS, FeatureSettings, load_feature_settings

__all__ = ["ALERT_STATES", "AlertRule", "WEAR_STATES", "WearablePolicy", "WearablePolicyError", "alert_reason",
           "apply_alerts", "load_wearable_policy"]

#: ``alert_state`` values.
ALERT_STATES = ("flag", "clear", "low_wear", "no_baseline")
#: ``wear_state`` values.
WEAR_STATES = ("worn", "low_wear", "not_worn")
_FEATURE_OF = {z: f for f, z in Z_COLUMNS.items()}
_TOP_KEYS = {"id", "version", "description", "source", "sources", "statement", "baseline", "rules", "states"}
#: The numbers a reason or state text may show (from the row, the rule and the policy).
PLACEHOLDERS = ("nights", "min_nights", "nights_low", "nights_valid", "threshold", "window", "gap_days", "min_days",
                "baseline_days", "night_wear_minutes", "min_wear_minutes", "rmssd", "rmssd_z", "resting_hr",
                "resting_hr_z", "steps", "steps_z", "sleep_minutes", "sleep_z")


class WearablePolicyError(ValueError):
    """A wearable alert policy breaks a rule; the message names every key that is wrong."""


@dataclass(frozen=True)
class AlertRule:
    """A rule: fires when at least ``min_nights`` of the last ``nights`` nights meet every condition
    ``(column, "at_most" | "at_least", bound)``."""

    id: str
    when: tuple[tuple[str, str, float], ...]
    nights: int
    min_nights: int
    source: str
    description: Mapping[str, str]
    reason: Mapping[str, str]


@dataclass(frozen=True)
class WearablePolicy:
    """A validated wearable alert policy (build it with :func:`load_wearable_policy`)."""

    id: str
    revision: str
    description: Mapping[str, str]
    source: str
    sources: Mapping[str, str]
    statement: Mapping[str, str]
    baseline_window: int
    baseline_min_days: int
    rules: tuple[AlertRule, ...]
    states: Mapping[str, Mapping[str, str]]
    path: Path | None
    baseline_gap_days: int = 0
    baseline_centre: str = "mean"

    @property
    def version(self) -> str:
        """``id@version``, recorded with every day."""
        return f"{self.id}@{self.revision}"

    def rule(self, rule_id: str) -> AlertRule:
        """The rule with this id."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"policy {self.version} has no rule {rule_id!r}")

    def __repr__(self) -> str:
        return f"WearablePolicy({self.version!r}, rules={[r.id for r in self.rules]})"


POLICY = Either(Predicate(lambda v: isinstance(v, str) and bool(v), "a policy name"),
                Instance("pathlib.Path", "collections.abc.Mapping", "workbench.wearables.alerts.WearablePolicy", name=""),
                words="a wearable alert policy: a shipped name ('wearables_default'), a YAML path, a mapping or a "
                      "WearablePolicy")


@validate_params({"policy": POLICY})
def load_wearable_policy(policy: "str | Path | Mapping | WearablePolicy" = "wearables_default") -> WearablePolicy:
    """A wearable alert policy: a shipped one by name (``"wearables_default"`` or ``"default"``), a
    YAML file by path, a mapping with the file's keys, or ``policy`` itself if already loaded.

    Raises
    ------
    WearablePolicyError
        Naming every key that is wrong and what is wrong with it.

    Examples
    --------
    >>> load_wearable_policy({"id": "x", "version": "1"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.wearables.alerts.WearablePolicyError: policy mapping: 10 problem(s) in the wearable alert policy:
    - description: must map each language ['en', 'zh'] to a text
    ...
    """
    return load_policy_file(policy, kind=WearablePolicy, prefix="wearables_", what="wearable alert policy",
                            error=WearablePolicyError, build=_build)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _templates(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    out = texts(value, where, problems)
    for lang, text in out.items():
        try:
            unknown = _placeholders(text) - set(PLACEHOLDERS)
        except ValueError as err:
            problems.append(f"{where}.{lang}: not a valid template ({err})")
            continue
        if unknown:
            problems.append(f"{where}.{lang}: unknown placeholder(s) {sorted(unknown)} (known: {list(PLACEHOLDERS)})")
    return out


def _build(raw: Any, path: Path | None, problems: list[str]) -> WearablePolicy | None:
    if not isinstance(raw, Mapping):
        problems.append("the file must be a mapping of the keys " + str(sorted(_TOP_KEYS)))
        return None
    unknown_keys(raw, _TOP_KEYS, "policy", problems)
    pid = raw.get("id")
    if not isinstance(pid, str) or not IDENT.match(pid):
        problems.append(f"id: must be a lower-case identifier; got {pid!r}")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(f"version: must be a text (quote it: \"1.0\"); got {version!r}")
    description = texts(raw.get("description"), "description", problems)
    statement = texts(raw.get("statement"), "statement", problems)
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append("source: must say where the rules and numbers come from")
    sources = raw.get("sources")
    if not isinstance(sources, Mapping) or not sources or not all(isinstance(v, str) and v.strip() for v in sources.values()):
        problems.append("sources: must map each source key to its citation text")
        sources = {}

    def cited(entry: Mapping, where: str) -> str:
        if entry.get("source") not in sources:
            problems.append(f"{where}.source: {entry.get('source')!r} is not a key of sources (known: {sorted(sources)})")
            return ""
        return str(entry["source"])

    baseline = raw.get("baseline")
    window = min_days = gap = 0
    centre = "mean"
    if not isinstance(baseline, Mapping):
        problems.append("baseline: must be {window_days, min_days, gap_days, centre, source}")
    else:
        unknown_keys(baseline, {"window_days", "min_days", "gap_days", "centre", "source"}, "baseline", problems)
        gap, centre = baseline.get("gap_days", 0), baseline.get("centre", "mean")
        if not whole(gap, 0) or gap > 60:
            problems.append(f"baseline.gap_days: must be a whole number in [0, 60]; got {gap!r}")
            gap = 0
        if centre not in ("mean", "median"):
            problems.append(f"baseline.centre: must be mean (mean and SD) or median (median and 1.4826 * MAD); "
                            f"got {centre!r}")
            centre = "mean"
        window, min_days = baseline.get("window_days"), baseline.get("min_days")
        if not whole(window, 2) or window > 127:
            problems.append(f"baseline.window_days: must be a whole number in [2, 127]; got {window!r}")
            window = 0
        if not whole(min_days, 2) or (window and min_days > window):
            problems.append(f"baseline.min_days: must be a whole number from 2 to window_days; got {min_days!r}")
        cited(baseline, "baseline")

    rules: list[AlertRule] = []
    raw_rules = raw.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append("rules: must be a list of at least one rule")
        raw_rules = []
    seen: set[str] = set()
    for i, r in enumerate(raw_rules):
        where = f"rules[{i}]"
        if not isinstance(r, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        unknown_keys(r, {"id", "when", "nights", "min_nights", "source", "description", "reason"}, where, problems)
        rid = r.get("id")
        if not isinstance(rid, str) or not IDENT.match(rid):
            problems.append(f"{where}.id: must be a lower-case identifier; got {rid!r}")
        elif rid in seen:
            problems.append(f"{where}.id: {rid!r} is used twice")
        seen.add(str(rid))
        where = f"rules.{rid}" if isinstance(rid, str) else where
        conditions = []
        when = r.get("when")
        if not isinstance(when, list) or not when:
            problems.append(f"{where}.when: must be a list of {{column, at_most | at_least}}")
            when = []
        for j, c in enumerate(when):
            cw = f"{where}.when[{j}]"
            if not isinstance(c, Mapping):
                problems.append(f"{cw}: must be {{column, at_most | at_least}}")
                continue
            unknown_keys(c, {"column", "at_most", "at_least"}, cw, problems)
            if c.get("column") not in _FEATURE_OF:
                problems.append(f"{cw}.column: must be one of {sorted(_FEATURE_OF)}; got {c.get('column')!r}")
            bounds = [k for k in ("at_most", "at_least") if k in c]
            if len(bounds) != 1 or not _number(c[bounds[0]]):
                problems.append(f"{cw}: needs exactly one of at_most, at_least, a number")
                continue
            conditions.append((str(c.get("column")), bounds[0], float(c[bounds[0]])))
        nights, min_nights = r.get("nights"), r.get("min_nights")
        if not whole(nights, 1) or nights > 28:
            problems.append(f"{where}.nights: must be a whole number in [1, 28]; got {nights!r}")
            nights = 1
        if not whole(min_nights, 1) or min_nights > nights:
            problems.append(f"{where}.min_nights: must be a whole number from 1 to nights ({nights}); got {min_nights!r}")
        rules.append(AlertRule(str(rid), tuple(conditions), nights, min_nights if whole(min_nights, 1) else 1,
                               cited(r, where), texts(r.get("description"), f"{where}.description", problems),
                               _templates(r.get("reason"), f"{where}.reason", problems)))

    states = raw.get("states")
    out_states: dict[str, dict[str, str]] = {}
    if not isinstance(states, Mapping):
        problems.append("states: must give the text of clear, low_wear and no_baseline")
        states = {}
    unknown_keys(states, {"clear", "low_wear", "no_baseline"}, "states", problems)
    for state in ("clear", "low_wear", "no_baseline"):
        out_states[state] = _templates(states.get(state), f"states.{state}", problems)
    if problems:
        return None
    return WearablePolicy(pid, version.strip(), description, source.strip(), dict(sources), statement, window, min_days,
                          tuple(rules), out_states, path, gap, centre)


# --- applying the policy -------------------------------------------------------------------

def _window_sum(grid: np.ndarray, rid: np.ndarray, at: np.ndarray, nights: int) -> np.ndarray:
    """Per row: the sum of ``grid`` over the row's day and the ``nights - 1`` days before it."""
    c = np.concatenate((np.zeros((grid.shape[0], 1)), np.cumsum(grid, axis=1)), axis=1)
    return c[rid, at + 1] - c[rid, np.maximum(at + 1 - nights, 0)]


def _na(days: pd.DataFrame, column: str) -> np.ndarray:
    return days[column].isna().to_numpy(bool)


@validate_params({"days": FRAME, "policy": POLICY,
                  "settings": Either(Options(None), Predicate(lambda v: isinstance(v, (str, Path)) and bool(str(v)), "a path"),
                                     Instance("collections.abc.Mapping", "workbench.wearables.features.FeatureSettings",
                                              name=""), words="None, a settings file, a mapping or FeatureSettings")})
def apply_alerts(days: pd.DataFrame, *, policy: "str | Path | Mapping | WearablePolicy" = "wearables_default",
                 settings: "str | Path | Mapping | FeatureSettings | None" = None) -> pd.DataFrame:
    """The alert state of every resident and day.

    Parameters
    ----------
    days : DataFrame
        :func:`~workbench.wearables.features.daily_features` with
        :func:`~workbench.wearables.features.personal_baseline` (``resident_id``, ``day``,
        ``night_wear_minutes``, the features and z columns the rules read), one row per resident and day.
    policy : str, path, mapping or WearablePolicy, default "wearables_default"
        The alert policy (:func:`load_wearable_policy`).
    settings : optional
        The feature settings, for a ``wear_state`` the days lack (default: ``days.attrs["settings"]``,
        else the shipped ones).

    Returns
    -------
    DataFrame
        ``days`` with ``wear_state`` (kept when present), ``alert_state``, ``flag`` (bool),
        ``nights_low``, ``nights_valid`` (Int8) and ``rule`` (``id@version:rule``) set.

    Notes
    -----
    The module docstring declares the states; a missing night is never counted as normal, and a
    day whose night lacks wear is never ``clear``.

    Examples
    --------
    >>> import pandas as pd
    >>> z = [0.1, -2.5, -2.2, None, -3.0]
    >>> d = pd.DataFrame({"resident_id": "R1", "day": pd.date_range("2025-01-01", periods=5),
    ...                   "night_wear_minutes": [300, 300, 300, 100, 300],
    ...                   "wear_minutes": 900, "baseline_days": 20,
    ...                   "rmssd": [40.0, 20.0, 21.0, None, 18.0], "rmssd_z": z,
    ...                   **dict.fromkeys(["resting_hr", "resting_hr_z", "steps", "steps_z"], None)})
    >>> apply_alerts(d)[["wear_state", "alert_state", "nights_low", "nights_valid", "flag"]]
      wear_state alert_state  nights_low  nights_valid   flag
    0       worn    low_wear           0             1  False
    1       worn    low_wear           1             2  False
    2       worn    low_wear           2             3  False
    3   low_wear    low_wear           2             3  False
    4       worn        flag           3             3   True

    Days 0-2 are not clear: the nights before the data (and the night of day 3) have no wear,
    and had they been low the rule would have fired.
    """
    p = load_wearable_policy(policy)
    missing = [c for c in ("resident_id", "day", "night_wear_minutes") if c not in days.columns]
    for r in p.rules:
        missing += [c for col, _, _ in r.when for c in (col, _FEATURE_OF[col]) if c not in days.columns]
    if missing:
        raise RowProblemsError([(None, c, None, "column missing from the days") for c in dict.fromkeys(missing)],
                               context="the wearable days", table="days")
    out = days.copy()
    n = len(out)
    if "wear_state" not in out.columns or out["wear_state"].isna().any():
        s = load_feature_settings(settings if settings is not None else days.attrs.get("settings"))
        night = out["night_wear_minutes"].to_numpy(dtype=np.float64, na_value=0)
        wear = (out["wear_minutes"].to_numpy(dtype=np.float64, na_value=0) if "wear_minutes" in out.columns
                else np.zeros(n))
        computed = np.where(night >= s.night_min_wear, "worn", np.where((night > 0) | (wear > 0), "low_wear", "not_worn"))
        given = out["wear_state"] if "wear_state" in out.columns else pd.Series(pd.NA, index=out.index, dtype="string")
        out["wear_state"] = pd.array(given.astype("string").fillna(pd.Series(computed, index=out.index)), dtype="string")
    codes, _ = pd.factorize(out["resident_id"], sort=False)
    rid = codes.astype(np.int64)
    dn = out["day"].to_numpy(dtype="datetime64[ns]").view(np.int64) // DAY_NS
    d0 = int(dn.min()) if n else 0
    at = dn - d0
    shape = (int(rid.max()) + 1 if n else 0, int(at.max()) + 1 if n else 0)
    flat = rid * max(shape[1], 1) + at
    dup = np.flatnonzero(np.bincount(flat, minlength=shape[0] * shape[1])[flat] > 1) if n else []
    if len(dup):
        raise RowProblemsError([(out.index[i], "day", str(out["day"].iloc[i])[:10], "more than one row of the "
                                 "resident and day") for i in dup[:1000]], context="the wearable days", table="days")
    state = np.full(n, "clear", dtype=object)
    low_out = np.zeros(n, np.int64)
    valid_out = np.zeros(n, np.int64)
    rule_out = np.full(n, f"{p.version}:{p.rules[0].id}", dtype=object)
    for k, r in enumerate(p.rules):
        known = np.ones(n, bool)
        low = np.ones(n, bool)
        features_present = np.ones(n, bool)
        for col, bound, limit in r.when:
            z = out[col].to_numpy(dtype=np.float64, na_value=np.nan)
            known &= np.isfinite(z)
            low &= (z <= limit) if bound == "at_most" else (z >= limit)
            features_present &= ~_na(out, _FEATURE_OF[col])
        low &= known
        baseline_gap = ~known & features_present
        grids = []
        for flags in (known, low, baseline_gap):
            g = np.zeros(shape)
            g[rid, at] = flags
            grids.append(_window_sum(g, rid, at, r.nights))
        n_known, n_low, n_gap = (np.round(x).astype(np.int64) for x in grids)
        unknown = r.nights - n_known
        fired = n_low >= r.min_nights
        this = np.where(fired, "flag",
                        np.where(~known, np.where(baseline_gap, "no_baseline", "low_wear"),
                                 np.where(n_low + unknown >= r.min_nights,
                                          np.where(unknown > n_gap, "low_wear", "no_baseline"), "clear")))
        if k == 0:
            state[:] = this
            low_out[:], valid_out[:] = n_low, n_known
        else:
            add = fired & (state != "flag")
            state[add] = "flag"
            low_out[add], valid_out[add] = n_low[add], n_known[add]
            rule_out[add] = f"{p.version}:{r.id}"
        if k == 0:
            rule_out[fired] = f"{p.version}:{r.id}"
    out["alert_state"] = pd.array(state.astype(str) if n else np.zeros(0, str), dtype="string")
    out["flag"] = state == "flag"
    out["nights_low"] = pd.array(low_out.astype(np.int8), dtype="Int8")
    out["nights_valid"] = pd.array(valid_out.astype(np.int8), dtype="Int8")
    out["rule"] = pd.array(rule_out.astype(str) if n else np.zeros(0, str), dtype="string")
    return out


def _shown(value: Any, digits: int) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "—"
    return f"{float(value):.{digits}f}"


@validate_params({"lang": Options("en", "zh"), "policy": POLICY})
def alert_reason(row: "pd.Series | Mapping", *, lang: str,
                 policy: "str | Path | Mapping | WearablePolicy" = "wearables_default",
                 settings: "str | Path | Mapping | FeatureSettings | None" = None) -> str:
    """The reason for a day's alert state, from the numbers stored in its row.

    Parameters
    ----------
    row : Series or mapping
        A row of ``wearable_days`` (after :func:`apply_alerts`).
    lang : {"en", "zh"}
    policy : the policy the row was judged by (its ``rule`` must name this policy's version).
    settings : the feature settings (for the wear a night needs; default the shipped ones).

    Examples
    --------
    >>> row = {"alert_state": "flag", "rule": "wearables_default@1.1:rmssd_low", "nights_low": 3,
    ...        "nights_valid": 4, "rmssd": 21.34, "rmssd_z": -2.41, "baseline_days": 26,
    ...        "night_wear_minutes": 350}
    >>> print(alert_reason(row, lang="zh"))
    夜间心率变异性（RMSSD）最近4晚中有3晚低于本人基线（7天以前的28天）2个标准差以上（昨夜RMSSD 21.3毫秒，z = -2.4；佩戴足够的夜晚4晚）。这是提醒工作人员打电话问候的提示，不是诊断。
    """
    p = load_wearable_policy(policy)
    rule_text = str(row["rule"])
    version, _, rule_id = rule_text.rpartition(":")
    if version != p.version:
        raise ValueError(f"The row was judged by {version!r}, not by the policy given ({p.version!r}): pass that policy.")
    r = p.rule(rule_id)
    s = load_feature_settings(settings)
    state = str(row["alert_state"])
    if state not in ALERT_STATES:
        raise ValueError(f"alert_state must be one of {list(ALERT_STATES)}. Got {state!r} instead.")
    get = row.get if hasattr(row, "get") else (lambda k, d=None: row[k] if k in row else d)
    values = {"nights": r.nights, "min_nights": r.min_nights, "threshold": f"{abs(r.when[0][2]):g}",
              "window": p.baseline_window, "gap_days": p.baseline_gap_days, "min_days": p.baseline_min_days, "min_wear_minutes": s.night_min_wear}
    for name in ("nights_low", "nights_valid", "baseline_days", "night_wear_minutes", "steps", "sleep_minutes"):
        values[name] = _shown(get(name), 0)
    for name in ("rmssd", "resting_hr", "rmssd_z", "resting_hr_z", "steps_z", "sleep_z"):
        values[name] = _shown(get(name), 1)
    if state == "flag":
        joiner = "" if lang == "zh" else " "
        return r.reason[lang].format(**values) + joiner + p.statement[lang]
    return p.states[state][lang].format(**values)
