"""Words of the cohort explorer (:mod:`workbench.ui.explorer`) in Chinese and English: group
names, the data note, the sparse-data warning, Cox fit messages, and what each endpoint's
competing outcomes are called. Private: :mod:`workbench.ui.explorer` offers what others import.
"""

from __future__ import annotations

import html
import re
from typing import Sequence

from workbench.cohort import CAUSES
from workbench.i18n import t
from workbench.survival_regression import EVENTS_PER_PARAMETER

__all__ = ["COMPETING", "EVENTS_PER_PARAMETER", "EVENTS_PER_PARAMETER_RELAXED", "cause_names", "cox_fit_message",
           "data_note", "html_table", "level_label", "say", "sparse_warning"]

#: Events per Cox parameter below which the explorer warns: :data:`EVENTS_PER_PARAMETER` (10, Peduzzi
#: et al. 1995, J Clin Epidemiol 48:1503, declared in :mod:`workbench.survival_regression`, whose
#: ``cox`` warns at the same number); Vittinghoff & McCulloch 2007 (Am J Epidemiol 165:710) found
#: 5-9 often acceptable, so the words say so, and warn more firmly below this.
EVENTS_PER_PARAMETER_RELAXED = 5

_WORDS = {
    "sparse": {"en": "Sparse data: {events} events for {params} Cox parameters ({epv:.1f} per parameter). Below 10 per "
                     "parameter hazard ratios can be biased and their intervals wrong (Peduzzi et al. 1995); "
                     "Vittinghoff & McCulloch (2007) found 5 to 9 often acceptable{below}. Adjust for fewer "
                     "covariates or widen the filters.",
               "zh": "数据稀疏：{events} 个事件对应 {params} 个 Cox 参数（每个参数 {epv:.1f} 个事件）。每个参数少于 10 个"
                     "事件时，风险比可能有偏、置信区间可能不准（Peduzzi 等 1995）；Vittinghoff 与 McCulloch（2007）"
                     "认为 5 至 9 个常可接受{below}。请减少调整变量或放宽筛选条件。"},
    "below_relaxed": {"en": ", but not fewer than 5", "zh": "，但不应少于 5 个"},
    "no_events": {"en": "The Cox model cannot be fitted: no events among the residents chosen.",
                  "zh": "无法拟合 Cox 模型：所选居民中没有发生事件。"},
    "constant": {"en": "The Cox model cannot be fitted: {names} is the same for everyone chosen, so it has no effect to "
                       "estimate. Leave it out or widen the filters.",
                 "zh": "无法拟合 Cox 模型：所选居民的“{names}”都相同，无法估计其作用。请去掉该变量或放宽筛选条件。"},
    "together": {"en": "The Cox model cannot be fitted: {names} cannot all be estimated together (one repeats the others, "
                       "or does not vary among those still followed when events happen). Leave one out or widen the "
                       "filters.",
                 "zh": "无法拟合 Cox 模型：{names} 不能同时估计（其中一个与其他变量重复，或在发生事件时仍在随访的"
                       "居民中没有差异）。请去掉一个变量或放宽筛选条件。"},
    "other": {"en": "The Cox model cannot be fitted: {reason}", "zh": "无法拟合 Cox 模型：{reason}"},
    "infinite": {"en": "The hazard ratio of {names} is not usable: it may be infinite (among those chosen it separates "
                       "those with the event from those without). Leave it out or widen the filters.",
                 "zh": "“{names}”的风险比不可用：可能为无穷大（在所选居民中，它把发生事件与未发生事件的人完全分开）。"
                       "请去掉该变量或放宽筛选条件。"},
    # --- competing outcomes (issue 20) ---
    "cif_y": {"en": "Cumulative incidence of {event}", "zh": "{event}的累积发生率"},
    "cif_y_all": {"en": "Cumulative incidence of each outcome", "zh": "各结局的累积发生率"},
    "cif_alt": {"en": "Cumulative incidence curves (Aalen-Johansen): {what}, with the number at risk under the curves; "
                      "the dotted line marks {m} months, the time of the table below.",
                "zh": "累积发生率曲线（Aalen-Johansen 法）：{what}，曲线下方为风险人数；虚线标出 {m} 个月，即下表所用的时间。"},
    "outcomes_title": {"en": "Residents, events and how follow-up had ended by {m} months (the dotted line): "
                             "cumulative incidence, % (95% CI), Aalen-Johansen",
                       "zh": "各组居民人数、事件数及随访 {m} 个月（虚线处）时的结局：累积发生率，%（95%置信区间），"
                             "Aalen-Johansen 法"},
    "by_months": {"en": "{cause} by {m} months, %", "zh": "{m} 个月内{cause}，%"},
    "none_yet": {"en": "No outcome yet, %", "zh": "尚无结局，%"},
    "logrank_cs": {"en": "Log-rank test of equal cause-specific hazards of {event} (competing outcomes censored: it "
                         "compares hazards, not the cumulative incidence curves)",
                   "zh": "各组{event}特定原因风险相同的 Log-rank 检验（竞争结局按截尾处理：比较的是风险，不是累积发生率曲线）"},
    "pairwise_cs": {"en": "Pairwise log-rank tests of the cause-specific hazards of {event} (Holm-adjusted p)",
                    "zh": "{event}特定原因风险的两两 Log-rank 检验（Holm 校正 p 值）"},
    "cox_cs": {"en": "Cox model: cause-specific hazard ratios of {event}, competing outcomes censored ({n} residents, "
                     "{events} events)",
               "zh": "Cox 模型：{event}的特定原因风险比，竞争结局按截尾处理（{n} 名居民，{events} 例事件）"},
    "forest_cs": {"en": "Cause-specific hazard ratio of {event} (log scale)", "zh": "{event}的特定原因风险比（对数刻度）"},
}

