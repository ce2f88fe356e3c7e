"""workbench.quality_outcomes: the effectiveness, safety and experience measures (E1-E6, S1-S4,
X2-X4), each worked by hand on a small analysis-table set built as the registry stores it
(answers scored once by ``score_assessments``, tiers decided once by ``decide_screenings``).

The references are the definitions in REFERENCE.md ("Change and outcome metrics", "Chronic
disease follow-up", "Severe mental disorders") and ../shared/INDICATORS.md, applied by hand in
the comments; E5/E6 and S3/S4 are also compared, for one month, with the module they reuse
(chronic.indicators / smd.indicators), so the two can never disagree."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import chronic, smd
from workbench import quality as q
from workbench import quality_outcomes  # noqa: F401  (registers the measures)
from workbench.records import assessments_from_forms, decide_screenings, score_assessments
from workbench.tables import CONDITIONS, TABLES, Tables, tables_from_frames

#: Values of required columns the examples do not care about.
_DEFAULTS = {"sex": "female", "birth_date": "1960-01-01", "lives_alone": False, **dict.fromkeys(CONDITIONS, False),
             "community_type": "urban", "status": "attended", "kind": "treatment", "setting": "clinic",
             "mode": "face_to_face", "questionnaire": "mhl-v1"}


def frame(name: str, rows) -> pd.DataFrame:
    """Rows of the analysis table ``name`` with all its declared columns (columns not given get
    :data:`_DEFAULTS` when the table declares them, else stay blank), as text-like values."""
    given = pd.DataFrame(rows)
    full = pd.DataFrame(index=given.index)
    for column in TABLES[name].names:
        full[column] = given[column] if column in given.columns else _DEFAULTS.get(column)
    return full


def with_ids(name: str, rows, key: str, prefix: str) -> pd.DataFrame:
    out = frame(name, rows)
    out[key] = [f"{prefix}{k}" for k in range(1, len(out) + 1)]
    return out


def residents(spec: dict[str, str], **columns) -> pd.DataFrame:
    """Residents ``{id: community}`` (other columns as lists in the same order)."""
    return frame("residents", {"resident_id": list(spec), "community": list(spec.values()), **columns})


def communities(*names: str) -> pd.DataFrame:
    return frame("communities", {"community": list(names)})


def items(score: int, n: int) -> list[int]:
    """``n`` answers (0-3) adding up to ``score``, filled from the first item (the last item,
    PHQ-9's self-harm item, stays 0 unless the score needs it)."""
    out = []
    for _ in range(n):
        out.append(min(3, score))
        score -= out[-1]
    assert score == 0
    return out


def sittings(rows: list[tuple], purpose: str, ids: str) -> pd.DataFrame:
    """Assessments from (resident, date, PHQ-9 total, GAD-7 total, referral); a PHQ-9 total of None
    answers two items only (too few to score: the stored score is blank)."""
    forms = []
    for resident, on, phq, gad, referral in rows:
        form = {"resident_id": resident, "assessed_on": on, "referral_id": referral}
        form.update({f"phq9_{i + 1}": (v if phq is not None or i < 2 else None)
                     for i, v in enumerate(items(phq or 0, 9))})
        form.update({f"gad7_{i + 1}": v for i, v in enumerate(items(gad, 7))})
        forms.append(form)
    forms = pd.DataFrame(forms)
    if purpose == "screening":
        forms = forms.drop(columns="referral_id")
    out = assessments_from_forms(forms, purpose=purpose)
    return out.assign(assessment_id=[f"{ids}{k}" for k in range(len(out))])


def units(tables: Tables, measure: str, months, **parameters) -> pd.DataFrame:
    return q.units(tables, measure, months=months, **parameters)


def unit_counts(u: pd.DataFrame) -> dict:
    """{(community, period): (numerator, denominator)} of 0/1 units, with the 'all' rows."""
    u = u.dropna(subset=["outcome"])
    u = pd.concat([u.dropna(subset=["community"]), u.assign(community="all")])
    return {k: (int(v.sum()), len(v)) for k, v in u.groupby(["community", "period"])["outcome"]}


def counts(c: pd.DataFrame, months=None) -> dict:
    """{(community, period): (numerator, denominator)} of a pre-aggregated count frame."""
    assert list(c.columns) == ["community", "period", "numerator", "denominator"]
    if months is not None:
        c = c[c["period"].isin(months)]
    return {(r.community, r.period): (int(r.numerator), int(r.denominator)) for r in c.itertuples()}


# --- E1, E3, S1: NHS Talking Therapies ------------------------------------------------------------

@pytest.fixture(scope="module")
def tt() -> Tables:
    """Referrals F1-F8 (residents r1-r8; r7 lives in c2, the others in c1), referred 2025-06-02
    (the screening that day is the baseline), reviewed 2025-07-01, ended 2025-07-20 unless said.

    ref  baseline PHQ/GAD  last PHQ/GAD  attended treatment  -> by REFERENCE.md (first vs last pair)
    F1   16 / 12           7 / 6          2 (finished)        caseness, recovered, reliable improvement
                                                              (falls 9 and 6) -> reliable recovery
    F2   12 / 9            13 / 10        2                   caseness, not recovered, no reliable change
    F3    5 / 4             4 / 2         2                   NOT at caseness at the start: no recovery
                                                              (out of E3's denominator), no reliable change
    F4   10 / 8            17 / 9         2                   caseness; PHQ-9 rise 7 >= 6: reliable deterioration
    F5   14 / 10           (no review)    2                   finished without a pair: in E1/S1's and E3's
                                                              denominators, never in a numerator
    F6   20 / 15            2 / 1         1 (+1 missed)       not finished: in no denominator
    F7   15 / 10            3 / 2         2    (c2)           reliable recovery, counted in c2 only
    F8   18 / 12            3 / 2         2                   still open (no ended_on): not counted yet
    """
    res = residents({f"r{i}": ("c2" if i == 7 else "c1") for i in range(1, 9)})
    base = {"F1": (16, 12), "F2": (12, 9), "F3": (5, 4), "F4": (10, 8), "F5": (14, 10), "F6": (20, 15),
            "F7": (15, 10), "F8": (18, 12)}
    last = {"F1": (7, 6), "F2": (13, 10), "F3": (4, 2), "F4": (17, 9), "F6": (2, 1), "F7": (3, 2), "F8": (3, 2)}
    screenings = sittings([(f"r{f[1]}", "2025-06-02", p, g, None) for f, (p, g) in base.items()], "screening", "S")
    reviews = sittings([(f"r{f[1]}", "2025-07-01", p, g, f) for f, (p, g) in last.items()], "review", "V")
    assessments = pd.concat([screenings, reviews], ignore_index=True)
    referrals = frame("referrals", {"referral_id": list(base), "resident_id": [f"r{f[1]}" for f in base],
                                    "referred_on": "2025-06-02", "tier": 2, "referral_source": "screening",
                                    "ended_on": ["2025-07-20"] * 7 + [None],
                                    "end_reason": ["completed"] * 7 + [None]})
    contacts = []
    for f in base:
        contacts += [(f"r{f[1]}", f, "2025-06-09", "attended"),
                     (f"r{f[1]}", f, "2025-06-16", "missed" if f == "F6" else "attended")]
    contacts = pd.DataFrame(contacts, columns=["resident_id", "referral_id", "contact_on", "status"])
    contacts = with_ids("contacts", contacts, "contact_id", "C")
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "assessments": assessments,
                               "scores": score_assessments(assessments), "referrals": referrals, "contacts": contacts})


