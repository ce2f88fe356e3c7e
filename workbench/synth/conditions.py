"""Step ``conditions``: chronic-condition flags with prevalence rising with age."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.special import expit, ndtri

from .engine import Draft, register

CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")


def probability(spec: Mapping[str, Any], age: np.ndarray, male: np.ndarray) -> np.ndarray:
    """P(condition) for each person from the logistic age/sex model of ``params.yaml``.

    Examples
    --------
    >>> spec = {"intercept": -1.0, "age_per_decade": 0.5, "age_per_decade_sq": 0.0, "male": 0.0}
    >>> probability(spec, np.array([50, 70]), np.array([False, False])).round(3).tolist()
    [0.269, 0.5]
    """
    d = (np.asarray(age) - 50) / 10
    eta = (spec["intercept"] + spec["age_per_decade"] * d + spec["age_per_decade_sq"] * d * d
           + spec["male"] * np.asarray(male))
    return expit(eta)


@register("conditions", key=2, needs=("demography",))
def conditions(draft: Draft, rng: np.random.Generator) -> None:
    """Six condition flags from a Gaussian copula with a shared factor (multimorbidity)."""
    cp, n = draft.params["conditions"], draft.n
    age, male = draft.work["age_years"], ~draft.residents["female"]
    rho = cp["shared_correlation"]
    shared = rng.standard_normal(n)
    for name in CONDITIONS:
        z = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal(n)
        draft.residents[name] = z < ndtri(probability(cp[name], age, male))
