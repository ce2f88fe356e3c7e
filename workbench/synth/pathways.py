"""Steps for the data the 28 quality indicators need (``../INDICATORS.md``).

- ``referral_source`` (key 21): where each referral came from (``referrals.referral_source``):
  the screening campaign, help sought on one's own (``self``), family, staff, hospital, other,
  or blank (not recorded).
- ``hospital_referral`` (key 22): the hospital's fast-track dates of tier-3 referrals
  (``referrals.appointment_on``, ``hospital_seen_on``): booked on the fast track or the old
  way, seen on the day, later or not at all, or not reported.
- ``psychiatric_review`` (key 23): a psychiatric case review (a ``psychiatric_review``
  contact, attended = it took place) of most referrals that are not improving at an attended
  review in weeks 8-12 (the PHQ-9 of the review and of the screening, scored by
  :func:`workbench.scoring.score`; the thresholds of :mod:`workbench.outcomes`).
- ``crises`` (key 24): mental-health crises of residents in care (events ``crisis`` and
  ``psychiatric_emergency``), psychiatric admissions (``psychiatric_discharge`` on the day of
  discharge, ``days`` = the stay) and the community contact after the discharge.
- ``literacy`` (key 25): the programme's literacy questions at the screening (a share of
  residents) and again at the last review of those who complete their course.

Every parameter, with its basis, is in ``params.yaml`` (sections ``referral_source``,
``hospital_referral``, ``psychiatric_review``, ``crises``, ``literacy``). Each step draws from its
own stream and draws for every referral (or resident) whatever ``follow_up_end``, so the tables
generated before keep their rows and the rows up to a date do not depend on the follow-up
length. The new contacts and events are appended after the existing ones (their ids follow),
so the existing rows keep their ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from workbench.tables import REFERRAL_SOURCES

from .engine import Draft, register
from .frames import _date
from ._params import COMMUNITY_TYPES
from .history import NEVER

SOURCE_KEY, HOSPITAL_KEY, REVIEW_KEY, CRISES_KEY, LITERACY_KEY = 21, 22, 23, 24, 25
#: Kinds of the contacts added here (after the course's treatment, assessment, phone, visit).
CONTACT_KINDS = ("psychiatric_review", "visit", "phone")
CRISIS, EMERGENCY, DISCHARGE = "crisis", "psychiatric_emergency", "psychiatric_discharge"
EVENT_KINDS = (CRISIS, EMERGENCY, DISCHARGE)


def _uniform_int(u: np.ndarray, low, high) -> np.ndarray:
    """Whole numbers uniform in [low, high] from uniforms ``u`` (inclusive)."""
    low, high = np.asarray(low, dtype=np.int64), np.asarray(high, dtype=np.int64)
    return low + np.floor(u * (high - low + 1)).astype(np.int64)


def _days(n: np.ndarray) -> np.ndarray:
    return np.asarray(n, dtype=np.int64).astype("timedelta64[D]")


def _end(draft: Draft) -> np.datetime64:
    return np.datetime64(draft.follow_up_end, "D")


def _never(draft: Draft, key: str) -> np.ndarray:
    return draft.work.get(key, np.full(draft.n, NEVER))


@register("referral_source", key=SOURCE_KEY, needs=("referral",))
def referral_source(draft: Draft, rng: np.random.Generator) -> None:
    """Each referral's source code (index in :data:`REFERRAL_SOURCES`; -1 = not recorded)."""
    sp = draft.params["referral_source"]
    r = len(draft.referrals["resident"])
    u_blank, u_source = rng.random(r), rng.random(r)
    shares = np.array([sp["shares"][s] for s in REFERRAL_SOURCES])
    code = np.searchsorted(np.cumsum(shares)[:-1], u_source, side="right").astype(np.int8)
    draft.referrals["source"] = np.where(u_blank < sp["p_blank"], -1, code).astype(np.int8)


