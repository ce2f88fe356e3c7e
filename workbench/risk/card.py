"""The model card of a saved risk model, in Chinese or English (Markdown).

:func:`model_card` writes what a counsellor, a manager and an auditor need to trust the model or
to refuse it: intended use and users (and what it is never), the data, the outcome and where its
definition comes from, the predictors, the performance in temporal and leave-one-community-out
validation, the subgroups with their plain statements, the limits, how to recalibrate for a new
site, and the versions. Every number is read from the saved model's metadata
(:class:`workbench.risk.artefact.SavedModel`) or from the validation report
(:class:`workbench.risk.validation.ValidationReport`): nothing is typed here. The words of both
languages are in :data:`WORDS` (this module's own, not the shared strings file).

Examples
--------
>>> from workbench.risk._toy import toy_report, toy_saved
>>> card = model_card(toy_saved(), toy_report(), lang="en")
>>> card.splitlines()[0]
'# Model card: Not improving at the week 8-12 review (not_improving_logistic@1.1)'
>>> [line[3:] for line in card.splitlines() if line.startswith("## ")][:3]
['Intended use and users', 'Data', 'Outcome']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.params import Options, validate_params

__all__ = ["SECTIONS", "WORDS", "model_card"]

#: The sections of a card, in order (keys of :data:`WORDS`).
SECTIONS = ("use", "data", "outcome", "predictors", "performance", "subgroups", "limits", "recalibrate", "versions")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Model card: {name} ({model})",
        "use": "Intended use and users",
        "use_text": ("**Users:** the counsellors and family doctors of the programme, deciding where to spend their "
                     "limited time among residents already referred to tier {tiers}.\n\n"
                     "**Use:** a prompt to look again at a resident (a phone call, an earlier review, a word with "
                     "the supervising psychiatrist), shown beside the tier with its top reasons. It is not a "
                     "decision: the tier decided by a person stays, and nobody's care is reduced, delayed or "
                     "refused because of a low risk.\n\n"
                     "**Never:** {never}\n\n"
                     "**Who it is for:** {population}"),
        "nice": ("NICE NG225 (2022) advises against risk tools and scales that predict future suicide or "
                 "self-harm to decide who gets care (REFERENCE.md)."),
        "data": "Data",
        "data_text": ("Trained on {source} analysis tables: {n} referrals with a known outcome, {events} of them not "
                      "improving ({rate}), screened from {first} to {last}. Data version {data_version} (a hash of "
                      "the tables {tables}). The referrals counted at each step of the validation data:"),
        "outcome": "Outcome",
        "outcome_text": ("`{id}`: {text}\n\nDefinition `{definition}` with the numbers of "
                         "`workbench/outcomes/thresholds.yaml` (version {thresholds_version}): the last PHQ-9 in "
                         "weeks {from_week}-{to_week} after the referral is still {below:g} or more and has fallen by "
                         "less than {fall:.0%} from the screening. Source: {source}"),
        "predictors": "Predictors",
        "predictors_text": "{k} predictors, each known on the screening day:",
        "excluded": "Deliberately not predictors:",
        "left_out_text": ("The predictors below were left out of this fit by the spec's rule (`min_observed`: at "
                          "least {rows} training referrals with the predictor recorded, and at least {events} not "
                          "improving and {events} improving among them). {why} Source: {source}"),
        "col_rows": "recorded for", "col_yes": "not improving", "col_no": "improving", "col_reason": "why left out",
        "wear_limit": ("- Wristband data: {no_wear} of the {n} training referrals had none in the {days} days "
                       "before screening; the wearable predictors say little, and the model is not validated for "
                       "residents who have them.\n"),
        "left_family": ("- {what} predictors were left out: observed for {rows} referrals ({yes} not improving, "
                        "{no} improving; the rule needs {min_rows} referrals and {min_events} of each). The risk "
                        "does not use them.\n"),
        "left_one": ("- {what} was left out: observed for {rows} referrals ({yes} not improving, {no} improving; "
                     "the rule needs {min_rows} referrals and {min_events} of each). The risk does not use it.\n"),
        "left_validation": ("In validation every fit applied the same rule to its own training referrals and left out: "
                            "{items}."),
        "left_fits": "{name} ({k} of {of} fits)",
        "performance": "Performance",
        "performance_text": ("Out-of-sample: **temporal** (fitted on screenings before {cut}, tested on those from "
                             "it) and **leave one community out** (each community predicted by a model fitted on "
                             "the others). C statistic with its 95% interval (DeLong); calibration intercept "
                             "(calibration-in-the-large, 0 is ideal) and slope (1 is ideal) with 95% intervals; "
                             "Emax, the largest gap between predicted and observed risk on the calibration curve "
                             "(rms::val.prob)."),
        "decision": "Decision curve (net benefit against treating all and treating none):",
        "decision_range": ("- {scheme}: the model is above both at threshold risks {ranges}; at the band "
                           "cut-offs: {at}."),
        "decision_none": "- {scheme}: the model is not above both at any threshold risk of the curve.",
        "decision_at": "{pt} net benefit {model} (treat all {all})", "sep": "; ", "comma": ", ",
        "subgroups": "Subgroups",
        "subgroups_text": ("The same figures by sex, age group and community type. The rule, declared before "
                           "looking: a group is worse when its C statistic interval lies wholly below the overall "
                           "C statistic, or its calibration slope is below {slope_below}, or its calibration "
                           "intercept is beyond ±{citl_beyond}; fewer than {min_events} events or non-events is "
                           "too few to judge."),
        "limits": "Limits",
        "limits_text": ("- The data are {source}: {n} referrals and {events} events; intervals are wide and "
                        "subgroups small.\n"
                        "- The outcome is known only where a PHQ-9 was stored in weeks {from_week}-{to_week}: "
                        "{no_review} of {population} referrals had none and {no_baseline} had no baseline PHQ-9; "
                        "they are outside the denominator, and if those who miss their review differ, the risk is "
                        "biased for them.\n"
                        "{wear}"
                        "- The outcome is not improving with the care given: a high risk says \"look again\", not "
                        "\"this care will fail\" or \"this person is in danger\".\n"
                        "- The bands' cut-offs ({medium_from} and {high_from}) are programme settings: {how}"),
        "recalibrate": "How to recalibrate for a new site",
        "recalibrate_text": ("A new site has another mix of residents and services, so the risks may be too high "
                             "or too low even when the ranking holds. With at least a few hundred of the site's "
                             "referrals with a known outcome:\n\n"
                             "```python\n"
                             "from workbench.risk.artefact import load_model\n"
                             "from workbench.risk.predict import recalibrate\n"
                             "from workbench.risk.validation import performance\n"
                             "model = load_model(\"{folder}\")\n"
                             "local = recalibrate(model, site_tables, site=\"<site>\", method=\"intercept\", "
                             "created=\"<date>\")\n"
                             "local.save(\"<folder of the site's model>\")\n"
                             "```\n\n"
                             "`method=\"intercept\"` refits the intercept only (safest with few events); "
                             "`\"logistic\"` refits the intercept and the slope of the linear predictor. The "
                             "weights of the predictors are kept, so the ranking (C statistic) does not change; the "
                             "new version is `{version}-recal-<site>`. **Check after:** on the site's later "
                             "referrals (not those used to recalibrate), the calibration intercept should be near 0 "
                             "and the slope near 1 (`performance` of the out-of-sample predictions), and the "
                             "subgroup table should say nothing new is worse."),
        "recalibrated": ("This model is itself recalibrated: method {method} at site {site} on {n} referrals "
                         "({events} events), intercept {intercept}, slope {slope}; observed rate {observed}, mean "
                         "risk {before} before and {after} after; base model {base_model} (data {base_data})."),
        "versions": "Versions",
        "col_scheme": "validation", "col_n": "n", "col_events": "events", "col_auc": "C statistic (95% CI)",
        "col_citl": "calibration intercept (95% CI)", "col_slope": "calibration slope (95% CI)", "col_emax": "Emax",
        "col_by": "by", "col_group": "group", "col_verdict": "verdict", "col_statement": "statement",
        "col_name": "name", "col_label": "what", "col_kind": "kind", "col_source": "from", "col_step": "step",
        "col_what": "what", "col_why": "why", "col_item": "item", "col_value": "value",
        "temporal": "temporal", "community": "leave one community out",
        "worse": "worse", "not_worse": "not worse", "too_few": "too few to judge", "cannot_estimate": "cannot be estimated",
        "v_model": "model", "v_kind": "kind", "v_spec": "spec (SHA-256)", "v_thresholds": "outcome thresholds",
        "v_data": "data version", "v_created": "created", "v_pickle": "model file SHA-256",
        "v_validated": "validated with (temporal cut)",
        "synthetic": "synthetic (workbench.synth: no row describes a real person)",
    },
    "zh": {
        "title": "模型说明卡：{name}（{model}）",
        "use": "用途和使用者",
        "use_text": ("**使用者：** 项目的心理咨询师和家庭医生，用于在已转介到第{tiers}级的居民中分配有限的时间和精力。\n\n"
                     "**用途：** 提示工作人员再看一看这位居民（打个电话、提前复评、请督导精神科医生看看），与分级并列显示，"
                     "并列出主要原因。它不是决定：人做出的分级保持不变，也不会因为风险低而减少、推迟或拒绝任何人的服务。\n\n"
                     "**绝不：** {never}\n\n"
                     "**适用人群：** {population}"),
        "nice": "英国NICE NG225（2022）指南不建议用预测自杀或自伤的风险工具和量表来决定谁能得到服务（见REFERENCE.md）。",
        "data": "数据",
        "data_text": ("训练数据为{source}分析表：结局已知的转介{n}例，其中未见好转{events}例（{rate}），筛查日期从{first}到{last}。"
                      "数据版本{data_version}（对数据表{tables}计算的哈希值）。验证数据各步骤的转介数："),
        "outcome": "结局",
        "outcome_text": ("`{id}`：{text}\n\n定义`{definition}`，数值取自`workbench/outcomes/thresholds.yaml`（版本"
                         "{thresholds_version}）：转介后第{from_week}-{to_week}周最后一次PHQ-9仍≥{below:g}分，且较筛查时下降不到"
                         "{fall:.0%}。来源：{source}"),
        "predictors": "预测因子",
        "predictors_text": "共{k}个预测因子，都是筛查当天已知的信息：",
        "excluded": "有意不作为预测因子的信息：",
        "left_out_text": ("按模型说明中的规则（`min_observed`：训练用的转介中至少{rows}例有该项记录，且其中未见好转和好转的"
                          "各至少{events}例），下表中的预测因子未纳入这次建模。{why}来源：{source}"),
        "col_rows": "有记录的转介数", "col_yes": "未见好转", "col_no": "好转", "col_reason": "未纳入的原因",
        "wear_limit": ("- 手环数据：{n}例训练转介中有{no_wear}例在筛查前{days}天没有手环数据；手环相关预测因子作用很小，"
                       "对有手环的居民模型尚未验证。\n"),
        "left_family": ("- {what}相关预测因子未纳入模型：只有{rows}例转介有记录（未见好转{yes}例，好转{no}例；规则要求至少"
                        "{min_rows}例转介，两种结局各至少{min_events}例）。风险估计不使用这些信息。\n"),
        "left_one": ("- {what}未纳入模型：只有{rows}例转介有记录（未见好转{yes}例，好转{no}例；规则要求至少{min_rows}例转介，"
                     "两种结局各至少{min_events}例）。风险估计不使用这项信息。\n"),
        "left_validation": "验证时，每次建模都在自己的训练转介中按同一规则判断，未纳入的有：{items}。",
        "left_fits": "{name}（{of}次建模中{k}次）",
        "performance": "模型表现",
        "performance_text": ("均为样本外验证：**按时间验证**（用{cut}之前的筛查建模，检验该日及以后的筛查）和**留一社区验证**"
                             "（每个社区都用其他社区建立的模型来预测）。C统计量及其95%置信区间（DeLong法）；校准截距"
                             "（整体校准，理想值为0）和校准斜率（理想值为1）及其95%置信区间；Emax为校准曲线上预测风险与实际风险"
                             "的最大差距（rms::val.prob）。"),
        "decision": "决策曲线（与\"全部干预\"和\"全不干预\"相比的净获益）：",
        "decision_range": "- {scheme}：阈值风险为{ranges}时，模型的净获益同时高于两者；在分档切点处：{at}。",
        "decision_none": "- {scheme}：在曲线的任何阈值风险下，模型的净获益都没有同时高于两者。",
        "decision_at": "{pt}时净获益{model}（全部干预{all}）", "sep": "；", "comma": "、",
        "subgroups": "亚组",
        "subgroups_text": ("按性别、年龄组和社区类型分别计算同样的指标。判断标准在看结果之前就已规定：若某组C统计量的置信区间"
                           "整体低于总体C统计量，或校准斜率低于{slope_below}，或校准截距超出±{citl_beyond}，则判为较差；事件数或"
                           "非事件数少于{min_events}例则判为人数太少、无法判断。"),
        "limits": "局限",
        "limits_text": ("- 数据为{source}：只有{n}例转介、{events}例事件，置信区间较宽，亚组人数少。\n"
                        "- 只有在第{from_week}-{to_week}周存有PHQ-9的转介才知道结局：{population}例转介中{no_review}例没有，"
                        "{no_baseline}例没有基线PHQ-9，它们不计入分母；如果错过复评的人与其他人不同，对他们的风险估计会有偏差。\n"
                        "{wear}"
                        "- 结局是\"在现有服务下未见好转\"：风险高的意思是\"再看一看\"，不是\"这种服务会失败\"，也不是\"这个人有危险\"。\n"
                        "- 分档切点（{medium_from}和{high_from}）是项目设置：{how}"),
        "recalibrate": "在新站点如何重新校准",
        "recalibrate_text": ("新站点的居民构成和服务不同，即使排序仍然有效，风险也可能整体偏高或偏低。在该站点有至少几百例结局已知的"
                             "转介时：\n\n"
                             "```python\n"
                             "from workbench.risk.artefact import load_model\n"
                             "from workbench.risk.predict import recalibrate\n"
                             "from workbench.risk.validation import performance\n"
                             "model = load_model(\"{folder}\")\n"
                             "local = recalibrate(model, site_tables, site=\"<站点>\", method=\"intercept\", "
                             "created=\"<日期>\")\n"
                             "local.save(\"<该站点模型的文件夹>\")\n"
                             "```\n\n"
                             "`method=\"intercept\"`只重新估计截距（事件少时最稳妥）；`\"logistic\"`重新估计线性预测值的截距和斜率。"
                             "各预测因子的权重不变，所以排序（C统计量）不变；新版本号为`{version}-recal-<站点>`。"
                             "**校准之后要检查：** 在该站点之后的转介上（不是用来校准的那些），校准截距应接近0、斜率接近1"
                             "（对样本外预测用`performance`计算），亚组表也不应出现新的\"较差\"。"),
        "recalibrated": ("本模型本身是重新校准过的：方法{method}，站点{site}，{n}例转介（{events}例事件），截距{intercept}，"
                         "斜率{slope}；实际发生率{observed}，平均风险校准前{before}、校准后{after}；原模型{base_model}"
                         "（数据{base_data}）。"),
        "versions": "版本",
        "col_scheme": "验证方式", "col_n": "人数", "col_events": "事件数", "col_auc": "C统计量（95%置信区间）",
        "col_citl": "校准截距（95%置信区间）", "col_slope": "校准斜率（95%置信区间）", "col_emax": "Emax",
        "col_by": "分组方式", "col_group": "组别", "col_verdict": "判断", "col_statement": "说明",
        "col_name": "名称", "col_label": "含义", "col_kind": "类型", "col_source": "来源", "col_step": "步骤",
        "col_what": "内容", "col_why": "原因", "col_item": "项目", "col_value": "值",
        "temporal": "按时间验证", "community": "留一社区验证",
        "worse": "较差", "not_worse": "不比总体差", "too_few": "人数太少，无法判断", "cannot_estimate": "无法估计",
        "v_model": "模型", "v_kind": "类型", "v_spec": "模型说明文件（SHA-256）", "v_thresholds": "结局阈值",
        "v_data": "数据版本", "v_created": "创建时间", "v_pickle": "模型文件SHA-256",
        "v_validated": "验证（时间切点）",
        "synthetic": "合成数据（由workbench.synth生成，没有一行对应真实的人）",
    },
}
_SOURCE = {"en": {"registry": "the registry's", "export": "exported", "memory": "in-memory"},
           "zh": {"registry": "登记库的", "export": "导出的", "memory": "内存中的"}}
_KIND = {"en": {"numeric": "number", "binary": "yes/no", "category": "category"},
         "zh": {"numeric": "数值", "binary": "是/否", "category": "分类"}}
_GROUP = {"en": {}, "zh": {"female": "女", "male": "男", "urban": "城市", "rural": "农村", "ageing": "老龄化",
                          "unknown": "未知"}}
#: Predictors read from one source with a ``no_data`` indicator form a family (shown as one line).
_FAMILY = {"wearable": {"en": "Wristband", "zh": "手环"}}
_BY = {"en": {"sex": "sex", "age_group": "age group", "community_type": "community type"},
       "zh": {"sex": "性别", "age_group": "年龄组", "community_type": "社区类型"}}


def _f(x: Any, digits: int = 3) -> str:
    """A number as the card shows it (``digits`` decimals); a blank as an en dash."""
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return "–"
    return f"{float(x):.{digits}f}"


def _ci(row, point: str, low: str, high: str, lang: str = "en") -> str:
    return f"{_f(row[point])} ({_f(row[low])} {'至' if lang == 'zh' else 'to'} {_f(row[high])})"


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


def _table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (cells as text; ``|`` escaped)."""
    cells = frame.astype(object).where(frame.notna(), "–").astype(str).apply(lambda c: c.str.replace("|", "\\|"))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _decision_summary(dc: pd.DataFrame, bands: dict, w: dict) -> list[str]:
    lines = []
    for scheme, g in dc.groupby("scheme", sort=False):
        wide = g.pivot_table(index="threshold", columns="strategy", values="net_benefit", aggfunc="first").sort_index()
        better = (wide["model"] > wide["treat_all"]) & (wide["model"] > wide["treat_none"])
        name = w.get(scheme, scheme)
        if not better.any():
            lines.append(w["decision_none"].format(scheme=name))
            continue
        flags = better.to_numpy(bool)
        grid = wide.index.to_numpy(float)
        ranges, start = [], None
        for k, ok in enumerate(flags):  # runs of consecutive thresholds where the model is above both
            if ok and start is None:
                start = k
            if start is not None and (not ok or k == len(flags) - 1):
                end = k if ok else k - 1
                ranges.append(f"{grid[start]:g}" if start == end else f"{grid[start]:g}–{grid[end]:g}")
                start = None
        at = []
        for cut in (bands["medium_from"], bands["high_from"]):
            hit = wide.index[np.isclose(wide.index.to_numpy(float), cut)]
            if len(hit):
                r = wide.loc[hit[0]]
                at.append(w["decision_at"].format(pt=f"{hit[0]:g}", model=_f(r["model"]), all=_f(r["treat_all"])))
        lines.append(w["decision_range"].format(scheme=name, ranges=", ".join(ranges), at=w["sep"].join(at) or "–"))
    return lines


