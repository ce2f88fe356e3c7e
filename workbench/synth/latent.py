"""Step ``latent``: correlated latent traits with mean shifts by sex, age, living alone,
chronic disease and community type."""

from __future__ import annotations

import numpy as np

from .conditions import CONDITIONS
from .engine import Draft, register


def design(draft: Draft) -> np.ndarray:
    """The covariate matrix (n x covariates) in the order of ``latent.covariates``."""
    r, w = draft.residents, draft.work
    age = w["age_years"]
    n_cond = sum(r[c].astype(np.int8) for c in CONDITIONS)
    columns = {
        "intercept": np.ones(draft.n),
        "female": r["female"],
        "age_decades": (age - 50) / 10,
        "age_60_plus": age >= 60,
        "lives_alone": r["lives_alone"],
        "any_chronic": n_cond > 0,
        "extra_conditions": np.maximum(n_cond - 1, 0),
        "rural": w["community_type_code"] == 1,
        "ageing": w["community_type_code"] == 2,
    }
    names = draft.params["latent"]["covariates"]
    return np.column_stack([np.asarray(columns[c], dtype=float) for c in names])


@register("latent", key=3, needs=("demography", "conditions"))
def latent(draft: Draft, rng: np.random.Generator) -> None:
    """theta = X beta + e with e ~ N(0, R): one column per trait in ``draft.latent``."""
    derived = draft.params["_derived"]
    traits = draft.params["latent"]["traits"]
    chol = np.linalg.cholesky(derived["correlation"])
    noise = rng.standard_normal((draft.n, len(traits))) @ chol.T
    theta = design(draft) @ derived["means"].T + noise
    for i, trait in enumerate(traits):
        draft.latent[trait] = theta[:, i]
