"""Endpoints and the trial frame built from analysis tables, on small cohorts worked out by hand.

The tables are built as the registry stores them (``test_cohort.hand_tables``): answers scored
once when saved, tiers decided once. ``endpoints`` and ``trial_frame`` must read those stored
scores; the tests that edit a stored score show it is the stored value that counts.
"""

import numpy as np
import pandas as pd
import pytest

from test_cohort import gad7_total, hand_tables, items, phq9_total, with_stored_score
from workbench.cohort import CohortDataError, endpoints, trial_frame

CENSOR = "2025-12-31"
RESIDENTS = {"resident_id": ["A", "B", "C", "D"], "sex": ["female", "male", "female", "male"],
             "birth_date": ["1950-01-01", "1960-01-12", "1970-01-01", "1980-03-01"],
             "community": ["u1", "u1", "r1", "r1"],
             "lives_alone": [True, False, False, False], "hypertension": [True, False, True, False]}
COMMUNITIES = {"community": ["u1", "r1"], "community_type": ["urban", "rural"]}
#: Baseline screenings: PHQ-9 totals A 14, B 12, C 11, D 6.
SCREENINGS = [{"resident_id": r, "assessed_on": d, **phq9_total(p)}
              for r, d, p in [("A", "2025-01-01", 14), ("B", "2025-01-11", 12), ("C", "2025-02-01", 11),
                              ("D", "2025-03-01", 6)]]
#: Later reviews: A 8 then 4; C 9.
REVIEWS = [{"resident_id": r, "assessed_on": d, **phq9_total(p)}
           for r, d, p in [("A", "2025-02-01", 8), ("A", "2025-03-01", 4), ("C", "2025-05-02", 9)]]
EVENTS = {"resident_id": ["A", "A", "B", "C", "C"],
          "event_on": ["2025-03-02", "2025-06-30", "2025-02-10", "2025-12-01", "2026-02-01"],
          "kind": ["er_visit", "death", "death", "crisis", "crisis"]}
REFERRALS = {"referral_id": ["F1", "F2", "F3"], "resident_id": ["A", "C", "D"],
             "referred_on": ["2025-01-01", "2025-02-01", "2025-03-01"],
             "ended_on": [None, "2025-06-01", None], "end_reason": [None, "completed", None]}
CONTACTS = {"resident_id": ["A", "A", "A", "A", "C", "D"], "referral_id": ["F1", "F1", "F1", "F1", "F2", "F3"],
            "contact_on": ["2025-01-15", "2025-02-01", "2025-04-01", "2025-05-01", "2025-05-20", "2025-11-15"],
            "status": ["attended", "attended", "missed", "planned", "attended", "attended"]}
ENROLMENTS = {"resident_id": ["A", "B"], "study": ["rct_12m", "cohort_5y"], "arm": ["intervention", None],
              "enrolled_on": ["2025-01-01", "2025-01-11"]}


@pytest.fixture(scope="module")
def tables():
    return hand_tables(residents=RESIDENTS, communities=COMMUNITIES, screenings=SCREENINGS, reviews=REVIEWS,
                       events=EVENTS, referrals=REFERRALS, contacts=CONTACTS, enrolments=ENROLMENTS)


def test_crisis_or_er_with_death_as_a_competing_event(tables):
    e = endpoints(tables, censor_date=CENSOR, which=["crisis_or_er"]).set_index("resident_id")
    # A: ER visit on 2025-03-02, 60 days after 2025-01-01 -> cause 1
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (60, 1)
    # B: died on 2025-02-10 before any crisis: 30 days, cause 2 (competing)
    assert (e.loc["B", "duration"], e.loc["B", "event"]) == (30, 2)
    # C: crisis 2025-12-01 (the 2026 one is after the censor date): 303 days after 2025-02-01
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (303, 1)
    # D: nothing: censored at 2025-12-31, 305 days after 2025-03-01
    assert (e.loc["D", "duration"], e.loc["D", "event"]) == (305, 0)


def test_death_and_the_age_time_scale(tables):
    e = endpoints(tables, censor_date=CENSOR, which=["death"], time_scale="age").set_index("resident_id")
    # A born 1950-01-01, baseline 2025-01-01 = 27,394 days of age; died 180 days later
    assert e.loc["A", "entry"] == 27394 and e.loc["A", "duration"] == 27394 + 180 and e.loc["A", "event"] == 1
    assert (e["duration"] > e["entry"]).all()


