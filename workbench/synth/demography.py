"""Steps ``demography`` (communities, sex, age, living alone) and ``schedule`` (screening date,
birth date, mode, language)."""

from __future__ import annotations

import numpy as np

from ._dates import minus_years, whole_years
from ._params import COMMUNITY_TYPES
from .engine import Draft, register


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into whole parts proportional to ``weights`` (largest remainder).

    Examples
    --------
    >>> apportion(10, np.array([0.55, 0.33, 0.12])).tolist()
    [6, 3, 1]
    """
    weights = np.asarray(weights, dtype=float)
    exact = total * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    short = total - int(parts.sum())
    if short:
        order = np.argsort(-(exact - parts), kind="stable")
        parts[order[:short]] += 1
    return parts


def _band(values: np.ndarray, breaks: list[float]) -> np.ndarray:
    """Index of the band [breaks[i-1], breaks[i]) each value falls in (0 .. len(breaks))."""
    return np.searchsorted(np.asarray(breaks), values, side="right")


def community_labels(per_type: dict[str, int]) -> list[str]:
    """Community ids such as ``urban-01`` for the given number of communities per type.

    Examples
    --------
    >>> community_labels({"urban": 2, "rural": 1, "ageing": 1})
    ['urban-01', 'urban-02', 'rural-01', 'ageing-01']
    """
    labels = []
    for ctype, k in per_type.items():
        width = max(2, len(str(k)))
        labels += [f"{ctype}-{i:0{width}d}" for i in range(1, k + 1)]
    return labels


@register("demography", key=0)
def demography(draft: Draft, rng: np.random.Generator) -> None:
    """Community (type and id), age in whole years, sex, living alone."""
    p, n = draft.params, draft.n
    cp = p["communities"]
    shares = np.array([cp["type_shares"][t] for t in COMMUNITY_TYPES])
    n_comm = max(len(COMMUNITY_TYPES), round(n / cp["residents_per_community"]))
    k_type = np.maximum(1, np.rint(shares * n_comm).astype(np.int64))
    n_type = apportion(n, shares)
    ctype = rng.permutation(np.repeat(np.arange(len(COMMUNITY_TYPES), dtype=np.int8), n_type))

    # Communities within each type: unequal sizes, at least one resident each.
    community = np.empty(n, dtype=np.int32)
    offset = 0
    for t, (k, size) in enumerate(zip(k_type, n_type)):
        weights = rng.gamma(cp["size_gamma_shape"], 1.0, size=k)
        sizes = 1 + apportion(int(size) - int(k), weights)
        community[ctype == t] = offset + np.repeat(np.arange(k, dtype=np.int32), sizes)
        offset += k

    # Age: census weights by 5-year group, reweighted by community type; uniform in the group.
    ap = p["age"]
    lower, upper = np.array(ap["group_lower"]), np.array(ap["group_upper"])
    band3 = _band(lower, [40, 60])
    age = np.empty(n, dtype=np.int64)
    u_group, u_within = rng.random(n), rng.random(n)
    for t, name in enumerate(COMMUNITY_TYPES):
        w = np.array(ap["census_millions"]) * np.array(ap["type_multipliers"][name])[band3]
        cdf = np.cumsum(w) / w.sum()
        sel = ctype == t
        g = np.minimum(np.searchsorted(cdf, u_group[sel], side="right"), len(w) - 1)
        age[sel] = lower[g] + np.floor(u_within[sel] * (upper[g] - lower[g])).astype(np.int64)

    sp = p["sex"]
    p_female = np.array(sp["p_female"])[_band(age, sp["age_breaks"])]
    female = rng.random(n) < p_female

    la = p["lives_alone"]
    p_alone = np.array(la["p"])[_band(age, la["age_breaks"])]
    odds = p_alone / (1 - p_alone) * np.array([la["odds_ratio"][t] for t in COMMUNITY_TYPES])[ctype]
    lives_alone = rng.random(n) < odds / (1 + odds)

    per_type = {t: int(k) for t, k in zip(COMMUNITY_TYPES, k_type)}
    draft.work.update(community_type_code=ctype, community_code=community,
                      community_labels=community_labels(per_type), age_years=age)
    draft.residents.update(female=female, lives_alone=lives_alone)


@register("schedule", key=1, needs=("demography",))
def schedule(draft: Draft, rng: np.random.Generator) -> None:
    """Screening date (weighted by weekday), birth date matching the age, mode and language."""
    p, n = draft.params, draft.n
    age = draft.work["age_years"]
    ctype = draft.work["community_type_code"]

    days = np.arange(draft.start, draft.end + np.timedelta64(1, "D"), dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7            # 1970-01-01 was a Thursday (3)
    w = np.array(p["schedule"]["weekday_weights"])[weekday]
    cdf = np.cumsum(w) / w.sum()
    pick = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(days) - 1)
    assessed = days[pick]

    # Birth date uniform among the days that give exactly `age` completed years at screening.
    latest = minus_years(assessed, age)
    earliest = minus_years(assessed, age + 1) + np.timedelta64(1, "D")
    span = (latest - earliest).astype(np.int64) + 1
    born = earliest + np.floor(rng.random(n) * span).astype("timedelta64[D]")
    if not np.array_equal(whole_years(born, assessed), age):   # pragma: no cover - invariant
        raise RuntimeError("Internal error: birth dates do not reproduce the drawn ages.")

    mp = p["mode"]
    eta = mp["intercept"] + mp["per_decade"] * (age - 60) / 10 + mp["rural"] * (ctype == 1)
    interviewer = rng.random(n) < 1 / (1 + np.exp(-eta))

    p_en = np.array([p["language"]["p_en"][t] for t in COMMUNITY_TYPES])[ctype]
    english = rng.random(n) < p_en

    draft.residents["birth_date"] = born
    draft.screenings.update(assessed_on=assessed, interviewer=interviewer, english=english)
