"""The quality board's component: the declared service-quality indicators grouped by category,
for one month and community, with their status in colour *and* words, the control chart's
variation, and a control chart of the indicator chosen; small counts hidden as in the managers'
report.

The board shows :func:`workbench.quality.compute`'s result on the analysis tables
(:class:`workbench.tables.Tables`) after :func:`workbench.report.suppress_quality` (the same
small-cell rule as ``workbench report quality``: counts 1-4 hidden, with complementary cells
across the communities of each indicator and month), filtered by month, community and category
in memory. Each row says whether the month is common-cause variation or a special cause on the
indicator's control chart (NHS "Making Data Count", :mod:`workbench.spc`); the chart of the
indicator chosen (a p chart for a proportion, XmR otherwise) is drawn from what the board shows,
so a month with hidden counts is a gap. The indicator's definition (numerator, denominator,
period, alert and source) is shown on demand. The quality app (``notebooks/apps/quality.ipynb``)
builds it with :meth:`QualityBoard.from_registry`: what the analyst or administrator may read of
the registry, pseudonymised, with a *Refresh* button that reads the registry again, so that a
screening saved in the screening app meanwhile (and the tier a person decided on it) is counted.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable, Sequence

import ipywidgets as w
import pandas as pd

from workbench import quality_view as view
from workbench.i18n import t
from workbench.params import FRAME, Optional, Predicate, check, validate_params
from workbench.quality import CATEGORIES, compute, load_indicators, rule_for
from workbench.report import data_note, report_months, suppress_quality
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.explorer import html_table

__all__ = ["QualityBoard", "board_months", "board_result"]

#: Choice values of the month and community filters that are not one month or community.
EVERY = "*"


def board_months(tables, *, today: dt.date | None) -> list[str]:
    """Every month (``YYYY-MM``) from the first screening in ``tables``
    (:class:`workbench.tables.Tables`) to the last one up to and including the month of ``today``
    (every screening when ``today`` is None); a month without screenings in between is kept, so
    the control charts see it as a month.

    Examples
    --------
    >>> import pandas as pd, datetime as dt
    >>> from workbench.tables import TABLES, Tables
    >>> a = TABLES["assessments"].empty().reindex(range(4))
    >>> a["assessed_on"] = pd.to_datetime(["2025-01-03", "2025-03-09", "2025-03-10", "2025-05-01"])
    >>> a["purpose"] = pd.array(["screening", "screening", "review", "screening"], dtype="string")
    >>> board_months(Tables(assessments=a), today=dt.date(2025, 4, 30))
    ['2025-01', '2025-02', '2025-03']
    """
    a = tables["assessments"]
    months = a.loc[(a["purpose"] == "screening").fillna(False).to_numpy(bool), "assessed_on"].dt.strftime("%Y-%m")
    last = today.strftime("%Y-%m") if today is not None else "9999-12"
    months = sorted(m for m in months.dropna().unique() if m <= last)
    if not months:
        return []
    return [str(m) for m in pd.period_range(months[0], months[-1], freq="M")]


def board_result(tables, *, today: dt.date | None = None, min_count: int = 5, indicators=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the board shows of ``tables``: :func:`workbench.quality.compute` for the months of
    :func:`board_months` (the month of ``today`` when there is no screening yet), and its
    :func:`~workbench.report.suppress_quality` copy."""
    months = board_months(tables, today=today)
    if not months:
        if today is None:
            raise ValueError(t("quality_no_screenings", "en"))
        months = [today.strftime("%Y-%m")]
    result = compute(tables, months=months, indicators=indicators)
    return result, suppress_quality(result, min_count=min_count, indicators=indicators)