@register("hospital_referral", key=HOSPITAL_KEY, needs=("events", "contacts"))
def hospital_referral(draft: Draft, rng: np.random.Generator) -> None:
    """Tier-3 referrals: the appointment booked and the day the hospital saw the resident
    (``NaT`` = none booked / not seen / not reported)."""
    hp, ref = draft.params["hospital_referral"], draft.referrals
    r = len(ref["resident"])
    u = rng.random((r, 6))
    z = rng.standard_normal(r)
    fast = _uniform_int(u[:, 2], *hp["fast_track_days"])
    usual = np.maximum(np.round(hp["usual_wait_median_days"] * np.exp(hp["usual_wait_log_sd"] * z)), 1)
    wait = np.where(u[:, 1] < hp["p_fast_track"], fast, usual.astype(np.int64))
    late = np.where(u[:, 4] < hp["p_rescheduled"], _uniform_int(u[:, 5], *hp["rescheduled_days"]), 0)
    reported = (ref["tier"] == 3) & (u[:, 0] >= hp["p_not_reported"])
    booked = reported & (rng.random(r) < hp["p_booked"])
    appointment = ref["referred_on"] + _days(wait)
    seen_on = appointment + _days(late)
    death = _never(draft, "death_on")[ref["resident"]]
    seen = booked & (u[:, 3] < hp["p_seen"]) & (seen_on <= _end(draft)) & (seen_on < death)
    nat = np.datetime64("NaT", "D")
    ref["appointment_on"] = np.where(booked & (appointment <= _end(draft)), appointment, nat)
    ref["hospital_seen_on"] = np.where(seen, seen_on, nat)