def test_baseline_covariates_come_from_residents_communities_and_the_trial(tables):
    e = endpoints(tables, censor_date=CENSOR, which=["death"]).set_index("resident_id")
    # whole years at the baseline screening: A 75 on her birthday; B one day before his 65th
    # birthday (1960-01-12 -> 2025-01-11): 64; D 45 on his birthday (days // 365.25 would say 44)
    assert e["age"].to_dict() == {"A": 75, "B": 64, "C": 55, "D": 45}
    assert e["community_type"].to_dict() == {"A": "urban", "B": "urban", "C": "rural", "D": "rural"}
    # the arm is the RCT's; B's cohort study has no arm
    assert e.loc["A", "arm"] == "intervention" and e[["arm"]].drop(index="A")["arm"].isna().all()
    assert "birth_date" not in e.columns and e.loc["A", "lives_alone"] and not e.loc["B", "hypertension"]


def test_remission_needs_a_baseline_of_10_and_a_later_score_below_5(tables):
    out = endpoints(tables, censor_date=CENSOR, which=["remission"])
    e = out.set_index("resident_id")
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (59, 1)   # PHQ-9 4 on 2025-03-01
    # C: PHQ-9 9 on 2025-05-02, then care completed on 2025-06-01 without a remission: care ended
    # first (cause 3, a competing outcome), 120 days after 2025-02-01; not censored at the review
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (120, 3)
    assert "D" not in e.index                                         # baseline 6 < 10: not in this endpoint
    # B: no later review, died on 2025-02-10: death first (cause 2), 30 days after 2025-01-11
    assert (e.loc["B", "duration"], e.loc["B", "event"]) == (30, 2)
    assert out.attrs["excluded"]["remission"] == {"baseline PHQ-9 below threshold or missing": 1}
    assert out.attrs["excluded"]["all"]["no time at risk"] == 0


def test_remission_reads_the_stored_scores_not_the_answers(tables):
    # A's review on 2025-02-01 was answered for a total of 8, but 3 is stored: 3 < 5 is remission
    # on that day, 31 days after baseline. D's screening answers add to 6; with 15 stored D enters
    # the endpoint (no later review: no time at risk).
    edited = with_stored_score(with_stored_score(tables, "A", "2025-02-01", "phq9", 3), "C", "2025-02-01", "phq9", 9)
    e = endpoints(edited, censor_date=CENSOR, which=["remission"]).set_index("resident_id")
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (31, 1)
    assert "C" not in e.index  # C's stored baseline 9 < 10 now keeps C out
    out = endpoints(with_stored_score(tables, "D", "2025-03-01", "phq9", 15), censor_date=CENSOR, which=["remission"])
    assert out.attrs["excluded"]["remission"] == {"baseline PHQ-9 below threshold or missing": 0}


def test_dropout_is_dated_at_the_last_attended_contact_plus_the_gap(tables):
    e = endpoints(tables, censor_date=CENSOR, which=["dropout"], dropout_days=90).set_index("resident_id")
    # A: last attended contact 2025-02-01 (missed on 2025-04-01 and planned on 2025-05-01 do not count)
    #    + 90 days = 2025-05-02, before A died on 2025-06-30: dropout at day 121 from referral on 2025-01-01
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (121, 1)
    # C: completed on 2025-06-01: a competing outcome (cause 3), not censoring, 120 days after 2025-02-01
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (120, 3)
    # D: last contact 2025-11-15 + 90 = 2026-02-13, after the censor date: censored at 2025-12-31 (305 days)
    assert (e.loc["D", "duration"], e.loc["D", "event"]) == (305, 0)
    assert "B" not in e.index  # never referred