def test_tt_reliable_improvement(tt):
    # denominator: finished referrals ended in July: c1 F1-F5 (5; F6 not finished, F8 open), c2 F7 (1)
    # numerator: F1 (c1), F7 (c2); F5 has no pair: 0, as REFERENCE.md's "all finished" denominator says
    assert counts(units(tt, "tt_reliable_improvement", ["2025-07"])) == {
        ("c1", "2025-07"): (1, 5), ("c2", "2025-07"): (1, 1), ("all", "2025-07"): (2, 6)}


def test_tt_reliable_recovery(tt):
    # denominator: finished minus those known not at caseness at the start (F3): c1 F1, F2, F4, F5; c2 F7
    # numerator: recovered and reliably improved: F1 (c1), F7 (c2)
    assert counts(units(tt, "tt_reliable_recovery", ["2025-07"])) == {
        ("c1", "2025-07"): (1, 4), ("c2", "2025-07"): (1, 1), ("all", "2025-07"): (2, 5)}


def test_tt_reliable_deterioration(tt):
    # denominator as E1; numerator F4 only (PHQ-9 10 -> 17)
    assert counts(units(tt, "tt_reliable_deterioration", ["2025-07"])) == {
        ("c1", "2025-07"): (1, 5), ("c2", "2025-07"): (0, 1), ("all", "2025-07"): (1, 6)}


def test_tt_a_blank_community_counts_in_all_only(tt):
    # r7's community suppressed (blank, as an export may hold it): F7 leaves c2 and stays in 'all'
    frames = {name: tt[name] for name in ("communities", "residents", "assessments", "scores", "referrals", "contacts")}
    frames["residents"] = frames["residents"].assign(
        community=frames["residents"]["community"].where(frames["residents"]["resident_id"] != "r7"))
    got = counts(units(tables_from_frames(frames), "tt_reliable_improvement", ["2025-07"]))
    assert got == {("c1", "2025-07"): (1, 5), ("all", "2025-07"): (2, 6)}


def test_tt_measures_count_nothing_before_referrals_end(tt):
    # nothing ended in June (and F8, finished and improved, never ended): no counts at all
    for measure in ("tt_reliable_improvement", "tt_reliable_recovery", "tt_reliable_deterioration"):
        assert counts(units(tt, measure, ["2025-06"]), ["2025-06"]) == {}
    assert counts(units(Tables(), "tt_reliable_improvement", ["2025-07"])) == {}


# --- E4: CMS159 ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def remission() -> Tables:
    """PHQ-9 (with GAD-7 0) of residents a, b, d, e (c1) and c (c2); the data's last day is
    2025-03-25 (e's screening, the latest date recorded).

    a: index 2024-01-10 (15); 2025-01-05 PHQ-9 4 -> window 2024-11-11 .. 2025-03-11: remitted, closes March
    b: index 2024-01-20 (12); 2025-02-01 PHQ-9 not scorable (skipped, never 0) -> no score in the window
       2024-11-21 .. 2025-03-21: NOT remitted, closes March
    c: index 2024-01-15 (20); 2025-02-01 PHQ-9 7 -> window .. 2025-03-16: not remitted (7 >= 5), c2, March
    d: index 2024-02-01 (11) -> window closes 2025-04-02, after the last day: not counted yet in April
    e: PHQ-9 0 only: no index episode
    """
    res = residents({"a": "c1", "b": "c1", "c": "c2", "d": "c1", "e": "c1"})
    rows = [("a", "2024-01-10", 15, 0, None), ("a", "2025-01-05", 4, 0, None), ("b", "2024-01-20", 12, 0, None),
            ("b", "2025-02-01", None, 0, None), ("c", "2024-01-15", 20, 0, None), ("c", "2025-02-01", 7, 0, None),
            ("d", "2024-02-01", 11, 0, None), ("e", "2025-03-25", 0, 0, None)]
    assessments = sittings(rows, "screening", "A")
    scores = score_assessments(assessments)
    phq = scores[scores["instrument"] == "phq9"].set_index(["resident_id"])["score"]
    assert phq.loc["b"].isna().tolist() == [False, True]  # the unanswered PHQ-9 is stored blank
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "assessments": assessments,
                               "scores": scores})


