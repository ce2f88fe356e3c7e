"""Screen-positive prevalence by a chosen grouping, from the STORED scores, with intervals,
optional strata (e.g. chronic disease) and direct age standardisation.

This is what notebook 01 shows: one call gives the table a chart needs. Scores are read from
the analysis tables (``tables.screenings(...)``), never computed again. The age groups are
declared once here (:data:`AGE_GROUPS`, :func:`age_group`); the standard population is one of
:func:`workbench.epi.standard_population`, summed into those age groups
(:func:`standard_for_age_groups`).

Why strata: in the synthetic sample the crude share screening positive rises with age, but so
does chronic disease, which raises it at every age; compare within ``strata="chronic"`` or
age-standardise before reading an age or place difference as one.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument, instrument_ids
from workbench.params import ALPHA, Options, validate_params

__all__ = ["AGE_BREAKS", "AGE_GROUPS", "GROUPINGS", "NoResidentsError", "NoScreenPositiveCutOff", "age_group",
           "screen_positive", "screen_positive_instruments", "standard_for_age_groups"]

#: Lower bounds of the age groups (half-open: [18, 40), [40, 50) ... [80, inf)).
AGE_BREAKS = (18, 40, 50, 60, 70, 80)
#: Labels of the age groups, in order (notebooks 01 and 06, the explorer's tables).
AGE_GROUPS = tuple(f"{lo}-{hi - 1}" for lo, hi in zip(AGE_BREAKS[:-1], AGE_BREAKS[1:])) + (f"{AGE_BREAKS[-1]}+",)
#: Groupings :func:`screen_positive` offers (``by`` and ``strata``).
GROUPINGS = ("age_group", "sex", "community_type", "community", "chronic", "disease_category", "lives_alone")
_CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")

_WORDS = {
    "no_cut_off": {"en": "{name} has no screen-positive cut-off; choose {choices} (or look at {name}'s bands: {bands}).",
                   "zh": "{name} 没有筛查阳性界值；请选择 {choices}（或查看 {name} 的分级：{bands}）。"},
    "no_residents": {"en": "No residents match these choices ({what}): there is nothing to show. Widen the filters.",
                     "zh": "没有符合条件的居民（{what}），无内容可显示。请放宽筛选条件。"},
    "not_scored": {"en": "No resident has a stored {name} total in these tables: there is nothing to show. "
                         "Choose a questionnaire these residents answered.",
                   "zh": "这些数据中没有任何居民已存储的 {name} 总分，无内容可显示。请选择居民填写过的问卷。"},
    "bad_where": {"en": "where: {columns} {are} here (choose among {choices})",
                  "zh": "where：{columns} 不是可用的列（可选：{choices}）"},
}


class NoScreenPositiveCutOff(ValueError):
    """An instrument without a declared screen-positive threshold; ``.messages`` has zh and en."""

    def __init__(self, messages: Mapping[str, str], *, lang: str):
        self.messages = dict(messages)
        super().__init__(self.messages[lang])


class NoResidentsError(ValueError):
    """No resident matches the choices (nothing to draw); ``.messages`` has zh and en."""

    def __init__(self, messages: Mapping[str, str], *, lang: str):
        self.messages = dict(messages)
        super().__init__(self.messages[lang])


def _short(inst_id: str) -> str:
    """The abbreviation in the instrument's English name, e.g. "PHQ-9"."""
    found = re.search(r"\(([^()]+)\)\s*$", get_instrument(inst_id).name["en"])
    return found.group(1) if found else inst_id.upper()


def screen_positive_instruments() -> tuple[str, ...]:
    """The instruments that declare a screen-positive threshold (what a chooser may offer).

    Examples
    --------
    >>> "phq9" in screen_positive_instruments(), "k10" in screen_positive_instruments()
    (True, False)
    """
    return tuple(i for i in instrument_ids() if get_instrument(i).screen_positive is not None)


def age_group(age) -> pd.Series:
    """The :data:`AGE_GROUPS` label of each age in whole years (missing below 18 or unknown).

    Examples
    --------
    >>> age_group([18, 39, 40, 79, 80, 101, 17, None]).tolist()
    ['18-39', '18-39', '40-49', '70-79', '80+', '80+', nan, nan]
    """
    ages = pd.to_numeric(pd.Series(age, dtype=object), errors="coerce").astype(float)
    return pd.cut(ages, [*AGE_BREAKS, np.inf], right=False, labels=list(AGE_GROUPS)).astype(object)