def test_death_in_care_and_other_endings_of_care():
    # E: referred 2025-03-01, attended 2025-09-01, died 2025-10-01 within the gap: death in care (2)
    # F: referred 2025-03-01, care ended 2025-04-10 because the family moved away: censored (0)
    # G: referred 2025-03-01, completed on 2025-12-20 but died on 2025-08-01 first: death (2)
    t = hand_tables(residents={"resident_id": ["E", "F", "G"]},
                    screenings=[{"resident_id": r, "assessed_on": "2025-03-01", **phq9_total(15)} for r in "EFG"],
                    events={"resident_id": ["E", "G"], "event_on": ["2025-10-01", "2025-08-01"], "kind": ["death", "death"]},
                    referrals={"referral_id": ["R1", "R2", "R3"], "resident_id": ["E", "F", "G"],
                               "referred_on": ["2025-03-01"] * 3, "ended_on": [None, "2025-04-10", "2025-12-20"],
                               "end_reason": [None, "moved_away", "completed"]},
                    contacts={"resident_id": ["E", "F", "G"], "referral_id": ["R1", "R2", "R3"],
                              "contact_on": ["2025-09-01", "2025-04-01", "2025-07-20"],
                              "status": ["attended", "attended", "attended"]})
    e = endpoints(t, censor_date=CENSOR, which=["dropout"]).set_index("resident_id")
    assert (e.loc["E", "duration"], e.loc["E", "event"]) == (214, 2)
    assert (e.loc["F", "duration"], e.loc["F", "event"]) == (40, 0)
    assert (e.loc["G", "duration"], e.loc["G", "event"]) == (153, 2)
    # remission: no review after baseline; E and G die first (cause 2); F's care ended for a
    # reason that is not an outcome: censored at the last PHQ-9 (baseline: no time at risk, left out)
    r = endpoints(t, censor_date=CENSOR, which=["remission"]).set_index("resident_id")
    assert r["event"].to_dict() == {"E": 2, "G": 2} and r["duration"].to_dict() == {"E": 214, "G": 153}


def test_the_cause_codes_are_declared_once():
    from workbench.cohort import CAUSES

    assert CAUSES == {"event": 1, "dropout": 1, "death": 2, "completed": 3, "care_ended": 3}


def test_arguments_are_checked(tables):
    with pytest.raises(ValueError, match="'which' parameter"):
        endpoints(tables, censor_date=CENSOR, which=["relapse"])
    with pytest.raises(ValueError, match="'censor_date' parameter"):
        endpoints(tables, censor_date=None)
    with pytest.raises(TypeError, match="The 'tables' parameter of endpoints must be workbench.tables.Tables"):
        endpoints(tables.residents, censor_date=CENSOR)
    with pytest.raises(CohortDataError) as err:
        endpoints(tables.replace(contacts=tables.contacts.drop(columns=["status"])), censor_date=CENSOR)
    assert err.value.problems[["table", "column"]].values.tolist() == [["contacts", "status"]]


# --- the trial frame ------------------------------------------------------------------------------

def trial(screenings, visits, enrolled, **kw):
    ids = sorted({f["resident_id"] for f in screenings})
    return hand_tables(residents={"resident_id": ids}, screenings=screenings, visits=visits,
                       enrolments={"resident_id": [r for r, *_ in enrolled], "study": "rct_12m",
                                   "arm": [a for _, a, _ in enrolled], "enrolled_on": [d for *_, d in enrolled]}, **kw)


def test_trial_frame_uses_stored_baseline_and_follow_up_scores_and_never_zeroes_blanks():
    both = lambda v, blank=(): {**items("phq9", [None if n in blank else v for n in range(1, 10)]),  # noqa: E731
                                **items("gad7", [v] * 7)}
    t = trial([{"resident_id": "A", "assessed_on": "2025-01-05", **both(2)},
               {"resident_id": "B", "assessed_on": "2025-01-06", **both(1)}],
              [{"resident_id": "A", "assessed_on": "2026-01-05", "study": "rct_12m", "visit": 12, **both(0, blank=(1, 2, 3))}],
              [("A", "intervention", "2025-01-05"), ("B", "usual_care", "2025-01-06")])
    f = trial_frame(t).set_index("resident_id")
    # A: PHQ-9 18 at baseline; at 12 months 3 of 9 blank -> no valid total (APA), never 0
    assert f.loc["A", "phq9_0"] == 18 and pd.isna(f.loc["A", "phq9_12"]) and f.loc["A", "gad7_12"] == 0
    assert pd.isna(f.loc["A", "response_12"]) and pd.isna(f.loc["A", "remission_12"])
    assert pd.isna(f.loc["B", "phq9_12"])  # not assessed
    assert list(f.columns) == ["arm", "phq9_0", "gad7_0", "phq9_12", "gad7_12", "response_12", "remission_12",
                               "recovery_12"]


def recovery_tables():
    return trial([{"resident_id": r, "assessed_on": "2025-01-01", **phq9_total(p), **gad7_total(g)}
                  for r, p, g in [("A", 12, 5), ("B", 4, 9), ("C", 6, 3), ("D", 11, 11)]],
                 [{"resident_id": r, "assessed_on": "2025-12-28", "study": "rct_12m", "visit": 12,
                   **phq9_total(p), **gad7_total(g)} for r, p, g in [("A", 9, 7), ("B", 5, 8), ("C", 2, 1), ("D", 9, 9)]]
                 + [{"resident_id": "A", "assessed_on": "2025-07-01", "study": "cohort_5y", "visit": 1, **phq9_total(0)}],
                 [(r, "usual_care", "2025-01-01") for r in "ABCD"])


