"""Survival plots to survminer's standard, labelled in Chinese or English: Kaplan-Meier curves
(:func:`km_plot`) and cumulative incidence with competing outcomes (:func:`cif_plot`), each with a
number-at-risk table counted at its whole-unit ticks (as R's ``summary(survfit, times=)``), and
the Cox forest plot (:func:`forest_plot`). Offered from :mod:`workbench.plots` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.i18n import t
from workbench.params import Instance, Interval, Optional, Options, Predicate, validate_params
from workbench._fonts import _font_for
from workbench._forest import COVARIATE_NAMES, forest_plot

__all__ = ["COVARIATE_NAMES", "CURVE_KINDS", "DAYS_PER_MONTH", "MIN_AT_RISK", "TIME_UNITS", "cif_plot", "forest_plot",
           "km_plot"]

DAYS_PER_MONTH = 365.25 / 12

#: Days per unit of the time axis of :func:`km_plot` and :func:`cif_plot` (``duration`` is in days).
TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": 365.25}
_UNIT_WORDS = {"days": {"en": "Days", "zh": "天"}, "weeks": {"en": "Weeks", "zh": "周"},
               "months": {"en": "Months", "zh": "月"}, "years": {"en": "Years", "zh": "年"}}
#: The y-axis words of each kind of curve (``kind=`` of :func:`km_plot`).
CURVE_KINDS = {"survival": {"en": "Survival probability", "zh": "生存概率"},
               "event_free": {"en": "Proportion free of the event", "zh": "未发生该事件的比例"},
               "still_in_care": {"en": "Proportion still in care", "zh": "仍在服务中的比例"},
               "cumulative_incidence": {"en": "Cumulative incidence", "zh": "累积发生率"}}
#: Curves stop where fewer than this many people are at risk: below 5, one event moves the curve by
#: 20 % or more, so the tail shows chance, not the service (survminer users cut it with ``xlim``).
MIN_AT_RISK = 5
_WORDS = {"empty": {"en": "{function}: the data have no rows, so there is nothing to plot. The subset chosen "
                          "(filters, endpoint or group) is empty: check it or widen it.",
                    "zh": "{function}：数据中没有任何记录，无法作图。所选的子集（筛选条件、终点或分组）为空，请检查或放宽条件。"},
          "stops": {"en": "curves stop below {m} at risk", "zh": "风险人数少于 {m} 时曲线不再延伸"}}
_LANGS = Options("en", "zh")


def _say(words: dict | str, lang: str) -> str:
    return words if isinstance(words, str) else words[lang]


def _level_label(level, lang: str, labels: dict | None, group: str | None) -> str:
    """A group's name: ``labels[level]`` (text, or ``{"zh": ..., "en": ...}``), else the workbench's
    words for common levels (sex, tiers 1-3, trial arms, yes/no), else the level as written."""
    if labels and level in labels:
        return _say(labels[level], lang)
    if isinstance(level, (bool, np.bool_)) or level in ("yes", "no"):
        return t("yes" if level in (True, "yes") else "no", lang)
    if level in ("female", "male"):
        return t(level, lang)
    if level in ("intervention", "usual_care"):
        return t(f"arm_{level}", lang)
    text = str(level)
    if text in ("tier_1", "tier_2", "tier_3"):
        return t(text, lang)
    if group is not None and "tier" in group and text.removesuffix(".0") in ("1", "2", "3"):
        return t(f"tier_{text.removesuffix('.0')}", lang)
    return text


def _empty(data: pd.DataFrame, function: str, lang: str) -> None:
    if len(data) == 0:
        raise ValueError(_WORDS["empty"][lang].format(function=function))


#: Tick steps the time axis may take, per unit (months by quarters, halves and whole years).
_STEPS = {"months": (1, 2, 3, 6, 12, 24, 60, 120), "weeks": (1, 2, 4, 8, 13, 26, 52, 104, 260),
          "days": (1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730, 1826), "years": (1, 2, 5, 10, 20, 50)}


def _time_ticks(horizon: float, ticks: int, break_by: float | None, unit: str) -> np.ndarray:
    """Whole-unit tick positions from 0 to the last time: ``break_by`` apart, else the smallest step
    of ``_STEPS`` giving at most ``ticks`` intervals."""
    if break_by is None:
        break_by = next((step for step in _STEPS[unit] if horizon // step <= ticks), _STEPS[unit][-1])
    grid = np.arange(0, max(horizon, break_by) + break_by * 1e-9, break_by)
    return grid if horizon >= break_by else grid[:2]


def _n_at_risk(durations: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Number at risk at each time (days): entered and not yet exited before it (duration >= t), as
    R's ``summary(survfit(...), times=, extend=TRUE)$n.risk``."""
    return len(durations) - np.searchsorted(np.sort(durations), days, side="left")