def _left_out_section(m: dict, spec, w: dict, lang: str) -> list[str]:
    """The predictors the fit left out (``predictors_left_out``), with the rule and its counts."""
    from workbench.risk.models import LEFT_OUT_REASONS

    left = m.get("predictors_left_out") or []
    if not left:
        return []
    rule = spec.min_observed
    return [w["left_out_text"].format(rows=left[0]["min_rows"], events=left[0]["min_events"],
                                      why=rule["text"][lang], source=rule["source"][lang]), "",
            _table(pd.DataFrame({w["col_name"]: [x["name"] for x in left],
                                 w["col_label"]: [spec.label(x["name"], lang) for x in left],
                                 w["col_rows"]: [x["rows"] for x in left], w["col_yes"]: [x["events"] for x in left],
                                 w["col_no"]: [x["non_events"] for x in left],
                                 w["col_reason"]: [LEFT_OUT_REASONS[x["reason"]][lang] for x in left]})), ""]


def _span(values) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def _limits_wear(m: dict, spec, w: dict, lang: str, *, no_wear) -> str:
    """The limits' lines on wristband data and on every predictor left out of the fit."""
    left = m.get("predictors_left_out") or []
    t = m["training"]
    days = next((p.options.get("days") for p in spec.predictors if p.options.get("indicator") == "no_data"), "–")
    lines, families = [], {}
    for x in left:
        if x["source"] in _FAMILY:
            families.setdefault(x["source"], []).append(x)
        else:
            lines.append(w["left_one"].format(what=spec.label(x["name"], lang), rows=x["rows"], yes=x["events"],
                                              no=x["non_events"], min_rows=x["min_rows"], min_events=x["min_events"]))
    for source, xs in families.items():
        counted = [x for x in xs if x["reason"] != "family_left_out"] or xs
        lines.insert(0, w["left_family"].format(
            what=_FAMILY[source][lang], rows=_span([x["rows"] for x in counted]),
            yes=_span([x["events"] for x in counted]), no=_span([x["non_events"] for x in counted]),
            min_rows=xs[0]["min_rows"], min_events=xs[0]["min_events"]))
    if "wearable" not in families and any(p.source == "wearable" for p in spec.predictors if p.name in m["predictors"]):
        lines.insert(0, w["wear_limit"].format(no_wear=no_wear, n=t["n"], days=days))
    return "".join(lines)


