"""Standalone HTML reports for managers: one file, inline CSS, no script, no code shown.

:func:`write_quality_report` computes :func:`workbench.quality.compute` on the analysis tables
(:class:`workbench.tables.Tables`: from a registry, an export folder or the sample) for one month
and renders it (``workbench report quality`` calls it). Counts from 1 to ``min_count - 1``
(default 5) are hidden with :func:`workbench.epi.suppress` (with its complementary suppression
across the communities of each indicator) *before* rendering; a value and interval that would
reveal a hidden count are hidden with it. The report says where the data come from and which
stepped-care policy versions the tier decisions in them were made under.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.epi import suppress
from workbench.params import FRAME, Instance, Interval, Options, validate_params
from workbench.quality import CATEGORIES, MONTH, load_indicators

__all__ = ["data_note", "quality_html", "suppress_quality", "write_quality_report"]

_TEXT = {
    "en": {"title": "Service quality report", "month": "Month", "alerts": "Alerts", "no_alerts": "No alerts.",
           "indicator": "Indicator", "community": "Community", "numerator": "Numerator",
           "denominator": "Denominator", "value": "Value", "ci": "95% CI", "target": "Target", "status": "Status",
           "all": "All communities", "hidden": "<5", "days": "days",
           "ok": "OK", "alert": "Alert", "insufficient": "Too few", "no_data": "No data",
           "access": "Access", "timeliness": "Timeliness", "effectiveness": "Effectiveness",
           "retention": "Retention", "experience": "Experience", "safety": "Safety",
           "note": "Counts of 1-4 are hidden (shown as <5), with further cells where needed so that a hidden "
                   "count cannot be worked out from totals. 'Too few': fewer people than the indicator's "
                   "minimum. 'No data': the data source (e.g. a satisfaction survey) is not collected.",
           "data": "Data", "policies": "Tier decisions made under policy", "none": "none recorded",
           "indicators_version": "Indicators version", "pseudonymised": "pseudonymised",
           "source_registry": "the registry", "source_export": "an export folder",
           "source_synth": "synthetic sample data",
           "source_sample": "synthetic sample data", "source_memory": "tables in memory", "read_at": "read"},
    "zh": {"title": "服务质量报告", "month": "月份", "alerts": "预警", "no_alerts": "无预警。",
           "indicator": "指标", "community": "社区", "numerator": "分子", "denominator": "分母",
           "value": "数值", "ci": "95%置信区间", "target": "目标", "status": "状态",
           "all": "全部社区", "hidden": "<5", "days": "天",
           "ok": "正常", "alert": "预警", "insufficient": "例数不足", "no_data": "无数据",
           "access": "可及性", "timeliness": "及时性", "effectiveness": "有效性",
           "retention": "保持率", "experience": "服务体验", "safety": "安全性",
           "note": "1-4的计数已隐藏（显示为<5），必要时同时隐藏其他单元格，以免由合计反推。"
                   "“例数不足”：人数少于该指标的最低要求。“无数据”：未收集该数据（如满意度调查）。",
           "data": "数据", "policies": "分级决定所依据的政策", "none": "无记录",
           "indicators_version": "指标版本", "pseudonymised": "已假名化",
           "source_registry": "登记库", "source_export": "导出文件夹", "source_synth": "合成样本数据",
           "source_sample": "合成样本数据", "source_memory": "内存中的数据表", "read_at": "读取于"},
}

_CSS = """
body{font-family:system-ui,'Noto Sans SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f3f3f3}
td.label,th.label{text-align:left}
tr.alert td{background:#fde2e1}tr.alert td.status{color:#a40000;font-weight:bold}
tr.insufficient td,tr.no_data td{color:#777}
ul.alerts li{color:#a40000;margin:.2em 0}.note{color:#555;font-size:.85em;max-width:60em}
"""


#: The languages of the report.
LANG = Options("en", "zh")
#: Counts from 1 to ``min_count - 1`` are hidden.
MIN_COUNT = Interval(int, 1, None)


@validate_params({"result": FRAME, "min_count": MIN_COUNT})
#: The columns of a quality row that count people or events, per kind of indicator: a proportion's
#: numerator and denominator; a mean's denominator (persons; its numerator, a sum of days, goes with
#: it); a rate's events (its denominator is person-years, not a count of people); a ratio shows none.
_COUNTS = {"proportion": ["numerator", "denominator"], "mean": ["denominator"], "rate": ["numerator"], "ratio": []}


def suppress_quality(result: pd.DataFrame, *, min_count: int = 5) -> pd.DataFrame:
    """``result`` with counts 1..min_count-1 hidden (``<NA>``), per indicator across communities.

    Proportions: ``numerator`` and ``denominator`` of the communities are one table for
    :func:`workbench.epi.suppress`; the ``all`` row is a table of its own. Means: only the
    ``denominator`` (persons) is a count; the numerator (a sum of days) is hidden with it. Rates:
    the ``numerator`` (events) is the count; person-years are not. Ratios show no counts. When
    any count of a row is hidden, its ``value`` and interval are hidden too. ``no_data`` rows
    are left as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"indicator": "retention_dropout", "category": "retention",
    ...     "community": ["c1", "c2", "all"], "period": "2025-06", "numerator": [3.0, 6.0, 9.0],
    ...     "denominator": [20, 20, 40], "value": [0.15, 0.3, 0.225], "ci_low": 0.1, "ci_high": 0.5,
    ...     "target": 0.15, "status": ["ok", "alert", "alert"]})
    >>> suppress_quality(r)[["community", "numerator", "denominator", "value"]]
      community  numerator  denominator  value
    0        c1       <NA>         <NA>   <NA>
    1        c2       <NA>         <NA>   <NA>
    2       all        9.0         40.0  0.225
    """
    from workbench.quality import MEASURES

    numbers = ["numerator", "denominator", "value", "ci_low", "ci_high"]
    values = {c: pd.to_numeric(result[c]).astype("Float64").to_numpy(float, na_value=np.nan) for c in numbers}
    kinds = {i.id: MEASURES[i.measure].kind for i in load_indicators().indicators}
    position = pd.Series(np.arange(len(result)), index=result.index)
    for (indicator, period), rows in result.groupby(["indicator", "period"], sort=False):
        rows = rows[rows["status"] != "no_data"]
        if rows.empty:
            continue
        kind = kinds.get(indicator, "proportion")
        cols = _COUNTS[kind]
        if not cols:  # a ratio of two rates shows no counts: nothing to hide
            continue
        for part in (rows[rows["community"] != "all"], rows[rows["community"] == "all"]):
            if part.empty:
                continue
            table = part[cols].astype(float).round()
            hidden = suppress(table, min_count=min_count, columns=cols)
            at = position[part.index].to_numpy()
            for c in cols:
                values[c][at] = hidden[c].astype("Float64").to_numpy(float, na_value=np.nan)
            gone = at[hidden[cols].isna().any(axis=1).to_numpy()]
            for c in numbers:
                values[c][gone] = np.nan
    out = result.copy()
    for c in numbers:
        out[c] = pd.array(values[c], dtype="Float64")  # NaN (hidden or not defined) -> <NA>
    out.attrs.update(result.attrs, min_count=min_count)
    return out


def _fmt(value: Any, kind: str, t: dict) -> str:
    if value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{100 * float(value):.1f}%" if kind == "proportion" else f"{float(value):.1f} {t['days']}"


def _count(value: Any, t: dict) -> str:
    if value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value)):
        return html.escape(t["hidden"])
    return f"{int(round(float(value)))}"


@validate_params({"result": FRAME, "month": Instance(str, name="a YYYY-MM text"), "lang": LANG, "min_count": MIN_COUNT})
def quality_html(result: pd.DataFrame, *, month: str, lang: str = "en", min_count: int = 5) -> str:
    """The report as one HTML text (suppression applied here, before anything is rendered)."""
    t = _TEXT[lang]
    spec = load_indicators()
    from workbench.quality import MEASURES

    shown = suppress_quality(result[result["period"] == month], min_count=min_count)
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">",
             f"<title>{e(t['title'])} {e(month)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(t['title'])}</h1><p>{e(t['month'])}: <b>{e(month)}</b></p>"]
    name = lambda c: t["all"] if c == "all" else c  # noqa: E731
    alerts = shown[shown["status"] == "alert"]
    parts.append(f"<h2>{e(t['alerts'])}</h2>")
    if alerts.empty:
        parts.append(f"<p>{e(t['no_alerts'])}</p>")
    else:
        parts.append("<ul class=\"alerts\">")
        for _, row in alerts.iterrows():
            ind = spec.indicator(row["indicator"])
            kind = MEASURES[ind.measure].kind
            side = "<" if ind.alert[0] == "below" else ">"
            level = _fmt(ind.alert[1], kind, t)
            parts.append(f"<li>{e(ind.label[lang])} — {e(name(row['community']))}: "
                         f"{e(_fmt(row['value'], kind, t))} ({e(side)} {e(level)})</li>")
        parts.append("</ul>")
    label_th = ' class="label"'
    head = "".join(f"<th{label_th if k == 'community' else ''}>{e(t[k])}</th>"
                   for k in ("community", "numerator", "denominator", "value", "ci", "target", "status"))
    for category in CATEGORIES:
        inds = [i for i in spec.indicators if i.category == category]
        if not inds:
            continue
        parts.append(f"<h2>{e(t[category])}</h2>")
        for ind in inds:
            kind = MEASURES[ind.measure].kind
            parts.append(f"<h3>{e(ind.label[lang])}</h3><table><tr>{head}</tr>")
            rows = shown[shown["indicator"] == ind.id]
            for _, row in rows.iterrows():
                status = row["status"]
                if status == "no_data":
                    num = den = "—"
                else:
                    num = _count(row["numerator"], t) if kind == "proportion" else "—"
                    den = _count(row["denominator"], t)
                ci = ("—" if row["ci_low"] is pd.NA or pd.isna(row["ci_low"])
                      else f"{_fmt(row['ci_low'], kind, t)} – {_fmt(row['ci_high'], kind, t)}")
                parts.append(f"<tr class=\"{status}\"><td class=\"label\">{e(name(row['community']))}</td>"
                             f"<td class=\"count\">{num}</td><td class=\"count\">{den}</td>"
                             f"<td>{e(_fmt(row['value'], kind, t))}</td><td>{e(ci)}</td>"
                             f"<td>{e(_fmt(ind.target, kind, t))}</td><td class=\"status\">{e(t[status])}</td></tr>")
            parts.append("</table>")
    parts.append(f"<p class=\"note\">{e(t['note'])}</p>")
    note = data_note(result.attrs, lang=lang, version=spec.version)
    parts.append(f"<p class=\"note data\">{e(note)}</p></body></html>")
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


@validate_params({"month": MONTH, "lang": LANG, "min_count": MIN_COUNT})
def write_quality_report(tables, *, month: str, out: str | Path, lang: str = "en", min_count: int = 5) -> Path:
    """Compute the indicators for ``month`` from ``tables`` and write the HTML report to ``out``.

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

    Returns
    -------
    Path
        ``out``.
    """
    from workbench.quality import compute

    result = compute(tables, months=month)
    text = quality_html(result, month=month, lang=lang, min_count=min_count)
    out = Path(out)
    out.write_text(text, encoding="utf-8")
    return out
