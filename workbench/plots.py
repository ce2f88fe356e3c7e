"""Plots that label in Chinese or English, derived from the questionnaire declarations."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager

from workbench.i18n import t
from workbench.instruments import get_instrument
from workbench.params import (TABLES, Instance, Interval, NonEmptyStr, Optional, Options, Predicate, check,
                              validate_params)
from workbench.policy import PSYCH_STATUSES, load_policy

__all__ = ["CURVE_KINDS", "DUAL_TRACK_MEASURES", "MIN_AT_RISK", "TIME_UNITS", "band_chart", "cif_plot", "dual_track",
           "forest_plot", "km_plot", "proportion_chart", "service_matrix_chart", "spc_chart", "use_cjk_font"]

#: CJK fonts tried in order (Debian's fonts-noto-cjk first; scripts/debian-packages.txt).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


def png_img(fig, *, alt: str, dpi: int) -> str:
    """A matplotlib figure as an embedded ``<img>`` (a PNG data URI: nothing fetched) with its text
    alternative; the figure is closed."""
    import base64
    import html
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text; return the font used, or None (with a warning)."""
    available = {f.name for f in font_manager.fontManager.ttflist}
    if not available & set(CJK_FONTS):
        # matplotlib's font cache predates the font's installation: add the system CJK fonts
        for path in font_manager.findSystemFonts():
            if any(tag in path.lower() for tag in ("cjk", "wqy", "wenquanyi")):
                font_manager.fontManager.addfont(path)
        available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in available:
            sans = [n for n in matplotlib.rcParams["font.sans-serif"] if n != name]
            matplotlib.rcParams["font.sans-serif"] = [name, *sans]
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False
            return name
    warnings.warn("No CJK font found: Chinese labels will show as boxes. Install fonts-noto-cjk "
                  "(make run does this on Debian).", stacklevel=2)
    return None


def _font_for(lang: str) -> None:
    """Chinese labels need a CJK font: switch to one (once) before drawing in Chinese."""
    if lang == "zh" and not _CJK_READY:
        _ready_cjk()


_CJK_READY = False


def _ready_cjk() -> None:
    global _CJK_READY
    _CJK_READY = use_cjk_font() is not None


def band_chart(scores: pd.DataFrame, instrument: str, *, lang: str = "en", ax=None):
    """Bar chart of residents per band (and not scorable), bands labelled from the declaration.

    ``scores`` is the output of :func:`workbench.score` (or one questionnaire's columns of
    :func:`workbench.score_all`, prefix removed).
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    inst = get_instrument(instrument)
    counts = scores["band"].value_counts().reindex(inst.band_ids, fill_value=0)
    labels = [inst.band_label(b, lang) for b in inst.band_ids]
    values = list(counts.to_numpy())
    n_missing = int(scores["band"].isna().sum())
    if n_missing:
        labels.append(t("not_scorable", lang))
        values.append(n_missing)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.bar(range(len(values)), values, color=["#4c78a8"] * len(inst.band_ids) + ["#bbbbbb"] * bool(n_missing))
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8)
    ax.set_xticks(range(len(values)), labels, rotation=20, ha="right")
    ax.set_ylabel(t("count", lang))
    ax.set_title(inst.name[lang])
    return ax


def proportion_chart(table: pd.DataFrame, *, by: str, lang: str = "en", title: str = "", ax=None):
    """Horizontal bars of ``table['proportion']`` per level of ``by`` with n in the label."""
    _font_for(lang)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(table) + 1))
    labels = [f"{level} (n={n:,})" for level, n in zip(table[by], table["n"])]
    bars = ax.barh(labels, table["proportion"] * 100, color="#e45756")
    ax.bar_label(bars, labels=[f"{p:.1%}" for p in table["proportion"]], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(t("share", lang) + " (%)")
    ax.set_title(title)
    return ax


def service_matrix_chart(screened: pd.DataFrame, *, policy="default", lang: str = "en", ax=None):
    """Heat map of residents per service-matrix cell (disease category x psychological status).

    ``screened`` is the output of :func:`workbench.screen`; rows with an unknown status are
    counted in the title, never dropped silently.
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    policy = load_policy(policy)
    categories = [c[0] for c in policy.disease_categories]
    table = pd.crosstab(screened["disease_category"], screened["psych_status"]).reindex(
        index=categories, columns=list(PSYCH_STATUSES), fill_value=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    image = ax.imshow(table.to_numpy(), cmap="Oranges")
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(PSYCH_STATUSES)), [t(s, lang) for s in PSYCH_STATUSES])
    ax.set_yticks(range(len(categories)), [c[2][lang] if c[0] == "none" else f"{c[0]} {c[2][lang]}"
                                           for c in policy.disease_categories])
    unknown = int(screened["psych_status"].isna().sum())
    ax.set_title(t("service_matrix", lang) + (f" ({t('unknown', lang)}: {unknown})" if unknown else ""))
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


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


