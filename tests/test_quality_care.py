"""workbench.quality_care: the access, timeliness and continuity measures (A1-A5, T3, T4, C2-C5),
each worked by hand on small analysis tables.

Questionnaires are saved as the registry saves them (wide answers ->
:func:`workbench.records.assessments_from_forms` -> :func:`~workbench.records.score_assessments`),
so the measures read stored scores. Tier decisions are written as stored rows (the tier decided is
what counts, whatever the policy suggested). Every table is built through
:func:`workbench.tables.tables_from_frames` (typed and validated as an import would be).

Definitions checked against the module docstring of :mod:`workbench.quality_care` and the sources
it cites: REFERENCE.md (complete two-step screen under the default policy 1.1; NHS Talking
Therapies "finished treatment" = >= 2 attended treatment contacts; MHIP "not improving" at week >= 8:
neither PHQ-9 < 10 nor a fall >= 50 %, psychiatric review due in weeks 8-12) and HEDIS FUH
(a visit on the discharge day does not count; members who died are excluded).
"""

from __future__ import annotations

import pandas as pd
import pytest

import workbench.quality_care  # noqa: F401  (registers the measures)
from workbench import quality as q
from workbench.params import ParameterError
from workbench.records import assessments_from_forms, score_assessments
from workbench.tables import CONDITIONS, TABLES, Tables, TablesError, coerce, tables_from_frames

_DEFAULTS = {"sex": "female", "birth_date": "1960-01-01", "lives_alone": False, **dict.fromkeys(CONDITIONS, False),
             "rule": "hand", "urgent": False, "needs_review": False, "policy_version": "default@1.1",
             "decided_by": "counsellor_li", "decided_at": "2025-06-01 12:00", "overridden": False}

PHQ2_NEG, PHQ2_POS = [1, 1], [2, 2]      # 2 < 3: negative; 4 >= 3: positive (Kroenke 2003)
GAD2_NEG = [1, 0]                        # 1 < 3: negative (Kroenke 2007)
GAD7 = [1] * 7                           # 7, scorable
UCLA3 = [2, 2, 2]                        # 6, scorable
PHQ9_UNSCORABLE = [1] * 6 + [None] * 3   # three items blank: too many to prorate, no score


def phq9(total: int) -> list[int]:
    """PHQ-9 answers with the given total (items 1-8 filled with 3s first, item 9 = 0)."""
    items, left = [], total
    for _ in range(8):
        items.append(min(3, left))
        left -= items[-1]
    assert left == 0
    return items + [0]


def frame(name: str, rows) -> pd.DataFrame:
    """Rows of the table ``name`` with all its declared columns (not given: :data:`_DEFAULTS` or blank)."""
    given = pd.DataFrame(rows)
    full = pd.DataFrame(index=given.index)
    for column in TABLES[name].names:
        full[column] = given[column] if column in given.columns else _DEFAULTS.get(column)
    typed, problems = coerce(name, full)
    assert not problems, problems
    return typed


def sittings(rows: list[tuple], purpose: str, prefix: str) -> pd.DataFrame:
    """Assessments from (resident, date, {instrument: answers}[, referral or study]) rows."""
    forms = []
    for row in rows:
        resident, on, answers = row[:3]
        form = {"resident_id": resident, "assessed_on": on}
        if purpose == "review":
            form["referral_id"] = row[3]
        if purpose == "study":
            form["study"], form["visit"] = row[3], 0
        for instrument, values in answers.items():
            form.update({f"{instrument}_{k + 1}": v for k, v in enumerate(values)})
        forms.append(form)
    a = assessments_from_forms(pd.DataFrame(forms), purpose=purpose)
    a["assessment_id"] = [f"{prefix}{k:03d}" for k in range(len(a))]
    return a


def build(*, communities=None, residents, screenings=(), reviews=(), studies=(), decisions=None, referrals=None,
          contacts=None, events=None) -> Tables:
    parts = [sittings(list(rows), purpose, prefix) for rows, purpose, prefix in
             ((screenings, "screening", "S"), (reviews, "review", "V"), (studies, "study", "Y")) if rows]
    assessments = pd.concat(parts, ignore_index=True) if parts else frame("assessments", [])
    res = frame("residents", residents)
    frames = {"communities": frame("communities", communities or {"community": sorted(set(res["community"].dropna()))}),
              "residents": res, "assessments": assessments, "scores": score_assessments(assessments, res)}
    if decisions is not None:
        d = pd.DataFrame(decisions, columns=["resident_id", "assessed_on", "tier", "next_contact_due"])
        d.insert(0, "decision_id", [f"D{k}" for k in range(len(d))])
        frames["decisions"] = frame("decisions", d)
    if referrals is not None:
        frames["referrals"] = frame("referrals", referrals)
    if contacts is not None:
        c = pd.DataFrame(contacts, columns=["resident_id", "referral_id", "contact_on", "kind", "status"])
        c.insert(0, "contact_id", [f"C{k:02d}" for k in range(len(c))])
        frames["contacts"] = frame("contacts", c)
    if events is not None:
        e = pd.DataFrame(events, columns=["resident_id", "event_on", "kind", "days"])
        e.insert(0, "event_id", [f"E{k}" for k in range(len(e))])
        frames["events"] = frame("events", e)
    return tables_from_frames(frames)


def counts(units: pd.DataFrame, month: str | None = None) -> dict:
    """{(community, period): (numerator, denominator)} of the known 0/1 units (blank community: 'none')."""
    u = units.dropna(subset=["outcome"]).fillna({"community": "none"})
    if month:
        u = u[u["period"] == month]
    return {k: (int(v.sum()), len(v)) for k, v in u.groupby(["community", "period"])["outcome"]}


def unknown(units: pd.DataFrame) -> dict:
    """{(community, period): units whose outcome is not known (NaN: excluded, never 0)}."""
    u = units[units["outcome"].isna()].fillna({"community": "none"})
    return {k: len(v) for k, v in u.groupby(["community", "period"])}


# --- A1-A4 coverage ---------------------------------------------------------------------------

DEPRESSION_ANXIETY = {"depression": {"full": "phq9", "screener": "phq2"}, "anxiety": {"full": "gad7", "screener": "gad2"}}
LONELY = {"loneliness": {"full": "ucla3"}, "depression": {"full": "phq9", "screener": "phq2"}}
GROUPS = {"numerator": ["rural"], "denominator": ["urban"]}


