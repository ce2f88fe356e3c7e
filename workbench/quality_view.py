"""How the quality indicators read to staff, in Chinese and English: values by kind, statuses in
words, alert rules, the control chart's variation words, each indicator's definition and its
control chart as an image. The quality board (:mod:`workbench.ui.quality`) and the monthly report
(:mod:`workbench.report`) both use these, so a word is written once.

Every rule shown is derived from the declaration (:func:`workbench.quality.load_indicators`): the
alert level, the target and whether it is a site setting, the period, which way is better, the
fewest units to judge and the source. The variation and rule words are the ones declared in
``workbench/data/spc_rules.yaml`` (:func:`workbench.spc.load_rules`).

Examples
--------
>>> from types import SimpleNamespace as NS
>>> ind = NS(id="C1", kind="proportion", alert=("above", 0.15), target=0.15, setting=False, parameters={})
>>> value_text(0.2251, ind, "en"), alert_text(ind, "zh")
('22.5%', '高于 15.0% 预警')
>>> status_text("insufficient", ind, "zh"), status_text("ok", NS(alert=None), "en")
('数量过少，无法判断', 'Report only')
>>> variation_text("special_cause_concern", "en")
'Special cause variation: concern'
>>> signal_text("", "", "en")
'Too few months with data to tell noise from a signal.'
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from workbench.i18n import t
from workbench.spc import load_rules

__all__ = ["alert_line", "alert_text", "category_label", "chart_html", "chart_signals", "count_text", "definition",
           "definition_html", "indicator_table", "interval_text", "is_missing", "rules_text", "signal_text",
           "status_class", "status_text", "target_text", "title", "value_text", "variation_text"]


def is_missing(value: Any) -> bool:
    """A blank cell: None, ``<NA>``, NaN (a hidden count or a value not defined)."""
    if value is None or value is pd.NA:
        return True
    try:
        return bool(np.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def _per(indicator) -> int:
    """The rate's unit: ``per`` person-years (declared with the indicator)."""
    per = getattr(indicator, "per", None) or (getattr(indicator, "parameters", None) or {}).get("per")
    return int(per) if per else 1000


def value_text(value: Any, indicator, lang: str) -> str:
    """A value as staff read it: a proportion in %, a ratio with two decimals, a rate per the
    declared ``per`` person-years, a mean with one decimal; ``—`` when blank."""
    if is_missing(value):
        return "—"
    v = float(value)
    kind = indicator.kind
    if kind == "proportion":
        return f"{100 * v:.1f}%"
    if kind == "ratio":
        return f"{v:.2f}"
    if kind == "rate":
        return f"{v:.1f} {t('rate_per', lang).format(per=f'{_per(indicator):,}')}"
    return f"{v:.1f}"


def interval_text(low: Any, high: Any, indicator, lang: str) -> str:
    """``low – high`` in the value's units (the rate's unit once), ``—`` when blank."""
    if is_missing(low) or is_missing(high):
        return "—"
    if indicator.kind == "rate":
        return f"{float(low):.1f} – {float(high):.1f}"
    return f"{value_text(low, indicator, lang)} – {value_text(high, indicator, lang)}"


def count_text(value: Any, lang: str, *, min_count: int, hidden: str | None = None) -> str:
    """A count with thousands separators; a blank count is a hidden one: ``hidden``, by default
    the board's words (``<5`` / ``少于5``). Person-years (not whole) keep one decimal.

    >>> count_text(1234.0, "en", min_count=5), count_text(None, "zh", min_count=5)
    ('1,234', '少于5')
    >>> count_text(None, "zh", min_count=5, hidden="<5"), count_text(21.4, "en", min_count=5)
    ('<5', '21.4')
    """
    if is_missing(value):
        return t("hidden_count", lang).format(min=min_count) if hidden is None else hidden
    v = float(value)
    return f"{v:,.1f}" if not v.is_integer() else f"{int(v):,}"


def title(indicator, lang: str) -> str:
    """``A1 Screening coverage``: the id of the programme's list, then the label."""
    return f"{indicator.id} {indicator.label[lang]}"


def category_label(spec, category: str, lang: str) -> str:
    """The category's label declared in the indicators' YAML."""
    return spec.categories[category][lang]


def status_class(status: str, indicator) -> str:
    """The CSS class of a row: its status, or ``report_only`` for an ``ok`` row of an indicator
    without an alert rule."""
    return "report_only" if status == "ok" and indicator.alert is None else status


def status_text(status: str, indicator, lang: str) -> str:
    """The status in words (an alert carries the ⚠ mark, so it is not told by colour alone)."""
    if status == "alert":
        return t("alert_marker", lang)
    return t(f"status_{status_class(status, indicator)}", lang)


def _share(level: float) -> str:
    return f"{100 * level:g}%"


