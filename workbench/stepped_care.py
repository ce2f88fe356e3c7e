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
from workbench.policy import CONDITIONS, PSYCH_STATUSES, Policy, evaluate, load_policy
from workbench.scoring import score_all

__all__ = ["ASSIGNMENT_COLUMNS", "AssignmentError", "assign_tiers", "decide", "screen"]

#: Columns :func:`assign_tiers` adds, in order.
ASSIGNMENT_COLUMNS = ["tier", "urgent", "needs_review", "rule", "psych_status", "disease_category",
                      "service_cell", "service", "next_contact_due", "policy_version"]


class AssignmentError(ValueError):
    """Input that stepped care cannot use; lists every bad cell (row, column, value, rule)."""

    def __init__(self, problems: list[tuple]):
        self.problems = pd.DataFrame(problems, columns=["row", "column", "value", "rule"])
        lines = [f"- row {r!r}, column {c!r}: value {v!r} {rule}" for r, c, v, rule in problems[:200]]
        if len(problems) > 200:
            lines.append(f"- ... and {len(problems) - 200} more (see .problems)")
        super().__init__(f"{len(problems)} problem(s); no tier was assigned:\n" + "\n".join(lines))


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


def decide(screened: pd.DataFrame, *, by: str, at: dt.datetime | str | pd.Timestamp,
           overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """Record a person's decision on each suggested tier: confirmed, or overridden with a reason.

    Parameters
    ----------
    screened : DataFrame
        Output of :func:`screen` or :func:`assign_tiers` (``tier``, ``rule``, ``policy_version``).
    by : str
        Who decides (a user name); required.
    at : datetime or str
        When the decision is made; required (there is no hidden "now").
    overrides : DataFrame, optional
        Rows (by label of ``screened``) whose tier the person changes: columns ``tier`` (1, 2,
        3) and ``reason`` (required, non-empty). Rows not listed are confirmed as suggested.

    Returns
    -------
    DataFrame
        Same index as ``screened``: ``suggested_tier``, ``tier`` (the decision),
        ``overridden`` (bool), ``override_reason``, ``rule``, ``policy_version``,
        ``decided_by``, ``decided_at``. The registry stores these rows as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> screened = pd.DataFrame({"tier": pd.array([1, 2], dtype="Int8"), "rule": ["universal", "screen_positive"],
    ...                          "policy_version": "default@1.0"})
    >>> change = pd.DataFrame({"tier": [2], "reason": ["recent bereavement; lives alone"]}, index=[0])
    >>> decide(screened, by="dr_wang", at="2025-06-02 10:30", overrides=change)[["suggested_tier", "tier", "overridden"]]
       suggested_tier  tier  overridden
    0               1     2        True
    1               2     2       False
    """
    if not isinstance(by, str) or not by.strip():
        raise ValueError(f"The 'by' parameter of decide must be a non-empty str (who decides). Got {by!r} instead.")
    when = pd.Timestamp(at) if at is not None else pd.NaT
    if pd.isna(when):
        raise ValueError(f"The 'at' parameter of decide must be a date-time. Got {at!r} instead.")
    for col in ("tier", "rule", "policy_version"):
        if col not in screened.columns:
            raise ValueError(f"The 'screened' parameter of decide must have the column {col!r} (output of screen).")
    out = pd.DataFrame({"suggested_tier": screened["tier"].astype("Int8"), "tier": screened["tier"].astype("Int8"),
                        "overridden": False, "override_reason": pd.Series(pd.NA, index=screened.index, dtype="string"),
                        "rule": screened["rule"], "policy_version": screened["policy_version"],
                        "decided_by": by, "decided_at": when}, index=screened.index)
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
        raise AssignmentError(problems)
    return out