def _stop_day(durations: np.ndarray, min_at_risk: int) -> float:
    """The last time (days) at which at least ``min_at_risk`` are at risk: the ``min_at_risk``-th
    longest duration (0 when the group is smaller)."""
    if len(durations) < min_at_risk:
        return 0.0
    return float(np.sort(durations)[len(durations) - min_at_risk])


def _no_events(data: pd.DataFrame, duration: str, group: str | None) -> pd.DataFrame:
    """The cumulative incidence of a cause nobody had: 0 until the last time (no interval)."""
    parts = [(None, data)] if group is None else list(data.groupby(group, sort=True, observed=True))
    rows = [{**({} if level is None else {"group": level}), "time": float(part[duration].max()), "cif": 0.0,
             "ci_low": np.nan, "ci_high": np.nan} for level, part in parts]
    return pd.DataFrame(rows)


def _risk_table(table, grid, per_unit, rows: list[tuple[str, np.ndarray, str]], lang: str, unit: str,
                min_at_risk: int) -> None:
    """Fill the number-at-risk axes: one row per group, counts AT the tick positions; the time axis
    runs to the longest follow-up (the last tick may come before it)."""
    for k, (name, durations, colour) in enumerate(rows):
        for g, n in zip(grid, _n_at_risk(durations, grid * per_unit)):
            table.text(g, len(rows) - 1 - k, f"{n:,}", ha="center", va="center", color=colour, fontsize=8)
    table.set_ylim(-0.5, len(rows) - 0.5)
    table.set_yticks(range(len(rows)), [name for name, _, _ in reversed(rows)])
    table.set_xticks(grid, [f"{g:g}" for g in grid])
    right = max(grid[-1], max((float(np.max(d)) / per_unit for _, d, _ in rows if len(d)), default=grid[-1]))
    table.set_xlim(-0.03 * right, right * 1.03)
    table.set_xlabel(t("months", lang) if unit == "months" else _UNIT_WORDS[unit][lang])
    note = _WORDS["stops"][lang].format(m=min_at_risk) if min_at_risk > 1 else ""
    note = (f"（{note}）" if lang == "zh" else f" ({note})") if note else ""
    table.set_title(t("number_at_risk", lang) + note, fontsize=9, loc="left")
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    table.tick_params(left=False)


def _band(ax, x, y, low, high, colour, label, gid):
    ax.step(x, y, where="post", color=colour, label=label, gid=gid)
    ax.fill_between(x, low, high, step="post", color=colour, alpha=0.15, linewidth=0, gid=f"band:{gid}")


_PLOT_RULES = {"data": Instance("pandas.DataFrame", name="a pandas DataFrame"), "lang": _LANGS,
               "time_unit": Options(*TIME_UNITS), "min_at_risk": Interval(int, 1, None),
               "ticks": Interval(int, 1, None), "break_by": Optional(Interval("real", 0, None, closed="neither"))}