@pytest.fixture(scope="module")
def coverage_tables() -> Tables:
    """Communities u1, u2 (urban), rr (rural), ag (ageing); 14 residents.

    p1  u1 1980              PHQ-9 + GAD-7 on 2025-03-10
    p2  u1 1980              PHQ-2 2 (neg) + GAD-2 1 (neg) on 2025-03-10: complete two-step screen
    p3  u1 1980              PHQ-2 4 (POSITIVE), no PHQ-9; GAD-7: depression screen incomplete
    p4  u1 1980              PHQ-9 + GAD-7 on 2024-07-15: in June's window (from 2024-07-01), not July's (from 2024-08-01)
    p5  u1 2007-07-15        17 on 2025-06-30 (not counted), 18 on 2025-07-31; screened 2025-05-01
    p6  u1 birth date blank  age unknown: a NaN unit, counted apart; screened
    p7  u1 1950, alone, hypertension: PHQ-9 with three blanks (no score) + GAD-7: incomplete
    p8  u1 1950, alone       died 2025-06-15: not in the population; screened
    p9  rr 1950, alone, hypertension: PHQ-9 + GAD-7 + UCLA-3 on 2025-01-05
    p10 rr 1950, alone, diabetes: PHQ-2 + GAD-2 negative on 2025-01-05, no UCLA-3
    p11 rr 1990              never screened
    p12 ag 1950, alone       PHQ-9 + GAD-7 + UCLA-3 on 2025-02-01
    p13 u2 1966-01-01, alone (59: not over 60): PHQ-9 + GAD-7 at a study visit (not screening)
                             2025-02-01, and a screening on 2025-08-01 (after both months)
    p14 blank community 1980 PHQ-9 + GAD-7 on 2025-03-10 (counts in 'all' only)
    """
    ids = [f"p{k}" for k in range(1, 15)]
    residents = {
        "resident_id": ids,
        "community": ["u1"] * 8 + ["rr"] * 3 + ["ag", "u2", None],
        "birth_date": ["1980-01-01"] * 4 + ["2007-07-15", None] + ["1950-01-01"] * 6 + ["1966-01-01", "1980-01-01"],
        "lives_alone": [False] * 6 + [True, True, True, True, False, True, True, False],
        "hypertension": [False] * 6 + [True, False, True] + [False] * 5,
        "diabetes": [False] * 9 + [True] + [False] * 4,
    }
    full = {"phq9": phq9(12), "gad7": GAD7}
    screenings = [
        ("p1", "2025-03-10", full), ("p2", "2025-03-10", {"phq2": PHQ2_NEG, "gad2": GAD2_NEG}),
        ("p3", "2025-03-10", {"phq2": PHQ2_POS, "gad7": GAD7}), ("p4", "2024-07-15", full),
        ("p5", "2025-05-01", full), ("p6", "2025-03-10", full),
        ("p7", "2025-03-10", {"phq9": PHQ9_UNSCORABLE, "gad7": GAD7}), ("p8", "2025-03-10", full),
        ("p9", "2025-01-05", {**full, "ucla3": UCLA3}), ("p10", "2025-01-05", {"phq2": PHQ2_NEG, "gad2": GAD2_NEG}),
        ("p12", "2025-02-01", {**full, "ucla3": UCLA3}), ("p13", "2025-08-01", full), ("p14", "2025-03-10", full)]
    return build(communities={"community": ["u1", "u2", "rr", "ag"], "community_type": ["urban", "urban", "rural", "ageing"]},
                 residents=residents, screenings=screenings, studies=[("p13", "2025-02-01", full, "cohort_a")],
                 events=[("p8", "2025-06-15", "death", None)])


def test_the_coverage_tables_are_stored_as_documented(coverage_tables):
    s = coverage_tables.scores_of(purpose="screening").set_index(["resident_id", "instrument"])["score"]
    assert s[("p2", "phq2")] == 2 and s[("p2", "gad2")] == 1 and s[("p3", "phq2")] == 4
    assert pd.isna(s[("p7", "phq9")])  # three blanks: no score (never a total with blanks as 0)
    assert s[("p1", "phq9")] == 12 and s[("p9", "ucla3")] == 6


def test_screening_coverage_a1(coverage_tables):
    u = q.units(coverage_tables, "screening_coverage", months=["2025-06", "2025-07"],
                screens=DEPRESSION_ANXIETY, min_age=18)
    # June (window 2024-07-01 .. 2025-06-30): u1 p1 1, p2 1 (negative PHQ-2 + GAD-2 are complete),
    # p3 0 (positive PHQ-2 without PHQ-9), p4 1 (2024-07-15), p7 0 (PHQ-9 not scorable);
    # p5 is 17, p8 died on 06-15: not counted; p6 age unknown -> not known, apart.
    # u2 p13 0 (a study visit is not screening; the 2025-08-01 screening is after the month).
    # rr p9 1, p10 1, p11 0. ag p12 1. p14 (blank community) 1 -> 'none'.
    assert counts(u, "2025-06") == {("u1", "2025-06"): (3, 5), ("u2", "2025-06"): (0, 1), ("rr", "2025-06"): (2, 3),
                                    ("ag", "2025-06"): (1, 1), ("none", "2025-06"): (1, 1)}
    # July (window 2024-08-01 .. 2025-07-31): p4's screening fell out -> 0; p5 turned 18 on 07-15 -> 1.
    assert counts(u, "2025-07")[("u1", "2025-07")] == (3, 6)
    assert unknown(u) == {("u1", "2025-06"): 1, ("u1", "2025-07"): 1}  # p6: excluded, never 0
    assert u.attrs["age_unknown"] == {"2025-06": 1, "2025-07": 1}


def test_chronic_screening_coverage_a2(coverage_tables):
    u = q.units(coverage_tables, "chronic_screening_coverage", months="2025-06", screens=DEPRESSION_ANXIETY,
                min_age=18, conditions=["hypertension", "diabetes", "chd", "stroke", "copd"])
    # chronic patients: p7 (u1, hypertension, PHQ-9 not scorable: 0), p9 (rr, hypertension: 1),
    # p10 (rr, diabetes, negative two-step screen: 1). p9 counts in rr only, never in u1.
    assert counts(u) == {("u1", "2025-06"): (0, 1), ("rr", "2025-06"): (2, 2)}


