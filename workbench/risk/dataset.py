"""The risk model's frame: one row per referral at a screening, the predictors known that day,
the outcome, and who was left out and why.

:func:`model_frame` reads the analysis tables (:class:`workbench.tables.Tables`, as
:func:`workbench.sample.load_sample` returns them) and a model spec
(:func:`workbench.risk.spec.load_spec`). It reads the STORED scores and decisions, never scores
again. Rules:

- **Rows** (index ``decision_id``): each referral dated on a screening day of its resident,
  linked to that screening's latest tier decision, with the decided tier among the spec's tiers.
  A referral not on a screening day, with a tier outside the population, or a second referral of
  the same decision is left out and counted (:attr:`ModelFrame.exclusions`).
- **Outcome** ``y`` (Int8): the spec's outcome (MHIP not improving: the last stored PHQ-9 of a
  review of that referral in weeks ``from_week``-``to_week``, week = whole days // 7, against the
  stored baseline PHQ-9 of the screening; the numbers from ``workbench/outcomes/thresholds.yaml``).
  No baseline PHQ-9 or no PHQ-9 in the window: ``<NA>`` (outside the denominator, counted),
  never 0.
- **Predictors** ``X``: only what is known on the screening day: that screening's stored totals,
  the resident's age that day, sex, living situation and conditions, the community's type, the
  last measurements and the history dated strictly BEFORE the screening day, and wearable
  features of the days before it. A missing predictor stays missing (NaN; the pipeline imputes
  it with an indicator, :mod:`workbench.risk.models`), never 0. Numeric and binary predictors
  are float64 (binary 1.0/0.0), categories are text (object, NaN when blank).
- **Wearables**: ``wearable_days`` (the analysis table of issue 17's contract: ``resident_id``,
  ``day`` and the daily features) is optional; without it every row has ``no_wearable_data`` = 1
  and the wearable means are missing.

Examples
--------
>>> INFO_COLUMNS[:3]
['referral_id', 'resident_id', 'assessed_on']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError
from workbench.risk.spec import ModelSpec, Predictor, _as_spec, load_spec

__all__ = ["INFO_COLUMNS", "ModelFrame", "RiskDataError", "leakage_columns", "load_spec", "model_frame"]

#: Columns of :attr:`ModelFrame.info` (index ``decision_id``).
INFO_COLUMNS = ["referral_id", "resident_id", "assessed_on", "community", "community_type", "sex", "age_group", "tier"]
#: Steps of the exclusion count, in order, with their words.
_REASONS = {
    "referrals": ("Referrals in the tables", "表中转介数"),
    "not_at_screening": ("Left out: referral not on a day with a screening decision", "排除：转介日无筛查分级决定"),
    "tier_outside": ("Left out: decided tier outside the population (or blank)", "排除：决定的级别不在目标人群内（或空白）"),
    "repeated": ("Left out: a second referral of the same screening decision", "排除：同一次筛查决定的重复转介"),
    "population": ("Rows of the model frame (the population)", "模型数据行数（目标人群）"),
    "no_baseline": ("Outside the denominator: no stored baseline PHQ-9", "不计入分母：无已存储的基线PHQ-9"),
    "no_review_in_window": ("Outside the denominator: no stored PHQ-9 in the review window", "不计入分母：复评窗口内无已存储的PHQ-9"),
    "denominator": ("With the outcome known (the denominator)", "结局已知（分母）"),
    "events": ("Not improving (events)", "未见好转（事件数）"),
}
_WEARABLE_KEYS = ("resident_id", "day")


@dataclass
class ModelFrame:
    """Predictors, outcome, context and exclusions of a model spec on some analysis tables.

    Attributes
    ----------
    X : DataFrame
        The spec's predictors, one row per decision (index ``decision_id``), declared order.
    y : Series
        Int8 0/1, ``<NA>`` outside the denominator.
    info : DataFrame
        :data:`INFO_COLUMNS` (same index): who, when, where; not predictors.
    exclusions : DataFrame
        ``step, n, en, zh``: how many were counted and left out at each step, and why.
    spec : ModelSpec
    """

    X: pd.DataFrame
    y: pd.Series
    info: pd.DataFrame
    exclusions: pd.DataFrame
    spec: ModelSpec

    @property
    def known(self) -> np.ndarray:
        """Boolean mask of the rows inside the denominator (outcome known)."""
        return self.y.notna().to_numpy(bool)

    def complete(self) -> "ModelFrame":
        """The rows with a known outcome only (what models are fitted and validated on)."""
        k = self.known
        return ModelFrame(self.X[k], self.y[k], self.info[k], self.exclusions, self.spec)

    def __repr__(self) -> str:
        n = int(self.known.sum())
        return (f"<ModelFrame {self.spec.model_id}: {len(self.X)} rows, {n} with the outcome, "
                f"{int(self.y.sum()) if n else 0} events, {self.X.shape[1]} predictors>")


class RiskDataError(RowProblemsError):
    """Tables the risk frame cannot use; :attr:`problems` names table, row, column, value, rule."""


def _day(values: Any) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy("datetime64[ns]").astype("datetime64[D]")


def _population(tables, spec: ModelSpec) -> tuple[pd.DataFrame, dict[str, int]]:
    refs = tables.referrals[["referral_id", "resident_id", "referred_on"]].copy()
    d = tables.decisions[["decision_id", "resident_id", "assessed_on", "tier", "decided_at"]]
    # the latest decision of each screening (as Tables.screenings reads it)
    d = d.sort_values(["resident_id", "assessed_on", "decided_at", "decision_id"], kind="stable")
    d = d.drop_duplicates(["resident_id", "assessed_on"], keep="last")
    counts = {"referrals": len(refs)}
    m = refs.merge(d, left_on=["resident_id", "referred_on"], right_on=["resident_id", "assessed_on"], how="left",
                   validate="many_to_one")
    at = m["decision_id"].notna()
    counts["not_at_screening"] = int((~at).sum())
    m = m[at]
    inside = m["tier"].isin(list(spec.tiers)).fillna(False).to_numpy(bool)
    counts["tier_outside"] = int((~inside).sum())
    m = m[inside].sort_values(["decision_id", "referral_id"], kind="stable")
    first = ~m["decision_id"].duplicated()
    counts["repeated"] = int((~first).sum())
    m = m[first.to_numpy(bool)].drop(columns=["decided_at", "referred_on"])
    counts["population"] = len(m)
    return m.set_index("decision_id").sort_index(), counts


def _outcome(tables, pop: pd.DataFrame, spec: ModelSpec, counts: dict[str, int]) -> pd.Series:
    o = spec.outcome
    rs = tables.referral_scores((o.instrument,))
    col = f"{o.instrument}_score"
    rs = rs[rs["referral_id"].isin(pop["referral_id"])]
    base = rs[rs["baseline"]].drop_duplicates("referral_id").set_index("referral_id")[col]
    reviews = rs[~rs["baseline"] & rs[col].notna()]
    referred = pop.set_index("referral_id")["assessed_on"]
    week = (reviews["assessed_on"] - reviews["referral_id"].map(referred)).dt.days // 7
    window = reviews[(week >= o.from_week) & (week <= o.to_week)].sort_values(["referral_id", "assessed_on"],
                                                                              kind="stable")
    last = window.groupby("referral_id")[col].last()
    b = pop["referral_id"].map(base).astype("float64").to_numpy()
    lst = pop["referral_id"].map(last).astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        improving = (lst < o.phq9_below) | (b - lst >= o.min_fall * b - 1e-9)
    y = pd.array(np.where(improving, 0, 1), dtype="Int8")
    no_base, no_review = np.isnan(b), ~np.isnan(b) & np.isnan(lst)
    y[no_base | np.isnan(lst)] = pd.NA
    counts["no_baseline"], counts["no_review_in_window"] = int(no_base.sum()), int(no_review.sum())
    counts["denominator"] = int((~no_base & ~np.isnan(lst)).sum())
    out = pd.Series(y, index=pop.index, name=o.id)
    counts["events"] = int(out.sum())
    return out


def _before(rows: pd.DataFrame, pop: pd.DataFrame, date: str, days: int | None) -> pd.DataFrame:
    """``rows`` joined to the population by resident, kept when dated before the screening day
    (and within ``days`` days before it), with the ``decision_id`` of the population row."""
    j = pop[["resident_id", "assessed_on"]].reset_index().merge(rows, on="resident_id", how="inner")
    keep = j[date] < j["assessed_on"]
    if days is not None:
        keep &= j[date] >= j["assessed_on"] - pd.Timedelta(days=days)
    return j[keep.to_numpy(bool)]


def _screening_scores(tables, pop: pd.DataFrame, preds: list[Predictor]) -> dict[str, pd.Series]:
    instruments = sorted({p.options["instrument"] for p in preds})
    if not instruments:
        return {}
    s = tables.screenings(tuple(instruments), columns=("score",))
    s = pop[["resident_id", "assessed_on"]].reset_index().merge(s, on=["resident_id", "assessed_on"], how="left")
    s = s.drop_duplicates("decision_id").set_index("decision_id").reindex(pop.index)
    return {p.name: s[f"{p.options['instrument']}_score"].astype("float64") for p in preds}


def _binary(values: pd.Series, true: Any = True) -> pd.Series:
    v = values.astype(object)
    return pd.Series(np.where(pd.isna(v), np.nan, (v == true).astype(float)), index=values.index, dtype="float64")


def _resident(pop: pd.DataFrame, people: pd.DataFrame, p: Predictor) -> pd.Series:
    from workbench.cohort import age_at

    column = p.options["column"]
    if column not in people.columns:
        raise RiskDataError([(None, column, None, f"is missing: predictor {p.name!r} reads it")], table="residents",
                            context="model_frame")
    values = pop["resident_id"].map(people[column])
    if p.name == "age" or column == "birth_date":
        return age_at(values, pop["assessed_on"]).astype("Float64").astype("float64").rename(p.name)
    if p.kind == "binary":
        return _binary(values, "female" if column == "sex" else True).rename(p.name)
    if p.kind == "category":
        return values.astype(object).where(values.notna(), np.nan).rename(p.name)
    return pd.to_numeric(values, errors="coerce").astype("float64").rename(p.name)


def _measurement(tables, pop: pd.DataFrame, p: Predictor) -> pd.Series:
    column = p.options["column"]
    m = tables.measurements
    if column not in m.columns:
        raise RiskDataError([(None, column, None, f"is missing: predictor {p.name!r} reads it")],
                            table="measurements", context="model_frame")
    m = m.loc[m[column].notna(), ["resident_id", "measured_on", column]]
    j = _before(m, pop, "measured_on", p.options["days"]).sort_values(["decision_id", "measured_on"], kind="stable")
    last = j.groupby("decision_id")[column].last()
    return pd.Series(last.reindex(pop.index).astype("float64").to_numpy(), index=pop.index, name=p.name)


def _history(tables, pop: pd.DataFrame, p: Predictor) -> pd.Series:
    table = p.options["table"]
    date = {"decisions": "assessed_on", "referrals": "referred_on", "events": "event_on"}[table]
    rows = tables[table]
    if table == "events":
        rows = rows[rows["kind"].isin(list(p.options["kinds"])).fillna(False).to_numpy(bool)]
    rows = rows[["resident_id", date]].rename(columns={date: "_on"})
    j = _before(rows, pop, "_on", p.options.get("days"))
    n = j.groupby("decision_id").size()
    return pd.Series(n.reindex(pop.index, fill_value=0).astype("float64").to_numpy(), index=pop.index, name=p.name)


def _wearable(wearable_days: pd.DataFrame | None, pop: pd.DataFrame, preds: list[Predictor]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    columns = [p.options["column"] for p in preds if "column" in p.options]
    if wearable_days is None:
        for p in preds:
            fill = 1.0 if "indicator" in p.options else np.nan
            out[p.name] = pd.Series(fill, index=pop.index, dtype="float64", name=p.name)
        return out
    if not isinstance(wearable_days, pd.DataFrame):
        raise RiskDataError([(None, None, type(wearable_days).__name__, "must be a DataFrame (the wearable_days "
                              "analysis table) or None")], table="wearable_days", context="model_frame")
    missing = [c for c in (*_WEARABLE_KEYS, *columns) if c not in wearable_days.columns]
    if missing:
        raise RiskDataError([(None, c, None, "is missing: the wearable_days table must have this column")
                             for c in missing], table="wearable_days", context="model_frame")
    w = wearable_days[[*_WEARABLE_KEYS, *dict.fromkeys(columns)]].copy()
    w["day"] = pd.to_datetime(w["day"])
    for c in columns:
        w[c] = pd.to_numeric(w[c], errors="coerce").astype("float64")
    for p in preds:
        j = _before(w, pop, "day", p.options["days"])
        if "indicator" in p.options:
            some = j[columns].notna().any(axis=1) if columns else pd.Series(False, index=j.index)
            has = j[some.to_numpy(bool)]["decision_id"].unique()
            out[p.name] = pd.Series(np.where(pop.index.isin(has), 0.0, 1.0), index=pop.index, name=p.name)
        else:
            mean = j.groupby("decision_id")[p.options["column"]].mean()
            out[p.name] = pd.Series(mean.reindex(pop.index).astype("float64").to_numpy(), index=pop.index,
                                    name=p.name)
    return out


def model_frame(tables, *, spec: "str | Path | ModelSpec" = "not_improving",
                wearable_days: pd.DataFrame | None = None) -> ModelFrame:
    """The predictors known on the screening day, the outcome and the exclusions of a model spec.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``referrals``, ``decisions``, ``assessments``, ``scores``,
        ``residents``, ``communities``, ``measurements``, ``events``).
    spec : str, Path or ModelSpec
        The model spec (default the shipped ``not_improving``).
    wearable_days : DataFrame, optional
        The ``wearable_days`` analysis table (``resident_id``, ``day`` and the features the spec
        names); None: no wearable data for anyone.

    Returns
    -------
    ModelFrame
        ``X`` (predictors; index ``decision_id``), ``y`` (Int8, ``<NA>`` outside the
        denominator), ``info`` (:data:`INFO_COLUMNS`), ``exclusions`` (``step, n, en, zh``).

    Notes
    -----
    Everything but the screening's own totals and the resident's fixed attributes is read from
    rows dated strictly before the screening day, so nothing recorded after it (a later
    measurement, crisis, referral or review) changes ``X``.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> f = model_frame(load_sample())
    >>> f.X.shape[1] == len(f.spec.names), f.y.dtype.name, f.X.index.name, bool(f.X["no_wearable_data"].eq(1).all())
    (True, 'Int8', 'decision_id', True)
    >>> f.exclusions.set_index("step").loc[["population", "denominator"], "n"].tolist() == [
    ...     len(f.X), int(f.y.notna().sum())]
    True
    """
    spec = _as_spec(spec)
    needed = ("referrals", "decisions", "assessments", "scores", "residents", "communities", "measurements", "events")
    absent = [n for n in needed if n not in tables]
    if absent:
        raise RiskDataError([(None, None, None, f"table {n!r} is missing") for n in absent], table="tables",
                            context="model_frame")
    pop, counts = _population(tables, spec)
    y = _outcome(tables, pop, spec, counts)

    people = tables.residents.set_index("resident_id")
    ctype = tables.communities.drop_duplicates("community").set_index("community")["community_type"]
    people = people.assign(community_type=people["community"].map(ctype))
    columns: dict[str, pd.Series] = {}
    by_source: dict[str, list[Predictor]] = {}
    for p in spec.predictors:
        by_source.setdefault(p.source, []).append(p)
    columns.update(_screening_scores(tables, pop, by_source.get("screening_score", [])))
    columns.update(_wearable(wearable_days, pop, by_source.get("wearable", [])))
    for p in spec.predictors:
        if p.source in ("resident", "community"):
            columns[p.name] = _resident(pop, people, p)
        elif p.source == "measurement":
            columns[p.name] = _measurement(tables, pop, p)
        elif p.source == "history":
            columns[p.name] = _history(tables, pop, p)
    X = pd.DataFrame({n: columns[n].to_numpy() for n in spec.names}, index=pop.index)
    for p in spec.predictors:
        X[p.name] = X[p.name].astype(object if p.kind == "category" else "float64")

    from workbench.prevalence import age_group
    from workbench.cohort import age_at

    age = age_at(pop["resident_id"].map(people["birth_date"]), pop["assessed_on"])
    info = pd.DataFrame({
        "referral_id": pop["referral_id"], "resident_id": pop["resident_id"], "assessed_on": pop["assessed_on"],
        "community": pop["resident_id"].map(people["community"]),
        "community_type": pop["resident_id"].map(people["community_type"]),
        "sex": pop["resident_id"].map(people["sex"]), "age_group": age_group(age).to_numpy(),
        "tier": pop["tier"].astype("Int8")}, index=pop.index)
    exclusions = pd.DataFrame({"step": list(_REASONS), "n": [counts[k] for k in _REASONS],
                               "en": [v[0] for v in _REASONS.values()], "zh": [v[1] for v in _REASONS.values()]})
    exclusions.attrs.update(model=spec.model_id, thresholds_version=spec.outcome.thresholds_version)
    return ModelFrame(X=X, y=y, info=info, exclusions=exclusions, spec=spec)


def leakage_columns(spec: ModelSpec) -> Mapping[str, str]:
    """Where each predictor's date rule comes from (for the model card): ``name -> rule``.

    >>> leakage_columns(load_spec())["last_sbp"]
    'last value in the 365 days before the screening day'
    """
    rules = {}
    for p in spec.predictors:
        o = p.options
        rules[p.name] = {
            "screening_score": "the stored total of the screening itself",
            "resident": "a fixed attribute of the resident (age on the screening day)",
            "community": "a fixed attribute of the community",
            "measurement": f"last value in the {o.get('days')} days before the screening day",
            "history": "count dated before the screening day" + (f" (last {o['days']} days)" if "days" in o else ""),
            "wearable": f"wearable days in the {o.get('days')} days before the screening day",
        }[p.source]
    return rules

