"""Step ``maintenance``: community follow-up after a completed treatment course (only with
``follow_up_years >= 2``).

Residents who complete their course (tiers 2 and 3) get a contact every month after its last
contact: every ``review_every``-th one a review with PHQ-9 and GAD-7 (kind ``assessment``; the
attended ones are follow-up reviews), the others a phone call or a visit; some are missed. They
stop at death, loss to follow-up (:mod:`workbench.synth.history`) or the end of follow-up.
These contacts belong to no referral (the referral's course has ended): in the frames their
``referral_id`` is blank. Draws come in one sub-stream per year of maintenance, so the
contacts up to a date do not depend on how long the follow-up is.
"""

from __future__ import annotations

import numpy as np

from .contacts import ASSESSMENT, PHONE, VISIT
from .engine import Draft, register
from .followup import followup_instruments
from .forms import concat, draw_forms

MAINTENANCE_KEY = 15
PER_YEAR = 12


def _empty(draft: Draft) -> dict:
    nothing = np.zeros(0, dtype=np.int64)
    forms = draw_forms(draft, nothing, nothing.astype("datetime64[D]"), (MAINTENANCE_KEY, 0),
                       0.0)
    return {"referral": nothing, "day": nothing, "kind": nothing.astype(np.int8),
            "attended": nothing.astype(bool), "reviews": {**forms, "contact": nothing, "referral": nothing, "day": nothing}}


@register("maintenance", key=MAINTENANCE_KEY,
          needs=("events", "loss_to_follow_up", "trial", "followup_answers"))
def maintenance(draft: Draft, rng: np.random.Generator) -> None:
    """Monthly contacts (referral, day since referral, kind, attended) and the attended
    reviews' forms, cut at death, loss to follow-up and ``follow_up_end``."""
    ref = draft.referrals
    completed = np.flatnonzero(ref.get("end_reason", np.zeros(0)) == 0) \
        if len(ref.get("resident", ())) else np.zeros(0, dtype=np.int64)
    if draft.follow_up_years < 2 or not len(completed):
        draft.tables["maintenance"] = _empty(draft)
        return
    mp = draft.params["maintenance"]
    who = ref["resident"][completed]
    start = ref["referred_on"][completed]
    end_day = ref["end_day"][completed]
    last = np.datetime64(draft.follow_up_end, "D")
    stop = np.minimum(np.minimum(draft.work["death_on"][who] - np.timedelta64(1, "D"),
                                 draft.work["lost_on"][who] - np.timedelta64(1, "D")), last)
    first_day = start + end_day.astype("timedelta64[D]")
    span = (last - first_day.min()).astype(np.int64) if len(first_day) else 0
    years = int(max(0, np.ceil(span / (PER_YEAR * mp["every_days"]))))
    r = len(completed)
    month = np.arange(1, PER_YEAR + 1)
    names = followup_instruments(draft)
    parts, contacts = [], []
    offset = 0
    for year in range(years):
        g = draft.rng(MAINTENANCE_KEY, year)
        m = PER_YEAR * year + month                                   # months after the course
        jitter = g.integers(-mp["jitter_days"], mp["jitter_days"] + 1, size=(r, PER_YEAR))
        day = end_day[:, None] + np.rint(mp["every_days"] * m).astype(np.int64)[None, :] + jitter
        visit = g.random((r, PER_YEAR)) < mp["p_visit"]
        attended = g.random((r, PER_YEAR)) < mp["p_attend"]
        review = np.broadcast_to(m % mp["review_every"] == 0, (r, PER_YEAR))
        kind = np.where(review, ASSESSMENT, np.where(visit, VISIT, PHONE)).astype(np.int8)
        on = start[:, None] + day.astype("timedelta64[D]")

        keep = on <= stop[:, None]
        # Draws for every possible review of the year (so that a form does not depend on the
        # cut); forms built for the attended ones that are kept.
        row, col = np.nonzero(review)
        kept = keep[row, col] & attended[row, col]
        forms = draw_forms(draft, who[row], on[row, col], (MAINTENANCE_KEY, year, 1),
                           draft.params["followup"]["p_interviewer"], kept)
        row_c, col_c = np.nonzero(keep)
        contacts.append((completed[row_c], day[row_c, col_c], kind[row_c, col_c],
                         attended[row_c, col_c]))
        position = np.full((r, PER_YEAR), -1, dtype=np.int64)     # contact row of each slot
        position[row_c, col_c] = offset + np.arange(len(row_c))
        offset += len(row_c)
        part = forms
        part["contact"] = position[row[kept], col[kept]]
        part["referral"] = completed[row[kept]]
        part["day"] = day[row[kept], col[kept]]
        parts.append(part)
    if not parts:
        draft.tables["maintenance"] = _empty(draft)
        return
    referral, day, kind, attended = (np.concatenate(x) for x in zip(*contacts))
    reviews = concat(parts, names)
    draft.tables["maintenance"] = {"referral": referral, "day": day, "kind": kind,
                                   "attended": attended, "reviews": reviews}
