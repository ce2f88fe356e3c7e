"""Standalone HTML reports for managers: one file, inline CSS and images, no script, no code shown.

:func:`write_quality_report` computes :func:`workbench.quality.compute` on the analysis tables
(:class:`workbench.tables.Tables`: from a registry, an export folder or the sample) over the months
up to the one reported (the control charts need the months before it) and renders it
(``workbench report quality`` calls it): all the declared indicators grouped by category, each
with its definition, a small control chart of all communities (an embedded PNG: nothing is
fetched when the file is opened) and a table of the communities with their status and the
control chart's variation; every alert says whether it is noise (common cause variation) or a
signal (special cause). Counts from 1 to ``min_count - 1`` (default 5) are hidden with
:func:`workbench.epi.suppress` (with its complementary suppression across the communities of each
indicator) *before* anything is rendered, the charts included; a value and interval that would
reveal a hidden count are hidden with it. The report says where the data come from and which
stepped-care policy versions the tier decisions in them were made under. Given a geography, a
"Community map" section (:mod:`workbench.report_map`) shows the static maps of need, distance and
blind spots and the ranked blind-spot table, with the same ``min_count``; without one, a note says
no map is configured.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import quality_view as view
from workbench.epi import suppress
from workbench.i18n import t as words
from workbench.params import FRAME, Instance, Interval, Options, validate_params
from workbench.quality import CATEGORIES, MONTH, load_indicators, rule_for

__all__ = ["data_note", "quality_html", "report_months", "suppress_quality", "write_quality_report"]

_TEXT = {
    "en": {"title": "Service quality report", "month": "Month", "alerts": "Alerts", "no_alerts": "No alerts.",
           "community": "Community", "numerator": "Numerator", "denominator": "Denominator", "value": "Value",
           "ci": "95% CI", "status": "Status", "all": "All communities", "person_years": "person-years",
           "chart_note": "Control chart ({chart}) of all communities, {first} to {last}; months with hidden counts "
                         "or too few to judge are gaps.", "p": "p chart", "xmr": "XmR chart",
           "note": "Counts of 1-4 are hidden (shown as <5), with further cells where needed so that a hidden "
                   "count cannot be worked out from totals; the value, interval and control-chart words of such a "
                   "row are hidden with it. 'Too few to judge': fewer units than the indicator's minimum. 'No data': "
                   "the data source is not collected. 'Not applicable': a programme-level ratio has no community "
                   "rows. 'Report only': the indicator has no alert rule.",
           "data": "Data", "policies": "Tier decisions made under policy", "none": "none recorded",
           "indicators_version": "Indicators version", "pseudonymised": "pseudonymised",
           "source_registry": "the registry", "source_export": "an export folder",
           "source_synth": "synthetic sample data",
           "source_sample": "synthetic sample data", "source_memory": "tables in memory", "read_at": "read"},
    "zh": {"title": "服务质量报告", "month": "月份", "alerts": "预警", "no_alerts": "无预警。",
           "community": "社区", "numerator": "分子", "denominator": "分母", "value": "数值",
           "ci": "95%置信区间", "status": "状态", "all": "全部社区", "person_years": "人年",
           "chart_note": "全部社区{first}至{last}的控制图（{chart}）；计数被隐藏或数量过少的月份为空缺。",
           "p": "p控制图", "xmr": "XmR控制图",
           "note": "1-4的计数已隐藏（显示为<5），必要时同时隐藏其他单元格，以免由合计反推；该行的数值、区间和控制图判断一并隐藏。"
                   "“数量过少，无法判断”：例数少于该指标的最低要求。“无数据”：未收集该数据。"
                   "“不适用”：项目层面的比值没有分社区的数值。“仅报告”：该指标不设预警。",
           "data": "数据", "policies": "分级决定所依据的政策", "none": "无记录",
           "indicators_version": "指标版本", "pseudonymised": "已假名化",
           "source_registry": "登记库", "source_export": "导出文件夹", "source_synth": "合成样本数据",
           "source_sample": "合成样本数据", "source_memory": "内存中的数据表", "read_at": "读取于"},
}

_CSS = """
body{font-family:system-ui,'Noto Sans SC','Microsoft YaHei',sans-serif;margin:2em;color:#222;max-width:72em}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:2px solid #bbb}
h3{font-size:1.05em;margin:1.4em 0 .3em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f3f3f3}
td.label,th.label,td.words{text-align:left}
tr.alert td{background:#fde2e1}tr.alert td.status{color:#a40000;font-weight:bold}
tr.insufficient td,tr.no_data td,tr.not_applicable td{color:#666}
tr.report_only td.status{color:#555;font-style:italic}
ul.alerts li{margin:.35em 0}ul.alerts .mark{color:#a40000;font-weight:bold}
dl.wb-definition{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;font-size:.85em;margin:.3em 0}
dl.wb-definition dt{font-weight:bold;color:#444}dl.wb-definition dd{margin:0}
.chart img{max-width:48em}.note{color:#555;font-size:.85em;max-width:60em}
"""


#: The languages of the report.
LANG = Options("en", "zh")
#: Counts from 1 to ``min_count - 1`` are hidden.
MIN_COUNT = Interval(int, 1, None)
#: The months before the one reported that the control charts show.
HISTORY = Interval(int, 1, None)

#: The count columns hidden for each kind of indicator (a ratio has none: its numerator and
#: denominator are blank; a rate's denominator is person-years, not people).
_COUNTS = {"proportion": ["numerator", "denominator"], "mean": ["denominator"], "rate": ["numerator"], "ratio": []}


@validate_params({"result": FRAME, "min_count": MIN_COUNT})
def suppress_quality(result: pd.DataFrame, *, min_count: int = 5, indicators=None) -> pd.DataFrame:
    """``result`` with counts 1..min_count-1 hidden (``<NA>``), per indicator across communities.

    Proportions: ``numerator`` and ``denominator`` of the communities are one table for
    :func:`workbench.epi.suppress`; the ``all`` row is a table of its own. Means: only the
    ``denominator`` (persons) is a count; the numerator (a sum) is hidden with it. Rates: the
    ``numerator`` (events) is the count; the person-years stay. Ratios: nothing is a count. When
    any count of a row is hidden, its ``value``, interval, ``variation`` and ``rules`` are hidden
    too, and its status ``ok`` or ``alert`` becomes ``suppressed`` (which side of the alert line a
    hidden value lies on is not told either). ``no_data`` and ``not_applicable`` rows are left as they are. ``indicators``: the
    declarations the result was computed with, for each one's kind (default: the set
    :func:`~workbench.quality.compute` recorded in ``result.attrs``, else the shipped ones).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"indicator": "C1", "category": "continuity",
    ...     "community": ["c1", "c2", "all"], "period": "2025-06", "numerator": [3.0, 6.0, 9.0],
    ...     "denominator": [20, 20, 40], "value": [0.15, 0.3, 0.225], "ci_low": 0.1, "ci_high": 0.5,
    ...     "target": 0.15, "status": ["ok", "alert", "alert"], "variation": "common_cause", "rules": ""})
    >>> suppress_quality(r)[["community", "numerator", "denominator", "value", "variation"]]
      community  numerator  denominator  value     variation
    0        c1       <NA>         <NA>   <NA>          None
    1        c2       <NA>         <NA>   <NA>          None
    2       all        9.0         40.0  0.225  common_cause
    """
    numbers = ["numerator", "denominator", "value", "ci_low", "ci_high"]
    values = {c: pd.to_numeric(result[c]).astype("Float64").to_numpy(float, na_value=np.nan) for c in numbers}
    spec = load_indicators(indicators if indicators is not None else result.attrs.get("indicators"))
    kinds = {i.id: i.kind for i in spec.indicators}
    position = pd.Series(np.arange(len(result)), index=result.index)
    words_hidden = np.zeros(len(result), dtype=bool)
    for (indicator, period), rows in result.groupby(["indicator", "period"], sort=False):
        rows = rows[~rows["status"].isin(("no_data", "not_applicable"))]
        cols = _COUNTS[kinds.get(indicator, "proportion")]
        if rows.empty or not cols:
            continue
        for part in (rows[rows["community"] != "all"], rows[rows["community"] == "all"]):
            if part.empty:
                continue
            table = pd.DataFrame({c: values[c][position[part.index].to_numpy()] for c in cols},
                                 index=part.index).fillna(0).round()
            if not ((table >= 1) & (table < min_count)).to_numpy().any():
                continue  # no count 1..min_count-1: nothing to hide, and so no complement either
            hidden = suppress(table, min_count=min_count, columns=cols)
            at = position[part.index].to_numpy()
            for c in cols:
                values[c][at] = np.where(hidden[c].isna().to_numpy(), np.nan, values[c][at])
            gone = at[hidden[cols].isna().any(axis=1).to_numpy()]
            for c in numbers:
                if c != "denominator" or "denominator" in cols:
                    values[c][gone] = np.nan
            words_hidden[gone] = True
    out = result.copy()
    for c in numbers:
        out[c] = pd.array(values[c], dtype="Float64")  # NaN (hidden or not defined) -> <NA>
    for c in ("variation", "rules"):
        if c in out.columns:
            out[c] = out[c].astype(object).where(~words_hidden, None)
    # whether a hidden value breaks its alert line says on which side of it the value lies: hidden too
    out["status"] = out["status"].astype(object).where(~words_hidden | ~out["status"].isin(["ok", "alert"]), "suppressed")
    out.attrs.update(result.attrs, min_count=min_count)
    return out


@validate_params({"month": MONTH, "history": HISTORY})
def report_months(tables, *, month: str, history: int = 24) -> list[str]:
    """The months a report of ``month`` computes: every month (gaps included) from the first month
    with a screening, or ``history - 1`` months before ``month`` if that is later, to ``month``.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.tables import TABLES, Tables
    >>> a = TABLES["assessments"].empty().reindex(range(2))
    >>> a["assessed_on"] = pd.to_datetime(["2025-01-03", "2025-03-09"])
    >>> a["purpose"] = pd.array(["screening", "screening"], dtype="string")
    >>> report_months(Tables(assessments=a), month="2025-04")
    ['2025-01', '2025-02', '2025-03', '2025-04']
    >>> report_months(Tables(assessments=a), month="2025-04", history=2)
    ['2025-03', '2025-04']
    """
    a = tables["assessments"]
    screened = a.loc[(a["purpose"] == "screening").fillna(False).to_numpy(bool), "assessed_on"].dropna()
    last = pd.Period(month, "M")
    first = last - (history - 1)
    if len(screened):
        first = max(first, min(last, screened.min().to_period("M")))
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def _counts(row, ind, lang: str, min_count: int) -> tuple[str, str]:
    """The numerator and denominator cells of a row, as its kind has them (a hidden count: ``<5``)."""
    if row["status"] in ("no_data", "not_applicable") or ind.kind == "ratio":
        return "—", "—"
    count = lambda v: view.count_text(v, lang, min_count=min_count, hidden=f"<{min_count}")  # noqa: E731
    if ind.kind == "proportion":
        return count(row["numerator"]), count(row["denominator"])
    if ind.kind == "mean":
        return "—", count(row["denominator"])
    years = "—" if view.is_missing(row["denominator"]) else f"{float(row['denominator']):,.1f}"
    return count(row["numerator"]), years


@validate_params({"result": FRAME, "month": Instance(str, name="a YYYY-MM text"), "lang": LANG, "min_count": MIN_COUNT})
def quality_html(result: pd.DataFrame, *, month: str, lang: str = "en", min_count: int = 5, indicators=None,
                 charts: bool = True, community_map: str | None = None) -> str:
    """The report of ``month`` as one HTML text (suppression applied here, before anything is
    rendered). ``result`` may hold the months before ``month``: the control charts show them
    (months after ``month`` are left out). ``charts=False`` leaves the images out.
    ``community_map``: the "Community map" section (:func:`workbench.report_map.map_section`,
    made with the same ``min_count``); None: a one-line note that no map is configured."""
    t = _TEXT[lang]
    spec = load_indicators(indicators if indicators is not None else result.attrs.get("indicators"))
    history = result[result["period"] <= month]
    shown_all = suppress_quality(history, min_count=min_count, indicators=spec)
    shown = shown_all[shown_all["period"] == month]
    months = sorted(history["period"].unique())
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">",
             f"<title>{e(t['title'])} {e(month)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(t['title'])}</h1><p>{e(t['month'])}: <b>{e(month)}</b></p>",
             f"<p class=\"note data\">{e(data_note(result.attrs, lang=lang, version=spec.version))}</p>"]
    name = lambda c: t["all"] if c == "all" else c  # noqa: E731
    order = {ind.id: k for k, ind in enumerate(spec.indicators)}
    alerts = shown[shown["status"] == "alert"]
    alerts = alerts.assign(_o=alerts["indicator"].map(order), _c=alerts["community"] != "all").sort_values(
        ["_o", "_c", "community"])
    parts.append(f"<h2 id=\"alerts\">{e(t['alerts'])} ({len(alerts)})</h2>")
    if alerts.empty:
        parts.append(f"<p>{e(t['no_alerts'])}</p>")
    else:
        parts.append("<ul class=\"alerts\">")
        for _, row in alerts.iterrows():
            ind = spec.indicator(row["indicator"])
            signal = view.signal_text(row.get("variation"), row.get("rules"), lang)
            line = view.alert_line(ind, community=name(row["community"]), value=row["value"], lang=lang,
                                   ci_low=row["ci_low"], ci_high=row["ci_high"],
                                   confidence=1 - shown.attrs.get("alpha", 0.05),
                                   alert=rule_for(shown, ind, row["period"])[1])
            parts.append(f"<li><span class=\"mark\">{e(words('alert_marker', lang))}</span> {e(line)} "
                         f"<span class=\"signal\">{e(signal)}</span></li>")
        parts.append("</ul>")
    left = ' class="label"'
    head = "".join(f"<th{left if k in ('community', 'variation', 'rules') else ''}>{e(v)}</th>"
                   for k, v in (("community", t["community"]), ("numerator", t["numerator"]),
                                ("denominator", t["denominator"]), ("value", t["value"]), ("ci", t["ci"]),
                                ("status", t["status"]), ("variation", words("variation", lang)),
                                ("rules", words("spc_rules_met", lang))))
    for category in CATEGORIES:
        inds = [i for i in spec.indicators if i.category == category]
        if not inds:
            continue
        parts.append(f"<h2 id=\"{e(category)}\">{e(view.category_label(spec, category, lang))}</h2>")
        for ind in inds:
            rows = shown[shown["indicator"] == ind.id]
            rows = rows.assign(_c=rows["community"] != "all").sort_values(["_c", "community"])
            parts.append(f"<section class=\"indicator\" id=\"{e(ind.id)}\"><h3>{e(view.title(ind, lang))}</h3>")
            parts.append(view.definition_html(ind, lang))
            collected = not (history.loc[history["indicator"] == ind.id, "status"] == "no_data").all()
            if charts and collected:
                signals = view.chart_signals(shown_all, ind, community="all", indicators=spec)
                image = view.chart_html(signals, ind, community="all", lang=lang, figsize=(6.4, 2.6), dpi=90)
                note = t["chart_note"].format(chart=t[signals.chart.kind], first=months[0], last=months[-1])
                parts.append(f"<div class=\"chart\">{image}<p class=\"note\">{e(note)}</p></div>")
            elif charts:
                parts.append(f"<p class=\"note\">{e(words('quality_no_chart', lang))}</p>")
            parts.append(f"<table><tr>{head}</tr>")
            for _, row in rows.iterrows():
                status = row["status"]
                num, den = _counts(row, ind, lang, min_count)
                den_class = "exposure" if ind.kind == "rate" else "count"  # person-years: not a count of people
                ci = view.interval_text(row["ci_low"], row["ci_high"], ind, lang)
                variation = row.get("variation")
                shown_variation = "—" if not isinstance(variation, str) or not variation else \
                    view.variation_text(variation, lang)
                parts.append(f"<tr class=\"{e(view.status_class(status, ind))}\">"
                             f"<td class=\"label\">{e(name(row['community']))}</td>"
                             f"<td class=\"count\">{e(num)}</td><td class=\"{den_class}\">{e(den)}</td>"
                             f"<td>{e(view.value_text(row['value'], ind, lang))}</td><td>{e(ci)}</td>"
                             f"<td class=\"status\">{e(view.status_text(status, ind, lang))}</td>"
                             f"<td class=\"words\">{e(shown_variation)}</td>"
                             f"<td class=\"words\">{e(view.rules_text(row.get('rules'), lang))}</td></tr>")
            parts.append("</table></section>")
    if community_map is None:
        from workbench.report_map import map_section

        community_map = map_section(None, None, lang=lang)
    parts.append(community_map)
    parts.append(f"<p class=\"note\">{e(t['note'])}</p>")
    parts.append(f"<p class=\"note\">{e(words('quality_read_alert', lang))}</p></body></html>")
    return "\n".join(parts)


@validate_params({"lang": LANG})
def data_note(attrs: dict, *, lang: str, version: str) -> str:
    """One sentence on the data of a :func:`~workbench.quality.compute` result (its ``attrs``):
    the source, whether pseudonymised, when it was read, the stepped-care policy versions of the
    tier decisions and the indicators' version.

    Examples
    --------
    >>> data_note({"source": "registry", "pseudonymised": True, "read_at": "2025-09-30T08:15:00+00:00",
    ...            "policy_versions": ["default@1.0"]}, lang="en", version="1.0")
    'Data: the registry (pseudonymised), read 2025-09-30 08:15 UTC. Tier decisions made under policy: default@1.0. Indicators version: 1.0.'
    >>> data_note({"source": "synth", "policy_versions": []}, lang="zh", version="1.0")
    '数据：合成样本数据。分级决定所依据的政策：无记录。指标版本：1.0。'
    """
    t = _TEXT[lang]
    source = attrs.get("source") or "memory"
    text = t.get(f"source_{source}", str(source))
    if attrs.get("pseudonymised"):
        text += f" ({t['pseudonymised']})" if lang == "en" else f"（{t['pseudonymised']}）"
    if attrs.get("read_at"):
        when = pd.Timestamp(attrs["read_at"])
        when = when.tz_convert("UTC") if when.tzinfo is not None else when
        text += f", {t['read_at']} {when.strftime('%Y-%m-%d %H:%M')} UTC" if lang == "en" else \
            f"，{t['read_at']} {when.strftime('%Y-%m-%d %H:%M')} UTC"
    policies = ", ".join(attrs.get("policy_versions") or []) or t["none"]
    if lang == "zh":
        return f"{t['data']}：{text}。{t['policies']}：{policies}。{t['indicators_version']}：{version}。"
    return f"{t['data']}: {text}. {t['policies']}: {policies}. {t['indicators_version']}: {version}."


@validate_params({"month": MONTH, "lang": LANG, "min_count": MIN_COUNT, "history": HISTORY})
def write_quality_report(tables, *, month: str, out: str | Path, lang: str = "en", min_count: int = 5,
                         history: int = 24, indicators=None, geography=None, homes=None) -> Path:
    """Compute the indicators for ``month`` and the months before it from ``tables`` and write
    the HTML report to ``out``.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (:meth:`Registry.analysis_tables
        <workbench.registry.store.Registry.analysis_tables>`, :func:`workbench.tables.read` of an
        export folder, or :func:`workbench.sample.load_sample`).
    month : str
        The month reported, ``YYYY-MM``.
    out : path
        The HTML file written (only once everything is computed: a refusal writes nothing).
    lang : {"en", "zh"}
    min_count : int
        Counts from 1 to ``min_count - 1`` are hidden.
    history : int
        The control charts show up to this many months ending with ``month``
        (:func:`report_months`: none before the first screening).
    indicators : path or IndicatorSet, optional
        The declarations (default: the shipped ``quality_indicators.yaml``).
    geography : workbench.geo.geography.Geography, optional
        Boundaries and service points: the report gets a "Community map" section
        (:func:`workbench.report_map.map_section`, same ``min_count``); None: a note that no map
        is configured.
    homes : GeoDataFrame, optional
        A home per resident (default ``geography.homes``): the distance and blind-spot maps and
        the ranked blind-spot table; without homes only the need map.

    Returns
    -------
    Path
        ``out``.
    """
    from workbench.quality import compute
    from workbench.report_map import map_section

    result = compute(tables, months=report_months(tables, month=month, history=history), indicators=indicators)
    section = map_section(tables, geography, homes=homes, lang=lang, min_count=min_count)
    text = quality_html(result, month=month, lang=lang, min_count=min_count, indicators=indicators,
                        community_map=section)
    out = Path(out)
    out.write_text(text, encoding="utf-8")
    return out
