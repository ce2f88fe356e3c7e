"""Plots that label in Chinese or English, derived from the questionnaire declarations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._fonts import CJK_FONTS, _font_for, png_img, use_cjk_font
from workbench.i18n import t
from workbench.instruments import get_instrument
from workbench.params import TABLES, NonEmptyStr, Options, Predicate, validate_params
from workbench.policy import PSYCH_STATUSES, load_policy
from workbench.survival_plots import (CURVE_KINDS, DAYS_PER_MONTH, MIN_AT_RISK, TIME_UNITS, cif_plot, forest_plot,
                                      km_plot)

__all__ = ["CJK_FONTS", "CURVE_KINDS", "DAYS_PER_MONTH", "DUAL_TRACK_MEASURES", "MIN_AT_RISK", "TIME_UNITS",
           "band_chart", "cif_plot", "dual_track", "forest_plot", "km_plot", "png_img", "proportion_chart",
           "service_matrix_chart", "spc_chart", "use_cjk_font"]


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


def proportion_chart(table: pd.DataFrame, *, by: str, lang: str = "en", title: str = "", ax=None,
                     value: str | None = None, labels: dict | None = None):
    """Horizontal bars of a proportion per level of ``by``, n in the label, with the confidence
    interval as an error bar when the table has ``ci_low`` and ``ci_high`` (as
    :func:`workbench.epi.prevalence` and :func:`workbench.prevalence.screen_positive` give).

    Parameters
    ----------
    table : DataFrame
        One row per level: ``by``, ``n``, the proportion (``value``; default ``prevalence`` when
        present, else ``proportion``), optionally ``ci_low``, ``ci_high``.
    labels : dict, optional
        Level -> label shown (e.g. translated); other levels are shown as they are.

    Examples
    --------
    >>> t = pd.DataFrame({"sex": ["female", "male"], "n": [120, 80], "prevalence": [0.25, 0.15],
    ...                   "ci_low": [0.18, 0.09], "ci_high": [0.33, 0.24]})
    >>> ax = proportion_chart(t, by="sex")
    >>> [float(b.get_width()) for b in ax.patches], ax.get_yticklabels()[0].get_text()
    ([25.0, 15.0], 'female (n=120)')
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    value = value or ("prevalence" if "prevalence" in table.columns else "proportion")
    if table.empty:
        raise ValueError("proportion_chart: the table has no rows: nothing to draw (did a filter leave no one?)"
                         if lang == "en" else "proportion_chart：表格没有任何行，无法作图（是否筛选后没有人？）")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(table) + 1))
    names = [(labels or {}).get(level, level) for level in table[by]]
    shown = [f"{name} (n={n:,})" for name, n in zip(names, table["n"])]
    share = table[value].astype(float) * 100
    error = None
    if {"ci_low", "ci_high"} <= set(table.columns):
        error = [(share - table["ci_low"].astype(float) * 100).clip(lower=0).to_numpy(),
                 (table["ci_high"].astype(float) * 100 - share).clip(lower=0).to_numpy()]
    bars = ax.barh(shown, share, color="#e45756", xerr=error, error_kw={"ecolor": "#333333", "capsize": 3, "lw": 1})
    ax.bar_label(bars, labels=[f"{p:.1f}%" for p in share], fontsize=8, padding=3 if error is None else 14)
    ax.invert_yaxis()
    interval = (" " + ("误差线：95% 置信区间" if lang == "zh" else "bars: 95% CI")) if error is not None else ""
    ax.set_xlabel(t("share", lang) + " (%)" + interval)
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