def standard_for_age_groups(name: str = "china_2020_census") -> pd.Series:
    """A shipped standard population summed into :data:`AGE_GROUPS`.

    Each 5-year band of the standard goes to the age group holding its upper age ("15-19" ->
    "18-39", "100+" -> "80+"); bands ending below 18 are left out. So "18-39" carries the whole
    15-19 band (ages 15-17 are 3/5 of it): a standard restricted to the adult age range, as used
    for adult surveys; say so when reporting.

    Examples
    --------
    >>> s = standard_for_age_groups("china_2020_census")
    >>> s.index.tolist() == list(AGE_GROUPS), int(s["40-49"]) == 92_955_330 + 114_224_887
    (True, True)
    """
    from workbench import epi

    std = epi.standard_population(name)
    upper = [int(label[:-1]) + 4 if label.endswith("+") else int(label.split("-")[1]) for label in std.index]
    groups = age_group(upper)
    out = std.groupby(groups.to_numpy(), sort=False).sum().reindex(list(AGE_GROUPS))
    out.index.name, out.name = "age_group", "population"
    out.attrs.update(std.attrs, standard=name)
    return out


def _frame(tables, instruments: Sequence[str]) -> pd.DataFrame:
    """One row per resident: their first screening's stored totals with the grouping columns."""
    s = tables.screenings(tuple(instruments))
    s = s.sort_values(["resident_id", "assessed_on"], kind="stable").drop_duplicates("resident_id")
    people = tables.residents.merge(tables.communities, on="community", how="left", validate="many_to_one")
    d = s.merge(people, on="resident_id", how="left", validate="one_to_one")
    from workbench.cohort import age_at

    d["age"] = age_at(d["birth_date"], d["assessed_on"])
    d["age_group"] = age_group(d["age"]).to_numpy()
    conditions = [c for c in _CONDITIONS if c in d.columns]
    d["chronic"] = np.where(d[conditions].fillna(False).astype(bool).any(axis=1), "any_chronic", "no_chronic")
    return d