def test_cms159_remission(remission):
    got = units(remission, "cms159_remission", ["2025-03", "2025-04"])
    # March: c1 a (1), b (0) -> 1/2; c2 c (0) -> 0/1; all 1/3. April: d's window is still open: nothing
    assert unit_counts(got) == {("c1", "2025-03"): (1, 2), ("c2", "2025-03"): (0, 1), ("all", "2025-03"): (1, 3)}


def test_cms159_remission_counts_an_open_window_once_the_data_reach_its_end(remission):
    # one more recorded day (an event of e on 2025-04-30): d's window (closing 2025-04-02) is judged: no
    # PHQ-9 after the index -> not remitted, counted in April
    frames = {name: remission[name] for name in ("communities", "residents", "assessments", "scores")}
    frames["events"] = with_ids("events", {"resident_id": ["e"], "event_on": ["2025-04-30"], "kind": ["er_visit"]},
                                "event_id", "E")
    got = units(tables_from_frames(frames), "cms159_remission", ["2025-04"])
    assert unit_counts(got[got["period"] == "2025-04"]) == {("c1", "2025-04"): (0, 1), ("all", "2025-04"): (0, 1)}


# --- E5, E6: chronic control of residents in psychological care -----------------------------------

@pytest.fixture(scope="module")
def control() -> Tables:
    """Residents born 1960 (65 in 2025: managed by the chronic policy) screened with scores 0 (the
    policy suggests tier 1), tiers 2/3 decided by a person (overrides). Month asked: 2025-06 (the
    policy's 12 months: 2024-07-01 .. 2025-06-30).

    h1 c1 hypertension  tier 2 (2025-01-10)                     BP 150/95 (03-01), 130/80 (05-01): latest controlled
    h2 c1 hypertension  tier 3 (2025-02-01)                     BP 120/70 on 2024-05-01 only: none in the 12 months
                                                                -> not controlled (in the denominator)
    h3 c1 hypertension  tier 2 (2025-01-05), tier 1 (2025-05-01) not in care at the end of June
    h4 c1 hypertension  tier 2 (2025-01-05), 2025-05-01 screening nobody decided on: tier 2 stays in force;
                                                                BP 145/85 (04-01): not controlled (SBP >= 140)
    h5 c2 hypertension  tier 2 (2025-01-05)                     BP 120/80 (06-15): controlled, counted in c2
    h6 c1 hypertension  tier 2 decided on a 2025-07-02 screening: not in care in June
    h7 c1 hypertension, 1980 (45), tier 1                       BP 150/95, not in care
    g1 c1 diabetes      tier 3                                  fasting glucose 6.5: controlled (< 7.0)
    g2 c1 diabetes      tier 2                                  fasting glucose 7.0: not controlled (< 7.0 is)
    g3 c1 diabetes      tier 2                                  no reading: not controlled
    """
    people = ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "g1", "g2", "g3"]
    res = residents({p: ("c2" if p == "h5" else "c1") for p in people},
                    hypertension=[p.startswith("h") for p in people], diabetes=[p.startswith("g") for p in people],
                    birth_date=["1980-01-01" if p == "h7" else "1960-01-01" for p in people])
    screened = [("h1", "2025-01-10"), ("h2", "2025-02-01"), ("h3", "2025-01-05"), ("h3", "2025-05-01"),
                ("h4", "2025-01-05"), ("h4", "2025-05-01"), ("h5", "2025-01-05"), ("h6", "2025-07-02"),
                ("h7", "2025-01-05"), ("g1", "2025-01-05"), ("g2", "2025-01-05"), ("g3", "2025-01-05")]
    assessments = sittings([(p, on, 0, 0, None) for p, on in screened], "screening", "A")
    scores = score_assessments(assessments)
    tiers = {("h1", "2025-01-10"): 2, ("h2", "2025-02-01"): 3, ("h3", "2025-01-05"): 2, ("h4", "2025-01-05"): 2,
             ("h5", "2025-01-05"): 2, ("h6", "2025-07-02"): 2, ("g1", "2025-01-05"): 3, ("g2", "2025-01-05"): 2,
             ("g3", "2025-01-05"): 2}
    overrides = pd.DataFrame([(p, pd.Timestamp(on), t, "seen by the counsellor") for (p, on), t in tiers.items()],
                             columns=["resident_id", "assessed_on", "tier", "reason"])
    typed = tables_from_frames({"residents": res, "communities": communities("c1", "c2")})["residents"]
    decisions = decide_screenings(assessments, scores, typed, by="counsellor_li", at="2025-07-03 09:00",
                                  overrides=overrides, ids=[f"D{k}" for k in range(len(screened))])
    undecided = (decisions["resident_id"] == "h4") & (decisions["assessed_on"] == "2025-05-01")
    decisions = decisions[~undecided.to_numpy(bool)]
    readings = [("h1", "2025-03-01", 150, 95, None), ("h1", "2025-05-01", 130, 80, None),
                ("h2", "2024-05-01", 120, 70, None), ("h3", "2025-05-02", 120, 70, None),
                ("h4", "2025-04-01", 145, 85, None), ("h5", "2025-06-15", 120, 80, None),
                ("h6", "2025-06-01", 120, 70, None), ("h7", "2025-06-01", 150, 95, None),
                ("g1", "2025-06-01", None, None, 6.5), ("g2", "2025-06-01", None, None, 7.0)]
    measurements = with_ids("measurements", pd.DataFrame(readings, columns=["resident_id", "measured_on", "sbp", "dbp",
                                                                            "fasting_glucose"]),
                            "measurement_id", "M")
    measurements[["adverse_reaction", "complication", "alarm_symptoms"]] = False
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "assessments": assessments,
                               "scores": scores, "decisions": decisions, "measurements": measurements})


def test_the_control_tables_are_decided_as_documented(control):
    s = control.screenings().set_index(["resident_id", "assessed_on"])["tier"]
    assert s.loc[("h3", pd.Timestamp("2025-05-01"))] == 1 and s.loc[("h1", pd.Timestamp("2025-01-10"))] == 2
    assert pd.isna(s.loc[("h4", pd.Timestamp("2025-05-01"))])  # nobody decided on it


