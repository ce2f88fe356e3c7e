"""Endpoints built from registry-shaped tables, on a small cohort worked out by hand."""

import pandas as pd
import pytest

from workbench.cohort import endpoints

RESIDENTS = pd.DataFrame({"resident_id": ["A", "B", "C", "D"], "sex": ["female", "male", "female", "male"],
                          "birth_date": pd.to_datetime(["1950-01-01", "1960-01-01", "1970-01-01", "1980-01-01"]),
                          "lives_alone": [True, False, False, False], "hypertension": [True, False, True, False]})
SCREENINGS = pd.DataFrame({"resident_id": ["A", "B", "C", "D"],
                           "assessed_on": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-02-01", "2025-03-01"])})
EVENTS = pd.DataFrame({"resident_id": ["A", "A", "B", "C", "C"],
                       "event_on": pd.to_datetime(["2025-03-02", "2025-06-30", "2025-02-10", "2025-12-01", "2026-02-01"]),
                       "kind": ["er_visit", "death", "death", "crisis", "crisis"]})
CENSOR = "2025-12-31"


def build(**kw):
    return endpoints(residents=RESIDENTS, screenings=SCREENINGS, events=EVENTS, censor_date=CENSOR, **kw)


def test_crisis_or_er_with_death_as_a_competing_event():
    e = build(which=["crisis_or_er"]).set_index("resident_id")
    # A: ER visit on 2025-03-02, 60 days after 2025-01-01 -> cause 1
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (60, 1)
    # B: died on 2025-02-10 before any crisis: 30 days, cause 2 (competing)
    assert (e.loc["B", "duration"], e.loc["B", "event"]) == (30, 2)
    # C: crisis 2025-12-01 (the 2026 one is after the censor date): 303 days after 2025-02-01
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (303, 1)
    # D: nothing: censored at 2025-12-31, 305 days after 2025-03-01
    assert (e.loc["D", "duration"], e.loc["D", "event"]) == (305, 0)


def test_death_and_the_age_time_scale():
    e = build(which=["death"], time_scale="age").set_index("resident_id")
    # A born 1950-01-01, baseline 2025-01-01 = 27,394 days of age; died 180 days later
    assert e.loc["A", "entry"] == 27394 and e.loc["A", "duration"] == 27394 + 180 and e.loc["A", "event"] == 1
    assert (e["duration"] > e["entry"]).all()


def test_remission_needs_a_baseline_of_10_and_a_later_score_below_5():
    reviews = pd.DataFrame({"resident_id": ["A", "A", "A", "B", "C", "C", "D"],
                            "assessed_on": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-01-11",
                                                           "2025-02-01", "2025-05-02", "2025-03-01"]),
                            "phq9_score": [14, 8, 4, 12, 11, 9, 6]})
    e = build(which=["remission"], assessments=reviews).set_index("resident_id")
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (59, 1)   # PHQ-9 4 on 2025-03-01
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (90, 0)   # last seen 2025-05-02, not remitted
    assert "D" not in e.index                                         # baseline 6 < 10: not in this endpoint
    assert "B" not in e.index                                         # no later review: no time at risk
    assert build(which=["remission"], assessments=reviews).attrs["excluded"]["remission"]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="'which' parameter"):
        build(which=["relapse"])
    with pytest.raises(ValueError, match="'censor_date' parameter"):
        endpoints(residents=RESIDENTS, screenings=SCREENINGS, censor_date=None)


def test_dropout_is_dated_at_the_last_attended_contact_plus_the_gap():
    referrals = pd.DataFrame({"referral_id": ["F1", "F2", "F3"], "resident_id": ["A", "C", "D"],
                              "referred_on": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
                              "ended_on": pd.to_datetime([None, "2025-06-01", None]),
                              "end_reason": [None, "completed", None]})
    contacts = pd.DataFrame({"resident_id": ["A", "A", "A", "C", "D"],
                             "contact_on": pd.to_datetime(["2025-01-15", "2025-02-01", "2025-04-01", "2025-05-20",
                                                           "2025-11-15"]),
                             "attended": [True, True, False, True, True]})
    e = build(which=["dropout"], contacts=contacts, referrals=referrals, dropout_days=90).set_index("resident_id")
    # A: last attended contact 2025-02-01 (the missed 2025-04-01 one does not count) + 90 days = 2025-05-02,
    #    but A died on 2025-06-30 after that: dropout at day 121 from referral on 2025-01-01
    assert (e.loc["A", "duration"], e.loc["A", "event"]) == (121, 1)
    # C: completed on 2025-06-01: censored there, 120 days after 2025-02-01
    assert (e.loc["C", "duration"], e.loc["C", "event"]) == (120, 0)
    # D: last contact 2025-11-15 + 90 = 2026-02-13, after the censor date: censored at 2025-12-31 (305 days)
    assert (e.loc["D", "duration"], e.loc["D", "event"]) == (305, 0)
    assert "B" not in e.index  # never referred