def _left_in_validation(report, kind: str, w: dict) -> list[str]:
    """How often each predictor was left out by the fits of the validation (decided per split)."""
    left = getattr(report, "left_out", None)
    if left is None or not len(left) or not (left["kind"] == kind).any():
        return []
    fits = len(report.by_split[report.by_split["kind"] == kind])
    k = left[left["kind"] == kind].groupby("name", sort=False).size()
    return [w["left_validation"].format(items=w["comma"].join(
        w["left_fits"].format(name=f"`{name}`", k=int(n), of=fits) for name, n in k.items())), ""]


@validate_params({"lang": Options("en", "zh")})
def model_card(saved_model, report, *, lang: str = "en") -> str:
    """The model card of a saved model and its validation, in Markdown.

    Parameters
    ----------
    saved_model : workbench.risk.artefact.SavedModel
        The model (its metadata gives the data, outcome, predictors, versions).
    report : workbench.risk.validation.ValidationReport
        Its validation (the rows of the model's kind are shown): ``performance``,
        ``decision_curve``, ``subgroups``, ``exclusions``, ``cut``, ``attrs["subgroup_rule"]``.
    lang : {"en", "zh"}
        The card's language.

    Returns
    -------
    str
        Markdown: a title and the sections :data:`SECTIONS` (``##`` headings in ``lang``).
        Numbers are the report's and the metadata's, to 3 decimals (risks and net benefits),
        percentages to 1.

    Raises
    ------
    ValueError
        When the report validated another spec, or holds no row of the model's kind.

    Examples
    --------
    >>> from workbench.risk._toy import toy_report, toy_saved
    >>> card = model_card(toy_saved(), toy_report(), lang="zh")
    >>> card.splitlines()[0]
    '# 模型说明卡：第8-12周复评时未见好转（not_improving_logistic@1.1）'
    >>> "不是自杀风险评分" in card
    True
    """
    w = WORDS[lang]
    m = saved_model.metadata
    spec = saved_model.spec
    kind = m["kind"]
    report_model = getattr(report, "attrs", {}).get("model") or report.spec.model_id
    if report_model != spec.model_id:
        raise ValueError(f"The report validated {report_model}, the model is of {spec.model_id}: a card joins a model "
                         "and its own validation.")
    perf = report.performance[report.performance["kind"] == kind]
    if not len(perf):
        raise ValueError(f"The report has no {kind!r} rows (it validated {sorted(report.performance['kind'].unique())}).")
    t = m["training"]
    out = [f"# {w['title'].format(name=spec.name[lang], model=m['model'])}", ""]

    tiers = (" or " if lang == "en" else "或第").join(str(t) for t in spec.tiers)
    out += [f"## {w['use']}", "", w["use_text"].format(never=spec.never[lang] + " " + w["nice"], tiers=tiers,
                                                       population=spec.population[lang]), ""]

    source = w["synthetic"] if t.get("source") in ("synth", "sample") else _SOURCE[lang].get(t.get("source"), "–")
    ex = report.exclusions
    out += [f"## {w['data']}", "", w["data_text"].format(
        source=source, n=t["n"], events=t["events"], rate=_pct(t["events"] / t["n"]) if t["n"] else "–",
        first=t["first"], last=t["last"], data_version=m["data_version"], tables=", ".join(m["data_tables"])), "",
        _table(pd.DataFrame({w["col_step"]: ex[lang], w["col_n"]: ex["n"]})), ""]

    o = m["outcome"]
    out += [f"## {w['outcome']}", "", w["outcome_text"].format(
        id=o["id"], text=o[lang], definition=o["definition"], thresholds_version=o["thresholds_version"],
        from_week=o["weeks"][0], to_week=o["weeks"][1], below=o["phq9_below"], fall=o["min_fall"],
        source=spec.outcome.source_text.get(lang) or o["source"]), ""]

    pt = spec.predictors_table(lang)
    pt = pt[pt["name"].isin(m["predictors"])]  # those the model was fitted with
    out += [f"## {w['predictors']}", "", w["predictors_text"].format(k=len(m["predictors"])), "",
            _table(pd.DataFrame({w["col_name"]: pt["name"], w["col_label"]: pt["label"],
                                 w["col_kind"]: pt["kind"].map(_KIND[lang]), w["col_source"]: pt["details"]})), "",
            *_left_out_section(m, spec, w, lang),
            w["excluded"], "",
            _table(pd.DataFrame({w["col_what"]: [e["what"][lang] for e in spec.excluded],
                                 w["col_why"]: [e["why"][lang] for e in spec.excluded]})), ""]

    rows = pd.DataFrame({
        w["col_scheme"]: perf["scheme"].map(lambda s: w.get(s, s)), w["col_n"]: perf["n"],
        w["col_events"]: perf["events"],
        w["col_auc"]: [_ci(r, "auc", "auc_lower", "auc_upper", lang) for _, r in perf.iterrows()],
        w["col_citl"]: [_ci(r, "citl", "citl_lower", "citl_upper", lang) for _, r in perf.iterrows()],
        w["col_slope"]: [_ci(r, "slope", "slope_lower", "slope_upper", lang) for _, r in perf.iterrows()],
        w["col_emax"]: [_f(r.get("emax")) for _, r in perf.iterrows()]})
    dc = report.decision_curve[report.decision_curve["kind"] == kind]
    out += [f"## {w['performance']}", "", w["performance_text"].format(cut=pd.Timestamp(report.cut).date()), "",
            _table(rows), "", *_left_in_validation(report, kind, w), w["decision"], "",
            *_decision_summary(dc, m["bands"], w), ""]

    rule = report.attrs.get("subgroup_rule", {})
    sg = report.subgroups[report.subgroups["kind"] == kind]
    out += [f"## {w['subgroups']}", "", w["subgroups_text"].format(
        slope_below=rule.get("slope_below", "–"), citl_beyond=rule.get("citl_beyond", "–"),
        min_events=rule.get("min_events", "–")), "",
        _table(pd.DataFrame({
            w["col_scheme"]: sg["scheme"].map(lambda s: w.get(s, s)), w["col_by"]: sg["by"].map(_BY[lang]),
            w["col_group"]: sg["group"].map(lambda g: _GROUP[lang].get(str(g), str(g))), w["col_n"]: sg["n"], w["col_events"]: sg["events"],
            w["col_auc"]: [_ci(r, "auc", "auc_lower", "auc_upper", lang) for _, r in sg.iterrows()],
            w["col_citl"]: [_f(v) for v in sg["citl"]], w["col_slope"]: [_f(v) for v in sg["slope"]],
            w["col_verdict"]: sg["verdict"].map(lambda v: w.get(v, v))})), ""]
    out += [f"- {s}" for s in sg[f"statement_{lang}"]] + [""]

    steps = ex.set_index("step")["n"]
    no_wear = t.get("no_wearable_rows")
    out += [f"## {w['limits']}", "", w["limits_text"].format(
        source=source, n=t["n"], events=t["events"], from_week=o["weeks"][0], to_week=o["weeks"][1],
        no_review=int(steps.get("no_review_in_window", 0)), no_baseline=int(steps.get("no_baseline", 0)),
        population=int(steps.get("population", 0)),
        wear=_limits_wear(m, spec, w, lang, no_wear="–" if no_wear is None else no_wear),
        medium_from=m["bands"]["medium_from"], high_from=m["bands"]["high_from"], how=spec.how_to_choose[lang]), ""]

    folder = saved_model.folder.as_posix() if saved_model.folder is not None else "<model folder>"
    base_version = m["version"].split("-recal-")[0]
    out += [f"## {w['recalibrate']}", "", w["recalibrate_text"].format(folder=folder, version=base_version), ""]
    rc = m.get("recalibration")
    if rc:
        out += [w["recalibrated"].format(
            method=rc["method"], site=rc["site"], n=rc["n"], events=rc["events"], intercept=_f(rc["intercept"]),
            slope=_f(rc["slope"]), observed=_pct(rc["observed_rate"]), before=_pct(rc["mean_risk_before"]),
            after=_pct(rc["mean_risk_after"]), base_model=rc["base_model"], base_data=rc["base_data_version"]), ""]

    pickle = (m.get("pickle") or {}).get("sha256") or "–"
    versions = [(w["v_model"], m["model"]), (w["v_kind"], kind),
                (w["v_spec"], f"{m['spec'].get('id', spec.id)}@{m['spec'].get('version', spec.version)} "
                              f"({str(m['spec'].get('sha256', '–'))[:16]})"),
                (w["v_thresholds"], o["thresholds_version"]), (w["v_data"], m["data_version"]),
                (w["v_validated"], f"{report_model} ({pd.Timestamp(report.cut).date()})"),
                (w["v_created"], m["created"]), (w["v_pickle"], pickle[:16])]
    versions += sorted(m["versions"].items())
    out += [f"## {w['versions']}", "", _table(pd.DataFrame(versions, columns=[w["col_item"], w["col_value"]])), ""]
    return "\n".join(out)