@validate_params({"method": Options("wilson", "exact"), "alpha": ALPHA, "lang": Options("zh", "en")})
def screen_positive(tables, *, instrument: str | Sequence[str], by: str | Sequence[str] | None = None,
                    strata: str | Sequence[str] | None = None, standard: str | None = None,
                    where: Mapping[str, object] | None = None, method: str = "wilson", alpha: float = 0.05,
                    lang: str = "en") -> pd.DataFrame:
    """Share of residents screening positive on their first screening, per group, with intervals.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables; the stored totals are read (``tables.screenings``), never rescored.
    instrument : str or sequence of str
        An instrument with a declared screen-positive threshold (:func:`screen_positive_instruments`),
        or several: positive on any of them ("anxiety or depression" for ``("phq9", "gad7")``).
    by, strata : str or list of str, optional
        Columns among :data:`GROUPINGS`; ``strata`` are simply more grouping columns, named apart
        so a chart can facet on them (e.g. ``strata="chronic"``).
    standard : str, optional
        Also age-standardise each group to this shipped standard, summed into :data:`AGE_GROUPS`
        (:func:`standard_for_age_groups`); e.g. ``"china_2020_census"``. Not with ``by="age_group"``.
    where : mapping, optional
        Keep only residents whose column equals the value (or is in the list), e.g.
        ``{"sex": "female"}``.
    method : {"wilson", "exact"}
        Interval of each proportion: Wilson score (R ``prop.test(correct = FALSE)``) or
        Clopper-Pearson (R ``binom.test``); see :func:`workbench.epi.prevalence`.
    alpha : float
        1 - confidence level.
    lang : {"zh", "en"}
        Language of the messages raised.

    Returns
    -------
    DataFrame
        The ``by`` and ``strata`` columns, then ``n`` (residents with a known result), ``cases``,
        ``prevalence``, ``ci_low``, ``ci_high``, ``missing`` (not scorable or not given: left out,
        never counted negative); with ``standard`` also ``adjusted``, ``adjusted_ci_low``,
        ``adjusted_ci_high`` (Fay-Feuer, :func:`workbench.epi.standardize`). ``attrs``:
        ``method``, ``alpha``, ``instruments``, ``thresholds``, ``standard``.

    Raises
    ------
    NoScreenPositiveCutOff
        An instrument declares no screen-positive threshold (e.g. K10, WHO-5).
    NoResidentsError
        No resident with a known result matches ``where``.

    Notes
    -----
    With several instruments a resident is positive when any stored total reaches its threshold,
    negative when every total is known and below; otherwise missing. One resident counts once
    (the first screening).

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> t = load_sample()
    >>> out = screen_positive(t, instrument=("phq9", "gad7"), by="chronic")
    >>> out.columns.tolist()
    ['chronic', 'n', 'cases', 'prevalence', 'ci_low', 'ci_high', 'missing']
    >>> screen_positive(t, instrument="k10", by="sex")
    Traceback (most recent call last):
    ...
    workbench.prevalence.NoScreenPositiveCutOff: K10 has no screen-positive cut-off; choose GAD-2, GAD-7, PHQ-2, PHQ-8, PHQ-9 (or look at K10's bands: Low distress, Moderate distress, High distress, Very high distress).
    """
    from workbench import epi

    instruments = [instrument] if isinstance(instrument, str) else list(instrument)
    cuttable = screen_positive_instruments()
    for inst_id in instruments:
        if inst_id not in cuttable:
            name = _short(inst_id) if inst_id in instrument_ids() else str(inst_id)
            inst = get_instrument(inst_id) if inst_id in instrument_ids() else None
            bands = {k: ", ".join(inst.band_label(b, k) for b in inst.band_ids) if inst else "-" for k in ("zh", "en")}
            choices = ", ".join(_short(i) for i in cuttable)
            raise NoScreenPositiveCutOff({k: v.format(name=name, choices=choices, bands=bands[k])
                                          for k, v in _WORDS["no_cut_off"].items()}, lang=lang)
    groups = [c for part in (by, strata) for c in ([] if part is None else [part] if isinstance(part, str) else part)]
    unknown = [c for c in groups if c not in GROUPINGS]
    if unknown:
        raise ValueError(f"by/strata: {unknown} are not groupings here (choose among {list(GROUPINGS)})")
    if standard is not None and "age_group" in groups:
        raise ValueError("standard: age standardisation within age groups has nothing to adjust; "
                         "group by something else or leave standard out")
    d = _frame(tables, instruments)
    missing = [c for c in (where or {}) if c not in d.columns]
    if missing:
        choices = ", ".join(c for c in d.columns if not c.startswith("_") and not c.endswith("_score"))
        raise ValueError(_WORDS["bad_where"][lang].format(columns=missing, are="is not a column" if len(missing) == 1 else "are not columns",
                                                           choices=choices))
    for column, value in (where or {}).items():
        d = d[d[column].isin(value if isinstance(value, (list, tuple, set)) else [value])]
    thresholds = {i: get_instrument(i).screen_positive for i in instruments}
    totals = d[[f"{i}_score" for i in instruments]].astype("float64")
    hit = pd.concat([totals[f"{i}_score"] >= cut for i, cut in thresholds.items()], axis=1).any(axis=1)
    known = hit | totals.notna().all(axis=1)
    d["_positive"] = hit.astype(float).where(known)
    d = d.dropna(subset=groups)
    if not d["_positive"].notna().any():
        filters = "; ".join(f"{c} = {v}" for c, v in (where or {}).items())
        name = "/".join(_short(i) for i in instruments)
        messages = {k: (_WORDS["no_residents"][k].format(what=filters) if filters
                        else _WORDS["not_scored"][k].format(name=name)) for k in ("zh", "en")}
        raise NoResidentsError(messages, lang=lang)
    out = epi.prevalence(d, outcome="_positive", by=groups or None, method=method, alpha=alpha)
    if standard is not None:
        adj = epi.standardize(d, outcome="_positive", age_group="age_group",
                              standard=standard_for_age_groups(standard), by=groups or None, alpha=alpha)
        adj = adj[[*groups, "adjusted", "ci_low", "ci_high"]].rename(
            columns={"ci_low": "adjusted_ci_low", "ci_high": "adjusted_ci_high"})
        out = out.merge(adj, on=groups, how="left") if groups else pd.concat([out, adj], axis=1)
    out.attrs.update(method=method, alpha=alpha, instruments=instruments, thresholds=thresholds, standard=standard)
    return out