_DIED_FIRST = {"en": "Died first", "zh": "事件前死亡"}
#: Endpoints with competing outcomes: the words of each cause code of their ``event`` column
#: (:data:`workbench.cohort.CAUSES`), the event as a phrase, and why the curves are cumulative
#: incidence (one line, shown beside the results).
COMPETING = {
    "dropout": {
        "causes": {CAUSES["dropout"]: {"en": "Dropout", "zh": "脱落"},
                   CAUSES["death"]: {"en": "Died in care", "zh": "服务期间死亡"},
                   CAUSES["completed"]: {"en": "Care completed", "zh": "完成服务"}},
        "event": {"en": "dropout", "zh": "脱落"},
        "why": {"en": "Completing care and dying in care are outcomes, not censoring: the curves show the cumulative "
                      "incidence of dropout (Aalen-Johansen), the share who had dropped out by each time; counting "
                      "them as censored (1 − Kaplan-Meier) would make everyone look like a future dropout.",
                "zh": "完成服务和服务期间死亡是结局，不是截尾：曲线显示脱落的累积发生率（Aalen-Johansen 法），即到各时间点"
                      "已脱落的比例；若把它们当作截尾（1 − Kaplan-Meier），就好像所有人将来都会脱落。"}},
    "remission": {
        "causes": {CAUSES["event"]: {"en": "Remission", "zh": "缓解"},
                   CAUSES["death"]: {"en": "Died first", "zh": "缓解前死亡"},
                   CAUSES["care_ended"]: {"en": "Care ended first", "zh": "缓解前服务结束"}},
        "event": {"en": "remission", "zh": "缓解"},
        "why": {"en": "Death and the end of care before a remission are outcomes, not censoring (nobody reviews PHQ-9 "
                      "after care ends): the curves show the cumulative incidence of remission (Aalen-Johansen); "
                      "counting them as censored would overstate remission.",
                "zh": "缓解前死亡或服务结束是结局，不是截尾（服务结束后不再复查 PHQ-9）：曲线显示缓解的累积发生率"
                      "（Aalen-Johansen 法）；若把它们当作截尾，会高估缓解。"}},
    "crisis_or_er": {
        "causes": {CAUSES["event"]: {"en": "Crisis or ER visit", "zh": "危机事件或急诊"}, CAUSES["death"]: _DIED_FIRST},
        "event": {"en": "a crisis or ER visit", "zh": "危机事件或急诊"},
        "why": {"en": "Death before a crisis or ER visit is an outcome, not censoring: the curves show the cumulative "
                      "incidence of the event (Aalen-Johansen); counting death as censored would overstate it.",
                "zh": "发生危机事件或急诊前死亡是结局，不是截尾：曲线显示该事件的累积发生率（Aalen-Johansen 法）；"
                      "若把死亡当作截尾，会高估该事件。"}},
    "cardiovascular": {
        "causes": {CAUSES["event"]: {"en": "Cardiovascular event", "zh": "心血管事件"}, CAUSES["death"]: _DIED_FIRST},
        "event": {"en": "a cardiovascular event", "zh": "心血管事件"},
        "why": {"en": "Death before a cardiovascular event is an outcome, not censoring: the curves show the "
                      "cumulative incidence of the event (Aalen-Johansen); counting death as censored would overstate it.",
                "zh": "发生心血管事件前死亡是结局，不是截尾：曲线显示该事件的累积发生率（Aalen-Johansen 法）；"
                      "若把死亡当作截尾，会高估该事件。"}},
}


