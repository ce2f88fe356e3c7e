"""The save path: answers become stored assessments, their scores, and the tier decisions on them.

This is the one place where answers are scored (with :mod:`workbench.scoring`) and tiers
suggested (with :mod:`workbench.stepped_care`) for keeping: the registry calls it when a
screening is saved or a file imported, the screening app calls it to preview exactly what
saving would store, and the sample and :mod:`workbench.synth` call it to simulate saving. Its
outputs have the shape of the analysis tables (:mod:`workbench.tables`): ``assessments``,
``scores`` and ``decisions``. Analyses read those and never score or decide again.

Examples
--------
>>> import pandas as pd
>>> forms = pd.DataFrame({"resident_id": ["R1"], "assessed_on": ["2025-06-02"],
...                       **{f"phq9_{n}": [2] for n in range(1, 10)}})
>>> forms["phq9_9"] = 1
>>> a = assessments_from_forms(forms, purpose="screening", ids=["A1"])
>>> a[["assessment_id", "instrument", "item_1", "item_9"]]
  assessment_id instrument  item_1  item_9
0            A1       phq9       2       1
>>> s = score_assessments(a, pd.DataFrame({"resident_id": ["R1"], "sex": ["female"]}))
>>> s[["score", "band", "self_harm"]]
   score               band  self_harm
0   17.0  moderately_severe       True
>>> residents = pd.DataFrame({"resident_id": ["R1"], "diabetes": [True]})
>>> d = decide_screenings(a, s, residents, by="counsellor_li", at="2025-06-02 10:00")
>>> d[["suggested_tier", "tier", "rule", "urgent", "service_cell"]]
   suggested_tier  tier       rule  urgent service_cell
0               3     3  self_harm    True   B-clinical
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument, instrument_ids
from workbench.params import Predicate, check
from workbench.problems import ProblemsError

__all__ = ["FORM_CONTEXT", "SavingError", "assessments_from_forms", "decide_screenings", "score_assessments",
           "scoring_version"]

#: Columns of a form (one wide row per sitting) that are not item answers, kept on its assessments.
FORM_CONTEXT = ("resident_id", "assessed_on", "mode", "language", "submission_id", "referral_id", "study", "visit")


class SavingError(ProblemsError):
    """Answers or decisions that cannot be stored; every bad cell is named and nothing is kept."""


def scoring_version(instrument: str) -> str:
    """The version of the rules that score ``instrument`` (declaration and workbench).

    >>> scoring_version("phq9").startswith("phq9@1.0; workbench ")
    True
    """
    import workbench

    inst = get_instrument(instrument)
    return f"{inst.id}@{inst.declaration_version}; workbench {workbench.__version__}"


def _instrument_columns(inst) -> list[str]:
    return list(inst.item_columns) + list(inst.supplementary_columns)


def assessments_from_forms(forms: pd.DataFrame, *, purpose: str | pd.Series, ids: Sequence[str] | None = None,
                           instruments: Iterable[str] | None = None, table: str = "forms",
                           with_forms: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """One assessment per questionnaire given on each form (wide rows: :data:`FORM_CONTEXT` and item
    columns ``{instrument}_{n}``), in the shape of the ``assessments`` table.

    A questionnaire is given on a form when at least one of its items is answered there (its
    blank items stay blank: never zero). Answers are checked by the scoring engine's rules
    (numbers, whole, in the answer range); any bad cell raises :class:`SavingError` naming it.

    Parameters
    ----------
    forms : DataFrame
        One row per sitting; ``resident_id`` and ``assessed_on`` required, the other context
        columns optional.
    purpose : str or Series
        ``screening``, ``review`` or ``study`` (per row when a Series aligned with ``forms``).
    ids : sequence of str, optional
        The new assessments' ids, in output order (the registry assigns its own when None:
        ``assessment_id`` is then blank).
    instruments : iterable of str, optional
        The questionnaires to look for (default: every declared one with item columns in ``forms``).
    with_forms : bool
        Also return the label in ``forms`` of each assessment's form (to name a file's line).
    """
    from workbench.scoring import check_answers, instruments_in
    from workbench.tables import TABLES

    spec = TABLES["assessments"]
    for column in ("resident_id", "assessed_on"):
        if column not in forms.columns:
            raise SavingError([(table, None, column, None, "is missing: every form needs it")], context=table)
    wanted = list(instruments) if instruments is not None else instruments_in(forms)
    unknown = [i for i in wanted if i not in instrument_ids()]
    if unknown:
        raise SavingError([(table, None, "instrument", i, f"is not a declared questionnaire ({', '.join(instrument_ids())})")
                           for i in unknown], context=table)
    problems: list[tuple] = []
    parts = []
    purposes = purpose if isinstance(purpose, pd.Series) else pd.Series(purpose, index=forms.index)
    for inst_id in wanted:
        inst = get_instrument(inst_id)
        columns = [c for c in _instrument_columns(inst) if c in forms.columns]
        if not columns:
            continue
        answered = forms[columns].notna().any(axis=1)
        if not answered.any():
            continue
        given = forms[answered]
        found = check_answers(given, inst)
        problems.extend((table, r.row, r.column, r.value, r.rule) for r in found.itertuples(index=False))
        part = pd.DataFrame({"resident_id": given["resident_id"], "assessed_on": given["assessed_on"],
                             "instrument": inst_id, "instrument_version": inst.declaration_version,
                             "purpose": purposes[answered]}, index=given.index)
        for name in FORM_CONTEXT[2:]:
            part[name] = given[name] if name in given.columns else None
        for name in columns:
            part[f"item_{int(name.rsplit('_', 1)[1])}"] = pd.to_numeric(given[name], errors="coerce")
        part["_form"] = given.index
        parts.append(part)
    if problems:
        raise SavingError(problems, context=table)
    if not parts:
        return (spec.empty(), np.asarray([])) if with_forms else spec.empty()
    out = pd.concat(parts).sort_values(["_form", "instrument"], kind="stable")
    forms_of = out.pop("_form").tolist()
    out = out.reset_index(drop=True)
    if ids is not None:
        check("assessments_from_forms", "ids", ids, Predicate(lambda v: len(v) == len(out),
                                                              f"one id per assessment found ({len(out)})"))
    out.insert(0, "assessment_id", list(ids) if ids is not None else [None] * len(out))
    typed = _typed("assessments", out)
    return (typed, np.asarray(forms_of)) if with_forms else typed


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every declared column of table ``name`` (absent ones blank), typed."""
    from workbench.tables import TABLES, coerce

    spec = TABLES[name]
    blank = pd.Series(None, index=frame.index, dtype=object)
    full = pd.DataFrame({column: frame[column] if column in frame.columns else blank for column in spec.names},
                        index=frame.index)
    typed, problems = coerce(name, full)
    if problems:
        raise SavingError(problems, context=name)
    return typed