class QualityBoard(w.VBox):
    """The declared indicators by category for one month and community, with their alerts, the
    control chart's verdict and a control chart, for programme managers.

    Parameters
    ----------
    result : DataFrame
        The output of :func:`workbench.quality.compute` (any months and communities).
    lang : {"zh", "en"}
        The language of labels, tables and the chart.
    month : str, optional
        The first month shown (``YYYY-MM``); by default the last complete month before
        ``today`` when the result has it, else the latest month.
    today : date, optional
        The working day (see :func:`workbench.ui.working_date`).
    min_count : int
        Counts from 1 to ``min_count - 1`` are hidden (as in the report).
    indicators : path or IndicatorSet, optional
        The declarations ``result`` was computed with (default: the shipped ones).
    suppressed : DataFrame, optional
        ``suppress_quality(result, min_count=min_count)`` when the caller has already computed it.
    reload : callable, optional
        Reads the analysis tables again (:class:`workbench.tables.Tables`); with it the board has
        a *Refresh* button that recomputes everything from what it returns, keeping the filters.
        :meth:`from_registry` passes a new read of the registry.
    dpi : int
        Resolution of the control chart.
    map_section : QualityMap, optional
        The community map (:class:`workbench.ui.quality_map.QualityMap`), shown after the chart,
        redrawn on *Refresh* and relabelled with the board.

    Attributes
    ----------
    table : ipywidgets.HTML
        One table per category chosen (heading: the category's declared label).
    chart_indicator : ipywidgets.Dropdown
        The indicator charted; :attr:`chart` holds its control chart (an embedded PNG) for the
        community chosen (all communities when several are shown, or for a programme-level ratio).
    definition_button, definition
        A toggle that shows the charted indicator's definition.

    Examples
    --------
    >>> from workbench import quality
    >>> from workbench.tables import Tables
    >>> board = QualityBoard(quality.compute(Tables(), months="2025-06"), lang="en", dpi=20)
    >>> board.table.value.count("<h3"), len(board.rows()) == len(board.spec.indicators)  # six categories
    (6, True)
    >>> board.choose(chart="C1")
    >>> board.chart_signals.chart.kind, board.chart_signals.variation  # a p chart; one month: too few
    ('p', 'too_few')
    >>> board.definition_button.value = True
    >>> "Numerator" in board.definition.value
    True
    """

    @validate_params({"result": FRAME, "reload": Optional(Predicate(callable, "a function (callable)"))},
                     name="QualityBoard")
    def __init__(self, result: pd.DataFrame, *, lang: str, month: str | None = None, today: dt.date | None = None,
                 min_count: int = 5, indicators=None, suppressed: pd.DataFrame | None = None,
                 reload: Callable[[], Any] | None = None, dpi: int = 80, map_section: w.Widget | None = None):
        months = sorted(result["period"].unique())
        check("QualityBoard", "result", result, Predicate(lambda _: bool(months), "a result of compute with at least "
                                                                                  "one month"))
        check("QualityBoard", "month", month, Predicate(lambda m: m is None or m in months, f"None or one of {months}"))
        self.spec = load_indicators(indicators if indicators is not None else result.attrs.get("indicators"))
        self._indicators = indicators
        self.lang, self.min_count, self.today, self._reload, self.dpi = lang, min_count, today, reload, dpi
        self._order = {ind.id: k for k, ind in enumerate(self.spec.indicators)}
        self._charts: dict[tuple, str] = {}
        self._signals: dict[tuple, Any] = {}
        #: The :class:`workbench.spc.Signals` of the chart shown (None: no chart).
        self.chart_signals = None
        self._quiet = True
        wide = {"description_width": "initial"}
        self.month = w.Dropdown(style=wide)
        self.community = w.Dropdown(style=wide)
        self.categories = w.SelectMultiple(style=wide)
        self.only_alerts = w.Checkbox(value=False, indent=False)
        self.refresh_button = w.Button(icon="refresh", layout=w.Layout(width="auto"))
        self.message = FieldMessage()
        self.alerts = w.HTML()
        self.table = w.HTML()
        self.chart_heading = w.HTML()
        self.chart_indicator = w.Dropdown(style=wide, layout=w.Layout(width="auto"))
        self.definition_button = w.ToggleButton(value=False, icon="info-circle", layout=w.Layout(width="auto"))
        self.definition = w.HTML()
        self.chart = w.HTML()
        self.note = w.HTML()
        where = w.VBox([self.month, self.community, self.only_alerts], layout=w.Layout(margin="0 2em 0.5em 0"))
        filters = w.HBox([where, self.categories] + ([self.refresh_button] if reload is not None else []),
                         layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        filters.add_class("wb-controls")
        chooser = w.HBox([self.chart_indicator, self.definition_button],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        chooser.add_class("wb-controls")
        #: The community map section (None: no map on this board).
        self.map_section = map_section
        super().__init__([filters, self.message, self.alerts, self.table, self.chart_heading, chooser,
                          self.definition, self.chart, *([map_section] if map_section is not None else []), self.note])
        self.add_class("wb-quality")
        self._use(result, suppressed)
        if month is None:
            before = [m for m in months if today is not None and m < today.strftime("%Y-%m")]
            month = before[-1] if before else months[-1]
        self._relabel_choices()
        self.month.value, self.community.value = month, "all"
        self.categories.value = tuple(self._present)
        self.chart_indicator.value = self._first_charted()
        self.refresh = guarded(self.message, lambda: self.lang)(self._refresh)
        self.reload = guarded(self.message, lambda: self.lang)(self._read_again)
        self.redraw_chart = guarded(self.message, lambda: self.lang)(self._draw_chart)
        self.refresh_button.on_click(lambda _: self.reload())
        for control in (self.month, self.community, self.categories, self.only_alerts):
            control.observe(self._on_change, "value")
        self.chart_indicator.observe(self._on_chart_change, "value")
        self.definition_button.observe(lambda _: self._write_definition(), "value")
        self.set_language(lang)

    @classmethod
    def from_tables(cls, tables, *, lang: str, today: dt.date | None = None, month: str | None = None,
                    min_count: int = 5, indicators=None, reload: Callable[[], Any] | None = None,
                    with_map: bool = False, geography: Any = None) -> "QualityBoard":
        """The board on the analysis tables ``tables`` (:func:`board_result`: the months from the
        first screening up to ``today``); ``with_map``: with the community map of the same tables
        on ``geography`` (:func:`workbench.ui.quality_map.load_geography`; None: the section says
        no map is configured)."""
        result, suppressed = board_result(tables, today=today, min_count=min_count, indicators=indicators)
        section = None
        if with_map:
            from workbench.ui.quality_map import QualityMap

            section = QualityMap(tables, lang=lang, geography=geography, min_count=min_count)
        return cls(result, lang=lang, month=month, today=today, min_count=min_count, indicators=indicators,
                   suppressed=suppressed, reload=reload, map_section=section)

    @classmethod
    def from_registry(cls, registry, *, user: str, lang: str, today: dt.date | None = None, min_count: int = 5,
                      indicators=None, with_map: bool = False, geography: Any = None) -> "QualityBoard":
        """The board on what ``user`` (an analyst or administrator) may read of ``registry``,
        pseudonymised (:meth:`Registry.analysis_tables
        <workbench.registry.store.Registry.analysis_tables>`, audited); *Refresh* reads it again
        (and redraws the map, with ``with_map``: see :meth:`from_tables`)."""
        def read():
            return registry.analysis_tables(as_user=user, pseudonymised=True)

        return cls.from_tables(read(), lang=lang, today=today, min_count=min_count, indicators=indicators, reload=read,
                               with_map=with_map, geography=geography)

    def _use(self, result: pd.DataFrame, suppressed: pd.DataFrame | None) -> None:
        """Show ``result`` (filters keep their choices where they still apply)."""
        if suppressed is None:
            suppressed = suppress_quality(result, min_count=self.min_count, indicators=self.spec)
        check("QualityBoard", "suppressed", suppressed, Predicate(
            lambda s: s.index.equals(result.index) and s.attrs.get("min_count") == self.min_count,
            f"suppress_quality(result, min_count={self.min_count}) of the same result"))
        self.result, self.shown = result, suppressed
        self._charts.clear()
        self._signals.clear()
        self._months = sorted(result["period"].unique())
        self._communities = sorted(c for c in result["community"].unique() if c != "all")
        self._present = [c for c in CATEGORIES if c in set(result["category"])]
        self._in_result = set(result["indicator"])

    def _first_charted(self) -> str:
        """The indicator charted first: the first alert of the month for all communities, else
        the first indicator."""
        ids = [i.id for i in self.spec.indicators if i.id in self._in_result]
        r = self.result
        flagged = r[(r["period"] == self.month.value) & (r["community"] == "all") & (r["status"] == "alert")]
        first = [i for i in ids if i in set(flagged["indicator"])]
        return (first or ids)[0]

    def _read_again(self) -> None:
        """Read the tables again (``reload``), recompute and redraw, keeping the filters."""
        if self._reload is None:
            return
        self.message.info(t("quality_reading", self.lang))
        tables = self._reload()
        result, suppressed = board_result(tables, today=self.today, min_count=self.min_count,
                                          indicators=self._indicators)
        month, community, categories = self.month.value, self.community.value, self.categories.value
        charted = self.chart_indicator.value
        self._use(result, suppressed)
        self._quiet = True
        try:
            self._relabel_choices()
            self.month.value = month if month in self._months or month == EVERY else self._months[-1]
            self.community.value = community if community in self._communities or community in ("all", EVERY) else "all"
            self.categories.value = tuple(c for c in categories if c in self._present)
            self.chart_indicator.value = charted if charted in self._in_result else self._first_charted()
        finally:
            self._quiet = False
        self._write_note()
        self.refresh()
        self.redraw_chart()
        if self.map_section is not None:
            self.map_section.update(tables)
        if not self.message.value:
            self.message.ok(t("quality_refreshed", self.lang).format(time=dt.datetime.now().strftime("%H:%M:%S")))

    # --- labels ----------------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Relabel the filters and redraw the tables and the chart in ``lang``; the choices are kept."""
        self.lang = lang
        self._quiet = True
        try:
            self._relabel_choices()
            self.month.description = t("month", lang)
            self.community.description = t("community", lang)
            self.categories.description = t("quality_categories", lang)
            self.only_alerts.description = t("only_alerts", lang)
            self.refresh_button.description = t("quality_refresh", lang)
            self.refresh_button.tooltip = t("quality_refresh_tip", lang)
            self.chart_indicator.description = t("quality_chart_of", lang)
            self.definition_button.description = t("quality_definition", lang)
            self.definition_button.tooltip = t("quality_definition_tip", lang)
            self.chart_heading.value = f"<h2>{html.escape(t('quality_chart_title', lang))}</h2>"
        finally:
            self._quiet = False
        if self.map_section is not None:
            self.map_section.set_language(lang)
        self._write_note()
        self.refresh()
        self.redraw_chart()

    def _relabel_choices(self) -> None:
        """The filters' options in the board's language, for the months, communities, categories
        and indicators of the result shown (the values chosen are kept where they still exist)."""
        lang = self.lang
        for control, options in (
                (self.month, [(m, m) for m in self._months] + [(t("all_months", lang), EVERY)]),
                (self.community, [(t("all_communities", lang), "all"), *[(c, c) for c in self._communities],
                                  (t("each_community", lang), EVERY)]),
                (self.categories, [(view.category_label(self.spec, c, lang), c) for c in self._present]),
                (self.chart_indicator, [(view.title(i, lang), i.id) for i in self.spec.indicators
                                        if i.id in self._in_result])):
            value = control.value
            control.options = options
            values = {v for _, v in options}
            if isinstance(value, tuple):
                control.value = tuple(v for v in value if v in values)
            elif value in values:
                control.value = value
        self.categories.rows = max(len(self._present), 1)

    def _write_note(self) -> None:
        e = html.escape
        hidden = t("quality_note", self.lang).format(max=self.min_count - 1, min=self.min_count)
        source = data_note(self.result.attrs, lang=self.lang, version=self.spec.version)
        self.note.value = (f'<p class="wb-note">{e(t("quality_read_alert", self.lang))}</p>'
                           f'<p class="wb-note">{e(hidden)}</p><p class="wb-note">{e(source)}</p>')

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.refresh()
            if change["owner"] is self.community:
                self.redraw_chart()

    def _on_chart_change(self, change) -> None:
        if not self._quiet:
            self.redraw_chart()

    # --- rows ------------------------------------------------------------------------------------

    def _chosen(self, *, alerts_only: bool) -> pd.DataFrame:
        d = self.shown[self.shown["category"].isin(self.categories.value)]
        if self.month.value != EVERY:
            d = d[d["period"] == self.month.value]
        if self.community.value != EVERY:
            d = d[d["community"] == self.community.value]
        if alerts_only:
            d = d[d["status"] == "alert"]
        key = pd.DataFrame({"i": d["indicator"].map(self._order), "c": d["community"] != "all",
                            "n": d["community"], "p": d["period"]}, index=d.index)
        return d.loc[key.sort_values(["i", "c", "n", "p"]).index]

    def rows(self) -> pd.DataFrame:
        """The rows the filters choose (small counts already hidden), in the declared order of
        the indicators (so by category), then community (the total first) and month."""
        return self._chosen(alerts_only=self.only_alerts.value)

    def alert_rows(self) -> pd.DataFrame:
        """The alert rows of the chosen month, community and categories (whatever
        ``only_alerts`` says)."""
        return self._chosen(alerts_only=True)

    # --- formatting ------------------------------------------------------------------------------

    def _community(self, community: str) -> str:
        return t("all_communities", self.lang) if community == "all" else community

    def _counts(self, r, ind) -> tuple[str, str]:
        """Numerator and denominator cells as the indicator's kind has them."""
        lang, m = self.lang, self.min_count
        if r.status in ("no_data", "not_applicable") or ind.kind == "ratio":
            return "—", "—"
        if ind.kind == "proportion":
            return view.count_text(r.numerator, lang, min_count=m), view.count_text(r.denominator, lang, min_count=m)
        if ind.kind == "mean":
            return "—", view.count_text(r.denominator, lang, min_count=m)
        years = "—" if view.is_missing(r.denominator) else f"{float(r.denominator):,.1f}"
        return view.count_text(r.numerator, lang, min_count=m), years

    # --- showing ---------------------------------------------------------------------------------

    def _refresh(self) -> None:
        lang, e = self.lang, html.escape
        self.message.clear()
        if not self.categories.value:
            self.alerts.value = self.table.value = ""
            self.message.error(t("choose_category", lang))
            return
        flagged = self.alert_rows()
        heading = f"<h2>{e(t('alerts_title', lang))} ({len(flagged)})</h2>"
        if flagged.empty:
            self.alerts.value = f'{heading}<p role="status">{e(t("no_alerts", lang))}</p>'
        else:
            items = []
            for r in flagged.itertuples():
                ind = self.spec.indicator(r.indicator)
                where = self._community(r.community) + ("" if self.month.value != EVERY else f", {r.period}")
                line = view.alert_line(ind, community=where, value=r.value, lang=lang, ci_low=r.ci_low,
                                       ci_high=r.ci_high, confidence=1 - self.result.attrs.get("alpha", 0.05),
                                       alert=rule_for(self.result, ind, r.period)[1])
                items.append(f'<li><span class="wb-message">{e(t("alert_marker", lang))}</span> {e(line)} '
                             f'{e(view.signal_text(r.variation, r.rules, lang))}</li>')
            self.alerts.value = f'{heading}<ul class="wb-alerts">{"".join(items)}</ul>'
        rows = self.rows()
        if rows.empty:
            self.table.value = ""
            self.message.info(t("no_alerts" if self.only_alerts.value else "no_rows", lang))
            return
        # the community and month columns only when they vary (else the caption says which)
        by_community, by_month = self.community.value == EVERY, self.month.value == EVERY
        month = t("all_months", lang) if by_month else self.month.value
        community = t("each_community", lang) if by_community else self._community(self.community.value)
        header = [t(k, lang) for k in ["indicator", *(["community"] if by_community else []),
                                       *(["month"] if by_month else []), "numerator", "denominator", "value",
                                       "ci95", "alert_rule", "status", "variation", "spc_rules_met"]]
        sections = []
        for category in CATEGORIES:
            part = rows[rows["category"] == category]
            if part.empty:
                continue
            label = view.category_label(self.spec, category, lang)
            body, classes = [], []
            for r in part.itertuples():
                ind = self.spec.indicator(r.indicator)
                numerator, denominator = self._counts(r, ind)
                body.append([view.title(ind, lang), *([self._community(r.community)] if by_community else []),
                             *([r.period] if by_month else []), numerator, denominator,
                             view.value_text(r.value, ind, lang), view.interval_text(r.ci_low, r.ci_high, ind, lang),
                             view.alert_text(ind, lang, alert=rule_for(self.result, ind, r.period)[1]),
                             view.status_text(r.status, ind, lang),
                             view.variation_text(r.variation, lang) if isinstance(r.variation, str) and r.variation
                             else "—", view.rules_text(r.rules, lang)])
                classes.append("wb-alert" if r.status == "alert" else
                               "wb-muted" if r.status in ("insufficient", "no_data", "not_applicable") else "")
            caption = t("quality_caption", lang).format(month=month, community=community)
            sections.append(f'<h3 id="wb-quality-{e(category)}">{e(label)}</h3>'
                            + html_table(caption=f"{label} · {caption}", header=header, rows=body,
                                         row_classes=classes))
        self.table.value = "".join(sections)

    def _chart_community(self, ind) -> str:
        c = self.community.value
        return "all" if c in ("all", EVERY) or ind.kind == "ratio" else c

    def _write_definition(self) -> None:
        if not self.definition_button.value or self.chart_indicator.value is None:
            self.definition.value = ""
            return
        self.definition.value = view.definition_html(self.spec.indicator(self.chart_indicator.value), self.lang)

    def _draw_chart(self) -> None:
        """The control chart of the indicator chosen, from what the board shows (hidden counts
        are gaps), cached per indicator, community and language."""
        self._write_definition()
        if self.chart_indicator.value is None:
            self.chart.value = ""
            return
        lang, e = self.lang, html.escape
        ind = self.spec.indicator(self.chart_indicator.value)
        community = self._chart_community(ind)
        key = (ind.id, community, lang)
        if key not in self._charts:
            rows = self.shown[self.shown["indicator"] == ind.id]
            if (rows["status"] == "no_data").all():
                self._charts[key] = f'<p role="status">{e(t("quality_no_chart", lang))}</p>'
            else:
                signals = view.chart_signals(self.shown, ind, community=community, indicators=self.spec)
                self._signals[(ind.id, community)] = signals
                image = view.chart_html(signals, ind, community=community, lang=lang, dpi=self.dpi)
                note = t("quality_chart_community", lang).format(community=self._community(community),
                                                                 first=self._months[0], last=self._months[-1])
                self._charts[key] = (f'<figure class="wb-chart">{image}'
                                     f'<figcaption class="wb-note">{e(note)}</figcaption></figure>')
        self.chart.value = self._charts[key]
        self.chart_signals = self._signals.get((ind.id, community))

    def choose(self, *, month: str | None = None, community: str | None = None,
               categories: Sequence[str] | None = None, only_alerts: bool | None = None,
               chart: str | None = None) -> None:
        """Set several filters (and the indicator charted) at once and redraw once."""
        self._quiet = True
        try:
            if month is not None:
                self.month.value = month
            if community is not None:
                self.community.value = community
            if categories is not None:
                self.categories.value = tuple(categories)
            if only_alerts is not None:
                self.only_alerts.value = only_alerts
            if chart is not None:
                self.chart_indicator.value = chart
        finally:
            self._quiet = False
        self.refresh()
        if community is not None or chart is not None:
            self.redraw_chart()
