"""The cohort explorer's picture and table for endpoints with competing outcomes (dropout,
remission, crisis or ER visit, cardiovascular event): cumulative incidence by Aalen-Johansen
(:func:`workbench.plots.cif_plot`, :func:`workbench.survival.competing_summary`), never one minus
Kaplan-Meier with the competing outcomes censored. Private: used by :mod:`workbench.ui.explorer`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.cohort import CAUSES
from workbench.i18n import t
from workbench.plots import DAYS_PER_MONTH, MIN_AT_RISK
from workbench.ui._explorer_text import COMPETING, cause_names, html_table, say

__all__ = ["incidence", "months_text"]


def months_text(months: float) -> str:
    """A number of months as shown: whole months without decimals.

    Examples
    --------
    >>> months_text(6.0), months_text(6.25)
    ('6', '6.2')
    """
    return f"{months:.0f}" if abs(months - round(months)) < 1e-9 else f"{months:.1f}"


def _percent(cif: float, low: float, high: float) -> str:
    text = f"{100 * cif:.1f}"
    return f"{text} ({100 * low:.1f}–{100 * high:.1f})" if np.isfinite(low) and np.isfinite(high) else text


def _drawn_until(durations: np.ndarray, events: np.ndarray) -> tuple[float, bool]:
    """Where a group's curve ends: at its last time when nobody is censored after the point where
    fewer than :data:`~workbench.plots.MIN_AT_RISK` remain (every later step is then one person's
    recorded outcome, an exact count, not an estimate from a few), else at that point. Returns the
    day and whether the curve runs to the end."""
    order = np.sort(durations)
    stop = float(order[len(order) - MIN_AT_RISK]) if len(order) >= MIN_AT_RISK else 0.0
    exact = not ((events == 0) & (durations > stop)).any()
    return (float(order[-1]) if exact else stop), exact


def incidence(data: pd.DataFrame, *, endpoint: str, by: str | None, labels: dict, lang: str) -> dict:
    """The cumulative incidence of ``endpoint``'s event by group (with ``by``) or of each of its
    outcomes (without), and the table of how follow-up had ended by a time shown on the plot.

    Parameters
    ----------
    data : DataFrame
        Rows of one endpoint of :func:`workbench.ui.explorer.cohort_frame` (``duration`` in days,
        ``event`` coded as :data:`workbench.cohort.CAUSES`).
    endpoint : str
        A key of :data:`~workbench.ui._explorer_text.COMPETING`.
    by : str or None
        The grouping column.
    labels : dict
        Group value -> its name.
    lang : {"zh", "en"}

    Returns
    -------
    dict
        ``figure`` (matplotlib Figure: curves with gid ``cif:<code>[:<group>]``, the table time as a
        dotted line with gid ``horizon``), ``horizon`` (days: the last whole-unit tick of the time
        axis at which every group's curve is still drawn), ``months`` (the same, as shown),
        ``summary`` (:func:`workbench.survival.competing_summary` at ``horizon``), ``rows`` (the
        table's cells) and ``table`` (HTML).

    Examples
    --------
    >>> d = pd.DataFrame({"duration": [20, 40, 70, 100, 130, 160, 190, 200], "event": [1, 3, 1, 3, 2, 1, 3, 3]})
    >>> out = incidence(d, endpoint="dropout", by=None, labels={}, lang="en")
    >>> out["months"], out["summary"]["cif"].round(3).tolist()  # by day 182.6: 3, 1 and 2 of 8; 2 not yet
    ('6', [0.375, 0.125, 0.25, 0.25])
    >>> import matplotlib.pyplot as plt; plt.close(out["figure"])
    """
    from workbench import survival
    from workbench.plots import cif_plot

    causes = cause_names(endpoint, lang)
    event = CAUSES["event"]
    present = set(pd.to_numeric(data["event"]).unique())
    draw = {c: name for c, name in causes.items() if c in present} if by is None else {event: causes[event]}
    levels = [None] if by is None else sorted(data[by].unique())
    parts = {lv: data if lv is None else data[data[by] == lv] for lv in levels}
    ends = {lv: _drawn_until(p["duration"].to_numpy(float), p["event"].to_numpy(float)) for lv, p in parts.items()}
    exact = all(e for _, e in ends.values())
    fig = cif_plot(data, duration="duration", event="event", causes=draw, group=by, lang=lang, labels=labels,
                   title=t(f"endpoint_{endpoint}", lang) if by is None else "",
                   min_at_risk=1 if exact else MIN_AT_RISK)
    curves, risk = fig.axes[0], fig.axes[1]
    drawn = [end for end, _ in ends.values() if end > 0]
    common = min(drawn) if drawn else float(data["duration"].max())
    ticks = [x for x in risk.get_xticks() if 0 < x * DAYS_PER_MONTH <= common * (1 + 1e-12)]
    horizon = ticks[-1] * DAYS_PER_MONTH if ticks else common
    months = months_text(horizon / DAYS_PER_MONTH)
    curves.axvline(horizon / DAYS_PER_MONTH, color="grey", lw=1, ls=":", gid="horizon")
    # cif_plot ends the axis just after its last tick: show the curves to where they are drawn
    last = max([end for end, _ in ends.values()] + [risk.get_xticks()[-1] * DAYS_PER_MONTH]) / DAYS_PER_MONTH
    curves.set_xlim(-0.03 * last, last * 1.03)
    phrase = COMPETING[endpoint]["event"][lang]
    curves.set_ylabel(say("cif_y", lang, event=phrase) if by is not None else say("cif_y_all", lang))

    # one group at a time: competing_summary(group=) fails for a group without one of the causes
    summaries = {lv: survival.competing_summary(p, duration="duration", event="event", causes=causes, at=horizon)
                 for lv, p in parts.items()}
    summary = summaries[None] if by is None else pd.concat(
        [s.assign(group=lv)[["group", *s.columns]] for lv, s in summaries.items()], ignore_index=True)
    rows = []
    for lv in levels:
        cells = {r.code: r for r in summaries[lv].itertuples()}
        part = parts[lv]
        rows.append([t("all", lang) if lv is None else labels[lv], f"{len(part):,}",
                     f"{int((part['event'] == event).sum()):,}",
                     *[_percent(cells[c].cif, cells[c].ci_low, cells[c].ci_high) for c in causes],
                     _percent(cells[0].cif, np.nan, np.nan)])
    header = [t("group", lang), t("count", lang), t("events", lang),
              *[say("by_months", lang, cause=name, m=months) for name in causes.values()],
              say("none_yet", lang)]
    table = html_table(caption=say("outcomes_title", lang, m=months), header=header, rows=rows)
    return {"figure": fig, "horizon": horizon, "months": months, "summary": summary, "rows": rows, "table": table}