def test_trial_frame_recovery_follows_the_talking_therapies_caseness_rule():
    f = trial_frame(recovery_tables()).set_index("resident_id")
    # A: PHQ-9 12 at start (case); 9 and GAD-7 7 at the end: below both (10, 8) -> recovered
    # B: GAD-7 9 at start (case); GAD-7 8 at the end is still caseness -> not recovered
    # C: 6 and 3 at start: not at caseness, recovery does not apply
    # D: case at start; GAD-7 9 at the end -> not recovered
    assert f["recovery_12"].tolist()[:2] == [1, 0] and pd.isna(f.loc["C", "recovery_12"]) and f.loc["D", "recovery_12"] == 0
    # response and remission apply only to a baseline PHQ-9 >= 10 (A 12, D 11); B (4) and C (6) are
    # outside the denominator (NaN), although C's 6 -> 2 would have "responded" and "remitted"
    # A: 12 -> 9 is a fall of 3 < 6 (half of 12): no response, 9 is not < 5: no remission
    assert f.loc["A", "response_12"] == 0 and f.loc["D", "response_12"] == 0
    assert f.loc["A", "remission_12"] == 0 and f.loc["D", "remission_12"] == 0
    assert f.loc[["B", "C"], ["response_12", "remission_12"]].isna().all().all()
    assert "phq9_1" not in f.columns  # the cohort study's wave is not a trial visit


def test_trial_frame_reads_the_stored_scores_not_the_answers():
    t = recovery_tables()
    # A's 12-month PHQ-9 answers add to 9; with 4 stored, A responds (12 -> 4 is a fall of 8 >= 6)
    # and remits; B's stored baseline GAD-7 of 7 (answers: 9) puts B below caseness at the start
    edited = with_stored_score(with_stored_score(t, "A", "2025-12-28", "phq9", 4), "B", "2025-01-01", "gad7", 7)
    f = trial_frame(edited).set_index("resident_id")
    assert f.loc["A", "phq9_12"] == 4 and f.loc["A", "response_12"] == 1 and f.loc["A", "remission_12"] == 1
    assert f.loc["B", "gad7_0"] == 7 and pd.isna(f.loc["B", "recovery_12"])


def test_trial_frame_names_every_bad_row():
    t = recovery_tables()
    e = t.enrolments.copy()
    e.loc[e["resident_id"] == "B", "arm"] = None
    e = e[e["resident_id"] != "D"]  # D's 12-month visit is now of someone not enrolled
    with pytest.raises(CohortDataError) as err:
        trial_frame(t.replace(enrolments=e))
    p = err.value.problems
    # B's blank arm, and D's 12-month PHQ-9 and GAD-7 (two questionnaires) of someone not enrolled
    assert sorted(zip(p["table"], p["column"], p["value"].fillna("-"))) == [
        ("assessments", "resident_id", "D"), ("assessments", "resident_id", "D"), ("enrolments", "arm", "-")]
    assert "nothing was computed" in str(err.value)
    with pytest.raises(ValueError, match="The 'study' parameter of trial_frame must be a study with enrolments"):
        trial_frame(t, study="rct_24m")
    with pytest.raises(TypeError, match="The 'tables' parameter of trial_frame"):
        trial_frame({"enrolments": e})


def test_the_sample_trial_frame_matches_the_stored_scores():
    from workbench.sample import load_sample

    s = load_sample()
    f = trial_frame(s).set_index("resident_id")
    rct = s.enrolments[s.enrolments["study"] == "rct_12m"]
    assert sorted(f.index) == sorted(rct["resident_id"]) and (f["arm"] == rct.set_index("resident_id")["arm"]).all()
    visits = s.scores_of(["phq9"], purpose="study")
    twelve = visits[(visits["study"] == "rct_12m") & (visits["visit"] == 12)].set_index("resident_id")["score"]
    np.testing.assert_array_equal(f.loc[twelve.index, "phq9_12"].to_numpy(), twelve.to_numpy())
    base = s.scores_of(["phq9"], purpose="screening").merge(rct, on=["resident_id"])
    base = base[base["assessed_on"] == base["enrolled_on"]].set_index("resident_id")["score"]
    np.testing.assert_array_equal(f.loc[base.index, "phq9_0"].to_numpy(), base.to_numpy())
