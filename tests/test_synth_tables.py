"""Analysis tables of a generated community (:meth:`workbench.synth.Community.tables`): every form
stored, scored and decided as the registry saves it, checked against the generator's raw frames
(issue 13; split from test_synth.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.instruments import get_instrument
from workbench.records import score_assessments
from workbench.synth import Community
from workbench.tables import ITEM_COLUMNS, TABLES

INSTRUMENTS = ("phq9", "gad7", "who5", "ucla3", "k10", "phq15", "pss10")
REFERRAL_COLUMNS = ["referral_id", "resident_id", "referred_on", "tier", "rule", "ended_on", "end_reason"]
TRIAL, COHORT = "rct_12m", "cohort_5y"
#: Columns of ``assessments`` that identify a questionnaire taken (the declared key).

ASSESSMENT_KEY = ["resident_id", "assessed_on", "purpose", "study", "instrument"]


def item_columns(instrument: str) -> list[str]:
    inst = get_instrument(instrument)
    return inst.item_columns + inst.supplementary_columns


def forms_of(c: Community) -> list[tuple[str, pd.DataFrame]]:
    """The generator's raw forms by purpose, with ``referral_id, study, visit`` as the tables
    name them: screenings, reviews, cohort waves after the baseline, trial visits."""
    waves = c.waves[c.waves["wave"] > 0]
    return [("screening", c.screenings.assign(referral_id=None, study=None, visit=None)),
            ("review", c.followups.assign(study=None, visit=None)),
            ("study", waves.assign(referral_id=None, study=COHORT, visit=waves["wave"])),
            ("study", c.trial_assessments.assign(referral_id=None, visit=c.trial_assessments["month"]))]


def expected_assessments(c: Community) -> pd.DataFrame:
    """What storing every raw form must give, built here from the definition: one assessment per
    form and questionnaire with at least one item answered, ``item_k`` = the answer to item k
    (blank stays blank), sorted by :data:`ASSESSMENT_KEY`."""
    types = {"resident_id": "string", "instrument": "string", "purpose": "string", "referral_id": "string",
             "study": "string", "visit": "Int16", "mode": "string", "language": "string",
             **{c: "Int8" for c in ITEM_COLUMNS}}
    parts = []
    for purpose, frame in forms_of(c):
        for instrument in INSTRUMENTS:
            columns = [col for col in item_columns(instrument) if col in frame.columns]
            if not columns:
                continue
            given = frame[frame[columns].notna().any(axis=1)]
            part = pd.DataFrame({"resident_id": given["resident_id"].astype("string"),
                                 "assessed_on": given["assessed_on"], "instrument": instrument,
                                 "purpose": purpose, "referral_id": given["referral_id"],
                                 "study": given["study"], "visit": given["visit"],
                                 "mode": given["mode"].astype(str), "language": given["language"].astype(str)})
            for k in range(1, len(ITEM_COLUMNS) + 1):
                name = f"{instrument}_{k}"
                part[f"item_{k}"] = given[name] if name in given.columns else pd.NA
            parts.append(part.astype(types))
    return _sorted(pd.concat(parts, ignore_index=True))


def text(values: pd.Series) -> np.ndarray:
    """Values as text, any kind of blank as ``""`` (to compare categories, strings, booleans)."""
    return values.astype(object).where(values.notna(), "").astype(str).to_numpy()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(ASSESSMENT_KEY, ignore_index=True, kind="stable")



@pytest.fixture(scope="module")
def suggested(small) -> pd.DataFrame:
    """The policy's suggestion for each raw screening, scored and tiered here from the raw
    answers (``workbench.screen``), in the order of ``small.screenings``."""
    data = small.screenings.merge(small.residents, on="resident_id", validate="one_to_one")
    return workbench.screen(data, policy="default").assign(resident_id=data["resident_id"])


def test_tables_are_valid_and_say_where_they_come_from(small, small_tables):
    t = small_tables
    assert t.validate() is t
    assert t.attrs["source"] == "synth" and t.attrs["seed"] == 11 and t.attrs["pseudonymised"] is False
    assert t.policy_versions == ["default@1.1"] == [small.policy]
    raw = small.residents
    assert t.residents.columns.tolist() == TABLES["residents"].names   # no age, no community type
    for column in TABLES["residents"].names:
        assert (text(t.residents[column]) == text(raw[column])).all(), column
    pairs = raw[["community", "community_type"]].astype(str).drop_duplicates()
    assert sorted(t.communities.astype(str).values.tolist()) == sorted(pairs.values.tolist())
    assert t.communities["community"].is_unique
    assert t.consents.empty


def test_every_form_became_an_assessment(small, small_tables):
    a = small_tables.assessments
    expected = expected_assessments(small)
    pd.testing.assert_frame_equal(_sorted(a[expected.columns.tolist()]), expected)
    assert a["assessment_id"].is_unique and a["assessment_id"].str.fullmatch(r"A\d{7}").all()
    versions = a.groupby("instrument")["instrument_version"].unique()
    assert all(list(v) == [get_instrument(i).declaration_version] for i, v in versions.items())
    # one sitting per raw form: counts per purpose are the rows of the generator's frames
    sittings = a.assign(study=a["study"].fillna("")).drop_duplicates(
        ["resident_id", "assessed_on", "purpose", "study"])
    counts = sittings.groupby(["purpose", "study"]).size().to_dict()
    assert counts == {("screening", ""): len(small.screenings), ("review", ""): len(small.followups),
                      ("study", COHORT): int((small.waves["wave"] > 0).sum()),
                      ("study", TRIAL): len(small.trial_assessments)}
    assert min(counts.values()) > 100
    # reviews keep their referral, study visits their visit (trial month, cohort wave)
    reviews = a[a["purpose"] == "review"]
    assert reviews["referral_id"].notna().all() and a.loc[a["purpose"] != "review", "referral_id"].isna().all()
    assert set(a.loc[a["study"] == TRIAL, "visit"]) == {6, 12}
    assert set(a.loc[a["study"] == COHORT, "visit"]) <= {1, 2} and a.loc[a["purpose"] != "study", "visit"].isna().all()


def test_scores_are_those_the_save_path_stores(small_tables, suggested):
    t = small_tables
    pd.testing.assert_frame_equal(t.scores, score_assessments(t.assessments, t.residents))
    # PHQ-15 item 4 does not apply to men: for a man who answered the other 14 items, it is not
    # missing (the total is the plain sum, not prorated)
    men = t.residents.loc[t.residents["sex"] == "male", "resident_id"]
    others = [f"item_{k}" for k in range(1, 16) if k != 4]
    a = t.assessments
    full = a[(a["instrument"] == "phq15") & a["resident_id"].isin(men) & a[others].notna().all(axis=1)]
    stored = t.scores.set_index("assessment_id").loc[full["assessment_id"]]
    assert len(full) > 500 and full["item_4"].isna().all() and not stored["prorated"].any()
    assert (stored["score"].to_numpy() == full[others].sum(axis=1).to_numpy()).all()
    assert (t.scores["assessment_id"].to_numpy() == t.assessments["assessment_id"].to_numpy()).all()
    # and the same as scoring the raw screening forms directly
    columns = ("score", "band", "prorated")
    wide = t.screenings(INSTRUMENTS, columns=columns).set_index("resident_id").loc[suggested["resident_id"]]
    for instrument in INSTRUMENTS:
        got, want = wide[f"{instrument}_score"].to_numpy(float), suggested[f"{instrument}_score"].to_numpy(float)
        assert np.array_equal(got, want, equal_nan=True), instrument
        assert (text(wide[f"{instrument}_band"]) == text(suggested[f"{instrument}_band"])).all(), instrument
    flags = t.screenings(("phq9",), columns=("self_harm",)).set_index("resident_id").loc[suggested["resident_id"]]
    assert (text(flags["phq9_self_harm"]) == text(suggested["phq9_self_harm"])).all()
    assert flags["phq9_self_harm"].isna().sum() == small_tables.assessments.pipe(
        lambda a: a[(a["purpose"] == "screening") & (a["instrument"] == "phq9")])["item_9"].isna().sum() > 0


def test_every_screening_has_the_policy_decision(small, small_tables, suggested):
    d = small_tables.decisions
    assert len(d) == len(small.screenings) and d["decision_id"].is_unique
    d = d.set_index("resident_id").loc[suggested["resident_id"]]
    on = small.screenings.set_index("resident_id").loc[suggested["resident_id"], "assessed_on"]
    assert (d["assessed_on"].to_numpy() == on.to_numpy()).all()
    assert np.array_equal(d["suggested_tier"].to_numpy(float), suggested["tier"].to_numpy(float), equal_nan=True)
    assert np.array_equal(d["tier"].to_numpy(float), d["suggested_tier"].to_numpy(float), equal_nan=True)
    assert set(d["tier"].dropna()) == {1, 2, 3}
    assert not d["overridden"].any() and d["override_reason"].isna().all()
    for column in ("rule", "psych_status", "disease_category", "service_cell", "service"):
        assert (text(d[column]) == text(suggested[column])).all(), column
    for column in ("urgent", "needs_review"):
        assert (d[column].to_numpy() == suggested[column].to_numpy()).all(), column
    assert (d["next_contact_due"].to_numpy() == suggested["next_contact_due"].to_numpy()).all()
    assert set(d["policy_version"]) == {"default@1.1"} and set(d["decided_by"]) == {"admin"}
    noon = (on + pd.Timedelta(hours=12)).dt.tz_localize("UTC")
    assert (d["decided_at"].to_numpy() == noon.to_numpy()).all()


def test_referrals_follow_the_decided_tiers(small, small_tables):
    t = small_tables
    raw = small.referrals
    for column in REFERRAL_COLUMNS:
        assert (text(t.referrals[column]) == text(raw[column])).all(), column
    assert t.referrals["destination"].isna().all()
    decided = t.screenings()
    joined = t.referrals.merge(decided, left_on=["resident_id", "referred_on"],
                               right_on=["resident_id", "assessed_on"], how="left", suffixes=("", "_decided"),
                               validate="one_to_one")
    assert (joined["tier"].to_numpy() == joined["tier_decided"].to_numpy()).all()
    assert (joined["rule"] == joined["rule_decided"]).all()
    referred = decided.loc[decided["tier"].isin([2, 3]).fillna(False).to_numpy(), "resident_id"]
    assert sorted(referred) == sorted(t.referrals["resident_id"]) and len(referred) > 100


def test_contacts_status_is_the_generated_attendance(small, small_tables):
    c, raw, care = small_tables.contacts, small.contacts, small.care_contacts
    # the course's contacts with their ids, then the psychiatric reviews and the contacts after
    # a psychiatric discharge with the next ids
    assert len(c) == len(raw) + len(care) and len(raw) > 1000 and len(care) > 10
    head, tail = c.iloc[:len(raw)].reset_index(drop=True), c.iloc[len(raw):].reset_index(drop=True)
    for column in ("contact_id", "resident_id", "referral_id", "contact_on", "kind"):
        assert (text(head[column]) == text(raw[column])).all(), column
    for column in ("resident_id", "referral_id", "contact_on", "kind"):
        assert (text(tail[column]) == text(care[column])).all(), column
    assert c["contact_id"].is_unique
    attended = np.concatenate([raw["attended"].to_numpy(), care["attended"].to_numpy()])
    assert (c["status"].to_numpy() == np.where(attended, "attended", "missed")).all()
    assert set(c["status"]) == {"attended", "missed"} and set(c["recorded_by"]) == {"admin"}


def test_surveys_are_the_satisfaction_rows(small, small_tables):
    s, raw = small_tables.surveys, small.satisfaction
    assert len(s) == len(raw) > 100 and s["survey_id"].is_unique
    columns = ["resident_id", "referral_id", "surveyed_on", "satisfied", "rating"]
    typed = raw[columns].astype({"resident_id": "string", "referral_id": "string"})
    pd.testing.assert_frame_equal(s[columns], typed)


def test_enrolments_are_the_trial_and_the_cohort(small, small_tables):
    e = small_tables.enrolments
    baseline = small.waves[small.waves["wave"] == 0]
    assert len(e) == len(small.enrolments) + len(baseline) and e["enrolment_id"].is_unique
    assert set(e["study"]) == {TRIAL, COHORT}
    trial = e[e["study"] == TRIAL].reset_index(drop=True)
    for column in ("resident_id", "arm", "enrolled_on"):
        assert (text(trial[column]) == text(small.enrolments[column])).all()
    cohort = e[e["study"] == COHORT]
    assert cohort["arm"].isna().all()
    assert (cohort["resident_id"].to_numpy() == baseline["resident_id"].to_numpy()).all()
    assert (cohort["enrolled_on"].to_numpy() == baseline["assessed_on"].to_numpy()).all()
    # the baseline of both studies is the resident's screening on the enrolment date
    screened = small_tables.assessments.query("purpose == 'screening'")[["resident_id", "assessed_on"]]
    matched = e.merge(screened.drop_duplicates(), left_on=["resident_id", "enrolled_on"],
                      right_on=["resident_id", "assessed_on"], how="inner")
    assert len(matched) == len(e)


def test_events_are_the_generated_events(small, small_tables):
    e, raw = small_tables.events, pd.concat([small.events, small.care_events], ignore_index=True)
    assert len(e) == len(raw) > 100 and e["event_id"].is_unique and e["source"].isna().all()
    assert len(small.care_events) > 0                  # crises in care, after the events step's rows
    for column in ("resident_id", "event_on", "kind"):
        assert (text(e[column]) == text(raw[column])).all(), column