def score_assessments(assessments: pd.DataFrame, residents: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score assessments (the ``assessments`` table's shape) by their questionnaires' declared
    rules: the ``scores`` table's rows, one per assessment, in the same order.

    Missing answers are never zero; a questionnaire with too many blanks has no score (``score``
    blank, ``n_answered`` says how many were answered); a critical item left blank makes its flag
    unknown (blank), never False. ``residents`` (``resident_id``, ``sex``) tells whom an item
    applies to (PHQ-15 item 4 only to women: for a man it is not missing, it does not apply);
    without it such an item is missing when blank.
    """
    from workbench.scoring import score
    from workbench.tables import TABLES, _instrument_facts

    spec = TABLES["scores"]
    if len(assessments) == 0:
        return spec.empty()
    facts = _instrument_facts()
    sexes = None
    if residents is not None and "sex" in residents.columns:
        sexes = residents.drop_duplicates("resident_id").set_index("resident_id")["sex"]
    parts = []
    for inst_id, group in assessments.groupby("instrument", sort=False, observed=True):
        inst = get_instrument(inst_id)
        wide = pd.DataFrame({name: group[f"item_{int(name.rsplit('_', 1)[1])}"] for name in _instrument_columns(inst)},
                            index=group.index)
        if sexes is not None and any(item.applies_to for item in inst.items):
            wide["sex"] = group["resident_id"].map(sexes).to_numpy()
        scored = score(wide, inst)
        part = pd.DataFrame({"assessment_id": group["assessment_id"], "resident_id": group["resident_id"],
                             "assessed_on": group["assessed_on"], "instrument": inst_id,
                             "score": scored["score"].astype("float64"),
                             "band": scored["band"].astype("string"), "n_answered": scored["n_answered"],
                             "prorated": scored["prorated"].astype(bool)}, index=group.index)
        for flag in facts["flags"]:
            part[flag] = scored[flag].astype("boolean") if flag in scored.columns else pd.array([pd.NA] * len(group), "boolean")
        for name in facts["derived"]:
            part[name] = scored[name].astype("Float64") if name in scored.columns else pd.array([pd.NA] * len(group), "Float64")
        part["scoring_version"] = scoring_version(inst_id)
        parts.append(part)
    out = pd.concat(parts).loc[assessments.index]
    return _typed("scores", out.reset_index(drop=True))


def _session_scores(assessments: pd.DataFrame, scores: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Stored scores of each screening session, wide as stepped care reads them
    (``{instrument}_score``, ``{instrument}_n_answered``, ``{instrument}_{flag}``)."""
    if assessments["assessment_id"].notna().all() and scores["assessment_id"].notna().all():
        purpose = scores["assessment_id"].map(assessments.set_index("assessment_id")["purpose"])
    elif len(scores) == len(assessments):  # not stored yet: scores are in the assessments' order
        purpose = pd.Series(assessments["purpose"].to_numpy(), index=scores.index)
    else:
        raise ValueError("decide_screenings needs the scores of the assessments (by assessment_id, or in their order).")
    keyed = scores[(purpose == "screening").to_numpy()]
    out = sessions[["resident_id", "assessed_on"]].copy()
    keys = ["resident_id", "assessed_on"]
    for inst_id, group in keyed.groupby("instrument", sort=True, observed=True):
        columns = {"score": f"{inst_id}_score", "n_answered": f"{inst_id}_n_answered"}
        inst = get_instrument(inst_id)
        columns.update({c.flag: f"{inst_id}_{c.flag}" for c in inst.critical_items})
        part = group[keys + list(columns)].rename(columns=columns)
        out = out.merge(part, on=keys, how="left", validate="one_to_one")
        out[f"{inst_id}_n_answered"] = out[f"{inst_id}_n_answered"].fillna(0)
    return out


def decide_screenings(assessments: pd.DataFrame, scores: pd.DataFrame, residents: pd.DataFrame, *, by: str | pd.Series,
                      at: Any, policy: Any = "default", overrides: pd.DataFrame | None = None,
                      ids: Sequence[str] | None = None, lang: str = "en") -> pd.DataFrame:
    """The tier decision on each screening session among ``assessments`` (rows with purpose
    ``screening``, one session per resident and date), from the stored ``scores`` and the
    residents' chronic conditions: the ``decisions`` table's rows.

    The policy suggests a tier (:func:`workbench.stepped_care.assign_tiers`); a person confirms it
    or changes it with a reason (:func:`workbench.stepped_care.decide`): ``overrides`` has columns
    ``resident_id, assessed_on, tier, reason`` for the sessions whose tier is changed. ``by`` and
    ``at`` say who decided and when (one value, or a Series aligned with the sessions in
    resident-and-date order).
    """
    from workbench.stepped_care import assign_tiers, decide
    from workbench.tables import CONDITIONS, TABLES

    screening = assessments["purpose"] == "screening"
    sessions = (assessments.loc[screening, ["resident_id", "assessed_on"]].drop_duplicates()
                .sort_values(["resident_id", "assessed_on"], ignore_index=True))
    if sessions.empty:
        return TABLES["decisions"].empty()
    wide = _session_scores(assessments, scores, sessions)
    people = residents.drop_duplicates("resident_id").set_index("resident_id")
    missing = sorted(set(sessions["resident_id"]) - set(people.index))
    if missing:
        raise SavingError([("assessments", None, "resident_id", r, "is not a known resident") for r in missing],
                          context="decisions")
    for condition in CONDITIONS:
        wide[condition] = (sessions["resident_id"].map(people[condition]).to_numpy()
                           if condition in people.columns else False)
    suggestion = assign_tiers(wide, policy=policy, lang=lang)
    screened = pd.concat([wide[["resident_id", "assessed_on"]], suggestion], axis=1)
    changes = None
    if overrides is not None and len(overrides):
        key = pd.MultiIndex.from_frame(sessions[["resident_id", "assessed_on"]].astype(str))
        wanted = pd.MultiIndex.from_frame(overrides[["resident_id", "assessed_on"]].astype(str))
        where = key.get_indexer(wanted)
        unknown = [(r.resident_id, r.assessed_on) for r, w in zip(overrides.itertuples(), where) if w < 0]
        if unknown:
            raise SavingError([("overrides", None, "resident_id, assessed_on", u, "is not a screening being decided")
                               for u in unknown], context="decisions")
        changes = pd.DataFrame({"tier": overrides["tier"].to_numpy(), "reason": overrides["reason"].to_numpy()},
                               index=sessions.index[where])
    out = decide(screened, by=by, at=at, overrides=changes)
    out.insert(0, "decision_id", list(ids) if ids is not None else [None] * len(out))
    return _typed("decisions", out.reset_index(drop=True))
