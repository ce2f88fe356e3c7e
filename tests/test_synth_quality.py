"""The data the quality indicators need, as the generator makes it (workbench/synth/pathways.py,
stream keys 21-25): referral sources, tier-3 hospital dates, psychiatric case reviews, crises in
care with psychiatric discharges and the contact after them, literacy answers.

The expected shares are worked from ``params.yaml`` in the tests (not read back from the
generator's output), and the "not improving" rule is written out here from REFERENCE.md
("Change and outcome metrics": MHIP, Sowa 2018: at week >= 8 neither PHQ-9 < 10 nor a fall of
>= 50 % from baseline; psychiatric case review due in weeks 8-12) and applied to the *stored*
scores of the analysis tables.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from workbench.synth import _params, community, engine
from workbench.tables import EVENT_KINDS, REFERRAL_SOURCES

N, SEED = 20_000, 20261126
END = pd.Timestamp("2026-12-31")        # the default follow_up_end (end 2025-12-31 + 365 days)


@pytest.fixture(scope="module")
def params():
    return _params.load()


@pytest.fixture(scope="module")
def big():
    return community(N, seed=SEED)


@pytest.fixture(scope="module")
def big_tables(big):
    return big.tables()


def _bound(p: float, n: int, sds: float = 4.0) -> float:
    """``sds`` binomial standard errors of a share ``p`` among ``n``."""
    return sds * np.sqrt(p * (1 - p) / n)


def test_new_steps_have_their_own_new_keys():
    keys = {name: engine.STEPS[name].key for name in
            ("referral_source", "hospital_referral", "psychiatric_review", "crises", "literacy")}
    assert keys == {"referral_source": 21, "hospital_referral": 22, "psychiatric_review": 23, "crises": 24,
                    "literacy": 25}
    for key in keys.values():
        assert sum(s.key == key for s in engine.STEPS.values()) == 1


def test_bad_parameters_are_named(params):
    raw = copy.deepcopy(params)
    raw.pop("_derived")
    raw["referral_source"]["shares"]["self"] = 0.5              # shares no longer sum to 1
    with pytest.raises(ValueError, match="referral_source.shares"):
        _params.check(raw)
    raw = copy.deepcopy(params)
    raw.pop("_derived")
    raw["crises"]["p_within_7"], raw["crises"]["p_later"] = 0.8, 0.3
    with pytest.raises(ValueError, match="p_within_7 \\+ p_later <= 1"):
        _params.check(raw)
    raw = copy.deepcopy(params)
    raw.pop("_derived")
    raw["literacy"]["community_type"] = {"urban": 0.0}
    with pytest.raises(ValueError, match="literacy.community_type"):
        _params.check(raw)


# --- referral_source (X3) ---------------------------------------------------------------------

def test_referral_source_values_and_self_share(big, params):
    r = big.referrals
    sp = params["referral_source"]
    assert set(r["referral_source"].dropna().unique()) <= set(REFERRAL_SOURCES)
    blank = r["referral_source"].isna().mean()
    assert abs(blank - sp["p_blank"]) < _bound(sp["p_blank"], len(r))
    known = r["referral_source"].dropna()
    # X3 = self / referrals with a known source; the service model's baseline is 12 %
    assert sp["shares"]["self"] == 0.12
    assert abs((known == "self").mean() - 0.12) < _bound(0.12, len(known))
    assert abs((known == "screening").mean() - sp["shares"]["screening"]) < _bound(sp["shares"]["screening"], len(known))


# --- hospital dates of tier-3 referrals (T3) ----------------------------------------------------

def test_hospital_dates_only_for_tier_3_and_in_order(big):
    r = big.referrals
    not3 = r[r["tier"] != 3]
    assert not3["appointment_on"].isna().all() and not3["hospital_seen_on"].isna().all()
    t3 = r[r["tier"] == 3]
    booked, seen = t3[t3["appointment_on"].notna()], t3[t3["hospital_seen_on"].notna()]
    assert (booked["appointment_on"] >= booked["referred_on"]).all()
    assert seen["appointment_on"].notna().all()                  # seen only when booked
    assert (seen["hospital_seen_on"] >= seen["appointment_on"]).all()
    assert (seen["hospital_seen_on"] <= END).all()
    assert 0 < len(seen) < len(booked) < len(t3)                  # some never seen, some not booked/reported


def test_seen_within_3_days_share_matches_the_parameters(big, params):
    hp = params["hospital_referral"]
    t3 = big.referrals[big.referrals["tier"] == 3]
    wait = (t3["hospital_seen_on"] - t3["referred_on"]).dt.days
    # fast track U{0..3} days, seen on the day unless rescheduled by U{1..14} more days; a
    # rescheduled fast-track appointment still falls within 3 days for the pairs (fast, later)
    # (0,1) (0,2) (0,3) (1,1) (1,2) (2,1): 6 of 4 x 14. The old way (median 15 days, log-sd 0.4)
    # is within 3 days with probability < 1e-3 (z < ln(3.5/15)/0.4 = -3.6): left out.
    assert hp["fast_track_days"] == [0, 3] and hp["rescheduled_days"] == [1, 14]
    on_time = hp["p_fast_track"] * ((1 - hp["p_rescheduled"]) + hp["p_rescheduled"] * 6 / 56)
    expected = (1 - hp["p_not_reported"]) * hp["p_booked"] * hp["p_seen"] * on_time
    observed = (wait <= 3).mean()
    assert abs(observed - expected) < _bound(expected, len(t3)) + 1e-3
    # the old way's waits are around 15 days
    slow = (t3["appointment_on"] - t3["referred_on"]).dt.days
    assert 12 <= slow[slow > 3].median() <= 18


# --- psychiatric case reviews (C4) --------------------------------------------------------------

def _not_improving_from_tables(t) -> pd.DataFrame:
    """First review in weeks 8-12 at which each referral is not improving (REFERENCE.md, MHIP):
    stored PHQ-9 scores; baseline = the referral's earliest PHQ-9: the screening's on the
    referral day, or its first scored review when the screening's PHQ-9 could not be scored
    (as workbench.outcomes.registry_flags takes it)."""
    a, s, r = t.assessments, t.scores, t.referrals
    phq = s[s["instrument"] == "phq9"][["assessment_id", "score"]]
    a = a[a["instrument"] == "phq9"].merge(phq, on="assessment_id")
    base = a[a["purpose"] == "screening"][["resident_id", "assessed_on", "score"]].rename(
        columns={"assessed_on": "referred_on", "score": "baseline"})
    rev = a[(a["purpose"] == "review") & a["referral_id"].notna()][["referral_id", "assessed_on", "score"]]
    rev = rev.merge(r[["referral_id", "resident_id", "referred_on"]], on="referral_id").merge(
        base, on=["resident_id", "referred_on"], how="left")
    rev = rev.sort_values(["referral_id", "assessed_on"])
    first_scored = rev.dropna(subset=["score"]).groupby("referral_id")["score"].first()
    rev["baseline"] = rev["baseline"].fillna(rev["referral_id"].map(first_scored))
    rev["week"] = (rev["assessed_on"] - rev["referred_on"]).dt.days // 7
    known = rev["score"].notna() & rev["baseline"].notna()
    improving = (rev["score"] < 10) | (rev["baseline"] - rev["score"] >= 0.5 * rev["baseline"])
    flagged = rev[known & ~improving & rev["week"].between(8, 12)]
    return flagged.sort_values("assessed_on").groupby("referral_id", as_index=False).first()


def test_psychiatric_reviews_follow_not_improving(big_tables, params):
    t = big_tables
    flagged = _not_improving_from_tables(t).set_index("referral_id")
    c = t.contacts
    pr = c[c["kind"] == "psychiatric_review"]
    assert pr["referral_id"].notna().all() and pr["referral_id"].is_unique
    assert (pr["status"] == "attended").all()
    # every review is of a referral not improving, on or after that review, within after_days
    assert pr["referral_id"].isin(flagged.index).all()
    lag = (pr["contact_on"].to_numpy() - flagged.loc[pr["referral_id"], "assessed_on"].to_numpy()) / np.timedelta64(1, "D")
    low, high = params["psychiatric_review"]["after_days"]
    assert (lag >= 0).all() and (lag <= high).all()
    ended = t.referrals.set_index("referral_id").loc[pr["referral_id"], "ended_on"].to_numpy()
    assert (pr["contact_on"].to_numpy() <= ended).all()            # no contact after the referral ended
    # most but not all: the share reviewed is p_done
    p = params["psychiatric_review"]["p_done"]
    share = len(pr) / len(flagged)
    assert len(flagged) > 500 and abs(share - p) < _bound(p, len(flagged))


def test_no_psychiatric_review_without_phq9_reviews():
    c = community(500, seed=3, instruments=("gad7", "who5"))
    assert not (c.contacts["kind"] == "psychiatric_review").any()


# --- crises in care, psychiatric discharges, the contact after (S2, C5) ------------------------

def test_crisis_events_are_in_care_and_at_the_declared_rate(big, big_tables, params):
    cp = params["crises"]
    e, r, d = big_tables.events, big.referrals, big_tables.decisions
    assert big.care_events["kind"].isin(["crisis", "psychiatric_emergency", "psychiatric_discharge"]).all()
    assert set(e["kind"].astype(str)) <= set(EVENT_KINDS)
    new = e[e["kind"].isin(["psychiatric_emergency", "psychiatric_discharge"])]
    spans = r[["resident_id", "referred_on", "ended_on"]]
    em = e[e["kind"] == "psychiatric_emergency"].merge(spans, on="resident_id")
    inside = (em["event_on"] >= em["referred_on"]) & (em["event_on"] <= em["ended_on"].fillna(END))
    assert len(em) > 50 and inside.all()                        # one referral per resident
    assert (new["event_on"] <= END).all()
    # expected crises in care: rate by tier x urgent_hr over the days from referral to last contact
    ref = r.merge(d[["resident_id", "assessed_on", "urgent"]], left_on=["resident_id", "referred_on"],
                  right_on=["resident_id", "assessed_on"])
    assert ref["ended_on"].notna().all()                        # every 2025 course has ended by the end
    years = (ref["ended_on"] - ref["referred_on"]).dt.days / 365.25
    rate = ref["tier"].map({t: v / 1000 for t, v in cp["rate_per_1000_years"].items()}).astype(float)
    expected = float((rate * np.where(ref["urgent"].astype(bool), cp["urgent_hr"], 1.0) * years).sum())
    in_care = e[e["kind"].isin(["crisis", "psychiatric_emergency"])].merge(spans, on="resident_id")
    in_care = in_care[(in_care["event_on"] >= in_care["referred_on"]) & (in_care["event_on"] <= in_care["ended_on"])]
    observed = in_care.drop_duplicates(["event_id"]).shape[0]
    background = (e["kind"] == "crisis").sum() - (in_care["kind"] == "crisis").sum()
    assert expected > 100
    assert abs(observed - expected) < 4 * np.sqrt(expected) + background
    share_em = (in_care["kind"] == "psychiatric_emergency").mean()
    assert abs(share_em - cp["p_emergency"]) < _bound(cp["p_emergency"], observed) + 0.02


def test_discharges_follow_an_emergency_and_precede_the_follow_up(big_tables, params):
    cp = params["crises"]
    e, c = big_tables.events, big_tables.contacts.assign(attended=lambda x: x["status"] == "attended")
    dis = e[e["kind"] == "psychiatric_discharge"]
    assert len(dis) > 20
    assert dis["days"].notna().all() and dis["days"].between(*cp["stay_days"]).all()
    admitted_on = dis["event_on"] - pd.to_timedelta(dis["days"].astype(int), unit="D")
    em = e[e["kind"] == "psychiatric_emergency"].set_index(["resident_id", "event_on"]).index
    assert pd.MultiIndex.from_arrays([dis["resident_id"], admitted_on]).isin(em).all()
    died_on = e[e["kind"] == "death"].set_index("resident_id")["event_on"].reindex(dis["resident_id"]).to_numpy()
    assert not (died_on < dis["event_on"].to_numpy()).any()     # nobody discharged after death
    # the community contacts after a discharge: kind visit (none otherwise in a 1-year follow-up) or
    # phone, 1-30 days after the discharge; the first within 7 days for about p_within_7
    after = c[c["contact_id"] > c[c["kind"] == "psychiatric_review"]["contact_id"].max()]
    assert set(after["kind"].astype(str)) <= {"visit", "phone"}
    m = after.merge(dis[["resident_id", "event_on"]], on="resident_id")
    lag = (m["contact_on"] - m["event_on"]).dt.days
    assert lag.between(1, 30).groupby(m["contact_id"]).any().all()
    assert (c[c["kind"] == "visit"]["contact_id"].isin(after["contact_id"])).all()
    first = m[lag.between(1, 30)].groupby(["resident_id", "event_on"])["contact_on"].min()
    within = ((first - first.index.get_level_values("event_on")).dt.days <= 7).sum() / len(dis)
    assert abs(within - cp["p_within_7"]) < _bound(cp["p_within_7"], len(dis)) + 0.03


# --- literacy (X4) ------------------------------------------------------------------------------

def test_literacy_rows(big, big_tables, params):
    lp = params["literacy"]
    li = big_tables.literacy
    assert (li["n_asked"] == lp["n_asked"]).all() and (li["questionnaire"] == lp["questionnaire"]).all()
    known = li["n_correct"].notna()
    assert (li.loc[known, "n_correct"] <= li.loc[known, "n_asked"]).all() and (li.loc[known, "n_correct"] >= 0).all()
    assert abs((~known).mean() - lp["p_blank"]) < _bound(lp["p_blank"], len(li))
    assert not li.duplicated(["resident_id", "asked_on", "questionnaire"]).any()
    assert (li["asked_on"] <= END).all()
    screen = big_tables.decisions.set_index("resident_id")["assessed_on"]
    at_screening = li["asked_on"].to_numpy() == screen.reindex(li["resident_id"]).to_numpy()
    assert abs(at_screening.sum() / N - lp["p_asked"]) < _bound(lp["p_asked"], N)
    # the calibrated baseline: 35 % pass at screening (service model); a blank is not a fail
    pass_at = li[at_screening & known]
    share = (pass_at["n_correct"] >= lp["pass_share"] * lp["n_asked"]).mean()
    assert abs(share - 0.35) < _bound(0.35, len(pass_at))
    # asked again at the last attended review of a completed course, with a higher pass share
    again = li[~at_screening]
    r = big_tables.referrals
    done = r[r["end_reason"] == "completed"]
    reviews = big_tables.assessments[(big_tables.assessments["purpose"] == "review")
                                     & big_tables.assessments["referral_id"].isin(done["referral_id"])]
    last = reviews.groupby("referral_id")["assessed_on"].max()
    last_by_resident = pd.Series(last.to_numpy(), index=done.set_index("referral_id").loc[last.index, "resident_id"])
    assert (again["asked_on"].to_numpy() == last_by_resident.reindex(again["resident_id"]).to_numpy()).all()
    later = again[again["n_correct"].notna()]
    assert (later["n_correct"] >= lp["pass_share"] * lp["n_asked"]).mean() > share + 0.1


def test_literacy_lower_in_rural_and_older(big_tables):
    t = big_tables
    li = t.literacy[t.literacy["n_correct"].notna()]
    res = t.residents.merge(t.communities, on="community").set_index("resident_id")
    li = li.assign(kind=res.loc[li["resident_id"], "community_type"].to_numpy())
    mean = li.groupby("kind", observed=True)["n_correct"].mean()
    assert mean["urban"] > mean["rural"] and mean["urban"] > mean["ageing"]


# --- streams: rows up to a date do not depend on follow_up_end ----------------------------------

def test_rows_up_to_a_date_do_not_depend_on_follow_up_end():
    full = community(3000, seed=5)
    short = community(3000, seed=5, follow_up_end="2026-06-30")
    cut = pd.Timestamp("2026-06-30")
    for frame, date in (("literacy", "asked_on"), ("care_contacts", "contact_on"), ("care_events", "event_on")):
        a, b = getattr(full, frame), getattr(short, frame)
        assert len(b) > 0
        pd.testing.assert_frame_equal(a[a[date] <= cut].reset_index(drop=True), b.reset_index(drop=True))
    rf, rs = full.referrals.set_index("referral_id"), short.referrals.set_index("referral_id")
    assert rf["referral_source"].equals(rs["referral_source"])
    seen_f = rf["hospital_seen_on"].where(rf["hospital_seen_on"] <= cut)
    seen_s = rs["hospital_seen_on"].where(rs["hospital_seen_on"] <= cut)
    assert seen_f.equals(seen_s)
