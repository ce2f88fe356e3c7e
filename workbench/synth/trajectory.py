"""Step ``trajectory``: how the latent traits of referred residents change over time.

``theta(t) = theta0 + (target - theta0) * (1 - exp(-t / tau))`` from the start of regular
treatment (the first contact, or the end of a gap), with a per-referral target and time
constant (see ``trajectory`` in ``params.yaml``): most improve towards a healthier level, some
do not, a few deteriorate. :func:`trait_at` gives any resident's trait on any date (residents
without a referral keep their baseline value), for this and later components.
"""

from __future__ import annotations

import numpy as np

from .engine import Draft, register

TRAJECTORY_KEY = 8


@register("trajectory", key=TRAJECTORY_KEY, needs=("contacts", "latent"))
def trajectory(draft: Draft, rng: np.random.Generator) -> None:
    """Per referral: target of each evolving trait, time constant ``tau`` (days)."""
    tp, ref = draft.params["trajectory"], draft.referrals
    r = len(ref["resident"])
    deteriorate = rng.random(r) < tp["p_deteriorate"]
    f = np.clip(rng.normal(tp["f_mean"], tp["f_sd"], r), 0.0, 1.0)
    tau = tp["tau_days"] * rng.lognormal(0.0, tp["tau_lognormal_sd"], r)
    targets = {}
    for i, trait in enumerate(tp["traits"]):
        f_trait = f if i == 0 else np.clip(
            f + tp["anxiety_f_shift"] + rng.normal(0.0, tp["anxiety_f_sd"], r), 0.0, 1.0)
        low, high = tp["rise"]
        rise = low + (high - low) * rng.random(r)
        base = draft.latent[trait][ref["resident"]]
        distance = np.maximum(base - tp["healthy_level"][trait], 0.0)
        targets[trait] = np.where(deteriorate, base + rise, base - f_trait * distance)
    ref.update(target=targets, tau=tau, deteriorate=deteriorate)


def trait_at(draft: Draft, trait: str, resident: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Latent ``trait`` of residents (row indices) on dates ``on`` (``datetime64[D]``).

    Residents without a referral, and traits that do not evolve, keep their baseline value;
    before the start of treatment a referred resident is at the baseline value too.
    """
    resident = np.asarray(resident, dtype=np.int64)
    base = draft.latent[trait][resident]
    ref = draft.referrals
    if trait not in ref.get("target", {}):
        return base.copy()
    row = draft.work["referral_of"][resident]
    has = row >= 0
    row = np.where(has, row, 0)
    if len(ref["resident"]) == 0:
        return base.copy()
    start = ref["referred_on"][row] + ref["start_day"][row].astype("timedelta64[D]")
    t = np.maximum((np.asarray(on, dtype="datetime64[D]") - start).astype(np.float64), 0.0)
    moved = (ref["target"][trait][row] - base) * -np.expm1(-t / ref["tau"][row])
    return base + np.where(has, moved, 0.0)
