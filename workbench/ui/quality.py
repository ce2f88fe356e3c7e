"""The quality board's component: service-quality indicators by community and month, alerts
marked in colour *and* words, small counts hidden as in the managers' report.

The board shows :func:`workbench.quality.compute`'s result on the analysis tables
(:class:`workbench.tables.Tables`) after :func:`workbench.report.suppress_quality` (the same
small-cell rule as ``workbench report quality``: counts 1-4 hidden, with complementary cells
across the communities of each indicator and month), filtered by month, community and category
in memory. The quality app (``notebooks/apps/quality.ipynb``) builds it with
:meth:`QualityBoard.from_registry`: what the analyst or administrator may read of the registry,
pseudonymised, with a *Refresh* button that reads the registry again, so that a screening saved
in the screening app meanwhile (and the tier a person decided on it) is counted.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable, Sequence

import ipywidgets as w
import numpy as np
import pandas as pd

from workbench.i18n import t
from workbench.params import FRAME, Optional, Predicate, check, validate_params
from workbench.quality import CATEGORIES, MEASURES, compute, load_indicators
from workbench.report import data_note, suppress_quality
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.explorer import html_table

__all__ = ["QualityBoard", "board_months", "board_result"]

#: Choice values of the month and community filters that are not one month or community.
EVERY = "*"


def board_months(tables, *, today: dt.date | None) -> list[str]:
    """The months (``YYYY-MM``) with screenings in ``tables`` (:class:`workbench.tables.Tables`),
    up to and including the month of ``today`` (every month when ``today`` is None).

    Examples
    --------
    >>> import pandas as pd, datetime as dt
    >>> from workbench.tables import TABLES, Tables
    >>> a = TABLES["assessments"].empty().reindex(range(4))
    >>> a["assessed_on"] = pd.to_datetime(["2025-01-03", "2025-03-09", "2025-03-10", "2025-05-01"])
    >>> a["purpose"] = pd.array(["screening", "screening", "review", "screening"], dtype="string")
    >>> board_months(Tables(assessments=a), today=dt.date(2025, 4, 30))
    ['2025-01', '2025-03']
    """
    a = tables["assessments"]
    months = a.loc[(a["purpose"] == "screening").fillna(False).to_numpy(bool), "assessed_on"].dt.strftime("%Y-%m")
    last = today.strftime("%Y-%m") if today is not None else "9999-12"
    return sorted(m for m in months.dropna().unique() if m <= last)


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
    return result, suppress_quality(result, min_count=min_count)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


class QualityBoard(w.VBox):
    """Indicators by community and month with their alerts, for programme managers.

    Parameters
    ----------
    result : DataFrame
        The output of :func:`workbench.quality.compute` (any months and communities).
    lang : {"zh", "en"}
        The language of labels and tables.
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

    Examples
    --------
    >>> import pandas as pd
    >>> result = pd.DataFrame({"indicator": ["retention_dropout"] * 2, "category": ["retention"] * 2,
    ...     "community": ["c1", "all"], "period": ["2025-06"] * 2, "numerator": [9.0, 9.0],
    ...     "denominator": [40, 40], "value": [0.225, 0.225], "ci_low": [0.12, 0.12], "ci_high": [0.38, 0.38],
    ...     "target": [0.15] * 2, "status": ["alert", "alert"]})
    >>> board = QualityBoard(result, lang="en")
    >>> board.community.value = "*"
    >>> len(board.alert_rows()), board.table.value.count('<tr class="wb-alert">')
    (2, 2)
    >>> "⚠ alert" in board.alerts.value
    True
    """

    @validate_params({"result": FRAME, "reload": Optional(Predicate(callable, "a function (callable)"))},
                     name="QualityBoard")
    def __init__(self, result: pd.DataFrame, *, lang: str, month: str | None = None, today: dt.date | None = None,
                 min_count: int = 5, indicators=None, suppressed: pd.DataFrame | None = None,
                 reload: Callable[[], Any] | None = None):
        months = sorted(result["period"].unique())
        check("QualityBoard", "result", result, Predicate(lambda _: bool(months), "a result of compute with at least "
                                                                                  "one month"))
        check("QualityBoard", "month", month, Predicate(lambda m: m is None or m in months, f"None or one of {months}"))
        self.spec = load_indicators(indicators)
        self._indicators = indicators
        self.lang, self.min_count, self.today, self._reload = lang, min_count, today, reload
        self._order = {ind.id: k for k, ind in enumerate(self.spec.indicators)}
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
        self.note = w.HTML()
        where = w.VBox([self.month, self.community, self.only_alerts], layout=w.Layout(margin="0 2em 0.5em 0"))
        filters = w.HBox([where, self.categories] + ([self.refresh_button] if reload is not None else []),
                         layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        filters.add_class("wb-controls")
        super().__init__([filters, self.message, self.alerts, self.table, self.note])
        self.add_class("wb-quality")
        self._use(result, suppressed)
        if month is None:
            before = [m for m in months if today is not None and m < today.strftime("%Y-%m")]
            month = before[-1] if before else months[-1]
        self._relabel_choices()
        self.month.value, self.community.value = month, "all"
        self.categories.value = tuple(self._present)
        self.refresh = guarded(self.message, lambda: self.lang)(self._refresh)
        self.reload = guarded(self.message, lambda: self.lang)(self._read_again)
        self.refresh_button.on_click(lambda _: self.reload())
        for control in (self.month, self.community, self.categories, self.only_alerts):
            control.observe(self._on_change, "value")
        self.set_language(lang)

    @classmethod
    def from_tables(cls, tables, *, lang: str, today: dt.date | None = None, month: str | None = None,
                    min_count: int = 5, indicators=None, reload: Callable[[], Any] | None = None) -> "QualityBoard":
        """The board on the analysis tables ``tables`` (:func:`board_result`: the months with
        screenings up to ``today``)."""
        result, suppressed = board_result(tables, today=today, min_count=min_count, indicators=indicators)
        return cls(result, lang=lang, month=month, today=today, min_count=min_count, indicators=indicators,
                   suppressed=suppressed, reload=reload)

    @classmethod
    def from_registry(cls, registry, *, user: str, lang: str, today: dt.date | None = None, min_count: int = 5,
                      indicators=None) -> "QualityBoard":
        """The board on what ``user`` (an analyst or administrator) may read of ``registry``,
        pseudonymised (:meth:`Registry.analysis_tables
        <workbench.registry.store.Registry.analysis_tables>`, audited); *Refresh* reads it again."""
        def read():
            return registry.analysis_tables(as_user=user, pseudonymised=True)

        return cls.from_tables(read(), lang=lang, today=today, min_count=min_count, indicators=indicators, reload=read)

    def _use(self, result: pd.DataFrame, suppressed: pd.DataFrame | None) -> None:
        """Show ``result`` (filters keep their choices where they still apply)."""
        if suppressed is None:
            suppressed = suppress_quality(result, min_count=self.min_count)
        check("QualityBoard", "suppressed", suppressed, Predicate(
            lambda s: s.index.equals(result.index) and s.attrs.get("min_count") == self.min_count,
            f"suppress_quality(result, min_count={self.min_count}) of the same result"))
        self.result, self.shown = result, suppressed
        self._months = sorted(result["period"].unique())
        self._communities = sorted(c for c in result["community"].unique() if c != "all")
        self._present = [c for c in CATEGORIES if c in set(result["category"])]

    def _read_again(self) -> None:
        """Read the tables again (``reload``), recompute and redraw, keeping the filters."""
        if self._reload is None:
            return
        self.message.info(t("quality_reading", self.lang))
        result, suppressed = board_result(self._reload(), today=self.today, min_count=self.min_count,
                                          indicators=self._indicators)
        month, community, categories = self.month.value, self.community.value, self.categories.value
        self._use(result, suppressed)
        self._quiet = True
        try:
            self._relabel_choices()
            self.month.value = month if month in self._months or month == EVERY else self._months[-1]
            self.community.value = community if community in self._communities or community in ("all", EVERY) else "all"
            self.categories.value = tuple(c for c in categories if c in self._present)
        finally:
            self._quiet = False
        self._write_note()
        self.refresh()
        if not self.message.value:
            self.message.ok(t("quality_refreshed", self.lang).format(time=dt.datetime.now().strftime("%H:%M:%S")))

    # --- labels ----------------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Relabel the filters and redraw the tables in ``lang``; the choices are kept."""
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
        finally:
            self._quiet = False
        self._write_note()
        self.refresh()

    def _relabel_choices(self) -> None:
        """The filters' options in the board's language, for the months, communities and
        categories of the result shown (the values chosen are kept where they still exist)."""
        lang = self.lang
        for control, options in (
                (self.month, [(m, m) for m in self._months] + [(t("all_months", lang), EVERY)]),
                (self.community, [(t("all_communities", lang), "all"), *[(c, c) for c in self._communities],
                                  (t("each_community", lang), EVERY)]),
                (self.categories, [(t(f"category_{c}", lang), c) for c in self._present])):
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
        self.note.value = (f'<p class="wb-note">{e(t("quality_note", self.lang).format(max=self.min_count - 1, min=self.min_count))}</p>'
                           f'<p class="wb-note">{e(data_note(self.result.attrs, lang=self.lang, version=self.spec.version))}</p>')

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.refresh()

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
        the indicators, then community (the total first) and month."""
        return self._chosen(alerts_only=self.only_alerts.value)

    def alert_rows(self) -> pd.DataFrame:
        """The alert rows of the chosen month, community and categories (whatever
        ``only_alerts`` says)."""
        return self._chosen(alerts_only=True)

    # --- formatting ------------------------------------------------------------------------------

    def _kind(self, indicator: str) -> str:
        return MEASURES[self.spec.indicator(indicator).measure].kind

    def _value(self, value: Any, kind: str) -> str:
        if _missing(value):
            return "—"
        return f"{100 * float(value):.1f}%" if kind == "proportion" else f"{float(value):.1f} {t('days', self.lang)}"

    def _count(self, value: Any) -> str:
        if _missing(value):
            return t("hidden_count", self.lang).format(min=self.min_count)
        return f"{int(round(float(value))):,}"

    def _community(self, community: str) -> str:
        return t("all_communities", self.lang) if community == "all" else community

    def _status(self, status: str) -> str:
        return t("alert_marker", self.lang) if status == "alert" else t(f"status_{status}", self.lang)

    def _rule(self, indicator: str) -> str:
        ind = self.spec.indicator(indicator)
        side, level = ind.alert
        return t(f"alert_{side}", self.lang).format(level=self._value(level, self._kind(indicator)))

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
                label = self.spec.indicator(r.indicator).label[lang]
                items.append(f'<li><span class="wb-message">{e(t("alert_marker", lang))}</span> {e(label)} — '
                             f'{e(self._community(r.community))}, {e(r.period)}: '
                             f'{e(self._value(r.value, self._kind(r.indicator)))} ({e(self._rule(r.indicator))})</li>')
            self.alerts.value = f'{heading}<ul class="wb-alerts">{"".join(items)}</ul>'
        rows = self.rows()
        if rows.empty:
            self.table.value = ""
            self.message.info(t("no_alerts" if self.only_alerts.value else "no_rows", lang))
            return
        # the community and month columns only when they vary (else the caption says which)
        by_community, by_month = self.community.value == EVERY, self.month.value == EVERY
        body, classes = [], []
        for r in rows.itertuples():
            kind = self._kind(r.indicator)
            if r.status == "no_data":
                numerator = denominator = "—"
            else:
                numerator = self._count(r.numerator) if kind == "proportion" else "—"
                denominator = self._count(r.denominator)
            ci = "—" if _missing(r.ci_low) else f"{self._value(r.ci_low, kind)} – {self._value(r.ci_high, kind)}"
            body.append([self.spec.indicator(r.indicator).label[lang],
                         *([self._community(r.community)] if by_community else []), *([r.period] if by_month else []),
                         numerator, denominator, self._value(r.value, kind), ci,
                         f"{self._value(r.target, kind)} ({self._rule(r.indicator)})", self._status(r.status)])
            classes.append("wb-alert" if r.status == "alert" else "")
        month = t("all_months", lang) if by_month else self.month.value
        community = t("each_community", lang) if by_community else self._community(self.community.value)
        header = ["indicator", *(["community"] if by_community else []), *(["month"] if by_month else []),
                  "numerator", "denominator", "value", "ci95", "target", "status"]
        self.table.value = html_table(caption=t("quality_caption", lang).format(month=month, community=community),
                                      header=[t(k, lang) for k in header], rows=body, row_classes=classes)

    def choose(self, *, month: str | None = None, community: str | None = None,
               categories: Sequence[str] | None = None, only_alerts: bool | None = None) -> None:
        """Set several filters at once and redraw once."""
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
        finally:
            self._quiet = False
        self.refresh()