def _risk_table(table, grid, per_unit, rows: list[tuple[str, np.ndarray, str]], lang: str, unit: str,
                min_at_risk: int) -> None:
    """Fill the number-at-risk axes: one row per group, counts AT the tick positions."""
    for k, (name, durations, colour) in enumerate(rows):
        for g, n in zip(grid, _n_at_risk(durations, grid * per_unit)):
            table.text(g, len(rows) - 1 - k, f"{n:,}", ha="center", va="center", color=colour, fontsize=8)
    table.set_ylim(-0.5, len(rows) - 0.5)
    table.set_yticks(range(len(rows)), [name for name, _, _ in reversed(rows)])
    table.set_xticks(grid, [f"{g:g}" for g in grid])
    table.set_xlim(-0.03 * grid[-1], grid[-1] * 1.03)
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
            fun: str | None = None, kind: str | None = None, ylabel: str | None = None):
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
    ax.set_ylim(0, 1.02)
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
              for cause in causes}
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


#: Default names of common covariates: ``(en, zh, unit en, unit zh)``; the unit names the step of
#: ``per=`` ("Age (per 10 years)").
COVARIATE_NAMES = {"age": ("Age", "年龄", "years", "岁"), "age10": (t("cov_age10", "en"), t("cov_age10", "zh"), None, None),
                   "female": (t("cov_female", "en"), t("cov_female", "zh"), None, None),
                   "lives_alone": (t("lives_alone", "en"), t("lives_alone", "zh"), None, None),
                   "hypertension": (t("hypertension", "en"), t("hypertension", "zh"), None, None),
                   "diabetes": (t("diabetes", "en"), t("diabetes", "zh"), None, None),
                   "depressed": ("Depressed (tier 2 or 3)", "抑郁（二级或三级）", None, None),
                   "screen_positive": (t("cov_screen_positive", "en"), t("cov_screen_positive", "zh"), None, None)}
_FOREST_WORDS = {"hr": {"en": "Hazard ratio (log scale)", "zh": "风险比（对数刻度）"},
                 "column": {"en": "HR (95% CI)", "zh": "风险比（95%置信区间）"}}


def _covariate_name(covariate: str, lang: str, names: dict | None, per: float) -> str:
    if names and covariate in names:
        return _say(names[covariate], lang)
    en, zh, unit_en, unit_zh = COVARIATE_NAMES.get(covariate, (covariate, covariate, None, None))
    if per == 1:
        return en if lang == "en" else zh
    if lang == "en":
        return f"{en} (per {per:g} {unit_en or 'units'})"
    return f"{zh}（每增加{per:g}{unit_zh or '个单位'}）"


