"""The caseload list's wristband and risk-band cells (issue 17), with their words in Chinese and English.

The words are kept here (not in ``workbench/i18n/strings.yaml``). A wristband day's reason comes
from :func:`workbench.wearables.alerts.alert_reason` when it can read the row's policy; else a
short text from ``nights_low`` / ``nights_valid``. A prediction's reasons are named by the labels of
the model's spec (``workbench/risk/<spec>.yaml``, ``predictors``: ``en`` / ``zh``), else by the
predictor's own name. The risk band is a flag for a person to look at, beside the tier: never a
suicide-risk score, never instead of the tier.

Examples
--------
>>> wearable_cell({"alert_state": "low_wear", "wear_state": "low_wear", "day": None}, lang="en")
('Low wear', '')
>>> risk_cell({"band": "high", "risk": 0.42, "reason_1": "lives_alone", "reason_2": None, "reason_3": None,
...            "model": "no_such_spec_logistic@1.0"}, lang="en")[0]
'High (42%)'
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

__all__ = ["WORDS", "early_warning_cells", "predictor_label", "risk_cell", "wearable_cell", "word"]

#: The words of the two columns, in both languages.
WORDS = {
    "col_wearable": {"en": "Wristband", "zh": "手环"},
    "col_risk_band": {"en": "Risk band (not improving)", "zh": "风险分层（未好转）"},
    "wear_flag": {"en": "⚑ Flag: call", "zh": "⚑ 提醒：请电话问候"},
    "wear_clear": {"en": "No alert", "zh": "未见异常"},
    "wear_low_wear": {"en": "Low wear", "zh": "佩戴不足"},
    "wear_not_worn": {"en": "Not worn", "zh": "未佩戴"},
    "wear_no_baseline": {"en": "No baseline yet", "zh": "尚无个人基线"},
    "wear_nights": {"en": "{low} of the last {valid} nights below the person's own baseline",
                    "zh": "最近{valid}晚中有{low}晚低于本人基线"},
    "as_of": {"en": "as of {day}", "zh": "截至{day}"},
    "band_low": {"en": "Low", "zh": "低"},
    "band_medium": {"en": "Medium", "zh": "中"},
    "band_high": {"en": "High", "zh": "高"},
    "top_reasons": {"en": "Top reasons: {reasons}", "zh": "主要原因：{reasons}"},
    "risk_note": {"en": "Chance of not improving at the week 8-12 review ({model}); a flag for a person to look "
                        "at, beside the tier, not a suicide-risk score",
                  "zh": "第8-12周复评时未好转的可能性（{model}）；仅提示工作人员关注，与分级并列，不是自杀风险评分"},
}


def word(key: str, lang: str) -> str:
    """A word of :data:`WORDS` in ``lang``.

    >>> word("wear_not_worn", "zh")
    '未佩戴'
    """
    return WORDS[key][lang]


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


@functools.lru_cache(maxsize=None)
def _labels(spec: str) -> Mapping[str, Mapping[str, str]]:
    """Predictor labels of the risk spec ``spec`` (``workbench/risk/<spec>.yaml``); empty when absent."""
    from workbench._declarations import load_yaml

    path = Path(__file__).resolve().parents[1] / "risk" / f"{spec}.yaml"
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
        return {p["name"]: {"en": p.get("en", p["name"]), "zh": p.get("zh", p["name"])}
                for p in data.get("predictors", []) if isinstance(p, Mapping) and "name" in p}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _spec_of(model: Any) -> str:
    """The spec a model id names: the longest ``workbench/risk/*.yaml`` stem its id starts with
    (``not_improving_logistic@1.0`` -> ``not_improving``), else ``not_improving``."""
    name = "" if _blank(model) else str(model).split("@")[0]
    folder = Path(__file__).resolve().parents[1] / "risk"
    stems = sorted((p.stem for p in folder.glob("*.yaml")), key=len, reverse=True)
    return next((s for s in stems if name.startswith(s)), "not_improving")


def predictor_label(name: str, lang: str, *, model: Any = None) -> str:
    """A predictor's label in ``lang`` from the model's spec, else its name.

    >>> predictor_label("no_such_predictor", "en")
    'no_such_predictor'
    """
    return _labels(_spec_of(model)).get(name, {}).get(lang, name)


def _day_text(row: Mapping, on) -> str:
    day = row.get("day")
    if _blank(day) or on is None or pd.Timestamp(day) == pd.Timestamp(on):
        return ""
    return f"{pd.Timestamp(day):%Y-%m-%d}"


def wearable_cell(row: Mapping | None, *, lang: str, on=None) -> tuple[str, str]:
    """The wristband cell of a resident's latest day (``row``: a ``wearable_days`` row; None: no
    device, blank): the state in words, and the reason of a flag (blank otherwise)."""
    if row is None:
        return "", ""
    state, wear = row.get("alert_state"), row.get("wear_state")
    if state == "flag":
        text, reason = word("wear_flag", lang), _reason(row, lang)
    elif wear == "not_worn":
        text, reason = word("wear_not_worn", lang), ""
    elif state == "low_wear" or wear == "low_wear":
        text, reason = word("wear_low_wear", lang), ""
    elif state == "no_baseline":
        text, reason = word("wear_no_baseline", lang), ""
    elif state == "clear":
        text, reason = word("wear_clear", lang), ""
    else:
        return "", ""
    day = _day_text(row, on)
    if day:
        text += f" ({word('as_of', lang).format(day=day)})"
    return text, reason


def _reason(row: Mapping, lang: str) -> str:
    """The reason of a flag: :func:`workbench.wearables.alerts.alert_reason`, else the nights."""
    try:
        from workbench.wearables.alerts import alert_reason

        return alert_reason(dict(row), lang=lang)
    except Exception:  # noqa: BLE001 - another policy version, or the module not there: the numbers
        low, valid = row.get("nights_low"), row.get("nights_valid")
        if _blank(low) or _blank(valid):
            return "" if _blank(row.get("rule")) else str(row.get("rule"))
        return word("wear_nights", lang).format(low=int(low), valid=int(valid))


def risk_cell(row: Mapping | None, *, lang: str) -> tuple[str, str]:
    """The risk-band cell of a resident's latest prediction (None: none, blank): the band with the
    risk in per cent, and its top reasons (labels from the model's spec)."""
    if row is None or _blank(row.get("band")):
        return "", ""
    text = word(f"band_{row['band']}", lang)
    if not _blank(row.get("risk")):
        text += f" ({float(row['risk']):.0%})"
    names = [row.get(f"reason_{k}") for k in (1, 2, 3)]
    labels = [predictor_label(str(n), lang, model=row.get("model")) for n in names if not _blank(n)]
    joiner = "；" if lang == "zh" else "; "
    return text, word("top_reasons", lang).format(reasons=joiner.join(labels)) if labels else ""


def _by_resident(frame: pd.DataFrame | None, on, column: str) -> dict[str, dict]:
    """Each resident's latest row of ``frame`` dated on or before ``on`` (``column``: its date)."""
    if frame is None or not len(frame):
        return {}
    rows = frame
    if on is not None and column in rows.columns:
        rows = rows[pd.to_datetime(rows[column]) <= pd.Timestamp(on)]
    rows = rows.sort_values(column, kind="stable") if column in rows.columns else rows
    return {r["resident_id"]: r for r in rows.to_dict("records")}


def early_warning_cells(resident_ids, *, wearables: pd.DataFrame | None, risk: pd.DataFrame | None, lang: str,
                        on=None) -> dict[str, tuple[str, str]]:
    """Each resident's two cells as HTML (``wearable``, ``risk``): the state or band, and its
    reason as a short second line and the cell's title.

    >>> wd = pd.DataFrame({"resident_id": ["R1"], "day": pd.to_datetime(["2025-05-01"]), "alert_state": ["flag"],
    ...                    "wear_state": ["worn"], "nights_low": [3], "nights_valid": [4], "rule": ["x@0:y"]})
    >>> cells = early_warning_cells(["R1", "R2"], wearables=wd, risk=None, lang="en", on="2025-05-01")
    >>> "3 of the last 4 nights" in cells["R1"][0] and cells["R2"] == ("", "")
    True
    """
    wear = _by_resident(wearables, on, "day")
    pred = _by_resident(risk, on, "assessed_on")
    out = {}
    for rid in resident_ids:
        cells = []
        p = pred.get(rid)
        note = "" if p is None else word("risk_note", lang).format(model=p.get("model"))
        for (text, reason), more in ((wearable_cell(wear.get(rid), lang=lang, on=on), ""),
                                     (risk_cell(p, lang=lang), note)):
            title = (". " if lang == "en" else "。").join(x.rstrip(".。") for x in (reason, more) if x)
            shown = f'<span title="{html.escape(title)}">{html.escape(text)}</span>' if title else html.escape(text)
            cells.append(shown + (f'<br><small class="wb-reason">{html.escape(reason)}</small>' if reason else ""))
        out[rid] = tuple(cells)
    return out
