"""Step ``contacts``: the care a referral gets after the baseline screening.

For each referral (vectorised over all of them): a first contact (the policy's due date give or
take a few days; the same day when urgent), treatment sessions weekly or fortnightly for a
tier-specific span, sometimes after a gap of several weeks (no second contact by week 4),
reviews with questionnaires every ``review_every_days`` while sessions go on, a final review for
those who complete, missed appointments with a phone call after some of them, and dropout
(stop attending; no more reviews). Days are counted from the referral; the ``follow_up_end``
cut is applied when the frames are built, so the contacts up to a date do not depend on it.
"""

from __future__ import annotations

import numpy as np

from .engine import Draft, register

CONTACTS_KEY = 7
KINDS = ("treatment", "assessment", "phone", "visit")    # visit: maintenance only
TREATMENT, ASSESSMENT, PHONE, VISIT = range(4)
END_REASONS = ("completed", "dropped_out")


def ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and position within the owner for ``counts[i]`` entries per owner.

    Examples
    --------
    >>> owner, k = ragged(np.array([2, 0, 3]))
    >>> owner.tolist(), k.tolist()
    ([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])
    """
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner), dtype=np.int64) - starts[owner]


def _uniform_int(rng: np.random.Generator, low, high, size: int) -> np.ndarray:
    """Whole numbers uniform in [low, high] (arrays or scalars; inclusive)."""
    low, high = np.asarray(low, dtype=np.int64), np.asarray(high, dtype=np.int64)
    return low + np.floor(rng.random(size) * (high - low + 1)).astype(np.int64)


def _by_tier(care: dict, tier: np.ndarray, key: str, part: int | None = None) -> np.ndarray:
    table = np.zeros(4)
    for t, spec in care["tiers"].items():
        table[int(t)] = spec[key] if part is None else spec[key][part]
    return table[tier]


@register("contacts", key=CONTACTS_KEY, needs=("referral",))
def contacts(draft: Draft, rng: np.random.Generator) -> None:
    """Contacts (referral, day, kind, attended) and each referral's end (day, reason)."""
    cp, ref = draft.params["care"], draft.referrals
    tier, urgent = ref["tier"].astype(np.int64), ref["urgent"]
    r = len(tier)

    # Per referral: first contact, rhythm, span, gap, dropout.
    early = _by_tier(cp, tier, "first_contact_early").astype(np.int64)
    late = _by_tier(cp, tier, "first_contact_late").astype(np.int64)
    first = np.maximum(ref["due_days"] + _uniform_int(rng, -early, late, r), 0)
    first = np.where(urgent, 0, first)
    interval = np.where(rng.random(r) < _by_tier(cp, tier, "p_weekly"), 7, 14)
    span = _uniform_int(rng, _by_tier(cp, tier, "treatment_days", 0),
                        _by_tier(cp, tier, "treatment_days", 1), r)
    gap = np.where(rng.random(r) < cp["p_gap"], _uniform_int(rng, *cp["gap_days"], r), 0)
    drop = rng.random(r) < _by_tier(cp, tier, "p_dropout")
    n_sessions = 1 + span // interval
    quit_at = 1 + np.floor((n_sessions - 1) * rng.random(r) ** cp["dropout_timing_power"])
    quit_at = quit_at.astype(np.int64)
    n_missed = _uniform_int(rng, *cp["dropout_missed_sessions"], r)

    # Treatment sessions: k = 0 is the first contact.
    owner, k = ragged(n_sessions)
    jitter = _uniform_int(rng, -cp["session_jitter_days"], cp["session_jitter_days"], len(k))
    day = first[owner] + np.where(k > 0, gap[owner] + k * interval[owner] + jitter, 0)
    dropped = drop[owner] & (k >= quit_at[owner])
    keep = ~drop[owner] | (k < quit_at[owner] + n_missed[owner])
    p_att = np.where(k == 0, np.where(urgent[owner], 1.0, cp["p_attend_first"]), cp["p_attend"])
    attended = ~dropped & (rng.random(len(k)) < p_att)
    starts = np.cumsum(n_sessions) - n_sessions
    last_session = day[starts + n_sessions - 1]
    never = np.iinfo(np.int64).max
    quit_day = np.where(drop, day[starts + np.minimum(quit_at, n_sessions - 1)], never)
    s_ref, s_day, s_att = owner[keep], day[keep], attended[keep]

    # Reviews in weeks 4, 8, ... after any gap and before the last session (dropouts: before
    # the first missed session).
    every, rj = cp["review_every_days"], cp["review_jitter_days"]
    j_low = (first + gap) // every + 1
    j_high = (last_session - rj - 1) // every
    owner, k = ragged(np.maximum(j_high - j_low + 1, 0))
    r_day = (j_low[owner] + k) * every + _uniform_int(rng, 0, rj, len(k))
    r_att = rng.random(len(k)) < cp["p_attend_review"]
    ok = r_day < quit_day[owner]
    r_ref, r_day, r_att = owner[ok], r_day[ok], r_att[ok]

    # Final review of those who complete.
    f_day = last_session + _uniform_int(rng, *cp["final_after_days"], r)
    f_att = rng.random(r) < cp["p_attend_final"]
    f_ref = np.flatnonzero(~drop)

    # A phone call after some missed sessions.
    missed = ~s_att
    call = missed & (rng.random(len(s_ref)) < cp["p_phone_after_missed"])
    p_day = s_day + _uniform_int(rng, *cp["phone_after_days"], len(s_ref))
    p_att = rng.random(len(s_ref)) < cp["p_phone_answered"]

    c_ref = np.concatenate([s_ref, r_ref, f_ref, s_ref[call]])
    c_day = np.concatenate([s_day, r_day, f_day[f_ref], p_day[call]])
    c_kind = np.concatenate([np.full(len(s_ref), TREATMENT), np.full(len(r_ref), ASSESSMENT),
                             np.full(len(f_ref), ASSESSMENT),
                             np.full(int(call.sum()), PHONE)]).astype(np.int8)
    c_att = np.concatenate([s_att, r_att, f_att[f_ref], p_att[call]])
    order = np.lexsort((c_kind, c_day, c_ref))
    c_ref, c_day, c_kind, c_att = c_ref[order], c_day[order], c_kind[order], c_att[order]

    # The referral ends on its last contact: completed, or dropped out.
    ended = np.full(r, -1, dtype=np.int64)
    ended[c_ref] = c_day                                  # sorted: the last write is the last day
    draft.contacts.update(referral=c_ref, day=c_day, kind=c_kind, attended=c_att)
    ref.update(start_day=first + gap, end_day=ended, end_reason=drop.astype(np.int8),
               first_day=first)
