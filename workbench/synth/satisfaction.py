"""Step ``satisfaction``: a service-user satisfaction survey at the end of each referral.

One survey per referral that ends (completed or dropped out), sent a few days after its last
contact; none while the referral is open, after ``follow_up_end`` or after the resident's
death. Residents lost to follow-up by the survey day do not answer; the others answer with a
probability that is lower among dropouts. An answer is a 1-5 ``rating`` from a latent score
that is higher for completers and for those whose latent depression improved most
(:func:`workbench.synth.history.latent_on` on the survey day vs the baseline);
``satisfied`` = rating >= 4. See ``satisfaction`` in ``params.yaml``.

Every draw is made for every referral (whatever ``follow_up_end``), so the surveys up to a date
do not depend on the follow-up length. Stream key 18.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .engine import Draft, register
from .history import NEVER, latent_on

SATISFACTION_KEY = 18
SATISFACTION_COLUMNS = ("resident_id", "referral_id", "surveyed_on", "satisfied", "rating")


@register("satisfaction", key=SATISFACTION_KEY,
          needs=("contacts", "trajectory", "natural_history", "events", "loss_to_follow_up"))
def satisfaction(draft: Draft, rng: np.random.Generator) -> None:
    """Per ended referral: survey date, whether answered, rating (1-5)."""
    sp, ref = draft.params["satisfaction"], draft.referrals
    r = len(ref.get("resident", ()))
    u_delay, u_respond = rng.random(r), rng.random(r)
    noise = rng.logistic(0.0, 1.0, r)
    if r == 0:
        draft.tables["satisfaction"] = {"referral": np.zeros(0, dtype=np.int64),
                                        "on": np.zeros(0, dtype="datetime64[D]"),
                                        "responded": np.zeros(0, dtype=bool),
                                        "rating": np.zeros(0, dtype=np.int8)}
        return
    dropped = ref["end_reason"] == 1
    low = np.where(dropped, sp["after_days_dropout"][0], sp["after_days"][0])
    high = np.where(dropped, sp["after_days_dropout"][1], sp["after_days"][1])
    delay = low + np.floor(u_delay * (high - low + 1)).astype(np.int64)
    ended = ref["referred_on"] + ref["end_day"].astype("timedelta64[D]")
    on = ended + delay.astype("timedelta64[D]")

    who = ref["resident"]
    death = draft.work.get("death_on", np.full(draft.n, NEVER))[who]
    lost = draft.work.get("lost_on", np.full(draft.n, NEVER))[who]
    p_respond = np.where(dropped, sp["p_respond_dropout"], sp["p_respond"])
    responded = (u_respond < p_respond) & (on < lost)

    improvement = draft.latent["depression"][who] - latent_on(draft, "depression", who, on)
    z = sp["intercept"] + sp["completed"] * ~dropped + sp["improvement"] * improvement + noise
    rating = 1 + (z[:, None] > np.asarray(sp["cuts"], dtype=float)[None, :]).sum(axis=1)

    keep = (on <= np.datetime64(draft.follow_up_end, "D")) & (on < death)
    rows = np.flatnonzero(keep)
    draft.tables["satisfaction"] = {"referral": rows, "on": on[rows],
                                    "responded": responded[rows],
                                    "rating": rating[rows].astype(np.int8)}


def satisfaction_frame(draft: Draft, resident_ids: np.ndarray,
                       referral_ids: np.ndarray) -> pd.DataFrame:
    """The ``satisfaction`` DataFrame: ``resident_id, referral_id, surveyed_on``,
    ``satisfied`` (nullable boolean, blank = no answer) and ``rating`` (``Int8`` 1-5, blank =
    no answer), in referral order."""
    s: dict[str, Any] = draft.tables["satisfaction"]
    rows, answered = s["referral"], s["responded"]
    rating = np.asarray(s["rating"], dtype=np.int8)
    return pd.DataFrame({
        "resident_id": resident_ids[draft.referrals["resident"][rows]] if len(rows) else
        np.zeros(0, dtype=object),
        "referral_id": referral_ids[rows],
        "surveyed_on": np.asarray(s["on"], dtype="datetime64[D]").astype("datetime64[ns]"),
        "satisfied": pd.arrays.BooleanArray(rating >= 4, ~answered),
        "rating": pd.arrays.IntegerArray(rating, ~answered),
    })