def alert_text(indicator, lang: str, *, alert: tuple[str, float] | None = None) -> str:
    """The declared alert rule in words (``report only`` when there is none); ``alert``: the rule
    applied in a month when it differs (a pro-rata target, :func:`workbench.quality.rule_for`)."""
    rule = indicator.alert if alert is None else alert
    if rule is None:
        return t("alert_none", lang)
    side, level = rule
    if side == "rise_above":
        from workbench import quality

        return t("alert_rise_above", lang).format(share=_share(level), months=getattr(quality, "RISE_MONTHS", 12))
    return t(f"alert_{side}", lang).format(level=value_text(level, indicator, lang))


def target_text(indicator, lang: str) -> str:
    """The target, and whether it is a programme default a site sets."""
    if indicator.target is None or is_missing(indicator.target):
        return "—"
    text = value_text(indicator.target, indicator, lang)
    if getattr(indicator, "setting", False):
        text += f" ({t('quality_setting', lang)})" if lang == "en" else f"（{t('quality_setting', lang)}）"
    return text


def variation_text(variation: Any, lang: str) -> str:
    """The Making Data Count variation icon in words (``spc_rules.yaml``); blank: no limits."""
    if not isinstance(variation, str) or not variation:
        return t("no_variation", lang)
    return load_rules().variation_label(variation, lang)


def rules_text(rules: Any, lang: str, *, sep: str = "; ") -> str:
    """The special-cause rules met (``"outside_limits,shift"``) in words; ``""`` for none."""
    if not isinstance(rules, str) or not rules:
        return ""
    declared = load_rules()
    return sep.join(declared.rule_label(r, lang) for r in rules.split(",") if r)


def signal_text(variation: Any, rules: Any, lang: str) -> str:
    """Whether an alert is noise (common cause) or a signal (special cause), in a sentence."""
    if not isinstance(variation, str) or not variation:
        return t("signal_too_few", lang)
    if variation.startswith("special_cause_neutral"):
        key = "signal_special_cause_neutral"
    else:
        key = f"signal_{variation}"
    return t(key, lang).format(rules=rules_text(rules, lang, sep="; " if lang == "en" else "；"))


_WHOLE_INTERVAL = {"en": "{level:g}% interval {interval}, all of it beyond the level",
                   "zh": "{level:g}%置信区间 {interval}，整个区间都越过预警线"}


def alert_line(indicator, *, community: str, value: Any, lang: str, ci_low: Any = None, ci_high: Any = None,
               confidence: float = 0.95, alert: tuple[str, float] | None = None) -> str:
    """One alert in a sentence: the indicator, where, the value and the rule broken; with
    ``ci_low``/``ci_high``, the interval that lies wholly beyond the level (an alert needs that,
    :func:`workbench.quality.status_of`); ``alert``: the rule applied that month if not the declared one.

    >>> from types import SimpleNamespace as NS
    >>> ind = NS(id="C1", label={"en": "Dropout", "zh": "脱落率"}, kind="proportion", alert=("above", 0.15))
    >>> alert_line(ind, community="c1", value=0.2, lang="en"), alert_line(ind, community="c1", value=0.2, lang="zh")
    ('C1 Dropout — c1: 20.0% (alert above 15.0%).', 'C1 脱落率 — c1：20.0%（高于 15.0% 预警）。')
    >>> alert_line(ind, community="c1", value=0.3, ci_low=0.219, ci_high=0.396, lang="en")
    'C1 Dropout — c1: 30.0% (alert above 15.0%; 95% interval 21.9% – 39.6%, all of it beyond the level).'
    >>> alert_line(ind, community="c1", value=0.3, ci_low=0.219, ci_high=0.396, lang="zh")
    'C1 脱落率 — c1：30.0%（高于 15.0% 预警；95%置信区间 21.9% – 39.6%，整个区间都越过预警线）。'
    """
    what, rule = value_text(value, indicator, lang), alert_text(indicator, lang, alert=alert)
    if not (is_missing(ci_low) or is_missing(ci_high)):
        rule += ("；" if lang == "zh" else "; ") + _WHOLE_INTERVAL[lang].format(
            level=100 * confidence, interval=interval_text(ci_low, ci_high, indicator, lang))
    if lang == "zh":
        return f"{title(indicator, lang)} — {community}：{what}（{rule}）。"
    return f"{title(indicator, lang)} — {community}: {what} ({rule})."


