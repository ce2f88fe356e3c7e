"""Steps ``followup_answers``, ``followup_missingness`` and ``followup_skip_logic``: the
questionnaires (PHQ-9, GAD-7) answered at every attended review of a referral.

The answers come from the same graded response model as the baseline, with the latent traits
on the review date (:func:`workbench.synth.trajectory.trait_at`) plus an occasion fluctuation.
Blanks follow the baseline's ``missingness`` rules (one propensity per review); questions not
asked are blank as at baseline (PHQ-9 question 10 when the total is 0).
"""

from __future__ import annotations

import numpy as np

from .answers import blank_cells, instrument_answers, person_rate, skip, threshold_shift
from .contacts import ASSESSMENT
from .engine import Draft, name_key, register
from .trajectory import trait_at

FOLLOWUP_ANSWERS_KEY = 9
FOLLOWUP_MISSINGNESS_KEY = 10


def followup_instruments(draft: Draft) -> tuple[str, ...]:
    """The review questionnaires: ``followup.instruments`` among the community's instruments."""
    return tuple(i for i in draft.params["followup"]["instruments"] if i in draft.instruments)


@register("followup_answers", key=FOLLOWUP_ANSWERS_KEY, needs=("trajectory", "schedule"))
def followup_answers(draft: Draft, rng: np.random.Generator) -> None:
    """One review per attended assessment contact: date, mode, language, complete answers."""
    c, ref = draft.contacts, draft.referrals
    contact = np.flatnonzero((c["kind"] == ASSESSMENT) & c["attended"])
    row = c["referral"][contact]
    resident = ref["resident"][row]
    on = ref["referred_on"][row] + c["day"][contact].astype("timedelta64[D]")
    interviewer = rng.random(len(contact)) < draft.params["followup"]["p_interviewer"]
    sd = draft.params["trajectory"]["occasion_sd"]
    models = draft.params["_derived"]["item_models"]
    theta, complete = {}, {}
    for name in followup_instruments(draft):
        trait = models[name].trait
        if trait not in theta:
            noise = draft.rng(FOLLOWUP_ANSWERS_KEY, 0, name_key(trait))
            theta[trait] = (trait_at(draft, trait, resident, on)
                            + sd * noise.standard_normal(len(contact)))
        shift = threshold_shift(draft.params["instruments"][name],
                                draft.work["age_years"][resident])
        complete[name] = instrument_answers(
            models[name], theta[trait], draft.rng(FOLLOWUP_ANSWERS_KEY, 1, name_key(name)), shift)
    draft.followups.update(contact=contact, referral=row, resident=resident, assessed_on=on,
                           week=c["day"][contact] // 7, interviewer=interviewer,
                           english=draft.screenings["english"][resident], answers=complete)


@register("followup_missingness", key=FOLLOWUP_MISSINGNESS_KEY, needs=("followup_answers",))
def followup_missingness(draft: Draft, rng: np.random.Generator) -> None:
    """Blank cells of the reviews, as at baseline (a propensity per review)."""
    mp, f = draft.params["missingness"], draft.followups
    sd = mp["person_lognormal_sd"]
    propensity = rng.lognormal(-sd * sd / 2, sd, size=len(f["contact"]))
    rate = person_rate(mp, propensity, draft.work["age_years"][f["resident"]], f["interviewer"])
    models = draft.params["_derived"]["item_models"]
    f["blank"] = {name: blank_cells(mp, models[name], rate,
                                    draft.rng(FOLLOWUP_MISSINGNESS_KEY, name_key(name)))
                  for name in f["answers"]}


@register("followup_skip_logic", key=None, needs=("followup_missingness",))
def followup_skip_logic(draft: Draft, rng: None) -> None:
    """Questions not asked at a review (as at baseline)."""
    f, params = draft.followups, draft.params
    female = draft.residents["female"][f["resident"]]
    for name in f["answers"]:
        skip(params["_derived"]["item_models"][name], params["instruments"][name],
             f["answers"][name], f["blank"][name], female)
