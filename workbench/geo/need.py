"""Need by community: screen-positive prevalence and tier-2/3 rates, age-standardised, smoothed
towards the overall rate for small communities, with small counts hidden.

Everything is read from the STORED analysis tables, never scored or decided again:

- ``screen_positive``: the share of residents positive on their first screening, exactly as
  :func:`workbench.prevalence.screen_positive` defines it (stored totals of the instruments,
  positive when any reaches its declared screen-positive threshold, negative when all are known
  and below, otherwise missing and left out);
- ``tier_2_3``: the share of residents whose first screening's recorded tier decision
  (``decisions``, the latest decision on that screening) is 2 or 3; a screening nobody decided
  on is left out (``missing``).

Age standardisation is direct (:func:`workbench.epi.standardize`, Fay-Feuer interval, checked
against R ``epitools::ageadjust.direct`` in ``tests/reference/geo``), to a shipped standard summed
into the workbench's adult age groups (:func:`workbench.prevalence.standard_for_age_groups`).

Smoothing is Marshall's global empirical-Bayes estimator (:func:`eb_smooth`) of the crude
proportions: a community with few residents is pulled towards the overall rate, a large one
hardly moves. It is what the map shows by default (``smoothed``): the need as it is, steadied
for small communities. ``adjusted`` is for comparing communities of different age make-up.

Small counts (:func:`need_by_community`, ``min_count``): a community whose number of cases, or
of non-cases, is 1 .. ``min_count - 1`` has its count hidden, and so has whatever would let it be
worked out again (:func:`workbench.epi.suppress` on the table cases / non-cases by community:
the other cell of its row, whose total ``n`` is shown, and the smallest other community's count,
so that a published overall total does not give it away). A hidden count is blank, never 0, and
every number computed from it (crude, adjusted, interval, smoothed) is blank too. The smoothing's
prior (overall rate and between-community variance) is estimated from the shown communities
only, so no shown number depends on a hidden count.

Examples
--------
>>> eb_smooth([2, 12, 16], [20, 40, 40]).round(6).tolist()
[0.266667, 0.3, 0.328571]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from workbench.params import ALPHA, TABLES, Interval, Options, validate_params

__all__ = ["MEASURES", "eb_prior", "eb_smooth", "need_by_community", "need_frame"]

#: The measures of need, in map order.
MEASURES = ("screen_positive", "tier_2_3")
_COLUMNS = ["community", "measure", "n", "cases", "crude", "adjusted", "ci_low", "ci_high", "smoothed",
            "suppressed", "suppressed_reason", "missing", "note"]


def eb_smooth(cases, n) -> np.ndarray:
    """Marshall's (1991) global empirical-Bayes estimates of rates, shrunk towards the overall rate.

    Parameters
    ----------
    cases : array-like of float
        Cases per area (whole numbers >= 0).
    n : array-like of float
        Persons (population at risk) per area, each > 0.

    Returns
    -------
    ndarray
        The smoothed rate of each area (the prior itself: :func:`eb_prior`).

    Notes
    -----
    Marshall RJ. Mapping disease and mortality rates using empirical Bayes estimators. Journal of
    the Royal Statistical Society Series C (Applied Statistics) 1991;40(2):283-294, pp. 284-285
    (the global moment estimator; also Bailey & Gatrell 1995, pp. 303-306). With ``r_i = x_i / n_i``,
    ``k`` areas and ``N = Σ n_i``:

    - overall rate ``b = Σ x_i / N``;
    - weighted variance of the rates ``s² = Σ n_i (r_i - b)² / N``;
    - between-area variance ``a = s² - b / (N / k)``, set to 0 when negative (then every area
      gets ``b``);
    - estimate ``b + C_i (r_i - b)`` with shrinkage weight ``C_i = a / (a + b / n_i)``.

    This is the formula of R ``spdep::EBest(n = cases, x = n, family = "poisson")`` (its source,
    R/EBI.R). The within-area variance ``b / n_i`` is the Poisson one; for a common outcome
    (a prevalence of 20-30 %) the binomial ``b(1-b)/n_i`` is smaller, so this estimator shrinks
    a little more than needed: it errs on the side of steadiness. A single area, or areas with
    identical rates, get ``b``.

    Examples
    --------
    >>> eb_smooth([2, 12, 16], [20, 40, 40]).round(6).tolist()   # b = 0.3, a = 0.003 (see the tests)
    [0.266667, 0.3, 0.328571]
    >>> eb_smooth([1, 2], [10, 10]).tolist()                       # a < 0: all shrunk to b
    [0.15, 0.15]
    """
    x = np.asarray(cases, dtype=float)
    m = np.asarray(n, dtype=float)
    if x.shape != m.shape or x.ndim != 1 or not len(x):
        raise ValueError(f"eb_smooth: cases and n must be two lists of the same length (>= 1); got {x.shape} and {m.shape}")
    if not (np.isfinite(x).all() and np.isfinite(m).all() and (m > 0).all() and (x >= 0).all()):
        raise ValueError("eb_smooth: every n must be > 0 and every count >= 0 (no missing values); got "
                         f"cases {x.tolist()}, n {m.tolist()}")
    a, b = eb_prior(x, m)
    r = x / m
    if a == 0:
        return np.full_like(r, b)
    return b + a * (r - b) / (a + b / m)


def eb_prior(cases, n) -> tuple[float, float]:
    """Marshall's method-of-moments prior of :func:`eb_smooth`: between-area variance ``a``
    (0 when the moment estimate is negative) and overall rate ``b``.

    Examples
    --------
    >>> a, b = eb_prior([2, 12, 16], [20, 40, 40])
    >>> round(a, 6), round(b, 6)
    (0.003, 0.3)
    """
    x, m = np.asarray(cases, dtype=float), np.asarray(n, dtype=float)
    total = m.sum()
    b = x.sum() / total
    s2 = float(np.sum(m * (x / m - b) ** 2) / total)
    a = s2 - b / (total / len(m))
    return float(max(a, 0.0)), float(b)


def need_frame(tables, *, instruments: Sequence[str] = ("phq9", "gad7")) -> pd.DataFrame:
    """One row per resident with a first screening: ``resident_id, community, age_group``, and the
    two outcomes (1/0, blank when unknown): ``screen_positive`` and ``tier_2_3``.

    Read from the stored scores and decisions (``tables.screenings``), as
    :func:`workbench.prevalence.screen_positive` reads them.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> d = need_frame(load_sample())
    >>> d.columns.tolist()
    ['resident_id', 'community', 'age_group', 'screen_positive', 'tier_2_3']
    """
    from workbench.cohort import age_at
    from workbench.instruments import get_instrument
    from workbench.prevalence import age_group

    s = tables.screenings(tuple(instruments))
    s = s.sort_values(["resident_id", "assessed_on"], kind="stable").drop_duplicates("resident_id")
    d = s.merge(tables.residents[["resident_id", "community", "birth_date"]], on="resident_id", how="left",
                validate="one_to_one")
    totals = d[[f"{i}_score" for i in instruments]].astype("float64")
    hit = pd.concat([totals[f"{i}_score"] >= get_instrument(i).screen_positive for i in instruments], axis=1).any(axis=1)
    known = hit | totals.notna().all(axis=1)
    tier = pd.to_numeric(d["tier"], errors="coerce").astype("float64")
    out = pd.DataFrame({"resident_id": d["resident_id"].to_numpy(), "community": d["community"].to_numpy(object),
                        "age_group": age_group(age_at(d["birth_date"], d["assessed_on"])).to_numpy(object),
                        "screen_positive": hit.astype(float).where(known).to_numpy(),
                        "tier_2_3": (tier >= 2).astype(float).where(tier.notna()).to_numpy()})
    return out.reset_index(drop=True)


def _standardised(d: pd.DataFrame, measure: str, std: pd.Series, alpha: float) -> pd.DataFrame:
    """Adjusted rate and interval per community (NaN with a note where an age group is empty)."""
    from workbench import epi

    rows = []
    for community, part in d.groupby("community", sort=True):
        known = part.dropna(subset=[measure, "age_group"])
        present = set(known["age_group"])
        empty = [g for g in std.index if g not in present]
        no_age = int(part[measure].notna().sum() - len(known))
        note = []
        if no_age:
            note.append(f"{no_age} without an age left out of the adjusted rate")
        if empty or known.empty:
            note.append(f"no adjusted rate: age group {', '.join(map(str, empty))} has no residents")
            rows.append({"community": community, "adjusted": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "note": "; ".join(note)})
            continue
        res = epi.standardize(known, outcome=measure, age_group="age_group", standard=std, alpha=alpha).iloc[0]
        rows.append({"community": community, "adjusted": res["adjusted"], "ci_low": res["ci_low"],
                     "ci_high": res["ci_high"], "note": "; ".join(note)})
    return pd.DataFrame(rows, columns=["community", "adjusted", "ci_low", "ci_high", "note"])


@validate_params({"tables": TABLES, "standard": Options("china_2020_census", "who_2000_2025"),
                  "min_count": Interval(int, 1, None), "alpha": ALPHA})
def need_by_community(tables, *, standard: str = "china_2020_census", min_count: int = 5, alpha: float = 0.05,
                      instruments: Sequence[str] = ("phq9", "gad7")) -> pd.DataFrame:
    """Screen-positive prevalence and tier-2/3 rate per community: crude, age-standardised,
    smoothed, with small counts hidden.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (stored scores and decisions are read, nothing is re-scored).
    standard : {"china_2020_census", "who_2000_2025"}
        Standard population, summed into the adult age groups
        (:func:`workbench.prevalence.standard_for_age_groups`).
    min_count : int
        Counts 1 .. ``min_count - 1`` (of cases or of non-cases) are hidden; 1 hides nothing.
    alpha : float
        1 - confidence level of the adjusted rate's interval.
    instruments : sequence of str
        Questionnaires whose stored totals define screen-positive (any of them positive).

    Returns
    -------
    DataFrame
        One row per (community, measure), measure in :data:`MEASURES`: ``n`` (residents with a
        known outcome), ``cases`` (Int64, blank when hidden), ``crude`` (cases / n), ``adjusted``,
        ``ci_low``, ``ci_high`` (directly standardised, Fay-Feuer), ``smoothed`` (:func:`eb_smooth`
        of the crude proportions), ``suppressed`` (bool), ``suppressed_reason`` ("small count",
        "protects a hidden count" or blank), ``missing`` (outcome unknown, left out, never counted
        as 0), ``note``. Proportions are fractions (0.25 = 25 %). ``attrs``: ``standard``,
        ``alpha``, ``min_count``, ``instruments``, ``prior`` (measure -> ``{"a", "b"}``, from the
        shown communities), ``no_community`` (residents without a community, left out).

    Notes
    -----
    See the module's notes for the definitions, the smoothing and what suppression hides.
    Residents without an age group (no birth date, or under 18) count in ``crude`` but not in
    ``adjusted`` (the note says how many).

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> need = need_by_community(load_sample())
    >>> need.loc[need["measure"] == "screen_positive", ["community", "n", "cases"]].head(2)
       community    n  cases
    0  ageing-01  351    103
    1   rural-01  341     98
    """
    from workbench import epi
    from workbench.prevalence import standard_for_age_groups

    d = need_frame(tables, instruments=instruments)
    no_community = int(d["community"].isna().sum())
    d = d[d["community"].notna()]
    std = standard_for_age_groups(standard)
    parts, prior = [], {}
    for measure in MEASURES:
        known = d.dropna(subset=[measure])
        counts = (known.groupby("community")[measure].agg(["size", "sum"])
                  .reindex(sorted(d["community"].unique()), fill_value=0))
        n, cases = counts["size"].to_numpy(int), counts["sum"].to_numpy(float).round().astype(int)
        missing = d.groupby("community")[measure].apply(lambda v: int(v.isna().sum())).reindex(counts.index)
        cells = pd.DataFrame({"cases": cases, "non_cases": n - cases}, index=counts.index)
        hidden = epi.suppress(cells, min_count=min_count)
        primary = {row for row, _ in hidden.attrs["primary"]}
        shown = hidden["cases"].notna().to_numpy() & hidden["non_cases"].notna().to_numpy() & (n > 0)
        adj = _standardised(d, measure, std, alpha).set_index("community").reindex(counts.index)
        with np.errstate(divide="ignore", invalid="ignore"):
            crude = np.where(n > 0, cases / np.maximum(n, 1), np.nan)
        smoothed = np.full(len(n), np.nan)
        if shown.any():
            smoothed[shown] = eb_smooth(cases[shown], n[shown])
            a, b = eb_prior(cases[shown], n[shown])
            prior[measure] = {"a": a, "b": b}
        part = pd.DataFrame({
            "community": counts.index.to_numpy(object), "measure": measure, "n": n,
            "cases": pd.array([c if s or k == 0 else pd.NA for c, s, k in zip(cases.tolist(), shown, n)], dtype="Int64"),
            "crude": np.where(shown, crude, np.nan), "adjusted": np.where(shown, adj["adjusted"], np.nan),
            "ci_low": np.where(shown, adj["ci_low"], np.nan), "ci_high": np.where(shown, adj["ci_high"], np.nan),
            "smoothed": smoothed, "suppressed": ~shown & (n > 0),
            "suppressed_reason": [None if s or k == 0 else "small count" if c in primary else "protects a hidden count"
                                  for s, k, c in zip(shown, n, counts.index)],
            "missing": missing.to_numpy(int), "note": adj["note"].fillna("").to_numpy(object)})
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)[_COLUMNS]
    out.attrs.update(standard=standard, alpha=alpha, min_count=min_count, instruments=list(instruments),
                     prior=prior, no_community=no_community)
    return out
