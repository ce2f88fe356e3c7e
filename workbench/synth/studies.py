"""Steps ``waves`` (the cohort of key patients, assessed at waves) and ``trial_assessments``
(the 12-month RCT's follow-up assessments).

Key patients: referred residents (tier 2 or 3) with a chronic condition, ``cohort.key_patients``
of them (proportionally fewer in communities below ``cohort.full_size_from_n`` residents; all
eligible when fewer). Wave 0 is their baseline screening (its PHQ-9 and GAD-7 answers); waves
1, 2, ... fall about ``wave_months`` after it. Trial participants (:mod:`workbench.synth.trial`)
are assessed about ``trial.months`` after enrolment. A wave or assessment may be missed; none
happens after death, loss to follow-up or ``follow_up_end``. Forms: :mod:`workbench.synth.forms`
(one sub-stream per wave or month, drawn for every participant before the cuts).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conditions import CONDITIONS
from .engine import Draft, register
from .followup import followup_instruments
from .forms import concat, draw_forms, take

WAVES_KEY = 16
TRIAL_ASSESSMENTS_KEY = 17
MONTH_DAYS = 30.4375


def cohort_size(n: int, eligible: int, key_patients: int, full_size_from_n: int) -> int:
    """``key_patients`` from ``full_size_from_n`` residents on, proportionally fewer below,
    at most the number eligible.

    Examples
    --------
    >>> cohort_size(50_000, 9_000, 300, 3000), cohort_size(1000, 200, 300, 3000)
    (300, 100)
    """
    return int(min(eligible, round(key_patients * min(1.0, n / full_size_from_n))))


def _scheduled(draft: Draft, who: np.ndarray, base: np.ndarray, months: int, spec: dict,
               rng: np.random.Generator, path: tuple[int, ...]) -> dict[str, Any]:
    """Forms of ``who`` about ``months`` after ``base``, kept when held (cuts applied)."""
    low, high = spec["window_days"]
    k = len(who)
    jitter = rng.integers(low, high + 1, size=k)
    missed = rng.random(k) < spec["p_missed"]
    on = base + (round(MONTH_DAYS * months) + jitter).astype("timedelta64[D]")
    held = (~missed & (on <= np.datetime64(draft.follow_up_end, "D"))
            & (on < draft.work["death_on"][who]) & (on < draft.work["lost_on"][who]))
    return draw_forms(draft, who, on, path, spec["p_interviewer"], held)


@register("waves", key=WAVES_KEY,
          needs=("events", "loss_to_follow_up", "trial", "referral", "skip_logic"))
def waves(draft: Draft, rng: np.random.Generator) -> None:
    """Key patients and their waves (wave 0 = the baseline screening)."""
    cp, n = draft.params["cohort"], draft.n
    referred = draft.referrals.get("resident", np.zeros(0, dtype=np.int64))
    chronic = np.zeros(len(referred), dtype=bool)
    for name in CONDITIONS:
        chronic |= draft.residents[name][referred]
    eligible = referred[chronic]
    k = cohort_size(n, len(eligible), cp["key_patients"], cp["full_size_from_n"])
    chosen = np.sort(rng.choice(eligible, size=k, replace=False)) if k else eligible[:0]
    names = followup_instruments(draft)
    screened = draft.screenings["assessed_on"].astype("datetime64[D]")
    baseline = {"resident": chosen, "on": screened[chosen],
                "interviewer": draft.screenings["interviewer"][chosen],
                "english": draft.screenings["english"][chosen],
                "answers": {m: draft.work["answers"][m][chosen] for m in names},
                "blank": {m: draft.work["blank"][m][chosen] for m in names},
                "wave": np.zeros(k, dtype=np.int64)}
    parts = [baseline]
    for wave, months in enumerate(cp["wave_months"], start=1):
        part = _scheduled(draft, chosen, screened[chosen], months, cp,
                          draft.rng(WAVES_KEY, wave), (WAVES_KEY, wave, 1))
        part["wave"] = np.full(len(part["resident"]), wave, dtype=np.int64)
        parts.append(part)
    rows = concat(parts, names)
    order = np.lexsort((rows["wave"], rows["resident"]))
    draft.tables["waves"] = {**take(rows, order), "key_patients": chosen}


@register("trial_assessments", key=TRIAL_ASSESSMENTS_KEY,
          needs=("events", "loss_to_follow_up", "trial"))
def trial_assessments(draft: Draft, rng: np.random.Generator) -> None:
    """The trial's assessments at ``trial.months`` after enrolment."""
    tp = draft.params["trial"]
    enrolled = draft.tables["enrolments"]
    who, base = enrolled["resident"], enrolled["enrolled_on"]
    names = followup_instruments(draft)
    parts = []
    for months in tp["months"]:
        part = _scheduled(draft, who, base, months, tp, draft.rng(TRIAL_ASSESSMENTS_KEY, months),
                          (TRIAL_ASSESSMENTS_KEY, months, 1))
        part["month"] = np.full(len(part["resident"]), months, dtype=np.int64)
        parts.append(part)
    rows = concat(parts, names)
    order = np.lexsort((rows["month"], rows["resident"]))
    draft.tables["trial_assessments"] = take(rows, order)