def definition(indicator, lang: str) -> list[tuple[str, str]]:
    """(what, words) pairs of the declaration: numerator, denominator, period, which way is
    better, alert, target, fewest to judge, source."""
    period = getattr(indicator, "period", None)
    direction = getattr(indicator, "direction", None)
    rows = [(t("definition_numerator", lang), indicator.numerator[lang]),
            (t("definition_denominator", lang), indicator.denominator[lang])]
    if period:
        rows.append((t("definition_period", lang), t(f"period_{period}", lang)))
    if direction:
        rows.append((t("definition_direction", lang), t(f"direction_{direction}", lang)))
    rows += [(t("definition_alert", lang), alert_text(indicator, lang)),
             (t("definition_target", lang), target_text(indicator, lang)),
             (t("definition_minimum", lang), t("min_denominator_text", lang).format(n=indicator.min_denominator)),
             (t("definition_source", lang), indicator.source)]
    return rows


def definition_html(indicator, lang: str) -> str:
    """The definition as an HTML description list (escaped)."""
    e = html.escape
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in definition(indicator, lang))
    return f'<dl class="wb-definition" aria-label="{e(title(indicator, lang))}">{items}</dl>'




def chart_signals(result: pd.DataFrame, indicator, *, community: str = "all", indicators=None):
    """The indicator's control chart for ``community`` over the months of ``result``
    (:func:`workbench.quality.control_chart`: a p chart for a proportion, XmR otherwise, with the
    declared direction and target), as :class:`workbench.spc.Signals`.

    ``result`` is what the reader may see: the board and the report pass the suppressed result
    (:func:`workbench.report.suppress_quality`), so a month with hidden counts is a gap (blank
    counts and value), and the centre line and limits come from the months shown only: nothing
    hidden can be worked out from the chart.
    """
    from workbench.quality import control_chart

    return control_chart(result, indicator.id, community=community,
                         **({"indicators": indicators} if indicators is not None else {}))


def chart_html(signals, indicator, *, community: str = "all", lang: str = "en", figsize: tuple[float, float] = (8, 3.6),
               dpi: int = 80) -> str:
    """A control chart (:func:`chart_signals`) drawn by :func:`workbench.plots.spc_chart` in
    ``lang`` (legend and verdict included) as an embedded PNG (``<img src="data:...">``: nothing
    is fetched), with a text alternative naming the indicator, the community, the months and the
    latest month's variation."""
    import matplotlib.pyplot as plt

    from workbench.plots import png_img, spc_chart

    fig, ax = plt.subplots(figsize=figsize)
    spc_chart(signals, title=title(indicator, lang), lang=lang, ax=ax)
    labels = [str(x) for x in signals.points["label"]]
    where = t("all_communities", lang) if community == "all" else community
    alt = t("quality_chart_alt", lang).format(indicator=title(indicator, lang), community=where,
                                              first=labels[0] if labels else "", last=labels[-1] if labels else "",
                                              variation=load_rules().variation_label(signals.variation, lang))
    return png_img(fig, alt=alt, dpi=dpi)


def indicator_table(result: pd.DataFrame, *, month: str, community: str = "all", lang: str = "en",
                    indicators=None) -> pd.DataFrame:
    """The indicators of ``month`` for ``community`` in words, one row per declared indicator in
    report order (by category): ``category, indicator, numerator, denominator, value, ci, alert,
    status, variation, rules`` (``alert``: the rule applied that month, pro rata early in the
    programme when the indicator declares it). Pass the suppressed result (:func:`workbench.report.suppress_quality`)
    when the table leaves the team: a hidden count reads ``<5``.
    """
    from workbench.quality import load_indicators, rule_for

    spec = load_indicators(indicators if indicators is not None else result.attrs.get("indicators"))
    min_count = int(result.attrs.get("min_count", 5))
    rows = result[(result["period"] == month) & (result["community"] == community)].set_index("indicator")
    out = []
    for ind in spec.indicators:
        if ind.id not in rows.index:
            continue
        r = rows.loc[ind.id]
        quiet = r["status"] in ("no_data", "not_applicable") or ind.kind == "ratio"
        def count(v):
            return "—" if quiet else count_text(v, lang, min_count=min_count, hidden=f"<{min_count}")
        out.append({"category": category_label(spec, ind.category, lang), "indicator": title(ind, lang),
                    "numerator": "—" if ind.kind == "mean" else count(r["numerator"]),
                    "denominator": ("—" if quiet or is_missing(r["denominator"]) else f"{float(r['denominator']):,.1f}")
                    if ind.kind == "rate" else count(r["denominator"]),
                    "value": value_text(r["value"], ind, lang),
                    "ci": interval_text(r["ci_low"], r["ci_high"], ind, lang),
                    "alert": alert_text(ind, lang, alert=rule_for(result, ind, month)[1]), "status": status_text(r["status"], ind, lang),
                    "variation": variation_text(r.get("variation"), lang) if isinstance(r.get("variation"), str)
                    and r.get("variation") else "—",
                    "rules": rules_text(r.get("rules"), lang)})
    return pd.DataFrame(out, columns=["category", "indicator", "numerator", "denominator", "value", "ci", "alert",
                                      "status", "variation", "rules"])
