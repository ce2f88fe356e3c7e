"""Small analysis tables built by hand, the way the registry saves them, and what the cohort,
trial, economics and explorer consumers must never do again (score or assign tiers).

:func:`hand_tables` is shared by ``test_cohort_endpoints.py``, ``test_trial.py``,
``test_economics.py`` and ``test_ui_explorer.py``: wide answers become assessments
(:func:`workbench.records.assessments_from_forms`), scored once (``score_assessments``) and
decided once (``decide_screenings``, with a person's overrides), exactly as the registry stores a
screening; every other table is given row by row with its declared columns and types.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.records import assessments_from_forms, decide_screenings, score_assessments
from workbench.tables import CONDITIONS, TABLES, Tables, coerce

ROOT = Path(__file__).resolve().parent.parent

#: Values of required columns an example does not care about.
DEFAULTS = {"sex": "female", "birth_date": "1960-01-01", "community": "c1", "lives_alone": False,
            **dict.fromkeys(CONDITIONS, False), "kind": "treatment", "status": "attended"}


def frame(name: str, rows) -> pd.DataFrame:
    """Rows of the analysis table ``name`` with its declared columns and types: columns not given
    get :data:`DEFAULTS` or stay blank; ids (``{name}_id``) are numbered when not given."""
    given = pd.DataFrame(rows)
    full = pd.DataFrame(index=given.index)
    for column in TABLES[name].names:
        if column in given.columns:
            full[column] = given[column]
        elif column == TABLES[name].names[0] and column.endswith("_id") and column != "resident_id":
            full[column] = [f"{column[0].upper()}{k:03d}" for k in range(len(given))]
        else:
            full[column] = DEFAULTS.get(column)
    typed, problems = coerce(name, full)
    assert not problems, problems
    return typed


def items(instrument: str, values) -> dict:
    """Item columns ``{instrument}_{n}`` of one form."""
    return {f"{instrument}_{n}": v for n, v in enumerate(values, start=1)}


def phq9_total(total: int) -> dict:
    """PHQ-9 answers adding up to ``total`` (items 1-8 filled with 3s first; item 9 = 0)."""
    assert 0 <= total <= 24
    return items("phq9", [min(3, max(0, total - 3 * k)) for k in range(8)] + [0])


def gad7_total(total: int) -> dict:
    """GAD-7 answers adding up to ``total``."""
    assert 0 <= total <= 21
    return items("gad7", [min(3, max(0, total - 3 * k)) for k in range(7)])


def hand_tables(*, residents, screenings, reviews=None, visits=None, events=None, referrals=None, contacts=None,
                enrolments=None, overrides=None, communities=None) -> Tables:
    """Validated :class:`Tables` from rows given by hand.

    ``screenings``, ``reviews`` and ``visits`` are wide forms (``resident_id, assessed_on`` and item
    columns; reviews may carry ``referral_id``, visits ``study`` and ``visit``); they are turned into
    assessments, scored and (screenings) decided as the registry does it. ``overrides``: rows
    ``(resident_id, assessed_on, tier, reason)`` of tiers a person changed. The other arguments are
    rows of their tables (see :func:`frame`).
    """
    people = frame("residents", residents)
    parts = []
    for forms, purpose in ((screenings, "screening"), (reviews, "review"), (visits, "study")):
        if forms is None or len(forms) == 0:
            continue
        forms = pd.DataFrame(forms)
        forms["assessed_on"] = pd.to_datetime(forms["assessed_on"])
        part = assessments_from_forms(forms, purpose=purpose)
        part.attrs = {}
        parts.append(part)
    assessments = pd.concat(parts, ignore_index=True)
    assessments["assessment_id"] = pd.array([f"A{k:03d}" for k in range(len(assessments))], dtype="string")
    scores = score_assessments(assessments)
    changed = None
    if overrides:
        changed = pd.DataFrame(overrides, columns=["resident_id", "assessed_on", "tier", "reason"])
        changed["assessed_on"] = pd.to_datetime(changed["assessed_on"])
    decisions = decide_screenings(assessments, scores, people, by="counsellor_li", at="2025-01-01 12:00",
                                  overrides=changed)
    decisions["decision_id"] = pd.array([f"D{k:03d}" for k in range(len(decisions))], dtype="string")
    if communities is None:
        communities = {"community": sorted(people["community"].unique()), "community_type": "urban"}
    tables = {"communities": frame("communities", communities), "residents": people, "assessments": assessments,
              "scores": scores, "decisions": decisions}
    for name, rows in (("events", events), ("referrals", referrals), ("contacts", contacts),
                       ("enrolments", enrolments)):
        if rows is not None:
            tables[name] = frame(name, rows)
    return Tables(**tables).validate()


def with_stored_score(tables: Tables, resident_id: str, assessed_on: str, instrument: str, score: float) -> Tables:
    """The tables with one stored score changed (as if the scoring rules in force when it was saved
    had given another total): analyses must use the stored value, not the answers."""
    s = tables.scores.copy()
    where = ((s["resident_id"] == resident_id) & (s["assessed_on"] == pd.Timestamp(assessed_on))
             & (s["instrument"] == instrument))
    assert where.sum() == 1
    s.loc[where, "score"] = float(score)
    return tables.replace(scores=s)


# --- stored referral scores (the old cohort.referral_scores example, now Tables.referral_scores) -------

def test_a_referral_baseline_is_the_screening_on_the_referral_date_and_blanks_are_not_zero():
    t = hand_tables(
        residents={"resident_id": ["R1", "R2"]},
        screenings=[{"resident_id": "R1", "assessed_on": "2025-01-10", **items("phq9", [2] * 9), **items("gad7", [1] * 7)},
                    {"resident_id": "R2", "assessed_on": "2025-01-11", **items("phq9", [0] * 9), **items("gad7", [0] * 7)}],
        reviews=[{"resident_id": "R1", "referral_id": "F1", "assessed_on": "2025-02-07",
                  **items("phq9", [1, 1, 1, 1, 1, 1, 1, np.nan, 0])}],   # GAD-7 not given at the review
        referrals={"referral_id": ["F1"], "resident_id": ["R1"], "referred_on": ["2025-01-10"]})
    out = t.referral_scores(("phq9", "gad7"))
    assert out["referral_id"].tolist() == ["F1", "F1"]
    assert out["baseline"].tolist() == [True, False]
    # PHQ-9 18 at baseline (9 x 2); review: 7 over 8 answered -> 7 x 9 / 8 = 7.875 -> 8 (APA prorating)
    assert out["phq9_score"].tolist() == [18, 8]
    # GAD-7 7 at baseline; no GAD-7 at the review: unknown, never 0
    assert out["gad7_score"].iloc[0] == 7 and np.isnan(out["gad7_score"].iloc[1])


def test_the_hand_built_tables_hold_what_the_registry_would_store():
    t = hand_tables(residents={"resident_id": ["A", "B"]},
                    screenings=[{"resident_id": "A", "assessed_on": "2025-03-01", **phq9_total(14), **gad7_total(9)},
                                {"resident_id": "B", "assessed_on": "2025-03-02", **phq9_total(3), **gad7_total(2)}],
                    overrides=[("B", "2025-03-02", 2, "lives alone since a bereavement")])
    s = t.screenings().set_index("resident_id")
    assert s["phq9_score"].tolist() == [14, 3] and s["gad7_score"].tolist() == [9, 2]
    # A: PHQ-9 14 >= 10 is screen-positive -> tier 2 suggested and kept; B: tier 1 suggested, 2 decided
    assert s["suggested_tier"].tolist() == [2, 1] and s["tier"].tolist() == [2, 2]
    assert s["overridden"].tolist() == [False, True] and t.policy_versions == ["default@1.1"]


# --- nothing scores or assigns tiers again ----------------------------------------------------------

CONSUMERS = ["workbench/cohort.py", "workbench/trial.py", "workbench/economics.py", "workbench/ui/explorer.py"]
#: A call of the scoring engine or of stepped care (``score_all(``, ``score(``, ``screen(``,
#: ``assign_tiers(``), also as an attribute (``workbench.screen(``), not ``referral_scores(`` etc.
FORBIDDEN = re.compile(r"(?<![\w])(?:[\w.]*\.)?(score_all|score|score_valid|screen|assign_tiers)\(")


@pytest.mark.parametrize("path", CONSUMERS)
def test_no_consumer_scores_or_assigns_tiers_again(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    found = [(n, line.strip()) for n, line in enumerate(source.splitlines(), start=1) if FORBIDDEN.search(line)]
    assert found == [], f"{path} scores or tiers again: {found}"
    imports = re.findall(r"from workbench\.(scoring|stepped_care) import|import workbench\.(scoring|stepped_care)", source)
    assert imports == []


def test_the_forbidden_pattern_finds_what_it_must():
    hits = ["workbench.screen(frame)", "x = score_all(forms)", "score(wide, inst)", "assign_tiers(wide)"]
    misses = ["tables.referral_scores(", "t.screenings()", "rescore(", "screened(", "scores_of(x)"]
    assert all(FORBIDDEN.search(h) for h in hits) and not any(FORBIDDEN.search(m) for m in misses)
