"""Steps ``natural_history`` (how depression and anxiety move after the treatment course, or
after the screening for residents who are not treated) and ``loss_to_follow_up``; and
:func:`latent_on`, any resident's latent trait on any date over the whole follow-up.

Over time (``natural_history`` in ``params.yaml``): up to an *anchor* date the trait is the
one of :func:`workbench.synth.trajectory.trait_at` (the referral's treatment course; the
baseline value for residents who are not referred); after it

    theta(t) = mu + c(s) (theta_a - mu) + sqrt(1 - c(s)^2) Z(s),  s = days since the anchor,

with ``mu`` the level expected from the person's characteristics, ``theta_a`` the trait at the
anchor, ``c(s)`` falling from 1 to ``1 - transient_share`` and ``Z`` a smooth unit-variance
random function of the person (random Fourier features). The anchor is the referral's last
course contact, so the course reviews already generated (``followups``) are unchanged; it is
the screening for the others, whose traits then keep the population's distribution over time.
The 12-month trial's intervention (:mod:`workbench.synth.trial`) lowers the traits of its
arm on top.
"""

from __future__ import annotations

import numpy as np

from .engine import Draft, register
from .latent import design
from .trajectory import trait_at

NATURAL_HISTORY_KEY = 11
LOSS_KEY = 12
NEVER = np.datetime64("2199-12-31", "D")   # "no such date" (after any follow-up end)


def course_end(draft: Draft) -> np.ndarray:
    """Per resident: the last contact of their referral's course (``datetime64[D]``), or the
    screening date for residents who are not referred (before any cut)."""
    end = draft.screenings["assessed_on"].astype("datetime64[D]").copy()
    ref = draft.referrals
    if len(ref.get("resident", ())):
        end[ref["resident"]] = ref["referred_on"] + ref["end_day"].astype("timedelta64[D]")
    return end


@register("natural_history", key=NATURAL_HISTORY_KEY, needs=("trajectory", "latent"))
def natural_history(draft: Draft, rng: np.random.Generator) -> None:
    """Per resident: anchor date, trait at the anchor, expected level ``mu`` and the random
    Fourier features (frequency, phase; ``components`` each) of the fluctuation ``Z``."""
    hp, n = draft.params["natural_history"], draft.n
    traits, k = list(hp["traits"]), hp["components"]
    omega = (rng.standard_normal((len(traits), n, k)) / hp["fluctuation_days"]).astype(np.float32)
    phase = (2 * np.pi * rng.random((len(traits), n, k))).astype(np.float32)
    anchor = course_end(draft)
    everyone = np.arange(n)
    all_traits = draft.params["latent"]["traits"]
    expected = design(draft) @ draft.params["_derived"]["means"].T
    draft.work["history"] = {
        "traits": traits,
        "anchor": anchor,
        "mu": {t: expected[:, all_traits.index(t)] for t in traits},
        "theta_anchor": {t: trait_at(draft, t, everyone, anchor) for t in traits},
        "omega": omega,
        "phase": phase,
    }


def _features(h: dict, j: int, resident: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Random Fourier features ``sqrt(2/K) sum_k cos(omega_k s + phase_k)`` of process ``j``
    (float32 inside: the phases need no more)."""
    omega, phase = h["omega"][j][resident], h["phase"][j][resident]
    k = omega.shape[1]
    angle = omega * s.astype(np.float32)[:, None]
    angle += phase
    np.cos(angle, out=angle)
    return np.sqrt(2.0 / k) * angle.sum(axis=1, dtype=np.float64)


def fluctuation_bound(draft: Draft) -> float:
    """Largest possible ``|Z|`` (sum of the cosine amplitudes)."""
    return float(np.sqrt(2.0 * draft.params["natural_history"]["components"]))


def latents_on(draft: Draft, traits: list[str], resident: np.ndarray,
               on: np.ndarray) -> dict[str, np.ndarray]:
    """Latent ``traits`` of residents (row indices) on dates ``on`` over the whole follow-up.

    Up to each resident's anchor this is :func:`~workbench.synth.trajectory.trait_at`
    (bit for bit); after it the natural history above; minus the trial intervention's effect
    for its arm. Traits without a natural history keep what ``trait_at`` gives.
    """
    resident = np.asarray(resident, dtype=np.int64)
    on = np.asarray(on, dtype="datetime64[D]")
    out = {t: trait_at(draft, t, resident, on) for t in traits}
    h = draft.work.get("history")
    moving = [t for t in traits if h is not None and t in h["traits"]]
    if not moving:
        return out
    hp = draft.params["natural_history"]
    s = (on - h["anchor"][resident]).astype(np.float64)
    after = np.flatnonzero(s > 0)
    if after.size:
        who, s_after = resident[after], s[after]
        v, rho = hp["transient_share"], hp["anxiety_correlation"]
        c = (1.0 - v) + v * np.exp(-s_after / hp["reversion_days"])
        spread = np.sqrt(1.0 - c * c)
        first = _features(h, 0, who, s_after)
        for trait in moving:
            j = h["traits"].index(trait)
            z = first if j == 0 else rho * first + np.sqrt(1.0 - rho * rho) * _features(
                h, j, who, s_after)
            mu = h["mu"][trait][who]
            out[trait][after] = mu + c * (h["theta_anchor"][trait][who] - mu) + spread * z
    if draft.work.get("trial") is not None:
        from .trial import intervention_effect

        effect = intervention_effect(draft, resident, on)
        for trait in moving:
            out[trait] -= effect
    return out


def latent_on(draft: Draft, trait: str, resident: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Latent ``trait`` of residents (row indices) on dates ``on`` (see :func:`latents_on`)."""
    return latents_on(draft, [trait], resident, on)[trait]


@register("loss_to_follow_up", key=LOSS_KEY, needs=("contacts",))
def loss_to_follow_up(draft: Draft, rng: np.random.Generator) -> None:
    """Per resident: the date from which they have no contacts or study assessments.

    Exponential with the age band's rate; referred residents are not lost during their
    course (the date moves to the course's last contact), and a share of course dropouts is
    lost on their last course contact.
    """
    lp, n = draft.params["loss_to_follow_up"], draft.n
    band = np.searchsorted(np.asarray(lp["age_breaks"]), draft.work["age_years"], side="right")
    rate = lp["rate_per_year"] * np.asarray(lp["age_factor"], dtype=float)[band]
    u, u_dropout = rng.random(n), rng.random(n)
    with np.errstate(divide="ignore"):
        years = -np.log1p(-u) / rate                     # inf when the rate is 0
    days = np.minimum(np.ceil(years * 365.25), 200 * 365.25)
    lost = draft.screenings["assessed_on"].astype("datetime64[D]") + days.astype("timedelta64[D]")
    ref = draft.referrals
    if len(ref.get("resident", ())):
        who = ref["resident"]
        end = ref["referred_on"] + ref["end_day"].astype("timedelta64[D]")
        dropped = ref["end_reason"] == 1
        at_dropout = dropped & (u_dropout[who] < lp["p_lost_at_dropout"])
        lost[who] = np.where(at_dropout, end, np.maximum(lost[who], end))
    draft.work["lost_on"] = np.minimum(lost, NEVER)
