"""Questionnaire forms (PHQ-9, GAD-7: ``followup.instruments``) answered on any date of the
long follow-up: maintenance reviews, cohort waves and trial assessments.

Same graded response model as the baseline, with the latent traits on the day
(:func:`workbench.synth.history.latent_on`) plus an occasion fluctuation
(``trajectory.occasion_sd``); blanks as at baseline (one propensity per form); questions not
asked are blank (PHQ-9 question 10 when the total is 0). Every draw comes from a sub-stream
under ``path`` (a tuple of stream keys), so forms of different components never share draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .answers import (answers_from_uniforms, blank_probability, person_rate, skip,
                      threshold_shift)
from .engine import Draft, name_key
from .followup import followup_instruments
from .history import latents_on


def draw_forms(draft: Draft, resident: np.ndarray, on: np.ndarray, path: tuple[int, ...],
               p_interviewer: float, keep: np.ndarray | None = None) -> dict[str, Any]:
    """Forms of ``resident`` (row indices) on dates ``on``: mode, language, answers, blanks.

    Random numbers are drawn for every row; the forms are built for the rows in ``keep`` (a
    boolean mask, default all), so a form does not depend on which other rows are kept.
    """
    resident = np.asarray(resident, dtype=np.int64)
    on = np.asarray(on, dtype="datetime64[D]")
    m = len(resident)
    keep = np.ones(m, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    who, when = resident[keep], on[keep]
    models = draft.params["_derived"]["item_models"]
    sd = draft.params["trajectory"]["occasion_sd"]
    interviewer = (draft.rng(*path, 2).random(m) < p_interviewer)[keep]
    age = draft.work["age_years"][who]
    names = followup_instruments(draft)
    traits = list(dict.fromkeys(models[name].trait for name in names))
    theta = latents_on(draft, traits, who, when)
    for trait in traits:
        theta[trait] += sd * draft.rng(*path, 0, name_key(trait)).standard_normal(m)[keep]
    answers: dict[str, np.ndarray] = {}
    for name in names:
        model = models[name]
        u = draft.rng(*path, 1, name_key(name)).random((m, len(model.numbers)))[keep]
        shift = threshold_shift(draft.params["instruments"][name], age)
        answers[name] = answers_from_uniforms(model, theta[model.trait], u, shift)
    mp = draft.params["missingness"]
    s = mp["person_lognormal_sd"]
    propensity = draft.rng(*path, 3).lognormal(-s * s / 2, s, size=m)[keep]
    rate = person_rate(mp, propensity, age, interviewer)
    blank = {}
    female = draft.residents["female"][who]
    for name in names:
        model = models[name]
        u = draft.rng(*path, 4, name_key(name)).random((m, len(model.numbers)))[keep]
        blank[name] = u < blank_probability(mp, model, rate)
        skip(model, draft.params["instruments"][name], answers[name], blank[name], female)
    return {"resident": who, "on": when, "interviewer": interviewer,
            "english": draft.screenings["english"][who], "answers": answers, "blank": blank}


def take(forms: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """The forms at ``rows`` (an index or boolean mask)."""
    out = {k: v[rows] for k, v in forms.items() if isinstance(v, np.ndarray)}
    out["answers"] = {k: v[rows] for k, v in forms["answers"].items()}
    out["blank"] = {k: v[rows] for k, v in forms["blank"].items()}
    return out


def concat(parts: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Row-wise concatenation of forms (and of any extra 1-D arrays they carry)."""
    keys = [k for k, v in parts[0].items() if isinstance(v, np.ndarray)] if parts else []
    out = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    out["answers"] = {n: np.concatenate([p["answers"][n] for p in parts]) for n in names}
    out["blank"] = {n: np.concatenate([p["blank"][n] for p in parts]) for n in names}
    return out
