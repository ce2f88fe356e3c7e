"""The cohort explorer's component: choose an endpoint, a grouping and filters, and see the
curves with the number at risk, log-rank tests and Cox hazard ratios.

Death is drawn as Kaplan-Meier curves. Endpoints with competing outcomes (dropout: died in care,
care completed; remission: died or care ended first; crisis or ER visit and cardiovascular event:
died first) are drawn as cumulative incidence (Aalen-Johansen), because a competing outcome is an
outcome, not censoring; their log-rank tests and Cox models compare cause-specific hazards, and
their tables say so (issue 20).

The explorer reads one analysis frame (:func:`cohort_frame`, built from the analysis tables when
the app starts and again when a person presses Refresh) and filters it in memory, so a change of
a control answers in about a second on the 3000-resident sample. Every statistic comes from
:mod:`workbench.survival`; this module only chooses rows and columns, and says in words (beside
the controls) why a choice cannot be estimated. Its words are in :mod:`workbench.ui._explorer_text`.
"""

from __future__ import annotations

import html
import logging
import warnings
from typing import Callable, Sequence

import ipywidgets as w
import numpy as np
import pandas as pd

from workbench.cohort import ENDPOINTS
from workbench.i18n import t
from workbench.params import FRAME, Optional, Options, Predicate, validate_params
from workbench.plots import png_img
from workbench.prevalence import AGE_BREAKS
from workbench.ui._base import FieldMessage, guarded
from workbench.ui._explorer_text import (COMPETING, EVENTS_PER_PARAMETER, EVENTS_PER_PARAMETER_RELAXED, cox_fit_message,
                                         data_note, html_table, level_label, say, sparse_warning)

__all__ = ["COMPETING", "COVARIATES", "EVENTS_PER_PARAMETER", "EVENTS_PER_PARAMETER_RELAXED", "GROUPINGS", "KMExplorer",
           "cohort_frame", "cox_fit_message", "data_note", "html_table", "level_label", "sparse_warning",
           "warm_up_plots"]

log = logging.getLogger("workbench.ui")