def test_lonely_older_screening_coverage_a3(coverage_tables):
    u = q.units(coverage_tables, "lonely_older_screening_coverage", months="2025-06", screens=LONELY,
                min_age=60, lives_alone=True)
    # over-60s living alone on 2025-06-30: p7 (u1: no UCLA-3, PHQ-9 not scorable: 0), p9 (rr: UCLA-3 +
    # PHQ-9: 1), p10 (rr: negative PHQ-2 but no UCLA-3: 0), p12 (ag: 1). p8 died; p13 is 59.
    assert counts(u) == {("u1", "2025-06"): (0, 1), ("rr", "2025-06"): (1, 2), ("ag", "2025-06"): (1, 1)}


def test_coverage_equity_a4_groups_rural_over_urban(coverage_tables):
    u = q.units(coverage_tables, "coverage_equity", months="2025-06", screens=DEPRESSION_ANXIETY, min_age=18,
                groups=GROUPS)
    # A1's June units: rural (rr) 2/3 -> numerator group; urban u1 3/5 + u2 0/1 = 3/6 -> denominator
    # group; ag (ageing) and p14 (blank community: type unknown) are in neither: dropped.
    # Ratio = (2/3) / (3/6) = 1.333...
    known = u.dropna(subset=["outcome"])
    g = known.groupby("group")["outcome"].agg(["sum", "count"])
    assert g.loc["numerator"].tolist() == [2, 3] and g.loc["denominator"].tolist() == [3, 6]
    assert set(u["community"]) == {"u1", "u2", "rr"}
    assert (g.loc["numerator", "sum"] / 3) / (g.loc["denominator", "sum"] / 6) == pytest.approx(4 / 3)


def test_coverage_parameters_are_checked():
    t = build(residents={"resident_id": ["p1"], "community": ["u1"]})
    with pytest.raises(ParameterError, match="screening_coverage: the 'min_age' parameter.*-1"):
        q.units(t, "screening_coverage", months="2025-06", screens=DEPRESSION_ANXIETY, min_age=-1)
    with pytest.raises(ParameterError, match="'screens' parameter.*'phq99' is not a declared questionnaire"):
        q.units(t, "screening_coverage", months="2025-06", screens={"depression": {"full": "phq99"}}, min_age=18)
    with pytest.raises(ParameterError, match="'conditions' parameter.*'gout'"):
        q.units(t, "chronic_screening_coverage", months="2025-06", screens=DEPRESSION_ANXIETY, min_age=18,
                conditions=["gout"])


# --- A5, T4 treated / first session within ------------------------------------------------------

@pytest.fixture(scope="module")
def treated_tables() -> Tables:
    """Tier decisions (the decided tier counts) and contacts; the last recorded day is 2025-07-22.

    q1 u1 tier 2, screened 06-02, treatment attended 06-10 (8 days)
    q2 u1 tier 2, screened 06-02, treatment attended 06-20 (18 days)
    q3 u1 tier 3, screened 06-03, phone attended 06-04 (not treatment), treatment missed 06-05
    q4 u2 tier 1, screened 06-03, treatment attended 06-04 (tier 1: not counted; never q3's)
    q5 u2 undecided (tier blank), screened 06-03
    q6 u2 tier 2, screened 06-05, treatment 05-30 (before the screening) and 07-06 (31 days)
    q7 u1 tier 3, screened 07-20, treatment attended 07-22 (2 days, but 30 days not over by 07-22)
    q8 u2 tier 2, screened 06-10, treatment attended 06-24 (exactly 14 days: within)
    """
    residents = {"resident_id": [f"q{k}" for k in range(1, 9)],
                 "community": ["u1", "u1", "u1", "u2", "u2", "u2", "u1", "u2"]}
    days = ["2025-06-02", "2025-06-02", "2025-06-03", "2025-06-03", "2025-06-03", "2025-06-05", "2025-07-20",
            "2025-06-10"]
    screenings = [(f"q{k}", d, {"phq9": phq9(12), "gad7": GAD7}) for k, d in enumerate(days, 1)]
    decisions = [(f"q{k}", d, tier, None) for k, (d, tier) in enumerate(zip(days, [2, 2, 3, 1, None, 2, 3, 2]), 1)]
    contacts = [("q1", None, "2025-06-10", "treatment", "attended"), ("q2", None, "2025-06-20", "treatment", "attended"),
                ("q3", None, "2025-06-04", "phone", "attended"), ("q3", None, "2025-06-05", "treatment", "missed"),
                ("q4", None, "2025-06-04", "treatment", "attended"), ("q6", None, "2025-05-30", "treatment", "attended"),
                ("q6", None, "2025-07-06", "treatment", "attended"), ("q7", None, "2025-07-22", "treatment", "attended"),
                ("q8", None, "2025-06-24", "treatment", "attended")]
    return build(residents=residents, screenings=screenings, decisions=decisions, contacts=contacts)


def test_treated_within_a5(treated_tables):
    u = q.units(treated_tables, "treated_within", months=["2025-06", "2025-07"], tiers=[2, 3],
                contact_kinds=["treatment"], days=30)
    # tier 2-3 screenings in June: u1 q1 (8 d: 1), q2 (18 d: 1), q3 (a phone call and a missed session
    # are not treatment: 0); u2 q6 (the 05-30 session was before the screening; 31 d: 0), q8 (14 d: 1).
    # q4 (tier 1) and q5 (undecided) are not counted. July: q7 treated in 2 days but its 30 days
    # end 08-19, after the last recorded day 07-22: not yet judged (NaN), not a 1.
    assert counts(u) == {("u1", "2025-06"): (2, 3), ("u2", "2025-06"): (1, 2)}
    assert unknown(u) == {("u1", "2025-07"): 1}