def test_bp_control_in_care(control):
    # in care with hypertension at the end of June: c1 h1 (1), h2 (0: no reading in 12 months), h4 (0); c2 h5 (1)
    assert counts(units(control, "bp_control_in_care", ["2025-06"], tiers=[2, 3]), ["2025-06"]) == {
        ("c1", "2025-06"): (1, 3), ("c2", "2025-06"): (1, 1), ("all", "2025-06"): (2, 4)}
    # July: h6 is in care (decided 2025-07-02), controlled: c1 2/4
    july = counts(units(control, "bp_control_in_care", ["2025-07"], tiers=[2, 3]), ["2025-07"])
    assert july[("c1", "2025-07")] == (2, 4)
    # tier 3 only: h2 (0) in c1
    assert counts(units(control, "bp_control_in_care", ["2025-06"], tiers=[3]))[("all", "2025-06")] == (0, 1)


def test_glucose_control_in_care(control):
    # diabetic in care: g1 (6.5 controlled), g2 (7.0 not: the target is < 7.0), g3 (no reading: not controlled)
    assert counts(units(control, "glucose_control_in_care", ["2025-06"], tiers=[2, 3]), ["2025-06"]) == {
        ("c1", "2025-06"): (1, 3), ("all", "2025-06"): (1, 3)}


def test_control_in_care_agrees_with_chronic_indicators(control):
    # the chronic module's own indicators on the residents in care (listed by hand) give the same counts
    expected = chronic.indicators(control.subset(["h1", "h2", "h4", "h5", "g1", "g2", "g3"]),
                                  start="2025-06", end="2025-06")
    for measure, condition in (("bp_control_in_care", "hypertension"), ("glucose_control_in_care", "diabetes")):
        e = expected[expected["condition"] == condition]
        assert counts(units(control, measure, ["2025-06"], tiers=[2, 3])) == {
            (r.community, r.month): (r.controlled, r.managed) for r in e.itertuples() if r.managed}


def test_control_in_care_without_measurements_is_no_data(control):
    frames = {name: control[name] for name in ("communities", "residents", "assessments", "scores", "decisions")}
    assert units(tables_from_frames(frames), "bp_control_in_care", ["2025-06"], tiers=[2, 3]) is None


def test_control_in_care_names_a_bad_tier(control):
    with pytest.raises(ValueError, match=r"'tiers' parameter .*\[4\]"):
        units(control, "bp_control_in_care", ["2025-06"], tiers=[2, 4])


# --- S2: crisis rate -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crises() -> Tables:
    """p1, p2, p4 in c1, p3 in c2.

    p1: referral A 2025-03-01..03-10 and B 2025-03-05..open (overlap: March days 1-31 once: 31 days;
        April 30 days). Crisis 03-07 (two referrals open: one event), psychiatric emergency 03-20,
        er_visit 03-21 (not a kind counted).
    p2: referral 2025-02-20..03-15 (March days 1-15: 15 days). Crisis 03-15 (the end day: in care),
        crisis 03-16 (after the end: not in care, not counted).
    p3: referral 2025-03-11..04-05 (March 21 days, April 5 days). Crisis 04-02 (April).
    p4: no referral; crisis 03-03: not in care, no person-time.
    """
    res = residents({"p1": "c1", "p2": "c1", "p3": "c2", "p4": "c1"})
    referrals = frame("referrals", {"referral_id": ["A", "B", "C", "D"], "resident_id": ["p1", "p1", "p2", "p3"],
                                    "referred_on": ["2025-03-01", "2025-03-05", "2025-02-20", "2025-03-11"],
                                    "ended_on": ["2025-03-10", None, "2025-03-15", "2025-04-05"]})
    events = with_ids("events", pd.DataFrame(
        [("p1", "2025-03-07", "crisis"), ("p1", "2025-03-20", "psychiatric_emergency"),
         ("p1", "2025-03-21", "er_visit"), ("p2", "2025-03-15", "crisis"), ("p2", "2025-03-16", "crisis"),
         ("p3", "2025-04-02", "crisis"), ("p4", "2025-03-03", "crisis")],
        columns=["resident_id", "event_on", "kind"]), "event_id", "E")
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "referrals": referrals,
                               "events": events})


def test_crisis_rate_units(crises):
    got = units(crises, "crisis_rate", ["2025-03", "2025-04"], event_kinds=["crisis", "psychiatric_emergency"])
    assert list(got.columns) == ["community", "period", "outcome", "exposure"]
    got = got.assign(days=(got["exposure"] * 365.25).round(9)).sort_values(["period", "community", "days"])
    # resident-months in care: (community, month, events, days)
    assert [tuple(r) for r in got[["community", "period", "outcome", "days"]].itertuples(index=False)] == [
        ("c1", "2025-03", 1.0, 15.0), ("c1", "2025-03", 2.0, 31.0), ("c2", "2025-03", 0.0, 21.0),
        ("c1", "2025-04", 0.0, 30.0), ("c2", "2025-04", 1.0, 5.0)]
    # c1 March: 3 events in 46/365.25 person-years = 23,820.7 per 1,000 person-years
    march = got[(got["period"] == "2025-03") & (got["community"] == "c1")]
    assert march["outcome"].sum() / march["exposure"].sum() * 1000 == pytest.approx(3 / 46 * 365.25 * 1000)


def test_crisis_rate_kinds_are_declared(crises):
    # crisis alone: p1 loses the psychiatric emergency (1 event in March)
    got = units(crises, "crisis_rate", ["2025-03"], event_kinds=["crisis"])
    assert got.groupby("community")["outcome"].sum().to_dict() == {"c1": 2.0, "c2": 0.0}
    with pytest.raises(ValueError, match="'event_kinds' parameter .*'fall'"):
        units(crises, "crisis_rate", ["2025-03"], event_kinds=["crisis", "fall"])