def _phq9(draft: Draft, answers: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """PHQ-9 totals (NaN = not scorable) as the save path stores them (records.score_assessments):
    what the counsellor reads at the review."""
    from workbench.records import score_assessments

    models = draft.params["_derived"]["item_models"]
    n = len(answers)
    frame = pd.DataFrame({f"item_{j + 1}": pd.arrays.IntegerArray(answers[:, j].astype(np.int8), blank[:, j].copy())
                          for j in range(len(models["phq9"].columns))})
    frame = frame.assign(assessment_id=pd.array(np.arange(n).astype(str), dtype="string"),
                         resident_id=pd.array(np.arange(n).astype(str), dtype="string"),
                         assessed_on=pd.Timestamp("2000-01-01"), instrument="phq9")
    return score_assessments(frame)["score"].to_numpy(dtype=float)


def not_improving_reviews(draft: Draft) -> tuple[np.ndarray, np.ndarray]:
    """The first attended review in the psychiatric-review weeks at which each referral is not
    improving: (referral, review day after the referral), one per referral at most.

    Not improving (MHIP, Sowa 2018): neither the review's PHQ-9 below ``phq9_below`` nor a fall
    of at least ``min_fall`` from the baseline (the screening's PHQ-9, else the referral's first
    scorable review), from week ``from_week``; the review weeks are ``psychiatric_review``'s
    (:func:`workbench.outcomes._config.thresholds`). Reviews whose PHQ-9 is not scorable are
    not judged.
    """
    from workbench.outcomes._config import thresholds

    f, ref = draft.followups, draft.referrals
    empty = np.zeros(0, dtype=np.int64)
    if "phq9" not in f.get("answers", {}) or "phq9" not in draft.work.get("answers", {}) or not len(f["referral"]):
        return empty, empty
    t = thresholds()
    review = _phq9(draft, f["answers"]["phq9"], f["blank"]["phq9"])
    who = ref["resident"]
    base = _phq9(draft, draft.work["answers"]["phq9"][who], draft.work["blank"]["phq9"][who])
    order = np.lexsort((f["assessed_on"], f["referral"]))
    row, on, score = f["referral"][order], f["assessed_on"][order], review[order]
    day = (on - ref["referred_on"][row]).astype(np.int64)
    # a referral without a scorable baseline: its first scorable review is the baseline
    scored = ~np.isnan(score)
    first_scored = np.full(len(who), np.nan)
    firsts = pd.Series(score[scored]).groupby(row[scored]).first()
    first_scored[firsts.index.to_numpy()] = firsts.to_numpy()
    baseline = np.where(np.isnan(base), first_scored, base)[row]
    week = day // 7
    with np.errstate(invalid="ignore"):
        improving = (score < t.not_improving_phq9_below) | (baseline - score >= t.not_improving_min_fall * baseline - 1e-9)
    flagged = (scored & ~np.isnan(baseline) & ~improving & (week >= t.not_improving_from_week)
               & (week >= t.review_from_week) & (week <= t.review_to_week))
    hit = np.flatnonzero(flagged)
    first = np.r_[True, row[hit][1:] != row[hit][:-1]] if len(hit) else np.zeros(0, dtype=bool)
    return row[hit][first].astype(np.int64), day[hit][first].astype(np.int64)


@register("psychiatric_review", key=REVIEW_KEY, needs=("followup_skip_logic", "contacts"))
def psychiatric_review(draft: Draft, rng: np.random.Generator) -> None:
    """Psychiatric case reviews (referral, day after the referral) of referrals not improving."""
    pp, ref = draft.params["psychiatric_review"], draft.referrals
    r = len(ref["resident"])
    u_done, u_day = rng.random(r), rng.random(r)
    row, found = not_improving_reviews(draft)
    done = u_done[row] < pp["p_done"]
    day = np.minimum(found + _uniform_int(u_day[row], *pp["after_days"]), ref["end_day"][row])
    row, day = row[done], np.maximum(day[done], found[done])
    draft.tables["psychiatric_review"] = {"referral": row, "day": day, "not_improving": len(found)}


@register("crises", key=CRISES_KEY, needs=("events", "contacts", "loss_to_follow_up"))
def crises(draft: Draft, rng: np.random.Generator) -> None:
    """Crises in care, emergency visits, psychiatric admissions and the contact after discharge."""
    cp, ref = draft.params["crises"], draft.referrals
    r = len(ref["resident"])
    rate = np.zeros(4)
    for tier, value in cp["rate_per_1000_years"].items():
        rate[int(tier)] = value / 1000.0
    span = np.maximum(ref["end_day"], 1).astype(np.int64)       # in care: the day after the referral to its last contact
    expected = rate[ref["tier"].astype(np.int64)] * np.where(ref["urgent"], cp["urgent_hr"], 1.0) * span / 365.25
    count = rng.poisson(expected)
    owner = np.repeat(np.arange(r), count)
    u = rng.random((len(owner), 7))
    z = rng.standard_normal(len(owner))
    day = _uniform_int(u[:, 0], 1, span[owner])                  # events start the day after the screening
    on = ref["referred_on"][owner] + _days(day)
    emergency = u[:, 1] < cp["p_emergency"]
    admitted = emergency & (u[:, 2] < cp["p_admitted"])
    low, high = cp["stay_days"]
    stay = np.clip(np.round(cp["stay_median_days"] * np.exp(cp["stay_log_sd"] * z)), low, high).astype(np.int64)
    discharged = on + _days(stay)
    within = u[:, 3] < cp["p_within_7"]
    later = ~within & (u[:, 3] < cp["p_within_7"] + cp["p_later"])
    delay = np.where(within, _uniform_int(u[:, 4], 1, 7), _uniform_int(u[:, 4], 8, 30))
    contact_on = discharged + _days(delay)
    resident = ref["resident"][owner]
    death = _never(draft, "death_on")[resident]
    lost = _never(draft, "lost_on")[resident]
    end = _end(draft)
    alive = on < death
    kind = np.where(emergency, EVENT_KINDS.index(EMERGENCY), EVENT_KINDS.index(CRISIS))
    out = admitted & alive & (discharged <= end) & (discharged < death)
    contacted = out & (within | later) & (contact_on <= end) & (contact_on < death) & (contact_on < lost)
    keep = alive & (on <= end)
    e_who = np.concatenate([resident[keep], resident[out]])
    e_on = np.concatenate([on[keep], discharged[out]])
    e_kind = np.concatenate([kind[keep], np.full(int(out.sum()), EVENT_KINDS.index(DISCHARGE))])
    e_days = np.concatenate([np.full(int(keep.sum()), np.nan), stay[out].astype(float)])
    order = np.lexsort((e_kind, e_on, e_who))
    e_who, e_on, e_kind, e_days = (x[order] for x in (e_who, e_on, e_kind, e_days))
    first = np.ones(len(e_who), dtype=bool)                  # at most one of a kind a day
    first[1:] = (e_who[1:] != e_who[:-1]) | (e_on[1:] != e_on[:-1]) | (e_kind[1:] != e_kind[:-1])
    draft.tables["crises"] = {
        "events": {"resident": e_who[first], "on": e_on[first], "kind": e_kind[first], "days": e_days[first]},
        "contacts": {"referral": owner[contacted], "on": contact_on[contacted],
                     "kind": np.where(u[contacted, 5] < cp["p_visit"], CONTACT_KINDS.index("visit"),
                                      CONTACT_KINDS.index("phone")),
                     "attended": u[contacted, 6] < cp["p_attend"]},
    }


@register("literacy", key=LITERACY_KEY, needs=("events", "loss_to_follow_up", "followup_answers", "contacts"))
def literacy(draft: Draft, rng: np.random.Generator) -> None:
    """Literacy answers: resident, date, questions asked and answered correctly (-1 = blank)."""
    lp, n = draft.params["literacy"], draft.n
    u = rng.random((n, 2))
    latent = (lp["intercept"] + lp["age_per_decade"] * (draft.work["age_years"] - 45) / 10.0
              + lp["female"] * draft.residents["female"]
              + np.array([lp["community_type"][t] for t in COMMUNITY_TYPES])[draft.work["community_type_code"]]
              + lp["person_sd"] * rng.standard_normal(n))
    asked = u[:, 0] < lp["p_asked"]
    correct = rng.binomial(lp["n_asked"], expit(latent))
    blank = u[:, 1] < lp["p_blank"]
    who, on = np.flatnonzero(asked), draft.screenings["assessed_on"][asked]
    n_correct = np.where(blank[asked], -1, correct[asked])

    ref, f = draft.referrals, draft.followups
    r = len(ref["resident"])
    v = rng.random((r, 2))
    again = rng.binomial(lp["n_asked"], expit(latent[ref["resident"]] + lp["care_gain"]))
    last = np.full(r, np.datetime64("NaT", "D"))
    if len(f.get("referral", ())):
        order = np.lexsort((f["assessed_on"], f["referral"]))
        last[f["referral"][order]] = f["assessed_on"][order]    # sorted: the last write is the last review
    completed = ref["end_reason"] == 0
    rows = np.flatnonzero(completed & ~np.isnat(last) & (v[:, 0] < lp["p_asked_after_care"]))
    r_who, r_on = ref["resident"][rows], last[rows]
    ok = (r_on <= _end(draft)) & (r_on < _never(draft, "death_on")[r_who])
    r_who, r_on, rows = r_who[ok], r_on[ok], rows[ok]
    r_correct = np.where(v[rows, 1] < lp["p_blank"], -1, again[rows])
    who, on = np.concatenate([who, r_who]), np.concatenate([on, r_on])
    n_correct = np.concatenate([n_correct, r_correct])
    order = np.lexsort((on, who))
    draft.tables["literacy"] = {"resident": who[order], "on": on[order], "n_correct": n_correct[order]}


def pathway_frames(draft: Draft, resident_ids: np.ndarray, referral_ids: np.ndarray) -> dict[str, Any]:
    """What the steps add to the community's frames.

    Returns ``referral_columns`` (``referral_source``, ``appointment_on``, ``hospital_seen_on``, in
    referral order), ``contacts`` (psychiatric reviews, then the contacts after a psychiatric
    discharge, without ``contact_id``), ``events`` (without ``event_id``) and ``literacy`` (the
    ``literacy`` table without ``literacy_id``), each cut at ``follow_up_end``.
    """
    ref, end = draft.referrals, _end(draft)
    columns = {
        "referral_source": pd.Categorical.from_codes(ref["source"].astype(np.int32), categories=list(REFERRAL_SOURCES)),
        "appointment_on": _date(ref["appointment_on"]),
        "hospital_seen_on": _date(ref["hospital_seen_on"]),
    }
    pr, cr = draft.tables["psychiatric_review"], draft.tables["crises"]
    review_on = ref["referred_on"][pr["referral"]] + _days(pr["day"])
    keep = review_on <= end
    c = cr["contacts"]
    c_row = c["referral"]
    in_course = c["on"] <= ref["referred_on"][c_row] + _days(ref["end_day"][c_row])
    contacts = pd.DataFrame({
        "resident_id": np.concatenate([resident_ids[ref["resident"][pr["referral"][keep]]],
                                       resident_ids[ref["resident"][c_row]]]),
        "referral_id": np.concatenate([referral_ids[pr["referral"][keep]],
                                       np.where(in_course, referral_ids[c_row], None)]),
        "contact_on": _date(np.concatenate([review_on[keep], c["on"]])),
        "kind": np.concatenate([np.full(int(keep.sum()), "psychiatric_review", dtype=object),
                                np.asarray(CONTACT_KINDS, dtype=object)[c["kind"]]]),
        "attended": np.concatenate([np.ones(int(keep.sum()), dtype=bool), c["attended"]]),
    })
    e = cr["events"]
    events = pd.DataFrame({
        "resident_id": resident_ids[e["resident"]],
        "event_on": _date(e["on"]),
        "kind": np.asarray(EVENT_KINDS, dtype=object)[e["kind"]],
        "days": pd.arrays.IntegerArray(np.nan_to_num(e["days"]).astype(np.int16), np.isnan(e["days"])),
    })
    li, lp = draft.tables["literacy"], draft.params["literacy"]
    keep = li["on"] <= end
    n = int(keep.sum())
    lit = pd.DataFrame({
        "resident_id": resident_ids[li["resident"][keep]],
        "asked_on": _date(li["on"][keep]),
        "questionnaire": pd.array([lp["questionnaire"]] * n, dtype="string"),
        "n_asked": pd.array(np.full(n, lp["n_asked"], dtype=np.int8), dtype="Int8"),
        "n_correct": pd.arrays.IntegerArray(np.maximum(li["n_correct"][keep], 0).astype(np.int8),
                                            li["n_correct"][keep] < 0),
    })
    return {"referral_columns": columns, "contacts": contacts, "events": events, "literacy": lit}


__all__ = ["CONTACT_KINDS", "EVENT_KINDS", "not_improving_reviews", "pathway_frames"]