def test_first_session_within_t4(treated_tables):
    u = q.units(treated_tables, "first_session_within", months="2025-06", tiers=[2], contact_kinds=["treatment"],
                days=14)
    # tier 2 only: q1 (8 d: 1), q2 (18 d > 14: 0), q6 (31 d: 0), q8 (14 d, the last day of the
    # window: 1). q3 and q7 are tier 3.
    assert counts(u) == {("u1", "2025-06"): (1, 2), ("u2", "2025-06"): (1, 2)}


def test_timeliness_parameters_are_checked(treated_tables):
    with pytest.raises(ParameterError, match="treated_within: the 'tiers' parameter.*\\[4\\]"):
        q.units(treated_tables, "treated_within", months="2025-06", tiers=[4], contact_kinds=["treatment"], days=30)
    with pytest.raises(ParameterError, match="first_session_within: the 'days' parameter.*-1"):
        q.units(treated_tables, "first_session_within", months="2025-06", tiers=[2], contact_kinds=["treatment"],
                days=-1)


# --- T3 hospital seen within ------------------------------------------------------------------------

def _hospital(dates: bool = True) -> Tables:
    """Referrals (the last recorded day is the contact on 2025-07-22):

    F1 h1 u1 tier 3, 06-02, seen 06-05 (3 days)
    F2 h2 u1 tier 3, 06-02, appointment 06-04, seen 06-09 (7 days)
    F3 h3 u2 tier 3, 06-03, appointment 06-05, never reported seen (window closed)
    F4 h4 u2 tier 3, 06-03, nothing reported by the hospital
    F5 h5 u1 tier 2, 06-02, seen 06-04 (tier 2: not counted)
    F6 h6 u1 tier 3, 07-20, appointment 07-21, not seen yet (window ends 07-23 > 07-22)

    (A seen date before the referral is refused when the tables are read: see
    test_hospital_seen_before_the_referral_is_refused.)
    """
    none = [None] * 6
    referrals = {"referral_id": [f"F{k}" for k in range(1, 7)], "resident_id": [f"h{k}" for k in range(1, 7)],
                 "referred_on": ["2025-06-02", "2025-06-02", "2025-06-03", "2025-06-03", "2025-06-02", "2025-07-20"],
                 "tier": [3, 3, 3, 3, 2, 3],
                 "appointment_on": [None, "2025-06-04", "2025-06-05", None, None, "2025-07-21"] if dates else none,
                 "hospital_seen_on": ["2025-06-05", "2025-06-09", None, None, "2025-06-04", None] if dates else none}
    residents = {"resident_id": [f"h{k}" for k in range(1, 7)], "community": ["u1", "u1", "u2", "u2", "u1", "u1"]}
    return build(residents=residents, referrals=referrals,
                 contacts=[("h1", "F1", "2025-07-22", "phone", "attended")])


def test_hospital_seen_within_t3():
    u = q.units(_hospital(), "hospital_seen_within", months=["2025-06", "2025-07"], days=3)
    # tier 3: F1 seen in 3 days: 1; F2 in 7: 0; F3 booked, never seen, window closed: 0;
    # F4 nothing reported: not known (NaN, never 0); F6 window still open: NaN. F5 is tier 2.
    assert counts(u) == {("u1", "2025-06"): (1, 2), ("u2", "2025-06"): (0, 1)}
    assert unknown(u) == {("u2", "2025-06"): 1, ("u1", "2025-07"): 1}


def test_hospital_seen_before_the_referral_is_refused():
    # a date error is named when the tables are read (nothing computed), not counted as 0 or 1
    t = _hospital()
    referrals = t["referrals"].copy()
    referrals.loc[referrals["referral_id"] == "F4", "hospital_seen_on"] = pd.Timestamp("2025-06-01")
    with pytest.raises(TablesError, match=r"referrals, row \d+, column 'hospital_seen_on'.*before the referral"):
        q.units(Tables(attrs=dict(t.attrs), **{**{n: t[n] for n in TABLES}, "referrals": referrals}),
                "hospital_seen_within", months="2025-06", days=3)


def test_hospital_seen_within_without_hospital_dates_is_no_data():
    assert q.units(_hospital(dates=False), "hospital_seen_within", months="2025-06", days=3) is None


# --- C2 paired measures -------------------------------------------------------------------------------

def test_paired_measures_c2():
    """G1 c1 u1: baseline PHQ-9 16 + GAD-7 (screening on the referral day), review 05-29 PHQ-9 12;
       2 attended treatments; ended 06-10 -> finished, 2 PHQ-9: 1
    G2 c2 u1: the review's PHQ-9 has three blanks (no score); 2 attended treatments; ended 06-12:
       finished, 1 scored PHQ-9: 0 (a PHQ-9 that could not be scored is not a measure)
    G3 c3 u2: 1 attended + 1 missed treatment; ended 06-15: not finished, not counted
    G4 c4 u2: 3 attended treatments, still open: not counted
    G5 c5 u2: baseline PHQ-2 negative + GAD-7 (no PHQ-9), two reviews with PHQ-9; 2 attended
       treatments, ended 06-20: 2 PHQ-9: 1
    """
    residents = {"resident_id": [f"c{k}" for k in range(1, 6)], "community": ["u1", "u1", "u2", "u2", "u2"]}
    base = {"phq9": phq9(16), "gad7": GAD7}
    screenings = [(f"c{k}", "2025-05-01", base) for k in range(1, 5)] + [
        ("c5", "2025-05-01", {"phq2": PHQ2_NEG, "gad7": GAD7})]
    reviews = [("c1", "2025-05-29", {"phq9": phq9(12), "gad7": GAD7}, "G1"),
               ("c2", "2025-05-29", {"phq9": PHQ9_UNSCORABLE, "gad7": GAD7}, "G2"),
               ("c3", "2025-05-29", {"phq9": phq9(12), "gad7": GAD7}, "G3"),
               ("c5", "2025-05-15", {"phq9": phq9(12), "gad7": GAD7}, "G5"),
               ("c5", "2025-06-12", {"phq9": phq9(8), "gad7": GAD7}, "G5")]
    referrals = {"referral_id": [f"G{k}" for k in range(1, 6)], "resident_id": [f"c{k}" for k in range(1, 6)],
                 "referred_on": ["2025-05-01"] * 5, "tier": [2] * 5,
                 "ended_on": ["2025-06-10", "2025-06-12", "2025-06-15", None, "2025-06-20"],
                 "end_reason": ["completed", "completed", "dropped_out", None, "completed"]}
    treat = [("c1", "G1", "2025-05-08"), ("c1", "G1", "2025-05-15"), ("c2", "G2", "2025-05-08"),
             ("c2", "G2", "2025-05-15"), ("c3", "G3", "2025-05-08"), ("c4", "G4", "2025-05-08"),
             ("c4", "G4", "2025-05-15"), ("c4", "G4", "2025-05-22"), ("c5", "G5", "2025-05-08"), ("c5", "G5", "2025-05-22")]
    contacts = [(r, f, d, "treatment", "attended") for r, f, d in treat] + [("c3", "G3", "2025-05-15", "treatment", "missed")]
    t = build(residents=residents, screenings=screenings, reviews=reviews, referrals=referrals, contacts=contacts)
    u = q.units(t, "paired_measures", months="2025-06")
    assert counts(u) == {("u1", "2025-06"): (1, 2), ("u2", "2025-06"): (1, 1)}


