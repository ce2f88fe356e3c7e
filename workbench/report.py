"""Standalone HTML reports for managers: one file, inline CSS, no script, no code shown.

``workbench report quality --month 2025-06 --out report.html [--lang zh] [--data FOLDER]``
computes :func:`workbench.quality.compute` for one month and renders it. Counts from 1 to
``min_count - 1`` (default 5) are hidden with :func:`workbench.epi.suppress` (with its
complementary suppression across the communities of each indicator) *before* rendering; a value
and interval that would reveal a hidden count are hidden with it.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.epi import suppress
from workbench.quality import CATEGORIES, compute, load_indicators

__all__ = ["quality_html", "suppress_quality", "write_quality_report"]

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
           "synthetic": "Data version"},
    "zh": {"title": "服务质量报告", "month": "月份", "alerts": "预警", "no_alerts": "无预警。",
           "indicator": "指标", "community": "社区", "numerator": "分子", "denominator": "分母",
           "value": "数值", "ci": "95%置信区间", "target": "目标", "status": "状态",
           "all": "全部社区", "hidden": "<5", "days": "天",
           "ok": "正常", "alert": "预警", "insufficient": "例数不足", "no_data": "无数据",
           "access": "可及性", "timeliness": "及时性", "effectiveness": "有效性",
           "retention": "保持率", "experience": "服务体验", "safety": "安全性",
           "note": "1-4的计数已隐藏（显示为<5），必要时同时隐藏其他单元格，以免由合计反推。"
                   "“例数不足”：人数少于该指标的最低要求。“无数据”：未收集该数据（如满意度调查）。",
           "synthetic": "数据版本"},
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


def suppress_quality(result: pd.DataFrame, *, min_count: int = 5) -> pd.DataFrame:
    """``result`` with counts 1..min_count-1 hidden (``<NA>``), per indicator across communities.

    Proportions: ``numerator`` and ``denominator`` of the communities are one table for
    :func:`workbench.epi.suppress`; the ``all`` row is a table of its own. Means: only the
    ``denominator`` (persons) is a count; the numerator (a sum of days) is hidden with it. When
    any count of a row is hidden, its ``value`` and interval are hidden too. ``no_data`` rows
    are left as they are.
    """
    from workbench.quality import MEASURES

    out = result.copy()
    out["numerator"] = out["numerator"].astype("Float64")
    out["denominator"] = out["denominator"].astype("Float64")
    for col in ("value", "ci_low", "ci_high"):
        out[col] = out[col].astype("Float64")
    kinds = {i.id: MEASURES[i.measure].kind for i in load_indicators().indicators}
    for (indicator, period), rows in out.groupby(["indicator", "period"], sort=False):
        rows = rows[rows["status"] != "no_data"]
        if rows.empty:
            continue
        kind = kinds.get(indicator, "proportion")
        cols = ["numerator", "denominator"] if kind == "proportion" else ["denominator"]
        for part in (rows[rows["community"] != "all"], rows[rows["community"] == "all"]):
            if part.empty:
                continue
            table = part[cols].astype(float).round()
            hidden = suppress(table, min_count=min_count, columns=cols)
            mask = hidden[cols].isna().any(axis=1)
            for c in cols:
                out.loc[part.index, c] = hidden[c].astype("Float64")
            idx = part.index[mask.to_numpy()]
            out.loc[idx, ["numerator", "denominator", "value", "ci_low", "ci_high"]] = pd.NA
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


def quality_html(result: pd.DataFrame, *, month: str, lang: str = "en", min_count: int = 5) -> str:
    """The report as one HTML text (suppression applied here, before anything is rendered)."""
    if lang not in _TEXT:
        raise ValueError(f"The 'lang' parameter of quality_html must be 'en' or 'zh'. Got {lang!r} instead.")
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
    parts.append(f"<p class=\"note\">{e(t['synthetic'])}: indicators {e(spec.version)}</p></body></html>")
    return "\n".join(parts)


def write_quality_report(*, month: str, out: str | Path, lang: str = "en", data: str | Path | None = None,
                         min_count: int = 5) -> Path:
    """Compute the indicators for ``month`` from ``data`` (a folder of the sample's CSVs; the
    shipped sample by default) and write the HTML report to ``out``."""
    from workbench.sample import REQUIRED_FILES, load_sample

    if data is not None:
        absent = [n for n in REQUIRED_FILES if not (Path(data) / n).is_file()]
        if absent:
            raise FileNotFoundError(f"{data}: not a folder of the sample's CSV files (missing: {', '.join(absent)})")
    tables = load_sample(Path(data) if data is not None else None)
    result = compute(tables, months=month)
    text = quality_html(result, month=month, lang=lang, min_count=min_count)
    out = Path(out)
    out.write_text(text, encoding="utf-8")
    return out
