"""Steps ``answers`` (graded response model), ``missingness`` (blank answers) and
``skip_logic`` (questions that are not asked)."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from ._params import ItemModel
from .engine import Draft, name_key, register

ANSWERS_KEY = 4
MISSINGNESS_KEY = 5


def graded_response(theta: np.ndarray, a: float, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Answers (0 .. len(b)) of a graded-response item, from one uniform ``u`` per person.

    With ``P(X >= k) = logistic(a (theta - b_k))`` and ordered thresholds, drawing ``u`` and
    counting the thresholds with ``u < logistic(a (theta - b_k))`` is the same as counting the
    ``b_k`` below ``theta - logit(u) / a``, which is one ``searchsorted`` per item.

    Examples
    --------
    >>> graded_response(np.array([-3.0, 0.0, 3.0]), 2.0, np.array([-1.0, 1.0]),
    ...                 np.array([0.5, 0.5, 0.5])).tolist()
    [0, 1, 2]
    """
    with np.errstate(divide="ignore"):
        z = theta - logit(u) / a
    return np.searchsorted(b, z, side="left")


def instrument_answers(model: ItemModel, theta: np.ndarray, rng: np.random.Generator,
                       threshold_shift: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Complete answers (n x items, int8, each on its declared range) of one instrument.

    ``threshold_shift`` maps an item number to a per-person shift of its thresholds (used for
    menstrual problems after the menopause). Reverse-keyed items are stored reverse-coded, so
    that after reverse keying they agree with the trait.
    """
    u = rng.random((theta.shape[0], len(model.numbers)))
    return answers_from_uniforms(model, theta, u, threshold_shift)


def answers_from_uniforms(model: ItemModel, theta: np.ndarray, u: np.ndarray,
                          threshold_shift: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """:func:`instrument_answers` with the uniforms (n x items) given."""
    n, k = theta.shape[0], len(model.numbers)
    out = np.empty((n, k), dtype=np.int8)
    shift = threshold_shift or {}
    for j, number in enumerate(model.numbers):
        t = theta - shift[number] if number in shift else theta
        x = graded_response(t, model.a[j], model.b[j], u[:, j])
        if number in model.reverse:
            x = (model.hi[j] - model.lo[j]) - x
        out[:, j] = x + model.lo[j]
    return out


def threshold_shift(spec: dict, age: np.ndarray) -> dict[int, np.ndarray]:
    """Per-person threshold shifts of an instrument (PHQ-15 menstrual item after menopause)."""
    if "menopause_item" not in spec:
        return {}
    post = age >= spec["menopause_age"]
    return {spec["menopause_item"]: spec["post_menopause_shift"] * post}


def person_rate(mp: dict, propensity: np.ndarray, age: np.ndarray,
                interviewer: np.ndarray) -> np.ndarray:
    """Base blank rate of each form: person propensity x older-age and kiosk factors."""
    rate = propensity * np.where(age >= mp["older_age"], mp["older_factor"], 1.0)
    rate *= np.where(interviewer, 1.0, mp["self_mode_factor"])
    return mp["base_rate"] * rate


def blank_cells(mp: dict, model: ItemModel, rate: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Blank (n x items) cells at ``rate`` x the item factors, capped at ``max_rate``."""
    p = blank_probability(mp, model, rate)
    return rng.random(p.shape) < p


def blank_probability(mp: dict, model: ItemModel, rate: np.ndarray) -> np.ndarray:
    """P(blank) of each cell (n x items): ``rate`` x the item factors, capped at ``max_rate``."""
    factor = np.array([mp["item_factor"].get(c, 1.0) for c in model.columns])
    return np.minimum(rate[:, None] * factor[None, :], mp["max_rate"])


def skip(model: ItemModel, spec: dict, values: np.ndarray, blank: np.ndarray,
         female: np.ndarray) -> None:
    """Blank (in place) the questions not asked: supplementary items gated on the observed
    total of the main items, items declared for one sex only."""
    for number, sup in (spec.get("supplementary") or {}).items():
        if "asked_when_total_above" in sup:
            main = slice(0, model.n_main)
            observed = np.where(blank[:, main], 0, values[:, main] - model.min)
            asked = observed.sum(axis=1) > sup["asked_when_total_above"]
            blank[:, model.numbers.index(int(number))] |= ~asked
    for number, sex in model.sex_only.items():
        blank[:, model.numbers.index(number)] |= ~female if sex == "female" else female


@register("answers", key=ANSWERS_KEY, needs=("latent", "schedule"))
def answers(draft: Draft, rng: np.random.Generator) -> None:
    """Complete item answers for each instrument, each on its own sub-stream (not yet blanked)."""
    models = draft.params["_derived"]["item_models"]
    complete = {}
    for name in draft.instruments:
        model = models[name]
        shift = threshold_shift(draft.params["instruments"][name], draft.work["age_years"])
        complete[name] = instrument_answers(
            model, draft.latent[model.trait], draft.rng(ANSWERS_KEY, name_key(name)), shift)
    draft.work["answers"] = complete


@register("missingness", key=MISSINGNESS_KEY, needs=("answers",))
def missingness(draft: Draft, rng: np.random.Generator) -> None:
    """Blank cells: MCAR with a person-level propensity, more for older and kiosk users."""
    mp, n = draft.params["missingness"], draft.n
    sd = mp["person_lognormal_sd"]
    person = rng.lognormal(-sd * sd / 2, sd, size=n)       # mean 1: some people skip a lot
    rate = person_rate(mp, person, draft.work["age_years"], draft.screenings["interviewer"])
    models = draft.params["_derived"]["item_models"]
    draft.work["blank"] = {
        name: blank_cells(mp, models[name], rate, draft.rng(MISSINGNESS_KEY, name_key(name)))
        for name in draft.instruments}


@register("skip_logic", key=None, needs=("missingness",))
def skip_logic(draft: Draft, rng: None) -> None:
    """Questions not asked: supplementary items gated on the observed total of the main items
    (PHQ-9 question 10 when the total is 0) and items declared for one sex only (PHQ-15 item 4
    for men)."""
    work, params = draft.work, draft.params
    for name in draft.instruments:
        skip(params["_derived"]["item_models"][name], params["instruments"][name],
             work["answers"][name], work["blank"][name], draft.residents["female"])