# --- S3, S4: severe mental disorders ---------------------------------------------------------

@pytest.fixture(scope="module")
def register() -> Tables:
    """Month asked 2025-06 (12 months: 2024-07-01 .. 2025-06-30).

    s1 c1 registered 2024-01-01; follow-ups 2024-08-01, 2024-11-01, 2025-02-01, 2025-05-01, all with a
       risk grade; the latest recorded medication regular -> regularly managed (>= 4) and regular medication
    s2 c1 registered 2024-01-01; 4 follow-ups but one without a risk grade (blank, never grade 0): 3 assessed
       -> not regularly managed; the latest left medication_regularity blank -> not regular medication, in
       the denominator (not recorded)
    s3 c2 registered 2024-01-01, left 2025-05-01 (moved): not registered at the end of June
    s4 c2 registered 2025-06-10, no follow-up yet: in the denominator of both, in neither numerator
    """
    res = residents({"s1": "c1", "s2": "c1", "s3": "c2", "s4": "c2", "x": "c1"})
    reg = frame("smd_register", {"resident_id": ["s1", "s2", "s3", "s4"], "diagnosis": "schizophrenia",
                                 "registered_on": ["2024-01-01", "2024-01-01", "2024-01-01", "2025-06-10"],
                                 "left_on": [None, None, "2025-05-01", None],
                                 "left_reason": [None, None, "moved", None]})
    days = ["2024-08-01", "2024-11-01", "2025-02-01", "2025-05-01"]
    fu = pd.DataFrame({"resident_id": ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4, "followed_on": days * 3,
                       "risk_grade": [0, 0, 1, 0] + [0, None, 0, 0] + [0, 0, 0, 0],
                       "on_medication": True,
                       "medication_regularity": ["regular"] * 4 + ["regular"] * 3 + [None] + ["regular"] * 4,
                       "outcome": "stable"})
    fu = with_ids("smd_followups", fu, "followup_id", "F")
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "smd_register": reg,
                               "smd_followups": fu})


def test_smd_regular_management(register):
    # c1: s1 yes, s2 no -> 1/2; c2: s4 (s3 left) -> 0/1; all 1/3
    assert counts(units(register, "smd_regular_management", ["2025-06"]), ["2025-06"]) == {
        ("c1", "2025-06"): (1, 2), ("c2", "2025-06"): (0, 1), ("all", "2025-06"): (1, 3)}


def test_smd_regular_medication(register):
    # c1: s1 regular, s2 not recorded at the latest -> 1/2; c2: s4 none recorded -> 0/1
    assert counts(units(register, "smd_regular_medication", ["2025-06"]), ["2025-06"]) == {
        ("c1", "2025-06"): (1, 2), ("c2", "2025-06"): (0, 1), ("all", "2025-06"): (1, 3)}


def test_smd_measures_agree_with_smd_indicators(register):
    months = ["2025-04", "2025-05", "2025-06"]
    e = smd.indicators(register["smd_register"], register["smd_followups"], register["residents"],
                       start="2025-04", end="2025-06")
    for measure, column in (("smd_regular_management", "regular"), ("smd_regular_medication", "regular_medication")):
        assert counts(units(register, measure, months)) == {
            (r.community, r.month): (getattr(r, column), r.registered) for r in e.itertuples() if r.registered}
    # April: c2 s3 still registered (leaves 2025-05-01) with 3 follow-ups by 2025-04-30: not regular; s4 not yet
    assert counts(units(register, "smd_regular_management", months))[("c2", "2025-04")] == (0, 1)


def test_smd_measures_without_a_register_are_no_data():
    t = tables_from_frames({"communities": communities("c1"), "residents": residents({"x": "c1"})})
    assert units(t, "smd_regular_management", ["2025-06"]) is None
    assert units(t, "smd_regular_medication", ["2025-06"]) is None


# --- X2, X3, X4: experience ----------------------------------------------------------------------

def test_survey_response():
    # c1 June: satisfied only (answered), rating only (answered), neither (sent, not answered) -> 2/3;
    # c2 June: neither -> 0/1; all 2/4
    res = residents({"u1": "c1", "u2": "c1", "u3": "c1", "u4": "c2"})
    surveys = with_ids("surveys", {"resident_id": ["u1", "u2", "u3", "u4"], "surveyed_on": "2025-06-10",
                                   "satisfied": [True, None, None, None], "rating": [None, 4, None, None]},
                       "survey_id", "Q")
    t = tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "surveys": surveys})
    assert unit_counts(units(t, "survey_response", ["2025-06"])) == {
        ("c1", "2025-06"): (2, 3), ("c2", "2025-06"): (0, 1), ("all", "2025-06"): (2, 4)}
    empty = tables_from_frames({"communities": communities("c1", "c2"), "residents": res})
    assert units(empty, "survey_response", ["2025-06"]) is None  # no survey sent: no data


def test_self_referral():
    # c1 May: self (1), screening (0), blank source (not known: excluded, never "not self") -> 1/2;
    # c2 May: self -> 1/1; all 2/3
    res = residents({"v1": "c1", "v2": "c1", "v3": "c1", "v4": "c2"})
    refs = frame("referrals", {"referral_id": ["R1", "R2", "R3", "R4"], "resident_id": ["v1", "v2", "v3", "v4"],
                               "referred_on": "2025-05-05", "referral_source": ["self", "screening", None, "self"]})
    t = tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "referrals": refs})
    got = units(t, "self_referral", ["2025-05"])
    assert got["outcome"].isna().sum() == 0 and len(got) == 3  # the blank source is not a unit
    assert unit_counts(got) == {("c1", "2025-05"): (1, 2), ("c2", "2025-05"): (1, 1), ("all", "2025-05"): (2, 3)}
    blank = refs.assign(referral_source=None)
    t = tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "referrals": blank})
    assert units(t, "self_referral", ["2025-05"]) is None  # no source recorded anywhere: no data