def say(key: str, lang: str, **values) -> str:
    """One of the explorer's own sentences in ``lang``, with ``values`` filled in.

    Examples
    --------
    >>> say("cif_y", "en", event="dropout"), say("cif_y", "zh", event="脱落")
    ('Cumulative incidence of dropout', '脱落的累积发生率')
    """
    return _WORDS[key][lang].format(**values)


def cause_names(endpoint: str, lang: str) -> dict[int, str]:
    """Cause code -> its name in ``lang`` for an endpoint with competing outcomes (the event first).

    Examples
    --------
    >>> cause_names("dropout", "en")
    {1: 'Dropout', 2: 'Died in care', 3: 'Care completed'}
    """
    return {code: words[lang] for code, words in COMPETING[endpoint]["causes"].items()}


def sparse_warning(*, events: int, params: int, lang: str) -> str | None:
    """The sparse-data warning when there are fewer than :data:`EVENTS_PER_PARAMETER` events
    per Cox parameter, else None.

    Examples
    --------
    >>> print(sparse_warning(events=35, params=7, lang="en"))  # doctest: +ELLIPSIS
    Sparse data: 35 events for 7 Cox parameters (5.0 per parameter). Below 10 per parameter ...
    >>> sparse_warning(events=70, params=7, lang="en") is None
    True
    """
    epv = events / params
    if epv >= EVENTS_PER_PARAMETER:
        return None
    below = _WORDS["below_relaxed"][lang] if epv < EVENTS_PER_PARAMETER_RELAXED else ""
    return _WORDS["sparse"][lang].format(events=events, params=params, epv=epv, below=below)


def cox_fit_message(reason: str, labels: dict, lang: str) -> str:
    """A :class:`~workbench.survival.CoxFitError`'s message for a person, in ``lang``, with the
    model's column names replaced by the labels shown (``labels``: column -> label).

    Examples
    --------
    >>> cox_fit_message("'female' takes one value in every row: there is no effect to estimate; leave it out",
    ...                 {"female": "Female (vs male)"}, "en")  # doctest: +ELLIPSIS
    'The Cox model cannot be fitted: Female (vs male) is the same for everyone chosen, ...'
    """
    named = [labels[c] for c in labels if f"'{c}'" in reason]
    names = "、".join(named) if lang == "zh" else ", ".join(named)
    if "converged before" in reason and named:  # a CoxConvergenceWarning naming the covariates
        return _WORDS["infinite"][lang].format(names=names)
    if reason.startswith("no events"):
        return _WORDS["no_events"][lang]
    if "one value in every row" in reason and named:
        return _WORDS["constant"][lang].format(names=names)
    if "cannot all be estimated together" in reason and named:
        return _WORDS["together"][lang].format(names=names)
    for column, label in labels.items():
        reason = re.sub(rf"'{re.escape(column)}'", label, reason)
    return _WORDS["other"][lang].format(reason=reason)