# --- C3 followed up by the due date -------------------------------------------------------------------

def test_followed_up_by_due_c3():
    """Decisions' next_contact_due (period: the month of the due date); last recorded day 2025-07-22.

    e1 u1 screened 05-20, due 06-03, attended contact 06-01: 1
    e2 u1 screened 05-20, due 06-10, attended 06-11 (a day late): 0
    e3 u1 screened 05-20, due 06-10, attended 05-19 (before the screening), missed 06-05: 0
    e4 u2 screened 05-20, due 06-15, attended on the screening day: 1
    e5 u2 screened 05-20, no due date: not counted
    e6 u1 screened 06-20, due 08-01, after the last recorded day: not yet due (NaN, period 2025-08)
    e7 u2 screened 07-22, due 07-22, attended phone the same day: 1 (July)
    e8 u2 screened 06-20, due 06-10: before the screening, a date error: not known (June)
    """
    residents = {"resident_id": [f"e{k}" for k in range(1, 9)],
                 "community": ["u1", "u1", "u1", "u2", "u2", "u1", "u2", "u2"]}
    days = ["2025-05-20"] * 5 + ["2025-06-20", "2025-07-22", "2025-06-20"]
    due = ["2025-06-03", "2025-06-10", "2025-06-10", "2025-06-15", None, "2025-08-01", "2025-07-22", "2025-06-10"]
    screenings = [(f"e{k}", d, {"phq9": phq9(5), "gad7": GAD7}) for k, d in enumerate(days, 1)]
    decisions = [(f"e{k}", d, 1, n) for k, (d, n) in enumerate(zip(days, due), 1)]
    contacts = [("e1", None, "2025-06-01", "phone", "attended"), ("e2", None, "2025-06-11", "phone", "attended"),
                ("e3", None, "2025-05-19", "phone", "attended"), ("e3", None, "2025-06-05", "phone", "missed"),
                ("e4", None, "2025-05-20", "assessment", "attended"), ("e7", None, "2025-07-22", "phone", "attended")]
    t = build(residents=residents, screenings=screenings, decisions=decisions, contacts=contacts)
    u = q.units(t, "followed_up_by_due", months=["2025-06", "2025-07", "2025-08"])
    assert counts(u) == {("u1", "2025-06"): (1, 3), ("u2", "2025-06"): (1, 1), ("u2", "2025-07"): (1, 1)}
    assert unknown(u) == {("u1", "2025-08"): 1, ("u2", "2025-06"): 1}


# --- C4 psychiatric review when not improving ----------------------------------------------------------

def test_psychiatric_review_when_not_improving_c4():
    """Referrals on 2025-03-03 (week 8 starts on day 56 = 04-28; weeks 8-12 end on day 90 = 06-01),
    baseline = the screening on the referral day. Last recorded day: 2025-07-22.

    K1 k1 u1 baseline 16; review day 60 PHQ-9 12 (not < 10, fall 25 %). On day 56 the latest is
       the baseline 16: not improving (first day 04-28, April). Attended psychiatric review day 70: 1
    K2 k2 u1 baseline 16; review day 50 PHQ-9 7 (< 10) and day 63 PHQ-9 8: improving: not counted
    K3 k3 u2 baseline 20; review day 49 PHQ-9 9 (improving on day 56), day 70 (05-12) PHQ-9 14
       (fall 30 %): not improving from 05-12 (May). Review planned on day 75 (not attended) and
       attended on day 95 (after week 12): 0
    K4 k4 u2 baseline 18; psychiatric review attended on day 40 (before week 8); review day 58
       PHQ-9 15: not improving from day 56 (April): 0
    K5 k5 u1 baseline 18; ended on day 30: not open at week 8: not counted
    K6 k6 u1 referred 05-20, baseline 15, no review: not improving on day 56 (07-15, July) but the
       window ends on day 90 (08-18), after the last recorded day: not yet judged (NaN)
    K7 k7 u1 baseline 16, no review: not improving from day 56 (April); psychiatric review
       attended on day 90, the last day of week 12: 1
    K8 k8 u2 baseline 16, no review: not improving from day 56 (April); review on day 91: 0
    """
    ids = [f"k{k}" for k in range(1, 9)]
    residents = {"resident_id": ids, "community": ["u1", "u1", "u2", "u2", "u1", "u1", "u1", "u2"]}
    start = pd.Timestamp("2025-03-03")

    def day(n: int) -> str:
        return str((start + pd.Timedelta(days=n)).date())

    base = [16, 16, 20, 18, 18, 15, 16, 16]
    screenings = [(r, "2025-05-20" if r == "k6" else day(0), {"phq9": phq9(b), "gad7": GAD7}) for r, b in zip(ids, base)]
    reviews = [("k1", day(60), {"phq9": phq9(12)}, "K1"), ("k2", day(50), {"phq9": phq9(7)}, "K2"),
               ("k2", day(63), {"phq9": phq9(8)}, "K2"), ("k3", day(49), {"phq9": phq9(9)}, "K3"),
               ("k3", day(70), {"phq9": phq9(14)}, "K3"), ("k4", day(58), {"phq9": phq9(15)}, "K4")]
    referrals = {"referral_id": [f"K{k}" for k in range(1, 9)], "resident_id": ids,
                 "referred_on": [day(0)] * 5 + ["2025-05-20"] + [day(0)] * 2, "tier": [2] * 8,
                 "ended_on": [None] * 4 + [day(30)] + [None] * 3, "end_reason": [None] * 4 + ["completed"] + [None] * 3}
    contacts = [("k1", "K1", day(70), "psychiatric_review", "attended"),
                ("k3", "K3", day(75), "psychiatric_review", "planned"),
                ("k3", "K3", day(95), "psychiatric_review", "attended"),
                ("k4", "K4", day(40), "psychiatric_review", "attended"),
                ("k6", "K6", "2025-07-22", "treatment", "attended"),
                ("k7", "K7", day(90), "psychiatric_review", "attended"),
                ("k8", "K8", day(91), "psychiatric_review", "attended")]
    t = build(residents=residents, screenings=screenings, reviews=reviews, referrals=referrals, contacts=contacts)
    assert t.referral_scores().groupby("referral_id").size().to_dict() == {"K1": 2, "K2": 3, "K3": 3, "K4": 2, "K5": 1,
                                                                            "K6": 1, "K7": 1, "K8": 1}
    u = q.units(t, "psychiatric_review_when_not_improving", months=["2025-04", "2025-05", "2025-07"])
    assert counts(u) == {("u1", "2025-04"): (2, 2), ("u2", "2025-04"): (0, 2), ("u2", "2025-05"): (0, 1)}
    assert unknown(u) == {("u1", "2025-07"): 1}