#: Fewer residents than this after filtering: no curves, a message instead.
MIN_ROWS = 20
#: Age bands of the ``age_group`` grouping: lower bounds of half-open intervals [lo, next lo);
#: the groups declared once for every analysis (:data:`workbench.prevalence.AGE_BREAKS`).
AGE_BANDS = AGE_BREAKS
#: Groupings: id -> (interface string of its name, column of :func:`cohort_frame`).
GROUPINGS = {
    "none": ("no_grouping", None),
    "sex": ("sex", "sex"),
    "age_group": ("age_group", "age_group"),
    "community_type": ("community_type", "community_type"),
    "tier": ("screening_tier", "tier_group"),
    "disease_category": ("disease_category", "disease_category"),
    "chronic": ("chronic_condition", "chronic"),
    "lives_alone": ("lives_alone", "living"),
    "arm": ("trial_arm", "arm"),
}
#: Cox covariates: id -> (interface string, the grouping that carries the same information,
#: function of the frame giving a number per row, NaN where unknown).
COVARIATES: dict[str, tuple[str, str | None, Callable[[pd.DataFrame], pd.Series]]] = {
    "age10": ("cov_age10", "age_group", lambda d: d["age"] / 10),
    "female": ("cov_female", "sex", lambda d: (d["sex"] == "female").astype(float)),
    "lives_alone": ("lives_alone", "lives_alone", lambda d: d["lives_alone"].astype(float)),
    "hypertension": ("hypertension", None, lambda d: d["hypertension"].astype(float)),
    "diabetes": ("diabetes", None, lambda d: d["diabetes"].astype(float)),
    "chd": ("chd", None, lambda d: d["chd"].astype(float)),
    "stroke": ("stroke", None, lambda d: d["stroke"].astype(float)),
    "copd": ("copd", None, lambda d: d["copd"].astype(float)),
    "asthma": ("asthma", None, lambda d: d["asthma"].astype(float)),
    "screen_positive": ("cov_screen_positive", "tier", lambda d: (d["tier"] >= 2).astype(float).where(d["tier"].notna())),
}
_CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")
_DAYS_PER_MONTH = 365.25 / 12
def cohort_frame(tables, *, censor_date) -> pd.DataFrame:
    """The explorer's analysis frame: :func:`workbench.cohort.endpoints` of every endpoint with
    the grouping columns the explorer offers.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (from the registry, an export or the sample).
    censor_date : date
        End of follow-up (required: never "today").

    Returns
    -------
    DataFrame
        The columns of ``endpoints`` plus ``event_of_interest`` (1 = the endpoint's event, 0 = any
        other outcome or censored: the cause-specific event of the log-rank tests and Cox models;
        the curves of endpoints with competing outcomes use ``event``), ``tier`` (the tier DECIDED
        on the resident's first screening, as recorded in ``decisions``: a person's override
        counts, the policy is not run again; NaN when nobody decided or nothing was scorable),
        ``overridden`` (the decided tier differs from the suggestion), ``tier_group``
        (``tier_1``...), ``disease_category`` (A, B, C, none; from the same decision),
        ``age_group``, ``chronic`` (``any_chronic`` / ``no_chronic``) and ``living``
        (``lives_alone`` / ``with_others``). ``attrs``: those of ``endpoints`` and
        ``policy_versions`` (every policy the tables' decisions were made under) and
        ``read_at`` (when the tables were read from a registry).

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> frame = cohort_frame(load_sample(), censor_date="2026-12-31")
    >>> sorted(frame["endpoint"].unique()) == sorted(ENDPOINTS)
    True
    >>> sorted(frame["age_group"].unique()), frame.attrs["policy_versions"]
    (['age_18_39', 'age_40_49', 'age_50_59', 'age_60_69', 'age_70_79', 'age_80_plus'], ['default@1.1'])
    """
    from workbench.cohort import endpoints

    frame = endpoints(tables, censor_date=censor_date)
    screened = tables.screenings(("phq9",))
    baseline = screened.sort_values(["resident_id", "assessed_on"], kind="stable").drop_duplicates("resident_id")
    decided = pd.DataFrame({"resident_id": baseline["resident_id"].to_numpy(),
                            "tier": baseline["tier"].astype("Float64").to_numpy(float, na_value=np.nan),
                            "overridden": baseline["overridden"].astype("boolean").array,
                            "disease_category": baseline["disease_category"].astype(object).to_numpy()})
    out = frame.merge(decided, on="resident_id", how="left", validate="many_to_one")
    out["event_of_interest"] = (out["event"] == 1).astype(int)
    out["tier_group"] = out["tier"].map(lambda v: None if pd.isna(v) else f"tier_{int(v)}")
    cuts = [*AGE_BANDS, np.inf]
    names = [f"age_{lo}_{hi - 1}" if np.isfinite(hi) else f"age_{lo}_plus" for lo, hi in zip(cuts[:-1], cuts[1:])]
    out["age_group"] = pd.cut(out["age"].astype(float), cuts, right=False, labels=names).astype(object)
    out["age_group"] = out["age_group"].where(out["age_group"].notna(), None)  # below the first band: no group
    any_chronic = out[list(_CONDITIONS)].astype(bool).any(axis=1)
    out["chronic"] = np.where(any_chronic, "any_chronic", "no_chronic")
    out["living"] = np.where(out["lives_alone"].astype(bool), "lives_alone", "with_others")
    out.attrs.update(frame.attrs)
    out.attrs.update(policy_versions=tables.policy_versions, read_at=tables.attrs.get("read_at"))
    return out


