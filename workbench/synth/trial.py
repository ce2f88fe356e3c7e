"""Step ``trial``: the 12-month RCT of chronic patients (intervention vs usual care), and the
intervention's effect on the latent traits (:func:`intervention_effect`).

Participants are chronic patients (any of the six conditions), ``trial.participants`` per
``trial.per_residents`` residents (all eligible when fewer), enrolled on their baseline
screening and randomised 1:1 in permuted blocks in enrolment order. Both arms keep the
stepped-care course they were referred to; the intervention lowers depression and anxiety by
``latent_shift`` (building up from enrolment, or from the end of the stepped-care course for
those in one, so that the course reviews already generated are unchanged) and ER visits in the
trial year (``er_rate_ratio``, applied in :mod:`workbench.synth.events`).
"""

from __future__ import annotations

import numpy as np

from .conditions import CONDITIONS
from .engine import Draft, register
from .history import NEVER

TRIAL_KEY = 13
TRIAL_DAYS = 365
ARMS = ("intervention", "usual_care")
INTERVENTION, USUAL_CARE = 0, 1


def trial_size(n: int, eligible: int, participants: int, per_residents: int) -> int:
    """``participants`` per ``per_residents`` residents, at most the number eligible.

    Examples
    --------
    >>> trial_size(3000, 1200, 500, 3000), trial_size(100, 40, 500, 3000)
    (500, 17)
    >>> trial_size(60000, 400, 500, 3000)
    400
    """
    return int(min(eligible, round(participants * n / per_residents)))


def permuted_blocks(k: int, block_size: int, rng: np.random.Generator) -> np.ndarray:
    """Arms (0/1, half of each per block) for ``k`` participants in enrolment order.

    Examples
    --------
    >>> arms = permuted_blocks(10, 4, np.random.default_rng(1))
    >>> arms[:8].reshape(2, 4).sum(axis=1).tolist()
    [2, 2]
    """
    blocks = -(-k // block_size)
    base = np.tile(np.repeat(np.array([0, 1], dtype=np.int8), block_size // 2), (blocks, 1))
    return rng.permuted(base, axis=1).ravel()[:k]


@register("trial", key=TRIAL_KEY, needs=("natural_history", "conditions", "schedule"))
def trial(draft: Draft, rng: np.random.Generator) -> None:
    """Participants, arms and enrolment dates; per resident: arm, enrolment, effect window."""
    tp, n = draft.params["trial"], draft.n
    chronic = np.zeros(n, dtype=bool)
    for name in CONDITIONS:
        chronic |= draft.residents[name]
    eligible = np.flatnonzero(chronic)
    k = trial_size(n, len(eligible), tp["participants"], tp["per_residents"])
    chosen = np.sort(rng.choice(eligible, size=k, replace=False)) if k else eligible[:0]
    enrolled = draft.screenings["assessed_on"].astype("datetime64[D]")[chosen]
    in_order = np.lexsort((chosen, enrolled))
    arm = np.empty(k, dtype=np.int8)
    arm[in_order] = permuted_blocks(k, tp["block_size"], rng)

    arm_of = np.full(n, -1, dtype=np.int8)
    arm_of[chosen] = arm
    enrolled_on = np.full(n, NEVER)
    enrolled_on[chosen] = enrolled
    anchor = draft.work["history"]["anchor"]
    draft.work["trial"] = {
        "arm": arm_of,
        "enrolled_on": enrolled_on,
        "effect_start": np.maximum(enrolled_on, anchor),
        "trial_end": enrolled_on + np.timedelta64(TRIAL_DAYS, "D"),
    }
    draft.tables["enrolments"] = {"resident": chosen, "arm": arm, "enrolled_on": enrolled,
                                  "study": tp["study"]}


def intervention_effect(draft: Draft, resident: np.ndarray, on: np.ndarray) -> np.ndarray:
    """How much the intervention lowers the latent trait (0 outside its arm): ``latent_shift``
    x (1 - exp(-t / build_days)) from the effect's start to the end of the trial year, then
    fading with ``fade_days``."""
    tr, te = draft.work["trial"], draft.params["trial"]["effect"]
    out = np.zeros(len(resident))
    hit = np.flatnonzero(tr["arm"][resident] == INTERVENTION)
    if not hit.size:
        return out
    who, day = resident[hit], on[hit]
    start, end = tr["effect_start"][who], tr["trial_end"][who]
    built = np.maximum((np.minimum(day, end) - start).astype(np.float64), 0.0)
    effect = te["latent_shift"] * -np.expm1(-built / te["build_days"])
    since_end = np.maximum((day - end).astype(np.float64), 0.0)
    out[hit] = effect * np.exp(-since_end / te["fade_days"])
    return out


def intervention_profile(draft: Draft, resident: np.ndarray, on: np.ndarray) -> np.ndarray:
    """The intervention's build-up and fade on dates ``on`` (0 outside its arm, at most 1):
    ``1 - exp(-t / build_days)`` from the effect's start to the end of the trial year, then
    fading with ``fade_days``; :func:`intervention_effect` is ``latent_shift`` times this shape.
    Other effects of the intervention (on medication adherence, :mod:`workbench.synth.measurements`)
    follow the same shape."""
    tr, te = draft.work["trial"], draft.params["trial"]["effect"]
    resident = np.asarray(resident, dtype=np.int64)
    on = np.asarray(on, dtype="datetime64[D]")
    out = np.zeros(len(resident))
    hit = np.flatnonzero(tr["arm"][resident] == INTERVENTION)
    if not hit.size:
        return out
    who, day = resident[hit], on[hit]
    start, end = tr["effect_start"][who], tr["trial_end"][who]
    built = np.maximum((np.minimum(day, end) - start).astype(np.float64), 0.0)
    since_end = np.maximum((day - end).astype(np.float64), 0.0)
    out[hit] = -np.expm1(-built / te["build_days"]) * np.exp(-since_end / te["fade_days"])
    return out