# --- C5 follow-up after a psychiatric discharge -------------------------------------------------------

def _discharges(with_discharges: bool = True) -> Tables:
    """Psychiatric discharges; last recorded day 2025-07-22 (m1's contact).

    X1 m1 u1 discharged 06-02; treatment attended 06-05: 1
    X2 m2 u1 discharged 06-02; attended on 06-02 (the discharge day) and 06-10 (day 8): 0 (1 with the discharge day)
    X3 m3 u2 discharged 06-03; only a psychiatric case review (not a contact with the resident) 06-05: 0
    X4 m4 u2 discharged 06-03; died 06-06: excluded (HEDIS excludes deaths)
    X5 m5 u1 discharged 06-10 (5 days); readmitted 06-14 (X6: discharged 06-20 after 6 days): excluded
    X6 m5 u1 discharged 06-20; attended 06-25: 1
    X7 m7 u2 discharged 07-18: window ends 07-25 after the last recorded day: NaN
    X8 m8 u2 discharged 06-03; attended 06-10 (day 7, the window's last day): 1
    m1 also had an attended contact on 06-05 while m3 (another community) waited: counted for m1 only.
    """
    residents = {"resident_id": ["m1", "m2", "m3", "m4", "m5", "m7", "m8"],
                 "community": ["u1", "u1", "u2", "u2", "u1", "u2", "u2"]}
    events = [("m1", "2025-06-02", "psychiatric_discharge", 12), ("m2", "2025-06-02", "psychiatric_discharge", 9),
              ("m3", "2025-06-03", "psychiatric_discharge", 20), ("m4", "2025-06-03", "psychiatric_discharge", 15),
              ("m4", "2025-06-06", "death", None), ("m5", "2025-06-10", "psychiatric_discharge", 5),
              ("m5", "2025-06-20", "psychiatric_discharge", 6), ("m7", "2025-07-18", "psychiatric_discharge", 10),
              ("m8", "2025-06-03", "psychiatric_discharge", 8)]
    if not with_discharges:
        events = [("m4", "2025-06-06", "death", None)]
    contacts = [("m1", None, "2025-06-05", "treatment", "attended"), ("m2", None, "2025-06-02", "phone", "attended"),
                ("m2", None, "2025-06-10", "treatment", "attended"), ("m3", None, "2025-06-05", "psychiatric_review", "attended"),
                ("m5", None, "2025-06-25", "phone", "attended"), ("m1", None, "2025-07-22", "phone", "attended"),
                ("m8", None, "2025-06-10", "phone", "attended")]
    return build(residents=residents, events=events, contacts=contacts)


def test_followed_after_discharge_c5():
    t = _discharges()
    u = q.units(t, "followed_after_discharge", months=["2025-06", "2025-07"], days=7, include_discharge_day=False)
    # June: u1 X1 1, X2 0, X6 1 (X5 readmitted: excluded); u2 X3 0, X8 1 (X4 died: excluded). July: X7 open.
    assert counts(u) == {("u1", "2025-06"): (2, 3), ("u2", "2025-06"): (1, 2)}
    assert unknown(u) == {("u1", "2025-06"): 1, ("u2", "2025-06"): 1, ("u2", "2025-07"): 1}
    with_day = q.units(t, "followed_after_discharge", months="2025-06", days=7, include_discharge_day=True)
    assert counts(with_day)[("u1", "2025-06")] == (3, 3)  # X2's contact on the discharge day now counts


def test_followed_after_discharge_without_discharges_is_no_data():
    assert q.units(_discharges(False), "followed_after_discharge", months="2025-06", days=7,
                   include_discharge_day=False) is None
    with pytest.raises(ParameterError, match="'include_discharge_day' parameter.*'no'"):
        q.units(_discharges(), "followed_after_discharge", months="2025-06", days=7, include_discharge_day="no")


# --- through quality.compute --------------------------------------------------------------------------