@pytest.fixture(scope="module")
def literacy_tables() -> Tables:
    """l1, l2, l3, l5 in c1, l4 in c2. Months asked: 2025-05 (window 2024-06-01 .. 2025-05-31) and
    2025-06 (window 2024-07-01 .. 2025-06-30); pass share 0.7.

    l1: 2024-06-30 10/10; 2025-03-01 7/10 (7 >= 0.7 x 10: passes; equality passes)
    l2: 2025-01-01 9/10; 2025-05-01 answers not recorded (blank) -> the latest is not known: excluded
        (neither failed nor the earlier pass)
    l3: 2025-02-01 two questionnaires, 3/5 and 2/5 -> pooled 5/10: fails
    l4: 2025-06-30 8/10: passes (c2, June only)
    l5: 2024-06-30 4/10 only: fails in May, outside the June window
    """
    res = residents({"l1": "c1", "l2": "c1", "l3": "c1", "l4": "c2", "l5": "c1"})
    rows = [("l1", "2024-06-30", "mhl-v1", 10, 10), ("l1", "2025-03-01", "mhl-v1", 10, 7),
            ("l2", "2025-01-01", "mhl-v1", 10, 9), ("l2", "2025-05-01", "mhl-v1", 10, None),
            ("l3", "2025-02-01", "mhl-v1", 5, 3), ("l3", "2025-02-01", "mhl-short", 5, 2),
            ("l4", "2025-06-30", "mhl-v1", 10, 8), ("l5", "2024-06-30", "mhl-v1", 10, 4)]
    lit = with_ids("literacy", pd.DataFrame(rows, columns=["resident_id", "asked_on", "questionnaire", "n_asked",
                                                           "n_correct"]), "literacy_id", "L")
    return tables_from_frames({"communities": communities("c1", "c2"), "residents": res, "literacy": lit})


def test_literacy(literacy_tables):
    got = units(literacy_tables, "literacy", ["2025-05", "2025-06"], pass_share=0.7)
    # May: c1 l1 (1), l3 (0), l5 (0) -> 1/3 (l2 excluded); June: c1 l1 (1), l3 (0) -> 1/2; c2 l4 -> 1/1
    assert unit_counts(got) == {("c1", "2025-05"): (1, 3), ("all", "2025-05"): (1, 3),
                                ("c1", "2025-06"): (1, 2), ("c2", "2025-06"): (1, 1), ("all", "2025-06"): (2, 3)}
    # l2's latest (blank) is a unit with an unknown outcome, never a 0
    assert got["outcome"].isna().sum() == 2
    # at 0.75, l1's 7/10 fails
    stricter = units(literacy_tables, "literacy", ["2025-06"], pass_share=0.75)
    assert unit_counts(stricter)[("c1", "2025-06")] == (0, 2)


def test_literacy_no_data_and_a_bad_share(literacy_tables):
    t = tables_from_frames({"communities": communities("c1"), "residents": residents({"x": "c1"})})
    assert units(t, "literacy", ["2025-06"], pass_share=0.7) is None
    with pytest.raises(ValueError, match=r"'pass_share' parameter must be a number in \(0, 1\], got 70"):
        units(literacy_tables, "literacy", ["2025-06"], pass_share=70)


# --- through quality.compute (the declared indicators) -------------------------------------------

_HEADER = """version: "test"
source: "tests/test_quality_outcomes.py"
min_denominator: 5
categories:
  access: {en: Access, zh: 服务可及性}
  timeliness: {en: Timeliness, zh: 服务及时性}
  effectiveness: {en: Effectiveness, zh: 干预有效性}
  continuity: {en: Continuity, zh: 服务连续性}
  safety: {en: Safety, zh: 安全性}
  experience: {en: Experience, zh: 居民满意度}
indicators:
"""


def _indicator(id: str, category: str, measure: str, period: str, alert: str, extra: str = "",
               direction: str = "higher_is_better") -> str:
    return f"""  - id: {id}
    category: {category}
    measure: {measure}
    period: {period}
    direction: {direction}
    alert: {alert}
    label: {{en: "{id} label", zh: "{id}标签"}}
    numerator: {{en: "counted", zh: "分子"}}
    denominator: {{en: "eligible", zh: "分母"}}
    source: "test"
{extra}"""


def _rows(result: pd.DataFrame, indicator: str) -> dict:
    r = result[result["indicator"] == indicator]
    return {(x.community, x.period): (x.numerator, x.denominator, x.value, x.status) for x in r.itertuples()}