def warm_up_plots() -> str | None:
    """Choose the CJK font and draw one small figure with Chinese text, so the first plot a
    person asks for does not pay for loading fonts (an app calls this before its page is
    requested). Returns the CJK font used, as :func:`workbench.plots.use_cjk_font`.

    Examples
    --------
    >>> warm_up_plots() is None or isinstance(warm_up_plots(), str)
    True
    """
    import matplotlib.pyplot as plt

    from workbench.plots import use_cjk_font

    font = use_cjk_font()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title(t("survival_probability", "zh") + " " + t("survival_probability", "en"))
    ax.set_xticks([0, 1], ["0", "1"])
    fig.tight_layout()
    png_img(fig, alt="", dpi=40)
    return font


def _age_range(data: pd.DataFrame) -> tuple[int, int]:
    """The youngest and oldest age in ``data`` (0-120 when there is nobody)."""
    ages = pd.to_numeric(data["age"], errors="coerce").dropna() if "age" in data else pd.Series(dtype=float)
    return (int(ages.min()), int(ages.max())) if len(ages) else (0, 120)


def _p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.3g}"


def _months(value: float) -> str:
    return f"{value:.1f}" if np.isfinite(value) else "∞"


class KMExplorer(w.VBox):
    """Curves, log-rank tests and Cox hazard ratios for chosen rows of a cohort: Kaplan-Meier for
    death, cumulative incidence (Aalen-Johansen) for endpoints with competing outcomes.

    Parameters
    ----------
    data : DataFrame
        The output of :func:`cohort_frame`.
    lang : {"zh", "en"}
        The language of labels, tables and plots.
    endpoint, grouping : str
        The first choices (from :data:`~workbench.cohort.ENDPOINTS` and :data:`GROUPINGS`).
    covariates : sequence of str
        The first Cox covariates (from :data:`COVARIATES`).
    min_rows : int
        Fewer residents than this after filtering show a message instead of results.
    dpi : int
        Resolution of the plots.
    reload : callable, optional
        Returns a new frame (e.g. :func:`cohort_frame` of the registry's tables read again); when
        given, a Refresh button calls it and redraws with the choices kept
        (:meth:`from_registry` wires it to a registry).

    Attributes
    ----------
    result : dict
        What is shown: ``data`` (the rows analysed), ``n``, ``events``, ``groups`` (per-group
        table), ``logrank`` and ``pairwise`` (DataFrames or None), ``cox`` (a
        :class:`~workbench.survival.CoxModel` or None), ``cox_labels``, and for endpoints with
        competing outcomes ``incidence`` (:func:`workbench.survival.competing_summary` at
        ``horizon`` days, the time marked on the plot; None for death).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> frame = pd.DataFrame({"endpoint": "death", "duration": rng.integers(30, 700, 60),
    ...                       "event_of_interest": rng.integers(0, 2, 60), "sex": ["female", "male"] * 30,
    ...                       "community_type": "urban", "age": rng.integers(40, 90, 60)})
    >>> ex = KMExplorer(frame, lang="en", endpoint="death", grouping="sex", covariates=["age10"], dpi=30)
    >>> ex.result["n"], ex.result["logrank"].columns.tolist()
    (60, ['statistic', 'dof', 'p_value'])
    >>> ex.choose(age=(40, 45)); ex.message.text.startswith("Only")
    True
    >>> ex.age_from.value = 50; ex.message.text
    'The lower age limit (50) is above the upper one (45).'
    """

    @validate_params({"data": FRAME, "endpoint": Options(*ENDPOINTS), "grouping": Options(*GROUPINGS),
                      "covariates": Predicate(lambda v: not isinstance(v, (str, bytes)) and iter(v) is not v
                                              and all(c in COVARIATES for c in v),
                                              f"a list of names among {list(COVARIATES)}"),
                      "reload": Optional(Predicate(callable, "a function returning a frame"))}, name="KMExplorer")
    def __init__(self, data: pd.DataFrame, *, lang: str, endpoint: str = "crisis_or_er", grouping: str = "sex",
                 covariates: Sequence[str] = ("age10", "lives_alone", "hypertension", "diabetes"), min_rows: int = MIN_ROWS,
                 dpi: int = 80, reload: Callable[[], pd.DataFrame] | None = None):
        from workbench.plots import use_cjk_font

        use_cjk_font()
        self.data, self.lang, self.min_rows, self.dpi = data, lang, min_rows, dpi
        self._reload = reload
        self.result: dict = {}
        self._quiet = True
        wide = {"description_width": "initial"}
        self.endpoint = w.Dropdown(options=[(e, e) for e in ENDPOINTS], value=endpoint, style=wide)
        self.grouping = w.Dropdown(options=[(g, g) for g in GROUPINGS], value=grouping, style=wide)
        self.sex = w.Dropdown(options=[("", "all"), ("", "female"), ("", "male")], value="all", style=wide)
        types = sorted(data["community_type"].dropna().unique())
        self.community_type = w.Dropdown(options=[("", "all")] + [(v, v) for v in types], value="all", style=wide)
        low, high = _age_range(data)
        self.age_from = w.BoundedIntText(min=low, max=high, value=low, style=wide, layout=w.Layout(width="16em"))
        self.age_to = w.BoundedIntText(min=low, max=high, value=high, style=wide, layout=w.Layout(width="16em"))
        self.covariates = w.SelectMultiple(options=[(c, c) for c in COVARIATES], value=tuple(covariates), rows=5,
                                           style=wide)
        self.message = FieldMessage()
        self.notes = FieldMessage()
        self.heading = w.HTML()
        self.reload_button = w.Button(icon="refresh", layout=w.Layout(width="auto"))
        self.reload_message = FieldMessage()
        self.figure = w.HTML()
        self.tables = w.HTML()
        self.forest = w.HTML()
        choose = w.VBox([self.endpoint, self.grouping, self.covariates])
        narrow = w.VBox([self.sex, self.community_type, self.age_from, self.age_to])
        choose.layout.margin = "0 2em 0.5em 0"
        controls = w.HBox([choose, narrow], layout=w.Layout(flex_flow="row wrap"))
        controls.add_class("wb-controls")
        top = [self.heading]
        if reload is not None:
            top.append(w.HBox([self.reload_button, self.reload_message], layout=w.Layout(align_items="center")))
        super().__init__([*top, controls, self.message, self.notes, self.figure, self.tables, self.forest])
        self.add_class("wb-explorer")
        self.refresh = guarded(self.message, lambda: self.lang)(self._refresh)
        self.reload_data = guarded(self.reload_message, lambda: self.lang)(self._reload_data)
        self.reload_button.on_click(lambda _: self.reload_data())
        for control in self.controls:
            control.observe(self._on_change, "value")
        self.set_language(lang)

    @classmethod
    def from_registry(cls, registry, *, user: str, lang: str, censor_date, **kwargs) -> "KMExplorer":
        """The explorer on the registry's pseudonymised analysis tables as ``user`` reads them
        (:meth:`~workbench.registry.store.Registry.analysis_tables`, audited), with a Refresh
        button that reads them again: a screening saved meanwhile then shows with its decided tier.
        ``kwargs`` go to the constructor."""
        def read() -> pd.DataFrame:
            return cohort_frame(registry.analysis_tables(as_user=user, pseudonymised=True), censor_date=censor_date)

        return cls(read(), lang=lang, reload=read, **kwargs)

    def set_data(self, data: pd.DataFrame) -> None:
        """Show ``data`` (a new :func:`cohort_frame`) with the person's choices kept where they
        still apply: a community type no longer present goes back to all, an age limit that was
        the old youngest or oldest follows the new one."""
        old_low, old_high = self.age_from.min, self.age_from.max
        low, high = _age_range(data)
        self._quiet = True
        try:
            self.data = data
            types = sorted(data["community_type"].dropna().unique())
            chosen = self.community_type.value if self.community_type.value in types else "all"
            self.community_type.options = [(t("all", self.lang), "all")] + [(t(v, self.lang), v) for v in types]
            self.community_type.value = chosen
            wanted = (low if self.age_from.value == old_low else self.age_from.value,
                      high if self.age_to.value == old_high else self.age_to.value)
            for box in (self.age_from, self.age_to):
                box.min, box.max = min(low, box.min), max(high, box.max)  # widen first, then narrow
            self.age_from.value, self.age_to.value = (min(max(v, low), high) for v in wanted)
            for box in (self.age_from, self.age_to):
                box.min, box.max = low, high
            self.heading.value = f'<p class="wb-note">{html.escape(data_note(data, self.lang))}</p>'
        finally:
            self._quiet = False
        self.refresh()

    def _reload_data(self) -> None:
        import datetime as dt

        self.reload_message.clear()
        data = self._reload()
        self.set_data(data)
        n = data["resident_id"].nunique() if "resident_id" in data else len(data)
        self.reload_message.ok(t("explorer_refreshed", self.lang).format(time=dt.datetime.now().strftime("%H:%M:%S"),
                                                                         n=f"{n:,}"))

    @property
    def controls(self) -> tuple[w.Widget, ...]:
        """Every control, in the order of the page."""
        return (self.endpoint, self.grouping, self.covariates, self.sex, self.community_type, self.age_from, self.age_to)

    def choose(self, *, endpoint: str | None = None, grouping: str | None = None, sex: str | None = None,
               community_type: str | None = None, age: tuple[int, int] | None = None,
               covariates: Sequence[str] | None = None) -> None:
        """Set several controls at once and redraw once (what a person does one control at a time)."""
        self._quiet = True
        try:
            for control, value in ((self.endpoint, endpoint), (self.grouping, grouping), (self.sex, sex),
                                   (self.community_type, community_type)):
                if value is not None:
                    control.value = value
            if covariates is not None:
                self.covariates.value = tuple(covariates)
            if age is not None:
                self.age_from.value, self.age_to.value = age
        finally:
            self._quiet = False
        self.refresh()

    # --- labels ------------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Relabel every control and redraw the results in ``lang``; the choices are kept."""
        self.lang = lang
        self._quiet = True
        try:
            for control, label, options in (
                    (self.endpoint, "endpoint", [(t(f"endpoint_{e}", lang), e) for e in ENDPOINTS]),
                    (self.grouping, "grouping", [(t(key, lang), g) for g, (key, _) in GROUPINGS.items()]),
                    (self.sex, "sex", [(t("all", lang), "all"), (t("female", lang), "female"), (t("male", lang), "male")]),
                    (self.community_type, "community_type",
                     [(t("all", lang), "all")] + [(t(v, lang), v) for _, v in self.community_type.options[1:]]),
                    (self.covariates, "cox_covariates", [(t(key, lang), c) for c, (key, _, _) in COVARIATES.items()])):
                value = control.value
                control.options = options
                control.value = value
                control.description = t(label, lang)
            self.age_from.description = t("age_from", lang)
            self.age_to.description = t("age_to", lang)
            self.heading.value = f'<p class="wb-note">{html.escape(data_note(self.data, lang))}</p>'
            self.reload_button.description = t("explorer_refresh", lang)
            self.reload_button.tooltip = t("explorer_refresh", lang)
        finally:
            self._quiet = False
        self.refresh()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.refresh()

    # --- rows -----------------------------------------------------------------------------------

    def selection(self) -> tuple[pd.DataFrame, list[str]]:
        """The rows the controls choose (endpoint and filters; rows without a group left out)
        and the notes saying what was left out."""
        d = self.data[self.data["endpoint"] == self.endpoint.value]
        if self.sex.value != "all":
            d = d[d["sex"] == self.sex.value]
        if self.community_type.value != "all":
            d = d[d["community_type"] == self.community_type.value]
        low, high = self.age_from.value, self.age_to.value
        d = d[(d["age"] >= low) & (d["age"] <= high)]
        notes = []
        column = GROUPINGS[self.grouping.value][1]
        if column is not None:
            missing = d[column].isna()
            if missing.any():
                what = t(GROUPINGS[self.grouping.value][0], self.lang)
                notes.append(t("left_out_missing", self.lang).format(n=f"{int(missing.sum()):,}", what=what))
                d = d[~missing]
        return d, notes

    def _labels(self, values) -> dict:
        return {v: level_label(self.grouping.value, v, self.lang) for v in values}

    # --- computing and showing -----------------------------------------------------------------

    def _clear(self, notes: list[str]) -> None:
        self.result = {}
        self.figure.value = self.tables.value = self.forest.value = ""
        if notes:
            self.notes.info(" ".join(notes))
        else:
            self.notes.clear()

    def _refresh(self) -> None:
        from workbench import survival

        lang = self.lang
        self.message.clear()
        if self.age_from.value > self.age_to.value:
            self._clear([])
            self.message.error(t("age_order", lang).format(low=self.age_from.value, high=self.age_to.value))
            return
        data, notes = self.selection()
        endpoint = self.endpoint.value
        competing = endpoint in COMPETING
        if competing:
            notes.append(COMPETING[endpoint]["why"][lang])
        n, events = len(data), int(data["event_of_interest"].sum())
        if n < self.min_rows:
            self._clear(notes)
            self.message.error(t("too_few_rows", lang).format(n=n, min=self.min_rows))
            return
        if events == 0:
            self._clear(notes)
            self.message.error(t("no_events", lang).format(n=n, endpoint=t(f"endpoint_{endpoint}", lang)))
            return
        grouping = self.grouping.value
        column = GROUPINGS[grouping][1]
        kw = {"duration": "duration", "event": "event_of_interest"}
        levels = sorted(data[column].unique()) if column else []
        labels = self._labels(levels)
        problems: list[str] = []
        if column is not None and len(levels) < 2:
            problems.append(t("one_group", lang).format(group=", ".join(labels.values())))
            column = None
        by = column if column is not None else None
        what = t(f"endpoint_{endpoint}", lang) + (f" — {t(GROUPINGS[grouping][0], lang)}" if by else "")
        phrase = COMPETING[endpoint]["event"][lang] if competing else ""
        incidence = None
        if competing:
            from workbench.ui._explorer_competing import incidence as draw_incidence

            incidence = draw_incidence(data, endpoint=endpoint, by=by, labels=labels, lang=lang)
            alt = say("cif_alt", lang, what=what, m=incidence["months"])
            figure = png_img(incidence["figure"], alt=alt, dpi=self.dpi)
            rows = [r[:3] for r in incidence["rows"]]
            parts = [incidence["table"]]
        else:
            figure, rows, parts = self._km(data, by, labels, endpoint, what, kw)
        groups = pd.DataFrame(rows, columns=["group", "n", "events", "median_months"][:len(rows[0])])
        logrank = pairwise = None
        if by:
            logrank = survival.logrank(data, group=by, **kw)
            r = logrank.iloc[0]
            caption = say("logrank_cs", lang, event=phrase) if competing else t("logrank_title", lang)
            parts.append(html_table(caption=caption,
                                    header=[t("grouping", lang), t("chi_square", lang), t("dof", lang), t("p_value", lang)],
                                    rows=[[t(GROUPINGS[grouping][0], lang), f"{r['statistic']:.2f}", f"{int(r['dof'])}",
                                           _p(r["p_value"])]]))
            silent = [labels[v] for v, e in data.groupby(by)["event_of_interest"].sum().items() if e == 0]
            if len(levels) > 2 and len(silent) > 1:
                # a pair of groups without events has no log-rank statistic
                notes.append(t("pairwise_not_shown", lang).format(groups=", ".join(silent)))
            elif len(levels) > 2:
                pairwise = survival.logrank_pairwise(data, group=by, **kw)
                parts.append(html_table(
                    caption=say("pairwise_cs", lang, event=phrase) if competing else t("pairwise_title", lang),
                    header=[t("groups_compared", lang), t("chi_square", lang), t("p_value", lang), t("p_adjusted", lang)],
                    rows=[[t("versus", lang).format(a=labels[p.group_a], b=labels[p.group_b]), f"{p.statistic:.2f}",
                           _p(p.p_value), _p(p.p_adjusted)] for p in pairwise.itertuples()]))
        model, cox_labels, cox_html, forest = self._cox(data, by, levels, labels, notes, problems, phrase)
        parts.append(cox_html)
        # the page changes all at once, not a new plot above the old tables
        self.figure.value, self.tables.value, self.forest.value = figure, "".join(parts), forest
        self.notes.info(" ".join([t("residents_events", lang).format(n=f"{n:,}", events=f"{events:,}"), *notes]))
        if problems:
            self.message.error(" ".join(problems))
        self.result = {"data": data, "n": n, "events": events, "groups": groups, "logrank": logrank,
                       "pairwise": pairwise, "cox": model, "cox_labels": cox_labels,
                       "incidence": None if incidence is None else incidence["summary"],
                       "horizon": None if incidence is None else incidence["horizon"]}

    def _km(self, data, by, labels, endpoint, what, kw):
        """Kaplan-Meier curves (an endpoint without competing outcomes: death) and the per-group table."""
        from workbench import survival
        from workbench.plots import km_plot

        lang = self.lang
        fig = km_plot(data, group=by, lang=lang, labels=labels, title=t(f"endpoint_{endpoint}", lang), **kw)
        fig.axes[0].set_ylabel(t(f"km_y_{endpoint}", lang))
        figure = png_img(fig, alt=t("km_alt", lang).format(what=what), dpi=self.dpi)
        rows = []
        for r in survival.km_summary(data, group=by, **kw).itertuples():
            median, low, high = (getattr(r, c) / _DAYS_PER_MONTH for c in ("median", "ci_low", "ci_high"))
            text = t("not_reached", lang) if not np.isfinite(median) else (
                f"{median:.1f} ({_months(low)}–{_months(high)})")
            rows.append([labels[r.group] if by else t("all", lang), f"{r.n:,}", f"{r.events:,}", text])
        table = html_table(caption=t("per_group", lang),
                           header=[t("group", lang), t("count", lang), t("events", lang), t("median_months", lang)],
                           rows=rows)
        return figure, rows, [table]

    def design(self, data: pd.DataFrame, by: str | None, levels: list) -> tuple[pd.DataFrame, dict, list[str]]:
        """The Cox model's columns for ``data``: the chosen covariates and one 0/1 column per
        group other than the first (the reference). Returns the frame (rows with an unknown
        covariate left out), the label of each column and notes on what was left out."""
        lang = self.lang
        frame = data[["duration", "event_of_interest"]].copy()
        labels: dict[str, str] = {}
        notes: list[str] = []
        grouped_as = [c for c in self.covariates.value if by and COVARIATES[c][1] == self.grouping.value]
        if grouped_as:
            notes.append(t("left_out_grouping", lang).format(names=", ".join(t(COVARIATES[c][0], lang) for c in grouped_as)))
        for c in self.covariates.value:
            if c not in grouped_as:
                frame[c] = COVARIATES[c][2](data).to_numpy(float)
                labels[c] = t(COVARIATES[c][0], lang)
        if by:
            names = self._labels(levels)
            for k, level in enumerate(levels[1:], start=1):
                column = f"group_{k}"
                frame[column] = (data[by] == level).astype(float).to_numpy()
                labels[column] = t("vs_reference", lang).format(grouping=t(GROUPINGS[self.grouping.value][0], lang),
                                                               level=names[level], reference=names[levels[0]])
        unknown = frame[list(labels)].isna().any(axis=1)
        if unknown.any():
            what = ", ".join(labels[c] for c in labels if frame[c].isna().any())
            notes.append(t("left_out_missing", lang).format(n=f"{int(unknown.sum()):,}", what=what))
            frame = frame[~unknown]
        constant = [c for c in labels if frame[c].nunique() < 2]
        if constant:
            notes.append(t("left_out_constant", lang).format(names=", ".join(labels[c] for c in constant)))
            frame = frame.drop(columns=constant)
            labels = {c: v for c, v in labels.items() if c not in constant}
        return frame, labels, notes

    def _cox(self, data, by, levels, labels, notes, problems, phrase=""):
        """The Cox model, its table and forest plot (``phrase``: the event of an endpoint with
        competing outcomes, whose hazard ratios are cause-specific). A
        :class:`~workbench.survival.SparseDataWarning` of the fit is caught here: the person sees
        :func:`sparse_warning` once, and nothing reaches the app's output or log."""
        from workbench import survival
        from workbench.plots import forest_plot

        lang = self.lang
        if by:
            no_events = [labels[v] for v, e in data.groupby(by)["event_of_interest"].sum().items() if e == 0]
            if no_events:
                problems.append(t("group_no_events", lang).format(group=", ".join(no_events)))
                return None, {}, "", ""
        frame, cox_labels, extra = self.design(data, by, levels)
        notes.extend(extra)
        if not cox_labels:
            notes.append(t("cox_nothing", lang))
            return None, {}, "", ""
        events = int(frame["event_of_interest"].sum())
        x = frame[list(cox_labels)].to_numpy(float)
        if np.linalg.matrix_rank(np.column_stack([np.ones(len(x)), x])) <= x.shape[1]:
            problems.append(t("cox_redundant", lang).format(names=", ".join(cox_labels.values())))
            return None, {}, "", ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", survival.CoxConvergenceWarning)
            warnings.simplefilter("always", survival.SparseDataWarning)  # recorded, even where warnings are errors
            try:
                model = survival.cox(frame, duration="duration", event="event_of_interest", covariates=list(cox_labels))
            except survival.CoxFitError as err:
                log.info("Cox model could not be fitted", exc_info=True)
                problems.append(cox_fit_message(str(err), cox_labels, lang))
                return None, {}, "", ""
        sparse = sparse_warning(events=events, params=len(cox_labels), lang=lang)  # the fit's warning, in words
        if sparse:
            problems.append(sparse)
        s = model.summary
        warned = [str(c.message) for c in caught if issubclass(c.category, survival.CoxConvergenceWarning)]
        named = [cox_fit_message(w, cox_labels, lang) for w in warned
                 if "converged before" in w and any(f"'{c}'" in w for c in cox_labels)]
        if named:
            problems.extend(dict.fromkeys(named))
        elif warned or not np.isfinite(s[["hr_ci_low", "hr_ci_high"]].to_numpy()).all():
            problems.append(t("cox_unstable", lang))
        rows = [[cox_labels[c], f"{r.hr:.2f}", f"{r.hr_ci_low:.2f}–{r.hr_ci_high:.2f}", _p(r.p_value)]
                for c, r in zip(s.index, s.itertuples())]
        counts = {"n": f"{len(frame):,}", "events": f"{events:,}"}
        caption = say("cox_cs", lang, event=phrase, **counts) if phrase else t("cox_title", lang).format(**counts)
        table = html_table(caption=caption,
                           header=[t("variable", lang), t("hazard_ratio", lang), t("ci95", lang), t("p_value", lang)],
                           rows=rows)
        ax = forest_plot(s, names=cox_labels, lang=lang)
        if phrase:
            ax.set_xlabel(say("forest_cs", lang, event=phrase))
        ax.figure.tight_layout()
        forest = png_img(ax.figure, alt=t("forest_alt", lang), dpi=self.dpi)
        return model, cox_labels, table, forest