_YAML = """
version: "t1"
source: "test declarations"
min_denominator: 5
categories:
  access: {en: "Access", zh: "服务可及性"}
  timeliness: {en: "Timeliness", zh: "服务及时性"}
  effectiveness: {en: "Effectiveness", zh: "干预有效性"}
  continuity: {en: "Continuity", zh: "服务连续性"}
  safety: {en: "Safety", zh: "安全性"}
  experience: {en: "Experience", zh: "居民满意度"}
indicators:
  - id: A1
    category: access
    measure: screening_coverage
    period: rolling_12
    direction: higher_is_better
    screens: {depression: {full: phq9, screener: phq2}, anxiety: {full: gad7, screener: gad2}}
    min_age: 18
    target: 0.6
    alert: {below: 0.6}
    label: {en: "Screening coverage", zh: "筛查覆盖率"}
    numerator: {en: "Adults screened", zh: "已筛查成人"}
    denominator: {en: "Adults", zh: "成人"}
    source: "test"
  - id: A4
    category: access
    measure: coverage_equity
    period: rolling_12
    direction: higher_is_better
    screens: {depression: {full: phq9, screener: phq2}, anxiety: {full: gad7, screener: gad2}}
    min_age: 18
    groups: {numerator: [rural], denominator: [urban]}
    target: 0.8
    alert: {below: 0.8}
    setting: true
    label: {en: "Rural-urban equity", zh: "城乡公平性"}
    numerator: {en: "Coverage in rural communities", zh: "农村社区覆盖率"}
    denominator: {en: "Coverage in urban communities", zh: "城市社区覆盖率"}
    source: "test"
  - id: T3
    category: timeliness
    measure: hospital_seen_within
    period: month
    direction: higher_is_better
    days: 3
    target: 0.8
    alert: {below: 0.8}
    setting: true
    label: {en: "Hospital within 3 days", zh: "3天内医院就诊"}
    numerator: {en: "Seen within 3 days", zh: "3天内就诊"}
    denominator: {en: "Tier-3 referrals", zh: "三级转介"}
    source: "test"
"""


def test_compute_counts_statuses_and_the_ratio(coverage_tables, tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(_YAML, encoding="utf-8")
    r = q.compute(coverage_tables, months=["2025-06"], indicators=path).set_index(["indicator", "community"])
    # A1 June (test_screening_coverage_a1): u1 3/5 = 0.6, not below 0.6 (strict): ok; u2 0/1, rr 2/3,
    # ag 1/1: under 5, too few to judge; all = 3 + 0 + 2 + 1 + 1 (p14, blank community) = 7 of 11.
    assert r.loc[("A1", "u1"), ["numerator", "denominator", "value", "status"]].tolist() == [3, 5, 0.6, "ok"]
    assert {r.loc[("A1", c), "status"] for c in ("u2", "rr", "ag")} == {"insufficient"}
    assert r.loc[("A1", "all"), ["numerator", "denominator"]].tolist() == [7, 11]
    # A4: (2/3) / (3/6) = 4/3; Katz log interval: se = sqrt((1 - p1)/(n1 p1) + (1 - p2)/(n2 p2))
    # = sqrt((1/3)/2 + (1/2)/3) = sqrt(1/3) = 0.57735; exp(ln(4/3) -+ 1.959964 * 0.57735)
    # = exp(0.287682 -+ 1.131585) = 0.43003 .. 4.13409. A programme-level ratio: communities n/a.
    a4 = r.loc[("A4", "all")]
    assert a4["value"] == pytest.approx(4 / 3)
    assert a4["ci_low"] == pytest.approx(0.43003, abs=1e-5) and a4["ci_high"] == pytest.approx(4.13409, abs=1e-5)
    assert {r.loc[("A4", c), "status"] for c in ("u1", "u2", "rr", "ag")} == {"not_applicable"}
    # T3: no tier-3 referral with a hospital date (no referrals at all): no data, nothing invented
    assert set(r.loc["T3", "status"]) == {"no_data"} and r.loc["T3", "denominator"].isna().all()


# --- the fast paths equal plain computations on the sample ----------------------------------------
# The measures work on integer codes (resident positions, day and month numbers, binary searches in
# sorted contacts) so that a city of 1,000,000 residents is computed in seconds. Each one is compared
# here with a plain computation of its definition (merges of every pair, per-month isin on texts,
# strftime, registry_flags called on each day it judges) on the sample: the same units, row by row.

def _plain_units(t: q._Derived, frame: pd.DataFrame, date: str, outcome) -> pd.DataFrame:
    return pd.DataFrame({"community": frame["resident_id"].map(t.community).to_numpy(object),
                         "period": pd.to_datetime(frame[date]).dt.strftime("%Y-%m").to_numpy(object),
                         "outcome": pd.Series(outcome).astype("Float64").to_numpy(float, na_value=float("nan"))})


def _plain_first_after(t: q._Derived, frame: pd.DataFrame, date: str, kinds=None) -> pd.Series:
    c = t.attended if kinds is None else t.attended[t.attended["kind"].isin(kinds)]
    pairs = frame[["resident_id", date]].reset_index(drop=True).rename_axis("row").reset_index().merge(
        c[["resident_id", "contact_on"]], on="resident_id")
    first = pairs[pairs["contact_on"] >= pairs[date]].groupby("row")["contact_on"].min()
    return pd.Series(first.reindex(range(len(frame))).to_numpy(), index=frame.index, dtype="datetime64[ns]")


def _plain_coverage(t: q._Derived, months, screens, min_age, conditions=None, lives_alone=None) -> pd.DataFrame:
    from workbench.instruments import get_instrument

    res = t["residents"]
    keep = pd.Series(True, index=res.index)
    if conditions is not None:
        keep &= res[list(conditions)].astype(bool).any(axis=1)
    if lives_alone is not None:
        keep &= res["lives_alone"].astype(bool) == lives_alone
    e = t["events"]
    died = res["resident_id"].map(e[e["kind"] == "death"].groupby("resident_id")["event_on"].min())
    parts = []
    for month in months:
        end = pd.Period(month, "M").end_time.normalize()
        start = end - pd.DateOffset(months=12)  # exclusive
        age = t.age_on(end)
        eligible = keep & ~(died <= end) & ((age >= min_age) | age.isna())
        covered = pd.Series(True, index=res.index)
        for screen in screens.values():
            s = t.tables.scores_of([screen["full"]] + ([screen["screener"]] if "screener" in screen else []),
                                   purpose="screening")
            s = s[s["score"].notna() & (s["assessed_on"] > start) & (s["assessed_on"] <= end)]
            ok = s["instrument"] == screen["full"]
            if "screener" in screen:
                positive = get_instrument(screen["screener"]).screen_positive
                ok |= (s["instrument"] == screen["screener"]) & (s["score"] < positive)
            covered &= res["resident_id"].isin(s.loc[ok, "resident_id"])
        outcome = covered.astype(float).where(age.notna())
        parts.append(pd.DataFrame({"community": res["community"].to_numpy(object), "period": month,
                                   "outcome": outcome.to_numpy(float)})[eligible.to_numpy(bool)])
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def sample():
    from workbench.sample import load_sample

    t = load_sample()
    return t, q._Derived(t), q.default_months(t), {i.id: i for i in q.load_indicators().indicators}


def _same(fast: pd.DataFrame, plain: pd.DataFrame) -> None:
    assert len(fast) > 0
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), plain.reset_index(drop=True), check_dtype=False)