def test_compute_statuses_of_outcome_indicators(tt, tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(_HEADER
                    + _indicator("E1", "effectiveness", "tt_reliable_improvement", "month", "{below: 0.67}",
                                 "    target: 0.67\n")
                    + _indicator("X3", "experience", "self_referral", "month", "null")
                    + _indicator("X4", "experience", "literacy", "rolling_12", "{below: 0.7}",
                                 "    target: 0.7\n    pass_share: 0.7\n"), encoding="utf-8")
    got = q.compute(tt, months=["2025-06", "2025-07"], indicators=path, spc=False)
    e1, x3, x4 = _rows(got, "E1"), _rows(got, "X3"), _rows(got, "X4")
    # E1 July: c1 1/5 = 0.2, Wilson 3.6-62.4 % wholly below 0.67 -> alert; c2 1/1: too few to judge
    # (1 < 5), never an alert; all 2/6 = 0.33, Wilson 9.7-70.0 % holds 0.67 -> ok (an alert needs the interval)
    assert e1[("c1", "2025-07")] == (1, 5, 0.2, "alert")
    assert e1[("c2", "2025-07")][:2] == (1, 1) and e1[("c2", "2025-07")][3] == "insufficient"
    assert e1[("all", "2025-07")][3] == "ok"
    # June: nothing ended -> denominator 0, too few to judge
    assert e1[("all", "2025-06")][1] == 0 and e1[("all", "2025-06")][3] == "insufficient"
    # X3 (report only): every referral came from a screening: c1 0/7 in June is 'ok', never an alert
    assert x3[("c1", "2025-06")] == (0, 7, 0.0, "ok") and x3[("c2", "2025-06")][3] == "insufficient"
    # X4: the literacy table has no rows: no data, NaN counts (nothing invented)
    assert all(v[3] == "no_data" and pd.isna(v[1]) for v in x4.values())


def test_compute_crisis_rate_per_1000_person_years(crises, tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(_HEADER + _indicator(
        "S2", "safety", "crisis_rate", "month", "{rise_above: 0.5}",
        "    per: 1000\n    min_denominator: 0.05\n    event_kinds: [crisis, psychiatric_emergency]\n",
        direction="lower_is_better"), encoding="utf-8")
    s2 = _rows(q.compute(crises, months=["2025-03", "2025-04"], indicators=path, spc=False), "S2")
    # c1 March: 3 events in 46 days = 0.126 person-years -> 23,820.7 per 1,000; the 12 months before hold
    # February only (p2, 9 days, no event): 0 -> a rise above 1.5 x 0: alert
    n, py, value, status = s2[("c1", "2025-03")]
    assert (n, status) == (3, "alert") and py == pytest.approx(46 / 365.25)
    assert value == pytest.approx(3 / 46 * 365.25 * 1000)
    # c1 April: 0 events in 30 days (0.082 person-years >= 0.05): ok (0 is no rise on March-February)
    assert s2[("c1", "2025-04")][0] == 0 and s2[("c1", "2025-04")][3] == "ok"
    # c2 March: nothing in care before March: no reference, cannot be judged
    assert s2[("c2", "2025-03")][3] == "insufficient"


# --- the fast paths equal the plain computations ----------------------------------------------------
# The measures run on integer keys (resident positions, month numbers, one sorted pass) so that a
# city's tables take seconds. The plain versions below are the direct pandas computations they
# replaced (text keys, a month-by-month loop, chronic.indicators once per month on that month's
# residents); on the sample, and on the sample with awkward rows (blank communities, a blank and a
# pooled literacy answer set, overlapping referrals, an open referral), both give the same numbers.

def _plain_tt(t, metric):
    from workbench.outcomes import rates, referral_outcomes

    c = t["contacts"]
    c = c[c["referral_id"].notna()].assign(attended=(c["status"] == "attended").fillna(False).astype(bool))
    out = referral_outcomes(t.referral_scores, c, attended="attended")
    r = t["referrals"]
    r = r[r["ended_on"].notna()]
    d = r[["referral_id", "resident_id", "ended_on"]].merge(out.drop(columns=["resident_id"]), on="referral_id")
    d = d.assign(community=d["resident_id"].map(t.community).astype(object),
                 period=d["ended_on"].dt.strftime("%Y-%m").astype(object))
    parts = [rates(d, by=["period"]).assign(community="all")]
    if d["community"].notna().any():
        parts.append(rates(d[d["community"].notna()], by=["community", "period"]))
    out = pd.concat(parts, ignore_index=True)
    out = out[(out["metric"] == metric) & (out["denominator"] > 0)]
    return out[["community", "period", "numerator", "denominator"]]


def _plain_cms159(t):
    from workbench.outcomes import cms159

    s = t["scores"]
    s = s[s["instrument"] == "phq9"]
    phq9 = pd.DataFrame({"resident_id": s["resident_id"].to_numpy(), "assessed_on": s["assessed_on"].to_numpy(),
                         "phq9_score": s["score"].to_numpy(float, na_value=float("nan"))})
    episodes = cms159(phq9, on=t.last_day)
    episodes = episodes[episodes["remitted"].notna()]
    return q._units(episodes, t, "window_end", episodes["remitted"])


def _plain_control(t, months, tiers, condition):
    decided = t.screened.loc[t.screened["tier"].notna(), ["resident_id", "assessed_on", "tier"]]
    decided = decided.sort_values(["resident_id", "assessed_on"], kind="stable")
    parts = []
    for month in months:
        latest = decided[decided["assessed_on"] <= pd.Period(month, "M").end_time.normalize()]
        latest = latest.drop_duplicates("resident_id", keep="last")
        ids = latest.loc[latest["tier"].isin(tiers), "resident_id"]
        if not len(ids):
            continue
        sub = Tables(**{**{name: t[name] for name in TABLES},
                        **{name: t[name][t[name]["resident_id"].isin(ids)] for name in
                           ("residents", "measurements", "events")}})
        found = chronic.indicators(sub, start=month, end=month)
        found = found[(found["condition"] == condition) & (found["managed"] > 0)]
        parts.append(found.rename(columns={"month": "period", "controlled": "numerator", "managed": "denominator"}))
    return pd.concat(parts)[["community", "period", "numerator", "denominator"]]


def _plain_crisis(t, months, event_kinds):
    """Person-days in care per resident and month counted day by day (a set of days), events by a
    merge of every event with every referral of the resident."""
    r = t["referrals"]
    rows = {}
    for month in months:
        start, end = pd.Timestamp(month + "-01"), pd.Period(month, "M").end_time.normalize()
        for who, on, off in zip(r["resident_id"], r["referred_on"], r["ended_on"]):
            lo, hi = max(on, start), min(end if pd.isna(off) else off, end)
            if hi >= lo:
                rows.setdefault((who, month), set()).update(pd.date_range(lo, hi))
    e = t["events"]
    e = e[e["kind"].isin(event_kinds)]
    pairs = e.merge(r, on="resident_id")
    pairs = pairs[(pairs["referred_on"] <= pairs["event_on"])
                  & (pairs["ended_on"].isna() | (pairs["ended_on"] >= pairs["event_on"]))].drop_duplicates("event_id")
    events = pairs.groupby(["resident_id", pairs["event_on"].dt.strftime("%Y-%m")]).size()
    return pd.DataFrame({"community": [t.community.get(who) for who, _ in rows],
                         "period": [m for _, m in rows],
                         "outcome": [float(events.get(key, 0)) for key in rows],
                         "exposure": [len(days) / 365.25 for days in rows.values()]})


def _plain_literacy(t, months, pass_share):
    d = t["literacy"]
    d = d.assign(n_asked=q._float(d["n_asked"]), n_correct=q._float(d["n_correct"]), blank=d["n_correct"].isna())
    day = d.groupby(["resident_id", "asked_on"], sort=True).agg(
        n_asked=("n_asked", "sum"), n_correct=("n_correct", "sum"), blank=("blank", "any")).reset_index()
    day["n_correct"] = day["n_correct"].where(~day["blank"])
    parts = []
    for month in months:
        end = pd.Period(month, "M").end_time.normalize()
        inside = day[(day["asked_on"] > end - pd.DateOffset(months=12)) & (day["asked_on"] <= end)]
        latest = inside.drop_duplicates("resident_id", keep="last")
        passed = [float("nan") if pd.isna(c) else float(c - pass_share * a >= -1e-9)
                  for c, a in zip(latest["n_correct"], latest["n_asked"])]
        parts.append(pd.DataFrame({"community": latest["resident_id"].map(t.community).astype(object).to_numpy(),
                                   "period": month, "outcome": passed}))
    return pd.concat(parts, ignore_index=True)


def _as_counts(found: pd.DataFrame) -> dict:
    """Units or counts as {(community, period): (numerator, denominator)} with the 'all' rows."""
    found = q._plain_units(found)  # the measures' categoricals as the texts they stand for
    if "numerator" in found.columns:
        return {(c, p): (float(n), float(d)) for c, p, n, d in
                zip(found["community"], found["period"], found["numerator"], found["denominator"])}
    if "exposure" in found.columns:
        u = pd.concat([found.dropna(subset=["community"]), found.assign(community="all")])
        g = u.groupby(["community", "period"])[["outcome", "exposure"]].sum()
        return {k: (float(v.outcome), round(float(v.exposure), 9)) for k, v in g.iterrows()}
    return {k: (float(n), float(d)) for k, (n, d) in unit_counts(found).items()}


@pytest.fixture(scope="module")
def awkward_sample() -> Tables:
    """The sample community with awkward rows: every 7th resident's community blank (counted in
    'all' only), an open referral and one overlapping another of the same resident, a literacy answer
    set pooled from two questionnaires on one day and a blank n_correct."""
    from workbench.sample import load_sample

    s = load_sample()
    frames = {name: s[name].copy() for name in TABLES}
    res = frames["residents"]
    res["community"] = res["community"].where(pd.Series(range(len(res)), index=res.index) % 7 != 0)
    ref = frames["referrals"]
    first = ref.iloc[0]
    extra = ref.iloc[[0, 1]].copy()
    extra["referral_id"] = ["X-open", "X-overlap"]
    extra["resident_id"] = [first["resident_id"], first["resident_id"]]
    extra["referred_on"] = [first["referred_on"] + pd.Timedelta(days=3), first["referred_on"] + pd.Timedelta(days=40)]
    extra["ended_on"] = [pd.NaT, first["referred_on"] + pd.Timedelta(days=75)]
    extra["end_reason"] = [pd.NA, extra["end_reason"].iloc[1]]
    frames["referrals"] = pd.concat([ref, extra], ignore_index=True)
    lit = frames["literacy"]
    if len(lit):
        twin = lit.iloc[[0]].copy()
        twin["literacy_id"] = "L-twin"
        twin["questionnaire"] = twin["questionnaire"] + "-b"
        lit = pd.concat([lit, twin], ignore_index=True)
        lit.loc[lit.index[1], "n_correct"] = pd.NA
        frames["literacy"] = lit
    return Tables(attrs=dict(s.attrs), **frames)


@pytest.mark.parametrize("which", ["sample", "awkward"])
def test_fast_measures_equal_the_plain_computations(which, awkward_sample):
    from workbench.sample import load_sample

    tables = load_sample() if which == "sample" else awkward_sample
    months = q.default_months(tables)
    assert len(months) >= 12
    t = q._Derived(tables)
    plain = q._Derived(tables)
    literacy_share, kinds = 0.8, ["crisis", "psychiatric_emergency"]
    cases = {
        "tt_reliable_improvement": (_plain_tt(plain, "reliable_improvement"), {}),
        "tt_reliable_recovery": (_plain_tt(plain, "reliable_recovery"), {}),
        "tt_reliable_deterioration": (_plain_tt(plain, "reliable_deterioration"), {}),
        "cms159_remission": (_plain_cms159(plain), {}),
        "bp_control_in_care": (_plain_control(plain, months, [2, 3], "hypertension"), {"tiers": [2, 3]}),
        "glucose_control_in_care": (_plain_control(plain, months, [2, 3], "diabetes"), {"tiers": [2, 3]}),
        "crisis_rate": (_plain_crisis(plain, months, kinds), {"event_kinds": kinds}),
        "survey_response": (q._units(plain["surveys"], plain, "surveyed_on",
                                     plain["surveys"]["satisfied"].notna() | plain["surveys"]["rating"].notna()), {}),
        "self_referral": (q._units(plain["referrals"].dropna(subset=["referral_source"]), plain, "referred_on",
                                   plain["referrals"]["referral_source"].dropna() == "self"), {}),
        "literacy": (_plain_literacy(plain, months, literacy_share), {"pass_share": literacy_share}),
    }
    for measure, (expected, parameters) in cases.items():
        got = q.MEASURES[measure].function(t, months=months, **parameters)
        want = _as_counts(expected)
        got_counts = _as_counts(got)
        assert got_counts == want, measure
        assert len(want) > 0, measure  # the sample exercises every measure
    if which == "awkward":  # the blank communities are in 'all' only, and there are some
        assert tables["residents"]["community"].isna().sum() > 0
