"""Run charts and funnel plots of the service-quality indicators, labelled in Chinese or English.

The numbers are computed in :mod:`workbench.spc` and only drawn here:

- :func:`run_chart` draws a series with its median and marks the run-chart rules of Perla,
  Provost & Murray 2011 (BMJ Qual Saf 20:46): a shift (6 or more points on one side of the
  median), a trend (5 or more rising or falling), too few or too many runs
  (:func:`workbench.spc_runs.run_chart_rules`). A run chart needs no limits, so it reads a series too
  short for a control chart.
- :func:`funnel_plot` draws units' proportions (communities) against their denominators, with
  95 % and 99.8 % exact binomial limits around the overall proportion (Spiegelhalter 2005, Stat
  Med 24:1185; :func:`workbench.spc_runs.funnel`), and names the units outside the limits.
- :func:`indicator_run_chart` and :func:`indicator_funnel_plot` take them from
  :func:`workbench.quality.compute`'s result (or the suppressed one,
  :func:`workbench.report.suppress_quality`): months that are too few to judge, hidden or without
  data are gaps, never 0.

Chinese labels switch matplotlib to a CJK font with :func:`workbench.plots.use_cjk_font`. Every
function returns the matplotlib Axes.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = run_chart([4, 6, 4, 6, 4, 6, 8, 7, 8, 7, 8, 7, 5], lang="en", title="Example")
>>> ax.get_title(), ax.texts[-1].get_text().splitlines()[0]
('Example', 'Shift: 6 or more points on one side of the median')
>>> ax = funnel_plot([10, 12, 35, 3], [50, 60, 80, 40], labels=["a", "b", "c", "d"], lang="zh")
>>> ax.texts[-1].get_text()
'超出控制限：c（高于99.8%控制限）；d（低于95%控制限）'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench import spc_runs
from workbench.params import FRAME, Instance, Optional, Options, Predicate, validate_params

__all__ = ["WORDS", "funnel_plot", "indicator_funnel_plot", "indicator_run_chart", "run_chart"]

#: The words drawn, in English and Chinese (kept here: the shared strings file is not this module's).
WORDS = {
    "en": {"median": "Median", "value": "Value", "proportion": "Proportion", "target": "Target",
           "shift": "Shift: {n} or more points on one side of the median",
           "trend": "Trend: {n} or more points rising or falling",
           "too_few_runs": "Too few runs: {runs} (a random series makes {low} to {high})",
           "too_many_runs": "Too many runs: {runs} (a random series makes {low} to {high})",
           "no_signal": "No sign of non-random variation (run chart rules)",
           "too_short": "Fewer than 10 points off the median: read the rules with care",
           "centre": "Overall proportion {value}", "inner": "{level} limits", "outer": "{level} limits",
           "denominator": "Denominator (people counted)",
           "outside": "Outside the limits: {names}", "none_outside": "Every unit within the {level} limits",
           "above": "above the {level} limit", "below": "below the {level} limit", "sep": "; "},
    "zh": {"median": "中位数", "value": "数值", "proportion": "比例", "target": "目标",
           "shift": "偏移：连续{n}个及以上的点在中位数同一侧",
           "trend": "趋势：连续{n}个及以上的点持续上升或下降",
           "too_few_runs": "游程过少：{runs}个（随机波动时应为{low}至{high}个）",
           "too_many_runs": "游程过多：{runs}个（随机波动时应为{low}至{high}个）",
           "no_signal": "未见非随机变化（按游程图规则）",
           "too_short": "中位数以外的点少于10个，规则仅供参考",
           "centre": "总体比例 {value}", "inner": "{level}控制限", "outer": "{level}控制限",
           "denominator": "分母（统计人数）",
           "outside": "超出控制限：{names}", "none_outside": "所有单位都在{level}控制限以内",
           "above": "高于{level}控制限", "below": "低于{level}控制限", "sep": "；"},
}
_LANG = Options("en", "zh")
_AX = Optional(Instance("matplotlib.axes.Axes", name="matplotlib Axes"))
_TEXT = Instance(str, name="a str")
_SERIES = Predicate(lambda v: isinstance(v, (list, tuple, np.ndarray, pd.Series)), "a list, array or Series of numbers")


def _font(lang: str) -> None:
    if lang == "zh":
        from workbench.plots import use_cjk_font

        use_cjk_font()


def _level(level: float) -> str:
    return f"{100 * level:g}%"


def _axes(ax, size: tuple[float, float]):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1] if ax is None else ax


@validate_params({"values": _SERIES, "labels": Optional(_SERIES), "title": _TEXT, "ylabel": Optional(_TEXT),
                  "target": Optional(Predicate(lambda v: isinstance(v, (int, float)), "a number")),
                  "lang": _LANG, "ax": _AX})
def run_chart(values, *, labels=None, title: str = "", ylabel: str | None = None, target: float | None = None,
              lang: str = "zh", ax=None):
    """Draw a run chart: the series, its median, and the Perla-Provost-Murray rules it meets.

    Parameters
    ----------
    values : sequence of numbers
        One per month in time order; a missing value is a gap.
    labels : sequence, optional
        The months' labels (default 0, 1, 2 ...).
    title, ylabel : str
        The title, and the y axis's label (default "Value" / "数值").
    target : float, optional
        Drawn as a dotted line.
    lang : {"zh", "en"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Points in a shift or trend are drawn larger and in colour; the rules met are written beside
        the chart. The numbers are :func:`workbench.spc_runs.run_chart_rules`'s.
    """
    _font(lang)
    w = WORDS[lang]
    rules = spc_runs.run_chart_rules(values, labels=labels)
    ax = _axes(ax, (8, 3.6))
    x = np.arange(len(rules))
    v = rules["value"].to_numpy(float)
    seen = ~np.isnan(v)
    ax.plot(x[seen], v[seen], color="#7f7f7f", lw=1, zorder=2)
    ax.scatter(x, v, s=22, color="#3d3d3d", zorder=3)
    for rule, colour in (("shift", "#ed8b00"), ("trend", "#361475")):
        hit = rules[rule].to_numpy(bool)
        if hit.any():
            ax.scatter(x[hit], v[hit], s=55, facecolors="none", edgecolors=colour, lw=1.6, zorder=4,
                       label=w[rule].format(n=spc_runs.RUN_SHIFT if rule == "shift" else spc_runs.RUN_TREND))
    if seen.any():
        ax.axhline(rules["median"].iloc[0], color="black", lw=1, label=w["median"])
    if target is not None:
        ax.axhline(target, color="#de1b1b", lw=1, ls=":", label=w["target"])
    a = rules.attrs
    lines = [w[r].format(n=spc_runs.RUN_SHIFT if r == "shift" else spc_runs.RUN_TREND, runs=a["runs"], low=a["runs_low"],
                         high=a["runs_high"]) for r in a["rules"]] or [w["no_signal"]]
    if a["useful"] < 10:
        lines.append(w["too_short"])
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.text(1.02, 0.0, "\n".join(lines), transform=ax.transAxes, ha="left", va="bottom", fontsize=8)
    names = [str(s) for s in rules["label"]]
    every = max(1, int(np.ceil(len(names) / 12)))
    ax.set_xticks(x[::every], names[::every], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel if ylabel is not None else w["value"])
    ax.set_title(title)
    return ax


@validate_params({"numerators": _SERIES, "denominators": _SERIES, "labels": Optional(_SERIES), "title": _TEXT,
                  "lang": _LANG, "ax": _AX})
def funnel_plot(numerators, denominators, *, labels=None, title: str = "", lang: str = "zh",
                levels: tuple[float, float] = (0.95, 0.998), ax=None):
    """Draw a funnel plot: each unit's proportion against its denominator, with exact limits.

    Parameters
    ----------
    numerators, denominators : sequence of whole numbers
        One pair per unit (community); a unit with no denominator is left out (never a 0 %).
    labels : sequence, optional
        The units' names: those outside the limits are named on the plot and beside it.
    title : str
    lang : {"zh", "en"}
    levels : (float, float)
        Inner and outer limits (95 % and 99.8 %, Spiegelhalter 2005).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The numbers (limits at each unit, its ``signal``) are :func:`workbench.spc_runs.funnel`'s.
    """
    _font(lang)
    w = WORDS[lang]
    f = spc_runs.funnel(numerators, denominators, labels=labels, levels=levels)
    ax = _axes(ax, (6.5, 4.2))
    known = ~f["value"].isna().to_numpy()
    n_max = float(f.loc[known, "denominator"].max()) if known.any() else 1.0
    grid = np.unique(np.round(np.linspace(1, max(n_max * 1.05, 2), 400)))  # whole denominators: exact limits
    centre = f.attrs["centre"]
    if np.isfinite(centre):
        ax.axhline(centre, color="black", lw=1, label=w["centre"].format(value=_level(round(centre, 4))))
        for level, style, key in ((levels[0], "--", "inner"), (levels[1], ":", "outer")):
            low, high = spc_runs.funnel_limits(grid, centre=centre, level=level)
            ax.plot(grid, high, color="#7f7f7f", ls=style, lw=1, label=w[key].format(level=_level(level)))
            ax.plot(grid, low, color="#7f7f7f", ls=style, lw=1)
    out = f[known & (f["signal"] != "")]
    ax.scatter(f.loc[known, "denominator"], f.loc[known, "value"], s=26, color="#3d3d3d", zorder=3)
    ax.scatter(out["denominator"], out["value"], s=40, color="#de1b1b", zorder=4)
    said = []
    for r in out.itertuples():
        ax.annotate(str(r.label), (r.denominator, r.value), xytext=(4, 4), textcoords="offset points", fontsize=8)
        side, which = r.signal.split("_")
        level = _level(levels[1] if which == "outer" else levels[0])
        said.append(f"{r.label}（{w[side].format(level=level)}）" if lang == "zh"
                    else f"{r.label} ({w[side].format(level=level)})")
    ax.set_xlabel(w["denominator"])
    ax.set_ylabel(w["proportion"])
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    text = (w["outside"].format(names=w["sep"].join(said)) if said
            else w["none_outside"].format(level=_level(levels[0])))
    ax.text(1.02, 0.0, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=8, wrap=True)
    return ax


def _indicator(result: pd.DataFrame, indicator: Any, spec):
    from workbench import quality

    spec = quality.load_indicators(spec if spec is not None else result.attrs.get("indicators"))
    return spec.indicator(indicator if isinstance(indicator, str) else indicator.id)


@validate_params({"result": FRAME, "community": _TEXT, "lang": _LANG, "ax": _AX})
def indicator_run_chart(result: pd.DataFrame, indicator, *, community: str = "all", lang: str = "zh", ax=None,
                        indicators=None):
    """The run chart of one indicator for one community over the months of ``result``.

    Months whose status is not ``ok`` or ``alert`` (too few to judge, hidden, no data) are gaps.
    The target drawn is the latest month's (pro rata early in the programme when declared so).

    Raises
    ------
    KeyError
        When ``result`` has no rows for the indicator and community.
    """
    from workbench import quality_view as view

    ind = _indicator(result, indicator, indicators)
    rows = result[(result["indicator"] == ind.id) & (result["community"] == community)].sort_values("period")
    if rows.empty:
        raise KeyError(f"the result has no rows for indicator {ind.id!r} and community {community!r}")
    usable = rows["status"].isin(("ok", "alert")).to_numpy()
    values = pd.to_numeric(rows["value"], errors="coerce").where(usable).astype(float).to_numpy()
    target = pd.to_numeric(rows["target"], errors="coerce").iloc[-1]
    return run_chart(values, labels=rows["period"].tolist(), title=view.title(ind, lang),
                     ylabel=WORDS[lang]["proportion" if ind.kind == "proportion" else "value"],
                     target=None if pd.isna(target) else float(target), lang=lang, ax=ax)


@validate_params({"result": FRAME, "month": _TEXT, "lang": _LANG, "ax": _AX})
def indicator_funnel_plot(result: pd.DataFrame, indicator, *, month: str, lang: str = "zh", ax=None,
                          indicators=None):
    """The funnel plot of one proportion indicator across the communities in ``month``.

    Communities with a hidden count (suppressed result) or no denominator are left out.

    Raises
    ------
    ValueError
        When the indicator is not a proportion (a funnel compares proportions).
    """
    from workbench import quality_view as view

    ind = _indicator(result, indicator, indicators)
    if ind.kind != "proportion":
        raise ValueError(f"The 'indicator' parameter of indicator_funnel_plot must be a proportion indicator. "
                         f"Got {ind.id!r}, a {ind.kind}, instead.")
    rows = result[(result["indicator"] == ind.id) & (result["period"] == month) & (result["community"] != "all")]
    num = pd.to_numeric(rows["numerator"], errors="coerce").astype(float)
    den = pd.to_numeric(rows["denominator"], errors="coerce").astype(float)
    keep = (num.notna() & den.notna() & (den > 0)).to_numpy()
    return funnel_plot(num[keep].astype(int).tolist(), den[keep].astype(int).tolist(),
                       labels=rows["community"][keep].tolist(), title=f"{view.title(ind, lang)} · {month}",
                       lang=lang, ax=ax)