def test_fast_coverage_equals_plain_on_the_sample(sample):
    t, d, months, ind = sample
    for id, extra in (("A1", {}), ("A2", {"conditions": ind["A2"].parameters["conditions"]}),
                      ("A3", {"lives_alone": ind["A3"].parameters["lives_alone"]})):
        p = ind[id].parameters
        fast = q.units(t, ind[id].measure, months=months, **p)
        plain = _plain_coverage(d, months, p["screens"], p["min_age"], **extra)
        assert fast["outcome"].notna().sum() > 100 and fast["outcome"].sum() > 0
        _same(fast, plain)
    # A4: the A1 units of rural and urban communities, grouped by their community's type
    p = ind["A4"].parameters
    plain = _plain_coverage(d, months, p["screens"], p["min_age"])
    kind = plain["community"].map(t["communities"].set_index("community")["community_type"])
    plain["group"] = kind.map({**dict.fromkeys(p["groups"]["numerator"], "numerator"),
                               **dict.fromkeys(p["groups"]["denominator"], "denominator")})
    plain = plain[plain["group"].notna()]
    fast = q.units(t, "coverage_equity", months=months, **p)
    assert set(fast["group"]) == {"numerator", "denominator"}
    _same(fast, plain)


def test_fast_first_contacts_and_units_equal_plain_on_the_sample(sample):
    t, d, months, ind = sample
    for id in ("A5", "T4"):  # first attended treatment contact on or after the screening day
        p = ind[id].parameters
        s = d.screened[d.screened["tier"].isin(p["tiers"]).fillna(False).to_numpy(bool)]
        wait = (_plain_first_after(d, s, "assessed_on", p["contact_kinds"]) - s["assessed_on"]).dt.days
        plain = _plain_units(d, s, "assessed_on", (wait <= p["days"]).fillna(False))
        open_ = (s["assessed_on"] + pd.Timedelta(days=p["days"]) > d.last_day).to_numpy(bool)
        plain.loc[open_, "outcome"] = float("nan")
        fast = q.units(t, ind[id].measure, months=months, **p)
        assert 0 < fast["outcome"].sum() < fast["outcome"].notna().sum()
        _same(fast, plain)
    # C3: any attended contact from the screening day to the due date (the core's first_contact_after)
    s = t.screenings(("phq9", "gad7"))
    s = s[s["next_contact_due"].notna().to_numpy(bool)]
    first = d.first_contact_after(s, "assessed_on")
    assert first.equals(_plain_first_after(d, s, "assessed_on"))
    plain = _plain_units(d, s, "next_contact_due", (first <= s["next_contact_due"]).fillna(False))
    plain.loc[((s["next_contact_due"] > d.last_day) | (s["next_contact_due"] < s["assessed_on"])).to_numpy(bool),
              "outcome"] = float("nan")
    fast = q.units(t, "followed_up_by_due", months=months)
    assert 0 < fast["outcome"].sum() < fast["outcome"].notna().sum()
    _same(fast, plain)


def test_fast_paired_measures_equals_plain_on_the_sample(sample):
    from workbench.outcomes import referral_outcomes

    t, d, months, ind = sample
    c = t["contacts"]
    c = c[c["referral_id"].notna()].assign(attended=(c["status"] == "attended").fillna(False).astype(bool))
    out = referral_outcomes(d.referral_scores, c, attended="attended")
    finished = out.loc[out["finished_treatment"].astype(bool), "referral_id"]
    r = t["referrals"]
    r = r[r["ended_on"].notna() & r["referral_id"].isin(finished)]
    scores = d.referral_scores
    n_phq9 = scores[scores["phq9_score"].notna()].groupby("referral_id").size()
    plain = _plain_units(d, r, "ended_on", r["referral_id"].map(n_phq9).fillna(0) >= 2)
    fast = q.units(t, "paired_measures", months=months)
    assert 0 < fast["outcome"].sum() < len(fast)
    _same(fast, plain)


def test_fast_not_improving_equals_registry_flags_on_each_day(sample):
    # C4's denominator: registry_flags (with the contacts) called on every day it judges a
    # referral (week 8 starts; each PHQ-9 stored in weeks 8-12), for the residents of 40 referrals
    from workbench.outcomes import registry_flags
    from workbench.quality_care import _not_improving_in_window

    t, d, months, ind = sample
    scored = d.referral_scores[d.referral_scores["phq9_score"].notna()]
    refs = t["referrals"][t["referrals"]["referral_id"].isin(scored["referral_id"])]
    small = t.subset(refs["resident_id"].drop_duplicates().iloc[:40])
    sd = q._Derived(small)
    scores = sd.referral_scores[sd.referral_scores["phq9_score"].notna()][["referral_id", "assessed_on", "phq9_score"]]
    c = small["contacts"]
    c = c[c["referral_id"].notna()].assign(attended=(c["status"] == "attended").fillna(False).astype(bool))
    r = small["referrals"][["referral_id", "resident_id", "referred_on", "ended_on"]]
    r = r[r["referral_id"].isin(scores["referral_id"])]
    expected = {}
    for ref in r.itertuples():
        start, end = ref.referred_on + pd.Timedelta(days=56), ref.referred_on + pd.Timedelta(days=90)
        own = scores.loc[scores["referral_id"] == ref.referral_id, "assessed_on"]
        for day in sorted({start, *own[(own >= start) & (own <= end)]}):
            if day > sd.last_day:
                continue
            flags = registry_flags(scores, c[["referral_id", "contact_on", "attended"]], r, on=day)
            hit = flags.loc[flags["referral_id"] == ref.referral_id, "not_improving"]
            if len(hit) and hit.fillna(False).astype(bool).iloc[0]:
                expected[ref.referral_id] = day
                break
    fast = _not_improving_in_window(sd)
    assert 0 < len(expected) < len(r)
    assert dict(zip(fast["referral_id"], fast["first_on"])) == expected