def test_trial_frame_scores_baseline_and_follow_up_and_never_zeroes_blanks():
    from workbench.cohort import trial_frame

    items = lambda v, blank=(): {f"phq9_{n}": (None if n in blank else v) for n in range(1, 10)} | \
        {f"gad7_{n}": v for n in range(1, 8)}  # noqa: E731
    screenings = pd.DataFrame([{"resident_id": "A", "assessed_on": pd.Timestamp("2025-01-05"), **items(2)},
                               {"resident_id": "B", "assessed_on": pd.Timestamp("2025-01-06"), **items(1)}])
    enrolments = pd.DataFrame({"resident_id": ["A", "B"], "study": "rct_12m", "arm": ["intervention", "usual_care"],
                               "enrolled_on": pd.to_datetime(["2025-01-05", "2025-01-06"])})
    follow = pd.DataFrame([{"resident_id": "A", "study": "rct_12m", "month": 12, **items(0, blank=(1, 2, 3))}])
    f = trial_frame(screenings=screenings, enrolments=enrolments, trial_assessments=follow).set_index("resident_id")
    # A: PHQ-9 18 at baseline; at 12 months 3 of 9 blank -> no valid total (APA), never 0
    assert f.loc["A", "phq9_0"] == 18 and pd.isna(f.loc["A", "phq9_12"]) and f.loc["A", "gad7_12"] == 0
    assert pd.isna(f.loc["A", "response_12"]) and pd.isna(f.loc["A", "remission_12"])
    assert pd.isna(f.loc["B", "phq9_12"])  # not assessed


def test_trial_frame_recovery_follows_the_talking_therapies_caseness_rule():
    from workbench.cohort import trial_frame

    def form(phq, gad):  # phq9 items summing to `phq` (item 9 = 0), gad7 items summing to `gad`
        p = [min(3, max(0, phq - 3 * k)) for k in range(8)] + [0]
        g = [min(3, max(0, gad - 3 * k)) for k in range(7)]
        return {**{f"phq9_{n}": v for n, v in enumerate(p, 1)}, **{f"gad7_{n}": v for n, v in enumerate(g, 1)}}

    screenings = pd.DataFrame([{"resident_id": r, "assessed_on": pd.Timestamp("2025-01-01"), **form(p, g)}
                               for r, p, g in [("A", 12, 5), ("B", 4, 9), ("C", 6, 3), ("D", 11, 11)]])
    enrolments = pd.DataFrame({"resident_id": list("ABCD"), "study": "rct_12m", "arm": "usual_care",
                               "enrolled_on": pd.Timestamp("2025-01-01")})
    follow = pd.DataFrame([{"resident_id": r, "study": "rct_12m", "month": 12, **form(p, g)}
                           for r, p, g in [("A", 9, 7), ("B", 5, 8), ("C", 2, 1), ("D", 9, 9)]])
    f = trial_frame(screenings=screenings, enrolments=enrolments, trial_assessments=follow).set_index("resident_id")
    # A: PHQ-9 12 at start (case); 9 and GAD-7 7 at the end: below both (10, 8) -> recovered
    # B: GAD-7 9 at start (case); GAD-7 8 at the end is still caseness -> not recovered
    # C: 6 and 3 at start: not at caseness, recovery does not apply
    # D: case at start; GAD-7 9 at the end -> not recovered
    assert f["recovery_12"].tolist()[:2] == [1, 0] and pd.isna(f.loc["C", "recovery_12"]) and f.loc["D", "recovery_12"] == 0