@validate_params({**_PLOT_RULES, "fun": Optional(Options("event")), "kind": Optional(Options(*CURVE_KINDS))})
def km_plot(data: pd.DataFrame, *, duration: str, event: str, group: str | None = None, lang: str = "en",
            title: str = "", ci: str = "log-log", labels: dict | None = None, ticks: int = 6,
            time_unit: str = "months", break_by: float | None = None, min_at_risk: int = MIN_AT_RISK,
            fun: str | None = None, kind: str | None = None, ylabel: str | None = None,
            ylim: tuple[float, float] | None = None):
    """Kaplan-Meier curves as survminer draws them.

    Confidence bands, censor ticks, median lines, the log-rank p on the plot and the
    number-at-risk table under the curves, counted AT the whole-unit ticks of the time axis.

    Parameters
    ----------
    data : DataFrame
        One row per person; ``duration`` in days, ``event`` 1 = event, 0 = censored.
    duration, event, group : str
        Columns; ``group`` draws one curve per level.
    lang : {"en", "zh"}
        Language of every word on the figure.
    title : str
    ci : {"log-log", "log"}
        The interval of :func:`workbench.survival.km`.
    labels : dict, optional
        Level -> its name, as text or ``{"zh": ..., "en": ...}``. Levels not given are named by the
        workbench when common (female/male, tiers 1-3, intervention/usual_care, yes/no booleans)
        and written as they are otherwise.
    ticks : int
        About how many intervals the time axis has (whole units), unless ``break_by`` is given.
    time_unit : {"months", "days", "weeks", "years"}
        Unit of the time axis (a month is ``DAYS_PER_MONTH`` days, a year 365.25).
    break_by : float, optional
        Distance between ticks in ``time_unit`` (survminer's ``break.time.by``).
    min_at_risk : int
        Each curve stops at the last time at least this many are at risk (default ``MIN_AT_RISK``
        = 5: below 5 a single event moves the curve by 20 % or more). 1 draws the whole curve.
        The at-risk table always shows the true numbers.
    fun : {None, "event"}
        ``"event"`` draws 1 - S (the cumulative incidence), as survminer's ``fun = "event"``.
    kind : {"survival", "event_free", "still_in_care", "cumulative_incidence"}, optional
        Which words the y axis uses (``CURVE_KINDS``); default ``"survival"``, or
        ``"cumulative_incidence"`` with ``fun="event"``.
    ylabel : str, optional
        The y-axis label itself (overrides ``kind``).
    ylim : (float, float), optional
        The y-axis range (default 0 to 1), e.g. ``(0, 0.1)`` for rare events drawn with
        ``fun="event"``.

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0: curves (line gid ``curve:<level>``, ``curve:all`` without groups); axes 1: the
        number at risk (texts), whose x tick labels equal their positions.

    Raises
    ------
    ValueError
        When ``data`` has no rows (in ``lang``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [20, 40, 70, 100, 130, 160], "event": [1, 0, 1, 1, 0, 1]})
    >>> fig = km_plot(d, duration="days", event="event", min_at_risk=1)
    >>> [label.get_text() for label in fig.axes[1].get_xticklabels()]
    ['0', '1', '2', '3', '4', '5']
    >>> [text.get_text() for text in fig.axes[1].texts]
    ['6', '5', '4', '3', '2', '1']
    """
    _empty(data, "km_plot", lang)
    _font_for(lang)
    import matplotlib.pyplot as plt

    from workbench.survival import km, km_summary, logrank

    per_unit = TIME_UNITS[time_unit]
    kind = kind or ("cumulative_incidence" if fun == "event" else "survival")
    fig, (ax, table) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [4, 1.1]})
    curves = km(data, duration=duration, event=event, group=group, ci=ci)
    medians = km_summary(data, duration=duration, event=event, group=group, ci=ci)
    groups = [None] if group is None else list(curves["group"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    grid = _time_ticks(data[duration].max() / per_unit, ticks, break_by, time_unit)
    rows = []
    for k, level in enumerate(groups):
        part = curves if level is None else curves[curves["group"] == level]
        subset = data if level is None else data[data[group] == level]
        durations = subset[duration].to_numpy(float)
        name = t("all", lang) if level is None else _level_label(level, lang, labels, group)
        colour = colours[k % len(colours)]
        rows.append((name, durations, colour))
        stop = _stop_day(durations, min_at_risk)
        part = part[part["time"] <= stop]
        x = np.concatenate([[0], part["time"].to_numpy(float) / per_unit])
        surv = np.concatenate([[1], part["survival"]])
        low = np.concatenate([[1], part["ci_low"].fillna(part["survival"])])
        high = np.concatenate([[1], part["ci_high"].fillna(part["survival"])])
        if fun == "event":
            surv, low, high = 1 - surv, 1 - high, 1 - low
        _band(ax, x, surv, low, high, colour, name, f"curve:{'all' if level is None else level}")
        censored = part["censored"].to_numpy() > 0
        ax.plot(x[1:][censored], surv[1:][censored], "|", color=colour, markersize=8)
        median = medians["median"].iloc[k]
        if np.isfinite(median) and median <= stop:
            m = median / per_unit
            ax.plot([0, m, m], [0.5, 0.5, 0], ls=":", color=colour, lw=1)
    if group is not None and len(groups) > 1:
        p = logrank(data, duration=duration, event=event, group=group)["p_value"].iloc[0]
        ax.text(0.02, 0.05 if fun != "event" else 0.9,
                f"{t('logrank_p', lang)} = {p:.3g}" if p >= 1e-4 else f"{t('logrank_p', lang)} < 0.0001",
                transform=ax.transAxes)
        ax.legend(frameon=False)
    ax.set_ylim(*(ylim if ylim is not None else (0, 1.02)))
    ax.set_ylabel(ylabel if ylabel is not None else CURVE_KINDS[kind][lang])
    ax.set_title(title)
    _risk_table(table, grid, per_unit, rows, lang, time_unit, min_at_risk)
    fig.tight_layout()
    return fig


@validate_params({**_PLOT_RULES, "causes": Predicate(lambda c: isinstance(c, dict) and len(c) > 0,
                                                     "a non-empty dict of cause code -> name")})
def cif_plot(data: pd.DataFrame, *, duration: str, event: str, causes: dict, group: str | None = None,
             lang: str = "en", title: str = "", labels: dict | None = None, stacked: bool = False,
             time_unit: str = "months", ticks: int = 6, break_by: float | None = None,
             min_at_risk: int = MIN_AT_RISK, ax=None):
    """Cumulative incidence of competing causes (Aalen-Johansen), with the number at risk.

    Parameters
    ----------
    data : DataFrame
        One row per person; ``duration`` in days; ``event`` 0 = censored, else a cause code.
    causes : dict
        Cause code -> its name (text or ``{"zh": ..., "en": ...}``), in drawing order, e.g.
        ``{1: "Dropout", 2: "Completed care"}``.
    group : str, optional
        Without it, one panel with a curve per cause (with its 95 % band), or, ``stacked=True``,
        the causes piled on each other (the top line is the incidence of any cause; no bands).
        With it, one panel per cause side by side, a curve per group, each with its own at-risk
        table.
    labels, lang, title, time_unit, ticks, break_by, min_at_risk
        As :func:`km_plot`.
    ax : sequence of (curves Axes, table Axes), optional
        One pair per panel; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Curves have gid ``cif:<cause>`` (and ``:<level>`` per group); the x and y of each line are
        ``time / unit`` and ``cif`` of :func:`workbench.survival.cumulative_incidence`, from 0.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"days": [20, 40, 70, 100, 130, 160], "event": [1, 2, 1, 0, 2, 1]})
    >>> fig = cif_plot(d, duration="days", event="event", causes={1: "Crisis", 2: "Death first"}, min_at_risk=1)
    >>> [line.get_gid() for line in fig.axes[0].get_lines()]
    ['cif:1', 'cif:2']
    """
    _empty(data, "cif_plot", lang)
    _font_for(lang)
    import matplotlib.pyplot as plt

    from workbench.survival import cumulative_incidence

    per_unit = TIME_UNITS[time_unit]
    n_panels = 1 if group is None else len(causes)
    if ax is None:
        fig, axes = plt.subplots(2, n_panels, figsize=(7 * n_panels ** 0.75, 5.2), sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": [4, 1.1]})
        pairs = [(axes[0, i], axes[1, i]) for i in range(n_panels)]
    else:
        pairs = [tuple(pair) for pair in ax]
        if len(pairs) != n_panels:
            raise ValueError(f"cif_plot: ax must hold {n_panels} (curves, table) pair(s); got {len(pairs)}.")
        fig = pairs[0][0].figure
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    grid = _time_ticks(data[duration].max() / per_unit, ticks, break_by, time_unit)
    levels = [None] if group is None else sorted(data[group].unique())
    subsets = {lv: data if lv is None else data[data[group] == lv] for lv in levels}
    stops = {lv: _stop_day(s[duration].to_numpy(float), min_at_risk) for lv, s in subsets.items()}
    curves = {cause: cumulative_incidence(data, duration=duration, event=event, cause=cause, group=group)
              if (data[event] == cause).any() else _no_events(data, duration, group) for cause in causes}
    for p, (curve_ax, table) in enumerate(pairs):
        below = None
        for k, cause in enumerate(causes if group is None else [list(causes)[p]]):
            for j, level in enumerate(levels):
                c = curves[cause] if level is None else curves[cause][curves[cause]["group"] == level]
                c = c[c["time"] <= stops[level]]
                x = np.concatenate([[0], c["time"].to_numpy(float) / per_unit])
                y = np.concatenate([[0], c["cif"]])
                colour = colours[(k if group is None else j) % len(colours)]
                name = _say(causes[cause], lang) if group is None else _level_label(level, lang, labels, group)
                gid = f"cif:{cause}" + ("" if level is None else f":{level}")
                if stacked and group is None:
                    base = np.zeros_like(y) if below is None else below[1][
                        np.clip(np.searchsorted(below[0], x, side="right") - 1, 0, len(below[0]) - 1)]
                    curve_ax.step(x, base + y, where="post", color=colour, label=name, gid=gid)
                    curve_ax.fill_between(x, base, base + y, step="post", color=colour, alpha=0.35, linewidth=0)
                    below = (x, base + y)
                else:
                    low = np.concatenate([[0], c["ci_low"].fillna(0)])
                    high = np.concatenate([[0], c["ci_high"].fillna(0)])
                    _band(curve_ax, x, y, low, high, colour, name, gid)
        curve_ax.set_ylim(0, 1.02 if stacked else max(0.1, min(1.02, curve_ax.get_ylim()[1] * 1.1)))
        curve_ax.set_ylabel(CURVE_KINDS["cumulative_incidence"][lang])
        curve_ax.set_title(title if group is None else (f"{title}: " if title else "")
                           + _say(causes[list(causes)[p]], lang))
        curve_ax.legend(frameon=False, loc="upper left")
        rows = [(t("all", lang) if lv is None else _level_label(lv, lang, labels, group),
                 subsets[lv][duration].to_numpy(float),
                 "black" if group is None else colours[j % len(colours)]) for j, lv in enumerate(levels)]
        _risk_table(table, grid, per_unit, rows, lang, time_unit, min_at_risk)
    fig.tight_layout()
    return fig