def level_label(grouping: str, value, lang: str) -> str:
    """The name of one group (a value of the grouping's column) in ``lang``.

    Examples
    --------
    >>> level_label("age_group", "age_60_69", "zh"), level_label("age_group", "age_80_plus", "en")
    ('60–69岁', '80 and over')
    >>> level_label("tier", "tier_2", "en"), level_label("disease_category", "B", "en")
    ('Tier 2 counselling', 'B Metabolic')
    """
    if grouping == "age_group":
        _, lo, hi = str(value).split("_")
        if lo == "0":
            return t("age_under", lang).format(hi=int(hi) + 1)
        if hi == "plus":
            return t("age_over", lang).format(lo=lo)
        return t("age_band", lang).format(lo=lo, hi=hi)
    if grouping == "disease_category":
        from workbench.policy import load_policy

        names = {code: text[lang] for code, _, text in load_policy("default").disease_categories}
        return names.get(value, str(value)) if value == "none" else f"{value} {names.get(value, '')}".strip()
    if grouping == "arm":
        return t(f"arm_{value}", lang)
    if grouping in ("sex", "community_type", "tier", "chronic", "lives_alone"):
        return t(str(value), lang)
    return str(value)


def data_note(data, lang: str) -> str:
    """The sentence above the explorer saying where its data come from, whether they are
    pseudonymised, which policies the tiers were decided under and the censoring date.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame()
    >>> d.attrs.update(source="registry", pseudonymised=True, policy_versions=["default@1.0"], censor_date="2026-12-31")
    >>> data_note(d, "en")
    'Data: the registry, pseudonymised; tiers as decided at the first screening (default@1.0); follow-up censored at 2026-12-31.'
    """
    attrs = data.attrs
    censor = attrs.get("censor_date", "")
    if "source" not in attrs:  # a frame built by hand
        return t("explorer_data_note", lang).format(date=censor)
    source = str(attrs.get("source"))
    known = f"explorer_source_{source}"
    from workbench.i18n import strings

    words = t(known, lang) if known in strings() else source
    privacy = t("explorer_pseudonymised" if attrs.get("pseudonymised") else "explorer_not_pseudonymised", lang)
    policies = ", ".join(attrs.get("policy_versions") or []) or t("explorer_no_decisions", lang)
    return t("explorer_tables_note", lang).format(source=words, privacy=privacy, policies=policies, date=censor)


def html_table(*, caption: str, header: Sequence[str], rows: Sequence[Sequence[str]],
               row_classes: Sequence[str] | None = None) -> str:
    """An accessible HTML table: a caption, column headers with ``scope="col"`` and the first
    cell of each row as its header (``scope="row"``). Cells are escaped here.

    Examples
    --------
    >>> print(html_table(caption="Tests", header=["Group", "n"], rows=[["a<b", "3"]], row_classes=["wb-alert"]))
    <table class="wb-table"><caption>Tests</caption><thead><tr><th scope="col">Group</th><th scope="col">n</th></tr></thead><tbody><tr class="wb-alert"><th scope="row">a&lt;b</th><td>3</td></tr></tbody></table>
    """
    e = html.escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in header)
    body = []
    for k, row in enumerate(rows):
        css = row_classes[k] if row_classes is not None and row_classes[k] else ""
        cells = f'<th scope="row">{e(str(row[0]))}</th>' + "".join(f"<td>{e(str(c))}</td>" for c in row[1:])
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return (f'<table class="wb-table"><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')