def forest_plot(summary: pd.DataFrame, *, names: dict | None = None, per: dict | None = None, lang: str = "en",
                title: str = "", ax=None):
    """Forest plot of hazard ratios: plain ticks on a log axis, a line at 1, "HR (95% CI)" per row.

    Parameters
    ----------
    summary : DataFrame
        A Cox model's ``summary`` (:class:`workbench.survival.CoxModel`), indexed by covariate,
        with ``coef``, ``hr``, ``hr_ci_low``, ``hr_ci_high``.
    names : dict, optional
        Covariate -> its row label (text or ``{"zh": ..., "en": ...}``), used as given. Others get
        the workbench's words (``COVARIATE_NAMES``, with the ``per`` step added) or their own name.
    per : dict, optional
        Covariate -> the step the ratio is for: ``{"age": 10}`` draws ``exp(10 coef)`` and its
        interval ``hr_ci_low ** 10``, ``hr_ci_high ** 10`` (= ``exp(10 (coef -/+ z se))``).
    lang : {"en", "zh"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The points (line gid ``forest:hr``, x = ratios, top row first in ``summary`` order) with
        their intervals; texts ``"1.23 (0.98–1.55)"`` beside each row (``"—"`` for an infinite
        interval).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"coef": [0.01, 0.4], "hr": [1.01, 1.49], "hr_ci_low": [0.99, 1.1],
    ...                   "hr_ci_high": [1.03, 2.02]}, index=pd.Index(["age", "female"], name="covariate"))
    >>> ax = forest_plot(s, per={"age": 10})
    >>> [label.get_text() for label in ax.get_yticklabels()]  # top row first
    ['Age (per 10 years)', 'Female (vs male)']
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['0.5', '1', '2', '4']
    """
    check("forest_plot", "lang", lang, _LANGS)
    check("forest_plot", "per", per, Optional(Predicate(
        lambda p: isinstance(p, dict) and all(isinstance(v, (int, float)) and v > 0 for v in p.values()),
        "a dict of covariate -> a step > 0")))
    _font_for(lang)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    steps = np.array([(per or {}).get(c, 1) for c in summary.index], dtype=float)
    with np.errstate(over="ignore"):
        hr = summary["hr"].to_numpy(float) ** steps
        low = summary["hr_ci_low"].to_numpy(float) ** steps
        high = summary["hr_ci_high"].to_numpy(float) ** steps
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(summary) + 1.3))
    y = np.arange(len(summary))[::-1]
    finite = np.isfinite(low) & np.isfinite(high) & (low > 0)
    bars = ax.errorbar(hr, y, xerr=[np.where(finite, hr - low, 0), np.where(finite, high - hr, 0)], fmt="s",
                       color="#1f4e9c", capsize=3)
    bars.lines[0].set_gid("forest:hr")
    ax.axvline(1, color="grey", lw=0.8, ls="--", gid="forest:null")
    ax.set_xscale("log")
    ax.set_yticks(y, [_covariate_name(c, lang, names, s) for c, s in zip(summary.index, steps)])
    ax.set_ylim(-0.7, len(summary) - 0.3)
    bounds = np.concatenate([[1], hr[np.isfinite(hr)], low[finite], high[finite]])
    lo, hi = bounds.min(), bounds.max()
    doubling = [2.0 ** k for k in range(-10, 11)]
    decades = [10.0 ** k for k in range(-4, 5)]
    choices = doubling if hi / lo <= 64 else decades
    ticks = [v for v in choices if lo / 1.5 <= v <= hi * 1.5] or [1]
    below, above = [v for v in choices if v < min(ticks)], [v for v in choices if v > max(ticks)]
    ticks = ([below[-1]] if below and len(ticks) < 3 else []) + ticks + ([above[0]] if above and len(ticks) < 3 else [])
    ax.set_xlim(min(ticks) / 1.15, max(ticks) * 1.15)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(_FOREST_WORDS["hr"][lang])
    side = ax.get_yaxis_transform()
    for yy, h, a, b, ok in zip(y, hr, low, high, finite):
        text = f"{h:.2f} ({a:.2f}–{b:.2f})" if ok and np.isfinite(h) else "—"
        ax.text(1.02, yy, text, transform=side, va="center", ha="left", fontsize=9, gid="forest:text")
    ax.text(1.02, len(summary) - 0.4, _FOREST_WORDS["column"][lang], transform=side, va="bottom", ha="left",
            fontsize=9, fontweight="bold")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax


#: Point colours of the MDC variation icons (grey common cause, blue improvement, orange concern,
#: purple when neither direction is better), as the MDC tools draw them (NHSRplotthedots defaults).
SPC_COLOURS = {"common_cause": "#a6a6a6", "special_cause_improvement": "#00b0f0",
               "special_cause_concern": "#e46c0a", "special_cause_neutral_high": "#490092",
               "special_cause_neutral_low": "#490092"}


def spc_chart(chart, *, title: str = "", lang: str = "zh", ax=None):
    """Draw a control chart (:mod:`workbench.spc`) the way Making Data Count charts look.

    ``chart`` is an :class:`~workbench.spc.SPCChart` (drawn with neutral colours) or the
    :class:`~workbench.spc.Signals` of :func:`~workbench.spc.special_causes` (points coloured by
    their variation icon, the target drawn). Months without data are breaks in the line; a chart
    with too few months shows no limits and says so. Words come from ``spc_rules.yaml`` in
    ``lang`` (``"zh"`` or ``"en"``). Returns the axes.
    """
    from workbench.params import Instance, Optional, Options, check
    from workbench.spc import Signals, SPCChart, special_causes

    check("spc_chart", "chart", chart, Instance(SPCChart, Signals, name="an SPCChart (workbench.spc.p_chart or "
                                                "xmr_chart) or its Signals (workbench.spc.special_causes)"))
    check("spc_chart", "title", title, Instance(str, name="a str"))
    check("spc_chart", "lang", lang, Options("en", "zh"))
    check("spc_chart", "ax", ax, Optional(Instance("matplotlib.axes.Axes", name="matplotlib Axes")))
    _font_for(lang)
    import matplotlib.pyplot as plt

    signals = chart if isinstance(chart, Signals) else special_causes(chart)
    spc, rules = signals.chart, signals.chart.rules
    points = spc.points
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(points))
    values = points["value"].to_numpy(float)
    ax.plot(x, values, color=SPC_COLOURS["common_cause"], lw=1.2, zorder=2)
    variation = signals.points["variation"]
    colours = [SPC_COLOURS.get(v, SPC_COLOURS["common_cause"]) if isinstance(v, str) else SPC_COLOURS["common_cause"]
               for v in variation]
    ax.scatter(x, values, c=colours, s=28, zorder=3)
    if spc.status == "ok":
        step = "mid" if spc.kind == "p" else None
        draw = (lambda y, **kw: ax.step(x, y, where=step, **kw)) if step else (lambda y, **kw: ax.plot(x, y, **kw))
        draw(points["centre"].to_numpy(float), color="black", lw=1, label=rules.chart_label("centre", lang))
        draw(points["upper"].to_numpy(float), color="#7f7f7f", lw=1, ls="--", label=rules.chart_label("limits", lang))
        draw(points["lower"].to_numpy(float), color="#7f7f7f", lw=1, ls="--")
        if signals.target is not None:
            ax.axhline(signals.target, color="#de1b1b", lw=1, ls=":", label=rules.chart_label("target", lang))
        words = [rules.variation_label(signals.variation, lang)]
        if signals.assurance is not None:
            words.append(rules.assurance_label(signals.assurance, lang))
        # beside the plot, not on it: a proportion near 100 % or a high value is never hidden
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        words = [rules.variation_label("too_few", lang)]
    ax.text(1.02, 0.0, "\n".join(words), transform=ax.transAxes, ha="left", va="bottom", fontsize=8, zorder=4)
    labels = [str(v) for v in points["label"]]
    every = max(1, int(np.ceil(len(labels) / 12)))
    ax.set_xticks(x[::every], labels[::every], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(rules.chart_label("proportion" if spc.kind == "p" else "value", lang))
    ax.set_title(title)
    return ax



#: What the upper panel of :func:`dual_track` can show; ``sbp`` draws both blood pressures.
DUAL_TRACK_MEASURES = ("sbp", "fasting_glucose", "random_glucose", "hba1c")
#: The questionnaires of the lower panel.
DUAL_TRACK_QUESTIONNAIRES = ("phq9", "gad7")


def _two_axes(ax) -> bool:
    return ax is None or (len(ax) == 2 and all(hasattr(a, "plot") for a in ax))


def _measure_name(measure: str, lang: str) -> str:
    from workbench._declarations import measures as _measures

    return _measures()["measures"][measure][lang].split("（")[0].split(" (")[0]


def _targets(tables, resident_id: str, measure: str, policy) -> list[tuple[str, dict, list]]:
    """The control targets in force at the resident's follow-ups for the condition whose readings
    hold ``measure``: ``(text, {measure: bound}, dates)`` per target, in date order. Which target
    applies (age, recorded conditions) is the policy's decision, read from
    :func:`workbench.chronic.classify`; the bounds are the policy's."""
    from workbench.chronic import classify, load_chronic_policy

    policy = load_chronic_policy(policy)
    conditions = [c for c in policy.conditions.values() if measure in c.measures]
    if not conditions:
        return []
    readings = tables.measurements[tables.measurements["resident_id"] == resident_id]
    residents = tables.residents[tables.residents["resident_id"] == resident_id]
    if readings.empty or residents.empty:
        return []
    rows = classify(readings, residents, policy=policy)
    out: dict[str, tuple[str, dict, list]] = {}
    for condition in conditions:
        mine = rows[rows["condition"] == condition.id].sort_values("measured_on")
        by_text = {target.text(): target for target in condition.targets}
        for text, day in zip(mine["target"], mine["measured_on"]):
            target = by_text.get(text)
            if target is None:
                continue
            out.setdefault(text, (text, dict(target.below), []))[2].append(pd.Timestamp(day))
    return sorted(out.values(), key=lambda entry: min(entry[2]))


@validate_params({"tables": TABLES, "resident_id": NonEmptyStr(), "measure": Options(*DUAL_TRACK_MEASURES),
                  "lang": Options("zh", "en"),
                  "ax": Predicate(_two_axes, "None or two matplotlib Axes (upper, lower) sharing their x axis")})
def dual_track(tables, resident_id: str, *, measure: str = "sbp", lang: str = "zh", policy="default", ax=None):
    """The programme's dual-track record (血糖监测-情绪记录双轨管理表) of one resident: a physical
    measure and the PHQ-9 / GAD-7 totals over time, on two stacked panels sharing the time axis.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (``measurements``, ``scores``, ``residents``).
    resident_id : str
        The resident; must be in ``tables.residents``.
    measure : {"sbp", "fasting_glucose", "random_glucose", "hba1c"}
        The upper panel: ``sbp`` draws systolic and diastolic pressure, the others one measure,
        in the stored unit of ``workbench/data/measurements.yaml``.
    lang : {"zh", "en"}
        Labels' language (Chinese needs a CJK font: chosen as the other plots do).
    policy : str, path, mapping or ChronicPolicy
        The chronic-care policy whose control targets are drawn (:func:`workbench.chronic.load_chronic_policy`).
        The target in force at each follow-up is the one :func:`workbench.chronic.classify`
        applies (e.g. < 150/90 mmHg from 80 years without diabetes or kidney disease); a measure
        the policy sets no target for (HbA1c, random glucose) has none drawn.
    ax : pair of Axes, optional
        Upper and lower panel to draw on (sharing x); by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Upper axes: one line per measure (dates and values of the readings that have it; a blank
        reading is left out, never drawn as 0) and one horizontal line per target bound. Lower
        axes: one line per questionnaire (stored totals; an unscorable one is left out) and its
        declared screen-positive threshold (``Instrument.screen_positive``).
    """
    _font_for(lang)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from workbench.params import sentence

    if not (tables.residents["resident_id"] == resident_id).any():
        raise ValueError(sentence("dual_track", "resident_id", "a resident of the tables", resident_id))
    from workbench._declarations import measures as _measures

    units = {m: d["unit"] for m, d in _measures()["measures"].items()}
    drawn = ("sbp", "dbp") if measure == "sbp" else (measure,)
    if ax is None:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.5, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        top, bottom = ax
        fig = top.figure
    colours = {"sbp": "#a3000b", "dbp": "#1f4e9c", "fasting_glucose": "#8a5300", "random_glucose": "#8a5300",
               "hba1c": "#5a3d8a", "phq9": "#135e1e", "gad7": "#7a4b00"}
    readings = tables.measurements[tables.measurements["resident_id"] == resident_id].sort_values("measured_on")
    label = t("blood_pressure", lang) if measure == "sbp" else _measure_name(measure, lang)
    any_reading = False
    for name in drawn:
        have = readings[readings[name].notna()]
        if have.empty:
            continue
        any_reading = True
        top.plot(pd.to_datetime(have["measured_on"]), have[name].astype("float64").to_numpy(), marker="o",
                 color=colours[name], label=f"{_measure_name(name, lang)} ({units[name]})", gid=f"reading:{name}")
    for text, bounds, days in _targets(tables, resident_id, measure, policy):
        for name, bound in bounds.items():
            if name in drawn:
                top.axhline(bound, color=colours[name], linestyle="--", linewidth=1.2,
                            label=f"{t('target_line', lang).format(text=text)}: {_measure_name(name, lang)}",
                            gid=f"target:{name}")
    if not any_reading:
        top.text(0.5, 0.5, t("no_readings", lang), transform=top.transAxes, ha="center", va="center")
    top.set_ylabel(f"{label} ({units[drawn[0]]})")
    top.set_title(t("dual_track_title", lang).format(measure=label, resident=resident_id))
    if top.get_legend_handles_labels()[0]:
        top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

    scores = tables.scores[(tables.scores["resident_id"] == resident_id)
                           & tables.scores["instrument"].isin(DUAL_TRACK_QUESTIONNAIRES)]
    any_score = False
    for inst_id in DUAL_TRACK_QUESTIONNAIRES:
        inst = get_instrument(inst_id)
        mine = scores[(scores["instrument"] == inst_id) & scores["score"].notna()].sort_values("assessed_on")
        short = inst.name[lang].rsplit("（" if "（" in inst.name[lang] else "(", 1)[-1].rstrip("）)")
        if not mine.empty:
            any_score = True
            bottom.plot(pd.to_datetime(mine["assessed_on"]), mine["score"].astype("float64").to_numpy(), marker="s",
                        color=colours[inst_id], label=short, gid=f"score:{inst_id}")
        if inst.screen_positive is not None:
            bottom.axhline(inst.screen_positive, color=colours[inst_id], linestyle=":", linewidth=1.2,
                           label=t("screen_positive_line", lang).format(name=short, threshold=inst.screen_positive),
                           gid=f"threshold:{inst_id}")
    if not any_score:
        bottom.text(0.5, 0.5, t("no_questionnaires", lang), transform=bottom.transAxes, ha="center", va="center")
    bottom.set_ylim(0, max(get_instrument(i).score_max for i in DUAL_TRACK_QUESTIONNAIRES) + 1)
    bottom.set_ylabel(t("questionnaire_total", lang))
    bottom.set_xlabel(t("date", lang))
    if bottom.get_legend_handles_labels()[0]:
        bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    if not any_reading:
        top.set_yticks([])
    if any_reading or any_score:
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    else:  # nothing dated: no time axis to show
        bottom.set_xticks([])
    for label_ in bottom.get_xticklabels():
        label_.set_rotation(20)
        label_.set_horizontalalignment("right")
    fig.tight_layout()
    return fig
