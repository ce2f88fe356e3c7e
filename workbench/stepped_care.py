"""Stepped care: from scores to a suggested tier, a service-matrix cell and the next contact.

The rules, thresholds, service packages and contact intervals are all in the policy file
(:mod:`workbench.policy`); this module only applies them, vectorised, and records the policy
version and the rule that fired with every suggestion. A person confirms or overrides the
suggestion (:func:`decide`); both are kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.params import Predicate, validate_params
from workbench.policy import CONDITIONS, PSYCH_STATUSES, Policy, evaluate, load_policy
from workbench import screening_thresholds
from workbench.problems import ProblemsError
from workbench.screening_thresholds import ThresholdError, threshold_range
from workbench.scoring import score_all

__all__ = ["ASSIGNMENT_COLUMNS", "AssignmentError", "DECISION_COLUMNS", "ThresholdError", "assign_tiers", "check_thresholds",
           "decide", "screen", "threshold_range", "what_if"]

#: Columns :func:`assign_tiers` adds, in order.
ASSIGNMENT_COLUMNS = ["tier", "urgent", "needs_review", "rule", "psych_status", "disease_category",
                      "service_cell", "service", "next_contact_due", "policy_version"]


class AssignmentError(ProblemsError):
    """Input that stepped care cannot use; :attr:`problems` lists every bad cell (table, row,
    column, value, rule); no tier was assigned."""

    def __init__(self, problems: list[tuple], *, table: str = "screenings"):
        super().__init__([(table, *p) if len(p) == 4 else p for p in problems], context="stepped care",
                         outcome="no tier was assigned")


def _bad_rows(frame: pd.DataFrame, mask: np.ndarray, column: str, rule: str) -> list[tuple]:
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    values = frame[column].iloc[rows].to_numpy(dtype=object)
    return [(frame.index[i], column, value, rule) for i, value in zip(rows, values)]


def _prepare(scored: pd.DataFrame, policy: Policy) -> tuple[pd.DataFrame, pd.Series]:
    """The columns the policy reads, with absent questionnaires as 'not given'; checked."""
    problems: list[tuple] = []
    work = pd.DataFrame(index=scored.index)
    for inst_id in policy.instruments:
        inst = get_instrument(inst_id)
        given = f"{inst_id}_score" in scored.columns
        work[f"{inst_id}_score"] = scored[f"{inst_id}_score"].astype("float64") if given else np.nan
        work[f"{inst_id}_n_answered"] = scored[f"{inst_id}_n_answered"].to_numpy() if given else 0
        for crit in inst.critical_items:
            col = f"{inst_id}_{crit.flag}"
            work[col] = scored[col].astype("boolean") if given else pd.array([pd.NA] * len(scored), dtype="boolean")
    if "assessed_on" not in scored.columns:
        raise AssignmentError([(None, "assessed_on", None, "is absent: the assessment date is needed for the next contact")])
    assessed = pd.to_datetime(scored["assessed_on"], errors="coerce")
    problems += _bad_rows(scored, assessed.isna().to_numpy(), "assessed_on", "is not a date (YYYY-MM-DD)")
    for cond in CONDITIONS:
        if cond not in scored.columns:
            work[cond] = False  # an absent column means the condition is not recorded as present
            continue
        column = scored[cond]
        if pd.api.types.is_bool_dtype(column.dtype) and not column.hasnans:
            work[cond] = column.to_numpy(dtype=bool)
            continue
        as_bool = column.map({True: True, False: False, 1: True, 0: False, "True": True, "False": False,
                              "true": True, "false": False}, na_action="ignore")
        bad = as_bool.isna().to_numpy()
        problems += _bad_rows(scored, bad, cond, "must be True or False (a blank is not allowed: record the condition)")
        work[cond] = as_bool.astype("boolean").fillna(False).to_numpy(dtype=bool)
    if problems:
        raise AssignmentError(problems)
    return work, assessed.dt.normalize()


def _first_match(conditions: Iterable, work: pd.DataFrame, policy: Policy) -> np.ndarray:
    """Index of the first condition that holds per row (-1 where none does)."""
    choice = np.full(len(work), -1, dtype=np.int64)
    for k, cond in enumerate(conditions):
        hit = (choice == -1) & evaluate(cond, work, policy)
        choice[hit] = k
    return choice


def assign_tiers(scored: pd.DataFrame, *, policy: str | Policy = "default", lang: str = "en") -> pd.DataFrame:
    """Suggest a tier, service-matrix cell and next contact for already scored assessments.

    Parameters
    ----------
    scored : DataFrame
        One row per screening with the prefixed score columns of :func:`workbench.score_all`
        (``phq9_score``, ``phq9_n_answered``, ``phq9_self_harm``, ``gad7_score`` ...; a
        questionnaire whose columns are absent counts as not given), ``assessed_on`` (date) and
        the chronic-condition columns ``hypertension, diabetes, chd, stroke, copd, asthma``
        (True/False; an absent column means False, a blank cell is an error).
    policy : str, path or Policy
        A shipped policy id (``"default"``), a policy YAML file, or a loaded policy.
    lang : {"en", "zh"}
        Language of the ``service`` text.

    Returns
    -------
    DataFrame
        Same index as ``scored``, columns ``tier`` (Int8: 1, 2, 3; NA when not scorable),
        ``urgent``, ``needs_review`` (bool), ``rule`` (id of the rule that fired),
        ``psych_status`` (normal / subclinical / clinical; NA when unknown),
        ``disease_category`` (A / B / C / none), ``service_cell`` (e.g. ``A-clinical``),
        ``service`` (the cell's service package), ``next_contact_due`` (date) and
        ``policy_version`` (``id@version``).

    Raises
    ------
    AssignmentError
        If a date or a condition cell is unusable; every bad cell is named, nothing is assigned.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"phq9_score": [3.0, 12.0, 6.0], "phq9_n_answered": [9, 9, 9],
    ...                        "phq9_self_harm": pd.array([False, False, True]),
    ...                        "assessed_on": ["2025-03-01"] * 3, "diabetes": [False, True, False]})
    >>> assign_tiers(scored)[["tier", "rule", "service_cell", "next_contact_due"]]
       tier             rule   service_cell next_contact_due
    0     1        universal    none-normal       2026-03-01
    1     2  screen_positive     B-clinical       2025-03-15
    2     3        self_harm  none-clinical       2025-03-01
    """
    policy = load_policy(policy)
    work, assessed = _prepare(scored, policy)
    rules = policy.rules
    fired = _first_match([r.when for r in rules], work, policy)
    tiers = np.array([np.nan if r.tier is None else r.tier for r in rules])[fired]
    work["tier"] = pd.array(np.where(np.isnan(tiers), pd.NA, tiers), dtype="Int8")
    work["urgent"] = np.array([r.urgent for r in rules])[fired]
    work["needs_review"] = np.array([r.needs_review for r in rules])[fired]
    work["rule"] = pd.Categorical.from_codes(fired, categories=[r.id for r in rules])

    status_at = _first_match([c for _, c in policy.psych_status], work, policy)
    status_names = np.array([s for s, _ in policy.psych_status] + [None], dtype=object)[status_at]
    work["psych_status"] = pd.Categorical(status_names, categories=list(PSYCH_STATUSES))

    category = np.full(len(work), len(policy.disease_categories) - 1, dtype=np.int64)
    for k in range(len(policy.disease_categories) - 2, -1, -1):  # first match wins: fill in reverse
        _, conds, _ = policy.disease_categories[k]
        category[np.logical_or.reduce([work[c].to_numpy() for c in conds])] = k
    category_ids = [c[0] for c in policy.disease_categories]
    work["disease_category"] = pd.Categorical.from_codes(category, categories=category_ids)

    cells = [f"{c}-{s}" for c in category_ids for s in PSYCH_STATUSES]
    cell_code = np.where(status_at >= 0, category * len(PSYCH_STATUSES)
                         + pd.Categorical(status_names, categories=list(PSYCH_STATUSES)).codes, -1)
    work["service_cell"] = pd.Categorical.from_codes(cell_code, categories=cells)
    work["service"] = pd.Categorical.from_codes(cell_code, categories=[policy.services[c][lang] for c in cells])

    due_at = _first_match([c for c, _ in policy.next_contact], work, policy)
    days = np.array([d for _, d in policy.next_contact])[due_at]
    work["next_contact_due"] = assessed + pd.to_timedelta(days, unit="D")
    work["policy_version"] = pd.Categorical([policy.label] * len(work))
    out = work[ASSIGNMENT_COLUMNS]
    out.attrs.update({"policy": policy.label, "thresholds": {k: dict(v) for k, v in policy.thresholds.items()}})
    return out


def screen(data: pd.DataFrame, *, policy: str | Policy = "default", missing: str | int = "default",
           missing_codes: Iterable = (), lang: str = "en") -> pd.DataFrame:
    """Score every questionnaire present in ``data`` and suggest a tier for every row.

    Parameters
    ----------
    data : DataFrame
        One row per screening: item columns ``{instrument}_{n}`` of any declared
        questionnaires, ``assessed_on`` and the chronic-condition columns (see
        :func:`assign_tiers`).
    policy, lang
        As in :func:`assign_tiers`.
    missing, missing_codes
        As in :func:`workbench.score`.

    Returns
    -------
    DataFrame
        Same index as ``data``: the prefixed scores of :func:`workbench.score_all` followed by
        the columns of :func:`assign_tiers`.

    Raises
    ------
    ResponseError
        If any answer cannot be scored (every bad cell named; nothing assigned).
    AssignmentError
        If a date or condition cell is unusable.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({f"phq9_{n}": [1, 2] for n in range(1, 10)})
    >>> data["phq9_9"] = [0, None]
    >>> data["assessed_on"] = "2025-06-02"
    >>> screen(data)[["phq9_score", "phq9_self_harm", "tier", "rule", "needs_review"]]
       phq9_score  phq9_self_harm  tier               rule  needs_review
    0         8.0           False     1          universal         False
    1        18.0            <NA>     2  self_harm_unknown          True
    """
    scores = score_all(data, missing=missing, missing_codes=missing_codes)
    context = [c for c in ("assessed_on", *CONDITIONS) if c in data.columns]
    assignment = assign_tiers(pd.concat([scores, data[context]], axis=1), policy=policy, lang=lang)
    out = pd.concat([scores, assignment], axis=1)
    out.attrs.update(assignment.attrs)
    return out


#: Columns of :func:`decide`: the ``decisions`` analysis table without its id, in order.
DECISION_COLUMNS = ["resident_id", "assessed_on", "suggested_tier", "tier", "rule", "urgent", "needs_review",
                    "psych_status", "disease_category", "service_cell", "service", "next_contact_due", "policy_version",
                    "decided_by", "decided_at", "overridden", "override_reason"]


def _per_row(value) -> list:
    return list(value) if isinstance(value, (pd.Series, list, tuple)) else [value]


def _moments(value) -> bool:
    return not pd.to_datetime(pd.Series(_per_row(value)), errors="coerce").isna().any()


#: The parameters of :func:`decide`: who decides and when, on the output of :func:`screen`.
DECIDE = {"screened": Predicate(lambda s: isinstance(s, pd.DataFrame)
                                and {"tier", "rule", "policy_version"} <= set(s.columns),
                                "the output of screen (with the columns 'tier', 'rule' and 'policy_version')"),
          "by": Predicate(lambda v: all(isinstance(b, str) and bool(b.strip()) for b in _per_row(v)),
                          "a non-empty str (who decides), or one per row"),
          "at": Predicate(_moments, "a date-time, or one per row")}


@validate_params(DECIDE)
def decide(screened: pd.DataFrame, *, by: str | pd.Series, at: dt.datetime | str | pd.Timestamp | pd.Series,
           overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """Record a person's decision on each suggested tier: confirmed, or overridden with a reason.

    Parameters
    ----------
    screened : DataFrame
        Output of :func:`screen` or :func:`assign_tiers` (``tier``, ``rule``, ``policy_version``,
        ``urgent``, ``needs_review``, the service-matrix columns and ``next_contact_due``), with
        ``resident_id`` and ``assessed_on`` of each screening when known.
    by : str or Series
        Who decides (a user name); required. A Series gives one per row.
    at : datetime, str or Series
        When the decision is made; required (there is no hidden "now"). Read as UTC when it has
        no time zone. A Series gives one per row.
    overrides : DataFrame, optional
        Rows (by label of ``screened``) whose tier the person changes: columns ``tier`` (1, 2,
        3) and ``reason`` (required, non-empty). Rows not listed are confirmed as suggested.

    Returns
    -------
    DataFrame
        Same index as ``screened``, columns :data:`DECISION_COLUMNS`: the rows of the
        ``decisions`` analysis table exactly as the registry stores them (it adds only
        ``decision_id``): ``suggested_tier``, ``tier`` (the decision), ``overridden``,
        ``override_reason``, who and when, and the suggestion's rule, urgency, service and next
        contact. A column the input lacks is blank.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({f"phq9_{n}": [0, 2 if n <= 5 else 0] for n in range(1, 10)})
    >>> data["assessed_on"] = "2025-06-02"
    >>> screened = screen(data)  # PHQ-9 0 and 10
    >>> change = pd.DataFrame({"tier": [2], "reason": ["recent bereavement; lives alone"]}, index=[0])
    >>> decide(screened, by="dr_wang", at="2025-06-02 10:30", overrides=change)[
    ...     ["suggested_tier", "tier", "overridden", "decided_by"]]
       suggested_tier  tier  overridden decided_by
    0               1     2        True    dr_wang
    1               2     2       False    dr_wang
    """
    who = by if isinstance(by, pd.Series) else pd.Series(by, index=screened.index)
    when = pd.to_datetime(at if isinstance(at, pd.Series) else pd.Series(at, index=screened.index))
    when = when.dt.tz_localize("UTC") if when.dt.tz is None else when.dt.tz_convert("UTC")
    out = pd.DataFrame(index=screened.index)
    for col in DECISION_COLUMNS:
        if col in ("suggested_tier", "tier"):
            out[col] = screened["tier"].astype("Int8")
        elif col == "decided_by":
            out[col] = who.astype("string").str.strip()
        elif col == "decided_at":
            out[col] = when.to_numpy() if len(when) else pd.Series(dtype="datetime64[ns, UTC]")
            out[col] = out[col].astype("datetime64[ns, UTC]")
        elif col == "overridden":
            out[col] = False
        elif col == "override_reason":
            out[col] = pd.Series(pd.NA, index=screened.index, dtype="string")
        elif col in screened.columns:
            values = screened[col]
            out[col] = values.astype("string") if isinstance(values.dtype, pd.CategoricalDtype) else values
        else:
            out[col] = pd.NA
    if overrides is None or len(overrides) == 0:
        return out
    problems: list[tuple] = []
    for label, row in overrides.iterrows():
        tier, reason = row.get("tier"), row.get("reason")
        if label not in screened.index:
            problems.append((label, "row", label, "is not a row of the screened data"))
            continue
        if pd.isna(tier) or tier not in (1, 2, 3):
            problems.append((label, "tier", tier, "must be 1, 2 or 3"))
            continue
        if not isinstance(reason, str) or not reason.strip():
            problems.append((label, "reason", reason, "is required: say why the suggested tier is changed"))
            continue
        out.loc[label, ["tier", "override_reason"]] = [int(tier), reason.strip()]
        out.loc[label, "overridden"] = int(tier) != out.loc[label, "suggested_tier"] \
            if pd.notna(out.loc[label, "suggested_tier"]) else True
    if problems:
        raise AssignmentError(problems, table="overrides")
    return out


def what_if(tables, *, policy: str | Policy, lang: str = "en") -> pd.DataFrame:
    """The tiers another policy would suggest for the stored screenings: a simulation for
    planning (say, a screen-positive threshold of 7 instead of 10), never a record. It reads the
    STORED scores (nothing is scored again) and leaves the recorded decisions as they are.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables.
    policy : str, path or Policy
        The policy to try.

    lang : {"zh", "en"}
        Language of the service texts and of a refusal.

    Returns
    -------
    DataFrame
        One row per screening: ``resident_id, assessed_on``, ``recorded_tier`` (the decision on
        record, blank when none) and the columns of :func:`assign_tiers` under ``policy``.
        ``attrs``: ``policy`` (the one tried) and ``recorded_policies`` (those of the record).

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.policy import load_policy
    >>> t = load_sample()
    >>> base = what_if(t, policy="default")
    >>> bool((base["tier"] == base["recorded_tier"]).all())  # the record was decided by that policy
    True

    A screen-positive threshold outside the plausible range (:func:`threshold_range`) is refused:

    >>> from workbench.policy import derive_policy
    >>> what_if(t, policy=derive_policy("default", id="x", version="1",
    ...         thresholds={"screen_positive": {"phq9": 25}}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.screening_thresholds.ThresholdError: PHQ-9 screen-positive threshold 25 is refused: a plausible one is 5 to 20 ...
    """
    policy = load_policy(policy)
    check_thresholds(policy, lang=lang)
    flags = sorted({c.flag for i in policy.instruments for c in get_instrument(i).critical_items})
    wide = tables.scores_wide(list(policy.instruments), purpose="screening",
                              columns=("score", "n_answered", *flags))
    for inst_id in policy.instruments:  # a questionnaire not given that day: nothing answered
        if f"{inst_id}_n_answered" in wide.columns:
            wide[f"{inst_id}_n_answered"] = wide[f"{inst_id}_n_answered"].fillna(0)
    people = tables.residents.set_index("resident_id")
    for condition in CONDITIONS:
        wide[condition] = wide["resident_id"].map(people[condition]).fillna(False).astype(bool)
    suggested = assign_tiers(wide, policy=policy, lang=lang)
    record = tables.screenings(list(policy.instruments))[["resident_id", "assessed_on", "tier"]]
    out = wide[["resident_id", "assessed_on"]].merge(record.rename(columns={"tier": "recorded_tier"}),
                                                     on=["resident_id", "assessed_on"], how="left")
    out = pd.concat([out, suggested.reset_index(drop=True)], axis=1)
    out.attrs.update(policy=policy.label, recorded_policies=tables.policy_versions)
    return out


# --- plausible screen-positive thresholds (workbench.screening_thresholds) ----------------------

def check_thresholds(policy: str | Policy, *, lang: str = "en") -> None:
    """Refuse a policy whose ``screen_positive`` thresholds are outside their plausible range
    (:func:`threshold_range`), naming the questionnaire, the value, the range and its source.
    A questionnaire with no declared range is left to the policy's own check (within its totals).

    Examples
    --------
    >>> check_thresholds("default") is None
    True
    """
    screening_thresholds.check(load_policy(policy).thresholds, lang=lang)
