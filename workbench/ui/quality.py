"""The quality board's component: service-quality indicators by community and month, alerts
marked in colour *and* words, small counts hidden as in the managers' report.

The board shows :func:`workbench.quality.compute`'s result after
:func:`workbench.report.suppress_quality` (the same small-cell rule as ``workbench report
quality``: counts 1-4 hidden, with complementary cells across the communities of each indicator
and month), filtered by month, community and category in memory.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Sequence

import ipywidgets as w
import numpy as np
import pandas as pd

from workbench.i18n import t
from workbench.quality import CATEGORIES, MEASURES, load_indicators
from workbench.report import suppress_quality
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.explorer import html_table

__all__ = ["QualityBoard", "board_months"]

#: Choice values of the month and community filters that are not one month or community.
EVERY = "*"


def board_months(screenings: pd.DataFrame, *, today: dt.date) -> list[str]:
    """The months (``YYYY-MM``) with screenings, up to and including the month of ``today``.

    Examples
    --------
    >>> import pandas as pd, datetime as dt
    >>> s = pd.DataFrame({"assessed_on": pd.to_datetime(["2025-01-03", "2025-03-09", "2025-05-01"])})
    >>> board_months(s, today=dt.date(2025, 4, 30))
    ['2025-01', '2025-03']
    """
    months = pd.to_datetime(screenings["assessed_on"]).dt.strftime("%Y-%m").unique()
    return sorted(m for m in months if m <= today.strftime("%Y-%m"))


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
        ``suppress_quality(result, min_count=min_count)`` when the app has already computed it
        (it takes about a second per month, so an app does it before the page is requested).

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

    def __init__(self, result: pd.DataFrame, *, lang: str, month: str | None = None, today: dt.date | None = None,
                 min_count: int = 5, indicators=None, suppressed: pd.DataFrame | None = None):
        months = sorted(result["period"].unique())
        if not months:
            raise ValueError("The 'result' parameter of QualityBoard must have at least one month. Got none.")
        if month is not None and month not in months:
            raise ValueError(f"The 'month' parameter of QualityBoard must be one of {months}. Got {month!r} instead.")
        if month is None:
            before = [m for m in months if today is not None and m < today.strftime("%Y-%m")]
            month = before[-1] if before else months[-1]
        self.spec = load_indicators(indicators)
        self.lang, self.min_count = lang, min_count
        self.result = result
        if suppressed is None:
            suppressed = suppress_quality(result, min_count=min_count)
        elif not suppressed.index.equals(result.index) or suppressed.attrs.get("min_count") != min_count:
            raise ValueError("The 'suppressed' parameter of QualityBoard must be suppress_quality(result, "
                             f"min_count={min_count}) of the same result.")
        self.shown = suppressed
        self._order = {ind.id: k for k, ind in enumerate(self.spec.indicators)}
        self._quiet = True
        wide = {"description_width": "initial"}
        self.month = w.Dropdown(options=[(m, m) for m in months] + [("", EVERY)], value=month, style=wide)
        communities = sorted(c for c in result["community"].unique() if c != "all")
        self.community = w.Dropdown(options=[("", "all")] + [(c, c) for c in communities] + [("", EVERY)],
                                    value="all", style=wide)
        present = [c for c in CATEGORIES if c in set(result["category"])]
        self.categories = w.SelectMultiple(options=[(c, c) for c in present], value=tuple(present), rows=len(present),
                                           style=wide)
        self.only_alerts = w.Checkbox(value=False, indent=False)
        self.message = FieldMessage()
        self.alerts = w.HTML()
        self.table = w.HTML()
        self.note = w.HTML()
        where = w.VBox([self.month, self.community, self.only_alerts], layout=w.Layout(margin="0 2em 0.5em 0"))
        filters = w.HBox([where, self.categories], layout=w.Layout(flex_flow="row wrap"))
        filters.add_class("wb-controls")
        super().__init__([filters, self.message, self.alerts, self.table, self.note])
        self.add_class("wb-quality")
        self.refresh = guarded(self.message, lambda: self.lang)(self._refresh)
        for control in (self.month, self.community, self.categories, self.only_alerts):
            control.observe(self._on_change, "value")
        self.set_language(lang)

    # --- labels ----------------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Relabel the filters and redraw the tables in ``lang``; the choices are kept."""
        self.lang = lang
        self._quiet = True
        try:
            for control, label, options in (
                    (self.month, "month", [*self.month.options[:-1], (t("all_months", lang), EVERY)]),
                    (self.community, "community", [(t("all_communities", lang), "all"), *self.community.options[1:-1],
                                                   (t("each_community", lang), EVERY)]),
                    (self.categories, "quality_categories",
                     [(t(f"category_{c}", lang), c) for _, c in self.categories.options])):
                value = control.value
                control.options = options
                control.value = value
                control.description = t(label, lang)
            self.only_alerts.description = t("only_alerts", lang)
            self.note.value = (f'<p class="wb-note">{html.escape(t("quality_note", lang).format(max=self.min_count - 1, min=self.min_count))}</p>'
                               f'<p class="wb-note">{html.escape(t("quality_data_note", lang).format(version=self.spec.version))}</p>')
        finally:
            self._quiet = False
        self.refresh()

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
