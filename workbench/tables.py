"""The analysis tables: the one declared shape every analysis, notebook, app, report and export reads.

Staff apps and imports write the registry; :meth:`Registry.analysis_tables
<workbench.registry.store.Registry.analysis_tables>` reads these tables from it, ``workbench
export`` writes them to a folder (:func:`write`) and :func:`read` reads such a folder back; the
sample community (:func:`workbench.sample.load_sample`) and :mod:`workbench.synth` produce them too.
Whatever the source, the columns, types, allowed values, keys and links between tables are the
ones declared here (:data:`TABLES`), and :meth:`Tables.validate` reports every problem at once as
``table, row, column, value, rule`` (:class:`workbench.problems.ProblemsError`).

Scores are stored as computed when the answers were saved (``scores``), tiers as decided by a
person (``decisions``): analyses read them and never score or assign tiers again.

The tables (:func:`dictionary` lists every column in Chinese and English):

- ``communities``: each community and its type;
- ``residents``: one row per resident (no names, phone or ID numbers: analyses do not need them);
- ``assessments``: one row per questionnaire taken: resident, date, instrument, why it was
  taken (``purpose``: a ``screening``, a ``review`` during a referral, or a ``study`` visit) and
  the item answers ``item_1`` ... (``item_k`` is the instrument's item k; blank = not answered);
- ``scores``: one row per assessment, as stored: score, band, items answered, prorated, the
  instrument's flags (``self_harm``: True, False or unknown) and derived values;
- ``decisions``: tier decisions on screenings: suggested and decided tier, the rule that fired,
  urgency, service-matrix cell and service, next contact, policy version, who, when, why changed;
- ``measurements``: physiological readings and follow-up visits (blood pressure, glucose, HbA1c,
  body size, lipids, smoking, adherence; units and plausible ranges in ``data/measurements.yaml``);
- ``smd_register``, ``smd_followups``, ``smd_rehab``: the severe-mental-disorder register, its
  risk-graded follow-ups (the stability suggested by the SMD policy when saved, and as judged by
  staff) and the community rehabilitation ladder;
- ``referrals``, ``contacts`` (``status``: planned, attended, missed), ``events``,
  ``enrolments`` (trial arms, cohort studies), ``surveys`` (satisfaction), ``literacy`` and ``consents``;
- ``wearable_days``: a wristband's daily features per resident and local day against the
  person's own baseline, with the wear state and the alert state (missing wear is its own state,
  never "clear"); ``risk_predictions``: the risk model's predictions at a screening, stored beside
  the tier decision (never replacing it), with the band and the top reasons.

Examples
--------
>>> list(TABLES)[:4]
['communities', 'residents', 'assessments', 'scores']
>>> t = Tables()
>>> len(t.residents), t.residents["resident_id"].dtype
(0, string[python])
>>> t.validate() is t
True
>>> dictionary("zh").query("table == 'contacts' and column == 'status'")["description"].item()
'联系状态：planned（计划）、attended（到访）、missed（未到）'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.params import Options, Predicate, validate_params
from workbench.problems import ProblemsError, problems_frame

__all__ = ["Column", "ITEM_COLUMNS", "Link", "TABLES", "TableSpec", "Tables", "TablesError", "dictionary",
           "read", "write"]

#: Version of the declared shape (written into every export's ``tables.json``).
SHAPE_VERSION = "1.0"
CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")
PURPOSES = ("screening", "review", "study")
CONTACT_STATUS = ("planned", "attended", "missed")
EVENT_KINDS = ("er_visit", "crisis", "cardiovascular_event", "hospitalisation", "death", "psychiatric_emergency",
               "psychiatric_discharge")
#: Where a referral came from (``referrals.referral_source``): ``self`` is help sought on one's own.
REFERRAL_SOURCES = ("screening", "self", "family", "staff", "hospital", "other")
#: A wristband's wear on a day, its alert state, and a risk prediction's band (issue 17's contract).
WEAR_STATES = ("worn", "low_wear", "not_worn")
ALERT_STATES = ("flag", "clear", "low_wear", "no_baseline")
RISK_BANDS = ("low", "medium", "high")


class TablesError(ProblemsError):
    """Analysis tables that break their declaration; :attr:`problems` names every bad cell."""


# --- declarations ----------------------------------------------------------------------------

#: dtype names of the declarations and the pandas dtypes they stand for.
DTYPES = {"string": "string", "date": "datetime64[ns]", "timestamp": "datetime64[ns, UTC]", "bool": "bool",
          "boolean": "boolean", "Int8": "Int8", "Int16": "Int16", "Int32": "Int32", "float": "float64",
          "Float": "Float64"}


@dataclass(frozen=True)
class Column:
    """One declared column: name, type (a key of :data:`DTYPES`), description in English and
    Chinese, and its rules (blank allowed, allowed values, bounds, unique)."""

    name: str
    dtype: str
    en: str
    zh: str
    nullable: bool = False
    values: tuple | None = None
    low: float | None = None
    high: float | None = None
    unique: bool = False

    def rules(self) -> str:
        parts = [] if self.nullable else ["required"]
        if self.values is not None:
            parts.append("one of " + ", ".join(map(str, self.values)))
        if self.low is not None or self.high is not None:
            parts.append(f"from {self.low if self.low is not None else '-inf'} to {self.high if self.high is not None else 'inf'}")
        if self.unique:
            parts.append("unique")
        return "; ".join(parts)


@dataclass(frozen=True)
class Link:
    """Rows of this table refer to rows of ``table``: ``columns`` here match ``to`` there (a
    blank reference is allowed when the columns may be blank)."""

    columns: tuple[str, ...]
    table: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """One declared table: its columns, key (unique together) and links to other tables."""

    name: str
    en: str
    zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    links: tuple[Link, ...] = ()
    #: Columns identifying a resident or a record: replaced by keyed pseudonyms in exports.
    ids: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"The table {self.name!r} has no column {name!r}.")

    def empty(self) -> pd.DataFrame:
        """No rows, every column with its declared type."""
        return pd.DataFrame({c.name: pd.Series(dtype=DTYPES[c.dtype]) for c in self.columns})

    def schema(self):
        """The table as a pandera ``DataFrameSchema`` (strict: no column more, none missing)."""
        return _schema(self.name)


def _c(name, dtype, en, zh, **rules) -> Column:
    return Column(name, dtype, en, zh, **rules)


def _id(name: str, en: str, zh: str, **rules) -> Column:
    return _c(name, "string", en, zh, **rules)


@lru_cache(maxsize=1)
def _instrument_facts() -> dict[str, Any]:
    from workbench.instruments import get_instrument, instrument_ids

    ids = instrument_ids()
    insts = [get_instrument(i) for i in ids]
    n_items = max(len(i.item_columns) + len(i.supplementary_columns) for i in insts)
    flags = sorted({c.flag for i in insts for c in i.critical_items})
    derived = sorted({d for i in insts for d in i.derived})
    answer_max = max(i.response_max for i in insts)
    return {"ids": tuple(ids), "n_items": n_items, "flags": flags, "derived": derived, "answer_max": answer_max}


def _measures() -> dict[str, Any]:
    """``workbench/data/measurements.yaml`` (:func:`workbench._declarations.measures`)."""
    from workbench._declarations import measures

    return measures()


def _measure_columns() -> tuple[Column, ...]:
    m = _measures()
    cols = []
    for name, d in m["measures"].items():
        low, high = d["range"]
        cols.append(_c(name, d["dtype"], f"{d['en']} ({d['unit']}; blank: not measured)",
                       f"{d['zh']}（{d['unit']}；空白：未测）", nullable=True, low=low, high=high))
        if name == "hba1c":
            ifcc = d["other_units"]["mmol_mol"]
            cols.append(_c("hba1c_mmol_mol", "Float", f"HbA1c (IFCC, mmol/mol) = (hba1c - {ifcc['add']}) x {ifcc['divide_by']} "
                           "exactly (blank: not measured)", f"糖化血红蛋白（IFCC，mmol/mol）=（hba1c - {ifcc['add']}）x "
                           f"{ifcc['divide_by']}，精确换算（空白：未测）", nullable=True,
                           low=round((low - ifcc["add"]) * ifcc["divide_by"], 6), high=round((high - ifcc["add"]) * ifcc["divide_by"], 6)))
    for name, d in m["answers"].items():
        if d["values"] == "boolean":
            cols.append(_c(name, "boolean", f"{d['en']} (blank: not recorded)", f"{d['zh']}（空白：未记录）", nullable=True))
        else:
            cols.append(_c(name, "string", f"{d['en']} (blank: not recorded)", f"{d['zh']}（空白：未记录）", nullable=True,
                           values=tuple(d["values"])))
    return tuple(cols)


def _item_columns() -> list[str]:
    return [f"item_{k}" for k in range(1, _instrument_facts()["n_items"] + 1)]


def _declare() -> dict[str, TableSpec]:
    from workbench import smd_codes as smd

    facts = _instrument_facts()
    rid = _id("resident_id", "Resident (pseudonymised in exports)", "居民编号（导出时为假名）")
    conditions = tuple(_c(c, "bool", f"Has {c} (chronic condition)", f"患有{zh}（慢性病）")
                       for c, zh in zip(CONDITIONS, ("高血压", "糖尿病", "冠心病", "脑卒中", "慢阻肺", "哮喘")))
    items = tuple(_c(f"item_{k}", "Int8", f"Answer to item {k} of the instrument (blank: not answered)",
                     f"该问卷第{k}题的回答（空白：未回答）", nullable=True, low=0, high=facts["answer_max"])
                  for k in range(1, facts["n_items"] + 1))
    flags = tuple(_c(f, "boolean", f"Flag {f} raised by a critical item (blank: unknown, item not answered)",
                     f"关键条目标记 {f}（空白：未知，该题未答）", nullable=True) for f in facts["flags"])
    derived = tuple(_c(d, "Float", f"Derived value {d} (as declared by the instrument)", f"派生值 {d}（按问卷声明）",
                       nullable=True) for d in facts["derived"])
    specs = [
        TableSpec("communities", "Communities and their type", "社区及其类型", (
            _id("community", "Community", "社区", unique=True),
            _c("community_type", "string", "Community type (urban, rural, ageing ...)", "社区类型（城市、农村、老龄化……）",
               nullable=True),
        ), key=("community",)),
        TableSpec("residents", "Residents (no names, phone or ID numbers)", "居民（不含姓名、电话、身份证号）", (
            _id("resident_id", "Resident (pseudonymised in exports)", "居民编号（导出时为假名）", unique=True),
            _c("sex", "string", "Sex: female, male (always known in a registry; blank in an export when suppressed "
               "for k-anonymity)", "性别：female（女）、male（男）（登记库中必填；导出时为保护k-匿名性可能隐去为空白）",
               values=("female", "male"), nullable=True),
            _c("birth_date", "date", "Birth date (always known in a registry; in an export: the middle of a band of "
               "birth years, 1 July of the year for 1-year bands, the band width in tables.json and disclosure.json; "
               "blank when suppressed for k-anonymity)",
               "出生日期（登记库中必填；导出时为出生年份区间的中点，1年区间为该年7月1日，区间宽度见tables.json和"
               "disclosure.json；为保护k-匿名性可能隐去为空白）", nullable=True),
            _id("community", "Community (always known in a registry; blank in an export when suppressed for "
                "k-anonymity)", "社区（登记库中必填；导出时为保护k-匿名性可能隐去为空白）", nullable=True),
            _c("lives_alone", "bool", "Lives alone", "独居"),
            *conditions,
            _c("ckd", "boolean", "Has chronic kidney disease (blank: not recorded; the blood-pressure target of the "
               "over-80s depends on it)", "患有慢性肾病（空白：未记录；80岁以上者的血压目标取决于此）", nullable=True),
        ), key=("resident_id",), links=(Link(("community",), "communities", ("community",)),), ids=("resident_id",)),
        TableSpec("assessments", "Questionnaires taken, with item answers", "已完成的问卷及逐题回答", (
            _id("assessment_id", "Assessment", "评估编号", unique=True),
            rid,
            _c("assessed_on", "date", "Date taken", "评估日期"),
            _c("instrument", "string", "Questionnaire", "问卷", values=facts["ids"]),
            _c("instrument_version", "string", "Version of the questionnaire's declaration", "问卷声明版本"),
            _c("purpose", "string", "Why it was taken: screening, review (during a referral), study (a study visit)",
               "目的：screening（筛查）、review（转介期间复评）、study（研究随访）", values=PURPOSES),
            _id("referral_id", "Referral a review belongs to", "复评所属转介", nullable=True),
            _c("study", "string", "Study of a study visit", "研究随访所属研究", nullable=True),
            _c("visit", "Int16", "Study visit (trial month, cohort wave)", "研究随访次（试验月份、队列波次）", nullable=True, low=0),
            _c("mode", "string", "Mode: self, interviewer", "方式：self（自评）、interviewer（他评）", nullable=True,
               values=("self", "interviewer")),
            _c("language", "string", "Language of the form", "问卷语言", nullable=True),
            _c("submission_id", "string", "The app or form submission it came from (pseudonymised in exports)",
               "来源提交编号（导出时为假名）", nullable=True),
            *items,
        ), key=("resident_id", "assessed_on", "instrument", "purpose", "study"),
            links=(Link(("resident_id",), "residents", ("resident_id",)),
                   Link(("referral_id",), "referrals", ("referral_id",))),
            ids=("assessment_id", "resident_id", "referral_id")),
        TableSpec("scores", "Scores as stored when the answers were saved", "保存时计算并存储的得分", (
            _id("assessment_id", "Assessment", "评估编号", unique=True),
            rid,
            _c("assessed_on", "date", "Date taken", "评估日期"),
            _c("instrument", "string", "Questionnaire", "问卷", values=facts["ids"]),
            _c("score", "float", "Total (blank: not scorable, too many items unanswered)", "总分（空白：未答题过多，无法计分）",
               nullable=True),
            _c("band", "string", "Severity band", "严重程度分级", nullable=True),
            _c("n_answered", "Int8", "Items answered", "已答题数", low=0),
            _c("prorated", "bool", "Total prorated for unanswered items", "总分按比例补足", ),
            *flags, *derived,
            _c("scoring_version", "string", "Version of the rules that computed the score", "计分规则版本"),
        ), key=("assessment_id",), links=(Link(("assessment_id",), "assessments", ("assessment_id",)),
                                            Link(("resident_id",), "residents", ("resident_id",))),
            ids=("assessment_id", "resident_id")),
        TableSpec("decisions", "Tier decisions on screenings", "筛查后的分级决定", (
            _id("decision_id", "Decision", "决定编号", unique=True),
            rid,
            _c("assessed_on", "date", "Date of the screening decided on", "所依据的筛查日期"),
            _c("suggested_tier", "Int8", "Tier the policy suggested (blank: nothing scorable)", "政策建议的级别（空白：无法计分）",
               nullable=True, low=1, high=3),
            _c("tier", "Int8", "Tier decided (1 self-help, 2 counselling, 3 fast-track referral)",
               "决定的级别（1 自助、2 咨询、3 快速转诊）", nullable=True, low=1, high=3),
            _c("rule", "string", "Policy rule that fired", "触发的政策规则"),
            _c("urgent", "bool", "Urgent (a safety flag)", "紧急（安全标记）"),
            _c("needs_review", "bool", "Needs a person's review", "需人工复核"),
            _c("psych_status", "string", "Psychological status (service matrix)", "心理状态（服务矩阵）", nullable=True),
            _c("disease_category", "string", "Chronic-disease category (service matrix)", "慢性病类别（服务矩阵）",
               nullable=True),
            _c("service_cell", "string", "Service-matrix cell", "服务矩阵单元", nullable=True),
            _c("service", "string", "Service package of the cell", "该单元的服务包", nullable=True),
            _c("next_contact_due", "date", "Next contact due", "下次联系日期", nullable=True),
            _c("policy_version", "string", "Policy (id@version) in force", "所用政策（编号@版本）"),
            _c("decided_by", "string", "Who decided (a staff pseudonym in exports)", "决定人（导出时为工作人员假名）"),
            _c("decided_at", "timestamp", "When (UTC)", "决定时间（UTC）"),
            _c("overridden", "bool", "Tier changed from the suggestion", "改变了建议级别"),
            _c("override_reason", "string", "Why it was changed (free text; left out of exports unless an admin asks)",
               "改变原因（自由文本；导出时不含，除非管理员要求）", nullable=True),
        ), key=("decision_id",), links=(Link(("resident_id", "assessed_on"), "assessments", ("resident_id", "assessed_on")),),
            ids=("decision_id", "resident_id")),
        TableSpec("referrals", "Referrals to counselling or to hospital", "转介（咨询或医院）", (
            _id("referral_id", "Referral", "转介编号", unique=True),
            rid,
            _c("referred_on", "date", "Referred on", "转介日期"),
            _c("tier", "Int8", "Tier referred at", "转介时级别", nullable=True, low=1, high=3),
            _c("rule", "string", "Policy rule behind it", "所依据的政策规则", nullable=True),
            _c("destination", "string", "Where to", "转介去向", nullable=True),
            _c("ended_on", "date", "Care ended on (blank: still open)", "结束日期（空白：仍在进行）", nullable=True),
            _c("end_reason", "string", "Why care ended: completed, dropped_out, ...", "结束原因：completed（完成）、dropped_out（脱落）……",
               nullable=True),
            _c("referral_source", "string", "Where the referral came from: screening (a screening decision), self "
               "(help sought on one's own), family, staff (a family doctor or social worker), hospital, other "
               "(blank: not recorded)", "转介来源：screening（筛查决定）、self（主动求助）、family（家属）、staff（家庭医生或"
               "社工）、hospital（医院）、other（其他）（空白：未记录）", nullable=True, values=REFERRAL_SOURCES),
            _c("appointment_on", "date", "Hospital appointment booked for (a fast-track referral; from the hospital; "
               "blank: none booked or not reported)", "医院预约就诊日期（快速转诊；来自医院；空白：未预约或未回报）",
               nullable=True),
            _c("hospital_seen_on", "date", "Date the hospital saw the resident (from the hospital; blank: not seen, "
               "or not reported yet)", "医院实际接诊日期（来自医院；空白：未接诊或尚未回报）", nullable=True),
        ), key=("referral_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),),
            ids=("referral_id", "resident_id")),
        TableSpec("contacts", "Contacts with residents", "与居民的联系", (
            _id("contact_id", "Contact", "联系编号", unique=True),
            rid,
            _id("referral_id", "Referral it belongs to", "所属转介", nullable=True),
            _c("contact_on", "date", "Date", "日期"),
            _c("kind", "string", "Kind: treatment (a counselling or treatment session), assessment, phone, "
               "psychiatric_review (a psychiatric consultant's case review; attended = it took place), ...",
               "类型：treatment（咨询或治疗）、assessment（评估）、phone（电话）、psychiatric_review（精神科医生病例"
               "审查；attended表示已进行）……"),
            _c("status", "string", "Status: planned, attended, missed", "联系状态：planned（计划）、attended（到访）、missed（未到）",
               values=CONTACT_STATUS),
            _c("recorded_by", "string", "Who recorded it (a staff pseudonym in exports)", "记录人（导出时为工作人员假名）",
               nullable=True),
        ), key=("contact_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),
                                         Link(("referral_id",), "referrals", ("referral_id",))),
            ids=("contact_id", "resident_id", "referral_id")),
        TableSpec("events", "Events: crises, emergency visits, hospital stays, deaths", "事件：危机、急诊、住院、死亡", (
            _id("event_id", "Event", "事件编号", unique=True),
            rid,
            _c("event_on", "date", "Date", "日期"),
            _c("kind", "string", "Kind: " + ", ".join(EVENT_KINDS) + " (psychiatric_discharge: dated the day of "
               "discharge from a psychiatric ward, days = the stay; psychiatric_emergency: an emergency visit for a "
               "mental-health crisis)", "类型：" + "、".join(EVENT_KINDS) + "（psychiatric_discharge：精神科病房出院，"
               "日期为出院日，days为住院天数；psychiatric_emergency：精神心理危机急诊）", values=EVENT_KINDS),
            _c("source", "string", "Where the record came from", "记录来源", nullable=True),
            _c("days", "Int16", "Days in hospital (a hospitalisation's length of stay; blank: not a stay, or not known)",
               "住院天数（住院事件的住院时长；空白：非住院或未知）", nullable=True, low=0, high=3650),
        ), key=("event_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),), ids=("event_id", "resident_id")),
        TableSpec("measurements", "Physiological measurements: blood pressure, glucose, HbA1c, body size, lipids, "
                  "smoking, adherence", "生理测量：血压、血糖、糖化血红蛋白、体格、血脂、吸烟、服药依从性", (
            _id("measurement_id", "Measurement (one reading or visit)", "测量编号（一次测量或随访）", unique=True),
            rid,
            _c("measured_on", "date", "Date measured", "测量日期"),
            _c("setting", "string", "Where: " + ", ".join(f"{k} ({v['en']})" for k, v in _measures()["settings"].items()),
               "地点：" + "、".join(f"{k}（{v['zh']}）" for k, v in _measures()["settings"].items()),
               values=tuple(_measures()["settings"])),
            _c("measured_by", "string", "Who measured (a staff pseudonym in exports; blank for a resident's device)",
               "测量人（导出时为工作人员假名；居民自测设备为空白）", nullable=True),
            *_measure_columns(),
        ), key=("resident_id", "measured_on", "setting"), links=(Link(("resident_id",), "residents", ("resident_id",)),),
            ids=("measurement_id", "resident_id")),
        TableSpec("smd_register", "The severe-mental-disorder register (one row per registered patient)",
                  "严重精神障碍患者登记（每位在册患者一行）", (
            _id("resident_id", "Resident (pseudonymised in exports)", "居民编号（导出时为假名）", unique=True),
            _c("diagnosis", "string", "Registered disorder: " + ", ".join(smd.DISORDERS), "登记的疾病：" + "、".join(smd.DISORDERS),
               values=smd.DISORDERS),
            _c("diagnosed_on", "date", "Date diagnosed (blank: not known)", "确诊日期（空白：未知）", nullable=True),
            _c("registered_on", "date", "Date registered (在册 from this day)", "登记日期（自该日起在册）"),
            _c("guardian", "string", "Guardian's relation: " + ", ".join(smd.GUARDIANS) + " (no names; blank: not recorded)",
               "监护人关系：" + "、".join(smd.GUARDIANS) + "（不含姓名；空白：未记录）", nullable=True, values=smd.GUARDIANS),
            _c("consent", "boolean", "Informed consent to community management (blank: not recorded)",
               "知情同意参加社区管理（空白：未记录）", nullable=True),
            _c("consent_on", "date", "Date of the consent (blank: none recorded)", "知情同意日期（空白：未记录）", nullable=True),
            _c("left_on", "date", "Left the register on (blank: still registered)", "退出登记日期（空白：仍在册）", nullable=True),
            _c("left_reason", "string", "Why: " + ", ".join(smd.LEFT_REASONS) + " (blank while registered)",
               "退出原因：" + "、".join(smd.LEFT_REASONS) + "（在册时为空白）", nullable=True, values=smd.LEFT_REASONS),
            _c("recorded_by", "string", "Who registered them (a staff pseudonym in exports)", "登记人（导出时为工作人员假名）",
               nullable=True),
        ), key=("resident_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),), ids=("resident_id",)),
        TableSpec("smd_followups", "Follow-ups of registered severe-mental-disorder patients, with the risk grade and "
                  "the stability judged", "严重精神障碍患者随访（含危险性评估与病情稳定性判断）", (
            _id("followup_id", "Follow-up", "随访编号", unique=True),
            rid,
            _c("followed_on", "date", "Date", "随访日期"),
            _c("mode", "string", "How: face_to_face, phone", "方式：face_to_face（面访）、phone（电话）", values=smd.MODES),
            _c("risk_grade", "Int8", "Risk grade 0-5 (危险性评估; blank: not assessed, never 0)",
               "危险性评估0-5级（空白：未评估，不是0级）", nullable=True, low=0, high=5),
            *(_c(item, "string", f"{item.replace('_', ' ').capitalize()}: " + ", ".join(values) + " (blank: not recorded)",
                 f"{zh}：" + "、".join(values) + "（空白：未记录）", nullable=True, values=values)
              for (item, values), zh in zip(smd.ITEM_VALUES.items(), ("精神症状", "自知力", "社会功能", "药物不良反应", "躯体疾病"))),
            _c("on_medication", "boolean", "Taking psychiatric medication (blank: not recorded)", "服用精神科药物（空白：未记录）",
               nullable=True),
            _c("medication_regularity", "string", "Medication: " + ", ".join(smd.REGULARITY) + " (blank: not recorded)",
               "服药情况：" + "、".join(smd.REGULARITY) + "（空白：未记录）", nullable=True, values=smd.REGULARITY),
            _c("suggested_outcome", "string", "Stability the policy suggested when saved (blank: the answers were incomplete)",
               "保存时政策建议的稳定性（空白：回答不完整）", nullable=True, values=smd.STABILITIES),
            _c("rule", "string", "Policy rule behind the suggestion", "建议所依据的政策规则", nullable=True),
            _c("outcome", "string", "Stability judged by staff: stable, basically_stable, unstable (blank: not judged)",
               "工作人员判断的稳定性：stable（稳定）、basically_stable（基本稳定）、unstable（不稳定）（空白：未判断）",
               nullable=True, values=smd.STABILITIES),
            _c("referred", "boolean", "Referred at this follow-up (blank: not recorded)", "本次随访已转诊（空白：未记录）",
               nullable=True),
            _c("next_due", "date", "Next follow-up due, as decided", "决定的下次随访日期", nullable=True),
            _c("policy_version", "string", "SMD policy (id@version) in force", "所用严重精神障碍政策（编号@版本）", nullable=True),
            _c("recorded_by", "string", "Who recorded it (a staff pseudonym in exports)", "记录人（导出时为工作人员假名）",
               nullable=True),
        ), key=("resident_id", "followed_on"), links=(Link(("resident_id",), "smd_register", ("resident_id",)),),
            ids=("followup_id", "resident_id")),
        TableSpec("smd_rehab", "Steps of registered patients on the service model's five-level community rehabilitation "
                  "ladder", "在册患者在服务模式五级社区康复阶梯上的进出记录", (
            _id("rehab_id", "Rehabilitation step", "康复记录编号", unique=True),
            rid,
            _c("level", "Int8", "Level of the ladder (1-5)", "康复阶梯级别（1-5）", low=1, high=5),
            _c("entered_on", "date", "Entered the level on", "进入该级日期"),
            _c("left_on", "date", "Left the level on (blank: still on it)", "离开该级日期（空白：仍在该级）", nullable=True),
            _c("recorded_by", "string", "Who recorded it (a staff pseudonym in exports)", "记录人（导出时为工作人员假名）",
               nullable=True),
        ), key=("resident_id", "level", "entered_on"), links=(Link(("resident_id",), "smd_register", ("resident_id",)),),
            ids=("rehab_id", "resident_id")),
        TableSpec("enrolments", "Enrolments in studies (trial arms, cohorts)", "研究入组（试验分组、队列）", (
            _id("enrolment_id", "Enrolment", "入组编号", unique=True),
            rid,
            _c("study", "string", "Study", "研究"),
            _c("arm", "string", "Trial arm (blank for a cohort)", "试验组别（队列为空）", nullable=True),
            _c("enrolled_on", "date", "Enrolled on (the baseline)", "入组日期（基线）"),
        ), key=("resident_id", "study"), links=(Link(("resident_id",), "residents", ("resident_id",)),),
            ids=("enrolment_id", "resident_id")),
        TableSpec("surveys", "Satisfaction surveys", "满意度调查", (
            _id("survey_id", "Survey answer", "调查编号", unique=True),
            rid,
            _id("referral_id", "Referral surveyed", "所调查的转介", nullable=True),
            _c("surveyed_on", "date", "Date", "日期"),
            _c("satisfied", "boolean", "Satisfied (blank: not answered)", "满意（空白：未回答）", nullable=True),
            _c("rating", "Int8", "Rating 1-5 (blank: not answered)", "评分1-5（空白：未回答）", nullable=True, low=1, high=5),
        ), key=("survey_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),
                                        Link(("referral_id",), "referrals", ("referral_id",))),
            ids=("survey_id", "resident_id", "referral_id")),
        TableSpec("literacy", "Mental-health literacy questions asked, scored when saved", "心理健康素养问答（保存时计分）", (
            _id("literacy_id", "Literacy answer set", "素养问答编号", unique=True),
            rid,
            _c("asked_on", "date", "Date asked", "问答日期"),
            _c("questionnaire", "string", "Questionnaire (its id and version, e.g. the programme's own literacy questions)",
               "问卷（编号与版本，如项目自编素养题）"),
            _c("n_asked", "Int8", "Questions asked", "提问题数", low=1),
            _c("n_correct", "Int8", "Questions answered correctly (blank: the answers were not recorded, never 0)",
               "答对题数（空白：未记录回答，不是0）", nullable=True, low=0),
            _c("recorded_by", "string", "Who recorded it (a staff pseudonym in exports)", "记录人（导出时为工作人员假名）",
               nullable=True),
        ), key=("resident_id", "asked_on", "questionnaire"), links=(Link(("resident_id",), "residents", ("resident_id",)),),
            ids=("literacy_id", "resident_id")),
        TableSpec("consents", "Consents recorded", "知情同意记录", (
            _id("consent_id", "Consent", "同意编号", unique=True),
            rid,
            _c("purpose", "string", "What it is for", "用途"),
            _c("given", "bool", "Given", "已同意"),
            _c("given_on", "date", "Date", "日期"),
            _c("withdrawn_on", "date", "Withdrawn on", "撤回日期", nullable=True),
        ), key=("consent_id",), links=(Link(("resident_id",), "residents", ("resident_id",)),), ids=("consent_id", "resident_id")),
        *_early_warning_tables(rid),
    ]
    return {s.name: s for s in specs}


def _early_warning_tables(rid: Column) -> tuple[TableSpec, ...]:
    """``wearable_days`` and ``risk_predictions`` (issue 17, as its shared contract names them): a
    wristband's daily features against the person's own baseline, with the alert state, and the
    stored predictions of the risk model, beside the tier (never replacing it). Plausible ranges
    of the features are data-quality bounds, as wide as ``data/wearables.yaml``'s readings allow
    (resting heart rate 20-250 bpm; steps up to 200,000 a day)."""
    def feature(name, dtype, en, zh, **rules):
        return _c(name, dtype, f"{en} (blank: its wear requirement not met, never 0)",
                  f"{zh}（空白：佩戴时长不足，不是0）", nullable=True, **rules)

    def z(name, en, zh):
        return _c(name, "Float", f"{en}: (value - personal baseline mean) / personal baseline SD (blank: too few "
                  "baseline days, or the value blank)", f"{zh}：（当日值 - 个人基线均值）/ 个人基线标准差（空白：基线天数"
                  "不足，或当日值空白）", nullable=True)

    wearable_days = TableSpec("wearable_days", "Wristband features per resident and local day, against the person's "
                              "own 28-day baseline, with the alert state", "手环每日特征（每位居民每个当地日一行，与本人"
                              "28天基线比较，含提醒状态）", (
        rid,
        _c("day", "date", "Local calendar day (the night of a day ends on its morning)", "当地日期（某日的夜间指该日早晨结束的夜间）"),
        _c("device_id", "string", "Device (pseudonymised in exports; blank: no data that day)",
           "设备编号（导出时为假名；空白：当日无数据）", nullable=True),
        _c("wear_minutes", "Int16", "Minutes of the local day with at least one heart-rate reading",
           "当日有心率读数的分钟数", low=0, high=1440),
        _c("night_wear_minutes", "Int16", "Minutes of the night window with at least one heart-rate reading",
           "夜间时段内有心率读数的分钟数", low=0, high=1440),
        feature("resting_hr", "Float", "Nocturnal resting heart rate (bpm)", "夜间静息心率（次/分）", low=20, high=250),
        feature("rmssd", "Float", "Nocturnal heart-rate variability, RMSSD (ms)", "夜间心率变异性RMSSD（毫秒）",
                low=0, high=1000),
        feature("steps", "Int32", "Steps in the day", "当日步数", low=0, high=200_000),
        feature("sleep_minutes", "Int16", "Minutes asleep in the night", "夜间睡眠分钟数", low=0, high=1440),
        feature("sleep_midpoint", "Float", "Sleep midpoint, hours after local midnight of the day (negative: before "
                "midnight)", "睡眠中点，距当日当地零点的小时数（负数：零点之前）", low=-24, high=24),
        feature("sleep_regularity", "Float", "Sleep regularity: SD of the sleep midpoint over the last 7 valid nights "
                "(minutes)", "睡眠规律性：最近7个有效夜晚睡眠中点的标准差（分钟）", low=0, high=1440),
        _c("baseline_days", "Int8", "Valid days in the personal baseline window (the 28 days before the day)",
           "个人基线窗口（该日之前28天）内的有效天数", low=0, high=28),
        z("rmssd_z", "RMSSD against the personal baseline", "RMSSD相对个人基线"),
        z("resting_hr_z", "Resting heart rate against the personal baseline", "静息心率相对个人基线"),
        z("steps_z", "Steps against the personal baseline", "步数相对个人基线"),
        z("sleep_z", "Sleep minutes against the personal baseline", "睡眠时长相对个人基线"),
        _c("wear_state", "string", "Wear: worn, low_wear (too little wear time), not_worn",
           "佩戴：worn（已佩戴）、low_wear（佩戴时长不足）、not_worn（未佩戴）", values=WEAR_STATES),
        _c("alert_state", "string", "Alert: flag (a person should call), clear, low_wear (too little wear to "
           "tell: never clear), no_baseline (too few baseline days)", "提醒：flag（需要有人打电话）、clear（无异常）、"
           "low_wear（佩戴不足，无法判断，不算无异常）、no_baseline（基线天数不足）", values=ALERT_STATES),
        _c("flag", "bool", "Flagged: alert_state is flag (a flag for a person to act on, not a diagnosis)",
           "已标记：alert_state为flag（提醒工作人员跟进，不是诊断）"),
        _c("nights_low", "Int8", "Nights below the rule's limit among the last valid nights (3 in \"3 of the last "
           "4 nights\")", "最近有效夜晚中低于规则界限的夜晚数（“最近4晚中3晚”中的3）", nullable=True, low=0),
        _c("nights_valid", "Int8", "Valid nights the rule looked at (4 in \"3 of the last 4 nights\")",
           "规则检查的有效夜晚数（“最近4晚中3晚”中的4）", nullable=True, low=0),
        _c("rule", "string", "Alert policy (id@version) and rule, e.g. wearables_default@1.0:rmssd_low",
           "提醒政策（编号@版本）及规则，如wearables_default@1.0:rmssd_low", nullable=True),
    ), key=("resident_id", "day"), links=(Link(("resident_id",), "residents", ("resident_id",)),),
        ids=("resident_id", "device_id"))
    risk_predictions = TableSpec("risk_predictions", "Predictions of the risk model at a screening, stored beside "
                                 "the tier (never replacing it)", "风险模型在筛查时的预测（与分级并列保存，不取代分级）", (
        _id("prediction_id", "Prediction", "预测编号", unique=True),
        _id("decision_id", "The tier decision of the screening predicted on", "所预测筛查的分级决定"),
        rid,
        _c("assessed_on", "date", "Date of the screening (what was known that day)", "筛查日期（仅用当日已知信息）"),
        _c("model", "string", "Model (id@version), e.g. not_improving_logistic@1.0", "模型（编号@版本），如"
           "not_improving_logistic@1.0"),
        _c("data_version", "string", "Version (hash) of the tables the model was trained on", "训练数据版本（哈希）"),
        _c("outcome", "string", "Outcome predicted, e.g. not_improving_12w (not improving at the week 8-12 review)",
           "预测的结局，如not_improving_12w（第8-12周复评时未改善）"),
        _c("risk", "Float", "Predicted probability of the outcome, 0-1 (a flag for a person to act on, never a "
           "suicide-risk score)", "结局的预测概率，0-1（提醒工作人员跟进，不是自杀风险评分）", low=0, high=1),
        _c("band", "string", "Risk band: low, medium, high (cut-offs in the model's spec)",
           "风险分层：low（低）、medium（中）、high（高）（界值见模型说明）", values=RISK_BANDS),
        *(_c(f"reason_{k}", "string", f"Predictor with the {nth} largest contribution towards higher risk (a name "
             "from the model's spec; blank: fewer reasons)", f"使风险升高贡献第{k}大的预测因素（模型说明中的名称；"
             "空白：原因不足）", nullable=True) for k, nth in ((1, "1st"), (2, "2nd"), (3, "3rd"))),
        _c("predicted_on", "date", "Date of the prediction", "预测日期"),
        _c("predicted_by", "string", "Who stored it (a staff pseudonym in exports)", "保存人（导出时为工作人员假名）"),
    ), key=("decision_id", "model"), links=(Link(("decision_id",), "decisions", ("decision_id",)),
                                        Link(("resident_id",), "residents", ("resident_id",))),
        ids=("prediction_id", "decision_id", "resident_id"))
    return wearable_days, risk_predictions


class _Specs(Mapping):
    """:data:`TABLES`, built on first use (it reads the questionnaire declarations)."""

    def _all(self) -> dict[str, TableSpec]:
        return _specs()

    def __getitem__(self, name: str) -> TableSpec:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"TABLES({list(self)})"


@lru_cache(maxsize=1)
def _specs() -> dict[str, TableSpec]:
    return _declare()


#: The declared analysis tables by name, in the order they are listed and exported.
TABLES: Mapping[str, TableSpec] = _Specs()


class _Items(Sequence):
    def __getitem__(self, i):
        return _item_columns()[i]

    def __len__(self) -> int:
        return len(_item_columns())


#: The item-answer columns of ``assessments`` (``item_1`` ... up to the longest instrument).
ITEM_COLUMNS: Sequence[str] = _Items()


def _rows_in(rows: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Whether each row of ``rows`` is a row of ``keys`` (the same number of columns, matched in
    order; values compared as stored: the declared types are checked before). Each column is
    factorized with its key column and the codes are combined into one integer per row (made
    compact again after each column, so they stay far below int64's range)."""
    n = len(rows)
    code = np.zeros(n + len(keys), dtype=np.int64)
    for a, b in zip(rows.columns, keys.columns):
        codes, uniques = pd.factorize(pd.concat([rows[a], keys[b]], ignore_index=True))
        code = pd.factorize(code * (len(uniques) + 1) + codes)[0].astype(np.int64)
    return np.isin(code[:n], code[n:])


@lru_cache(maxsize=None)
def _schema(name: str):
    import pandera.pandas as pa

    spec = TABLES[name]
    columns = {}
    for c in spec.columns:
        checks = []
        if c.values is not None:
            checks.append(pa.Check.isin(list(c.values), error=f"must be one of {', '.join(map(str, c.values))}"))
        if c.low is not None:
            checks.append(pa.Check.ge(c.low, error=f"must be at least {c.low:g}"))
        if c.high is not None:
            checks.append(pa.Check.le(c.high, error=f"must be at most {c.high:g}"))
        if c.dtype == "date":
            checks.append(pa.Check(lambda s: s.dt.normalize() == s, element_wise=False,
                                   error="must be a date without a time of day"))
        columns[c.name] = pa.Column(DTYPES[c.dtype], checks=checks, nullable=c.nullable, unique=c.unique,
                                    report_duplicates="all", description=c.en, metadata={"zh": c.zh})
    # keys of several columns are checked by Tables.problems, which names each repeated key once
    return pa.DataFrameSchema(columns, strict=True, ordered=False, name=name, description=spec.en,
                              metadata={"zh": spec.zh})


# --- the container ---------------------------------------------------------------------------

_RULES = {"column_in_dataframe": "is missing: the table must have this column",
          "column_in_schema": "is not a column of this table",
          "not_nullable": "is blank but required", "field_uniqueness": "is repeated: it must be unique",
          "multiple_fields_uniqueness": "repeats a key that must be unique",
          "dtype": "has the wrong type"}


def _pandera_problems(name: str, error) -> list[tuple]:
    rows = []
    cases = error.failure_cases
    for case in cases.itertuples(index=False):
        check = str(case.check)
        rule = _RULES.get(check.split("(")[0], check)
        if check.startswith("dtype("):
            rule = f"has the type {case.failure_case}, not the declared {check[7:-2]}"
        column = case.column
        index = case.index
        row = None if index is None or (isinstance(index, float) and np.isnan(index)) else index
        value = case.failure_case
        if check.startswith(("column_in_dataframe", "column_in_schema")):
            column, value = value, None
        elif check.startswith("dtype("):
            value = None
        rows.append((name, row, column, value, rule))
    return rows


class Tables:
    """The analysis tables (see the module docstring), each a DataFrame with the declared columns.

    ``Tables(residents=frame, ...)``: tables not given are empty. A frame given must have the
    declared columns (any order; extra columns are refused by :meth:`validate`); its values are
    taken as they are: use :func:`coerce` or :func:`read` for text from files.

    ``attrs`` says where the tables come from: ``source`` (``registry``, ``export``, ``sample``,
    ``synth``), ``pseudonymised`` (bool) and, from a registry, who read them and when.
    """

    def __init__(self, *, attrs: Mapping[str, Any] | None = None, **frames: pd.DataFrame):
        unknown = [name for name in frames if name not in TABLES]
        if unknown:
            raise ValueError(f"Unknown analysis tables {unknown}; the tables are {list(TABLES)}.")
        self._frames: dict[str, pd.DataFrame] = {}
        for name, spec in TABLES.items():
            frame = frames.get(name)
            if frame is None:
                frame = spec.empty()
            elif not isinstance(frame, pd.DataFrame):
                raise TypeError(f"The table {name!r} must be a DataFrame. Got {type(frame).__name__} instead.")
            self._frames[name] = frame
        self.attrs: dict[str, Any] = {"source": "memory", "pseudonymised": False, **(attrs or {})}

    # mapping-like access ---------------------------------------------------------------------

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            raise KeyError(f"No analysis table {name!r}; the tables are {list(TABLES)}.")
        return self._frames[name]

    def __getattr__(self, name: str) -> pd.DataFrame:
        frames = self.__dict__.get("_frames")
        if frames is not None and name in frames:
            return frames[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __contains__(self, name: object) -> bool:
        return name in self._frames

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        return iter(self._frames.items())

    def replace(self, **frames: pd.DataFrame) -> "Tables":
        """A copy with some tables replaced."""
        return Tables(attrs=dict(self.attrs), **{**self._frames, **frames})

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame):,}" for name, frame in self._frames.items())
        return f"Tables({sizes}; source={self.attrs.get('source')!r}, pseudonymised={self.attrs.get('pseudonymised')})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{name}</td><td>{TABLES[name].en}</td><td style='text-align:right'>{len(frame):,}</td></tr>"
                       for name, frame in self._frames.items())
        return (f"<table><caption>Analysis tables ({self.attrs.get('source')}; pseudonymised: "
                f"{self.attrs.get('pseudonymised')})</caption><tr><th>table</th><th>what</th><th>rows</th></tr>{rows}</table>")

    # checks ----------------------------------------------------------------------------------

    def problems(self) -> pd.DataFrame:
        """Every problem of every table and link, as ``table, row, column, value, rule``."""
        from pandera.errors import SchemaErrors

        rows: list[tuple] = []
        for name, frame in self._frames.items():
            try:
                _schema(name).validate(frame, lazy=True)
            except SchemaErrors as err:
                rows.extend(_pandera_problems(name, err))
        rows.extend(self._key_problems())
        rows.extend(self._link_problems())
        rows.extend(self._consistency_problems())
        return problems_frame(rows)

    def validate(self) -> "Tables":
        """The tables themselves when they keep every declared rule, else :class:`TablesError`.

        The checks run once per set of frames: tables that passed are not checked again until a
        table is replaced (:meth:`replace` and the constructor give new tables, checked anew), so
        analyses that each begin with ``validate()`` do not read a city's tables again every time.
        A frame changed in place after it passed (``tables.residents.loc[...] = ...``) is not seen:
        build new tables from a changed copy instead (``tables.replace(residents=changed)``).
        """
        stamp = self._stamp()
        if self.__dict__.get("_passed") == stamp:
            return self
        problems = self.problems()
        if len(problems):
            raise TablesError(problems, context="analysis tables", outcome="nothing was computed")
        self.__dict__["_passed"] = stamp
        return self

    def _stamp(self) -> tuple:
        """Which frames these are: identity, shape, columns and types of each (what ``validate`` checked)."""
        return tuple((name, id(frame), id(frame._mgr), frame.shape, tuple(frame.columns), tuple(map(str, frame.dtypes)))
                     for name, frame in self._frames.items())

    def _key_problems(self) -> list[tuple]:
        rows = []
        for name, spec in TABLES.items():
            frame = self._frames[name]
            if len(spec.key) < 2 or not all(c in frame.columns for c in spec.key):
                continue
            repeated = frame.duplicated(list(spec.key), keep="first")
            for label, values in zip(frame.index[repeated], frame.loc[repeated, list(spec.key)].itertuples(index=False)):
                rows.append((name, label, ", ".join(spec.key), tuple(None if pd.isna(v) else v for v in values),
                             "repeats the key of an earlier row: it must be unique"))
        return rows

    def _link_problems(self) -> list[tuple]:
        rows = []
        # a single-column link to a unique key is looked up by position (the target's index built
        # once per key); the positions are kept for the analyses (:meth:`_positions_of`)
        indexes: dict[tuple[str, str], pd.Index | None] = {}
        found: dict[tuple[str, str], np.ndarray] = {}
        for name, spec in TABLES.items():
            frame = self._frames[name]
            for link in spec.links:
                if not all(c in frame.columns for c in link.columns):
                    continue
                target = self._frames[link.table]
                if not all(c in target.columns for c in link.to):
                    continue
                refs = frame[list(link.columns)]
                present = refs.notna().all(axis=1)
                if len(link.columns) == 1:  # the common case, fast
                    key = (link.table, link.to[0])
                    if key not in indexes:
                        index = pd.Index(target[link.to[0]].to_numpy(object))
                        indexes[key] = index if index.is_unique else None
                    if indexes[key] is not None:
                        at = indexes[key].get_indexer(refs[link.columns[0]].to_numpy(object)).astype(np.int64)
                        known = present.to_numpy(bool)
                        at[~known] = -1
                        missing = at[known] < 0
                        found[(name, link.columns[0])] = at
                    else:  # a repeated key (named by the key checks): membership only
                        missing = ~refs[link.columns[0]][present].isin(target[link.to[0]].dropna()).to_numpy()
                else:  # several columns: each factorized with its target column, the codes combined
                    missing = ~_rows_in(refs[present], target[list(link.to)].dropna())
                if not missing.any():
                    continue
                for label, values in zip(refs[present].index[missing], refs[present][missing].itertuples(index=False)):
                    value = values[0] if len(values) == 1 else tuple(values)
                    rows.append((name, label, ", ".join(link.columns), value,
                                 f"refers to no row of {link.table} ({', '.join(link.to)})"))
        self.__dict__["_links_seen"] = (self._stamp(), found)
        return rows

    def _positions_of(self, name: str, column: str) -> np.ndarray | None:
        """Row position, in the table it links to, of each row's ``column`` value of table
        ``name`` (-1: blank), as :meth:`validate` looked them up; None when not known (the tables
        not checked, changed since, or not a single-column link to a unique key)."""
        stamp = self.__dict__.get("_passed")
        seen = self.__dict__.get("_links_seen")
        if stamp is None or seen is None or seen[0] != stamp or stamp != self._stamp():
            return None
        return seen[1].get((name, column))

    def _consistency_problems(self) -> list[tuple]:
        """Scores must describe the assessment they belong to; a study visit names its study; the
        hospital's dates are not before the referral; literacy answers right are not more than the
        questions asked; a measurement keeps the cross-field rules (:func:`workbench.measurement_rules.cross_field_problems`)."""
        rows = []
        s, a = self._frames["scores"], self._frames["assessments"]
        shared = {"assessment_id", "resident_id", "assessed_on", "instrument"}
        if len(s) and shared <= set(s.columns) and shared <= set(a.columns):
            joined = s[["assessment_id", "resident_id", "assessed_on", "instrument"]].reset_index().merge(
                a[["assessment_id", "resident_id", "assessed_on", "instrument"]], on="assessment_id", suffixes=("", "_a"))
            for column in ("resident_id", "assessed_on", "instrument"):
                left, right = joined[column], joined[f"{column}_a"]
                same = (left == right).fillna(False).to_numpy(bool) | (left.isna() & right.isna()).to_numpy(bool)
                bad = joined[~same]
                rows.extend(("scores", r["index"], column, r[column],
                             f"differs from the assessment's {column} ({r[f'{column}_a']})") for _, r in bad.iterrows())
        if {"purpose", "study"} <= set(a.columns):
            study = a["purpose"] == "study"
            rows.extend(("assessments", i, "study", None, "is required for a study visit")
                        for i in a.index[study & a["study"].isna()])
        r = self._frames["referrals"]
        for column in ("appointment_on", "hospital_seen_on"):  # the hospital cannot see them before the referral
            if len(r) and {column, "referred_on"} <= set(r.columns):
                early = (r[column] < r["referred_on"]).fillna(False).to_numpy(bool)
                rows.extend(("referrals", i, column, f"{v:%Y-%m-%d}", f"is before the referral ({d:%Y-%m-%d})")
                            for i, v, d in zip(r.index[early], r.loc[early, column], r.loc[early, "referred_on"]))
        q = self._frames["literacy"]
        if len(q) and {"n_correct", "n_asked"} <= set(q.columns):
            over = (q["n_correct"] > q["n_asked"]).fillna(False).to_numpy(bool)
            rows.extend(("literacy", i, "n_correct", int(v), f"is more than the questions asked ({int(n)})")
                        for i, v, n in zip(q.index[over], q.loc[over, "n_correct"], q.loc[over, "n_asked"]))
        rows.extend(self._early_warning_problems())
        m = self._frames["measurements"]
        if len(m):  # blood pressure in pairs, DBP below SBP, BMI and HbA1c (mmol/mol) as computed
            from workbench.measurement_rules import cross_field_problems

            rows.extend(("measurements", *p) for p in cross_field_problems(m))
        return rows

    def _early_warning_problems(self) -> list[tuple]:
        """A wearable day's ``flag`` is ``alert_state == "flag"`` and its low nights are not more than
        the valid nights; a prediction is about its decision's resident and screening, dated on or
        after it, with its reasons in order (no reason after a blank one)."""
        rows = []
        wd = self._frames["wearable_days"]
        if len(wd) and {"flag", "alert_state"} <= set(wd.columns):
            said = wd["flag"].astype("boolean")
            wrong = (said != (wd["alert_state"] == "flag").astype("boolean")).fillna(False).to_numpy(bool)
            rows.extend(("wearable_days", i, "flag", bool(v), f"must be alert_state == 'flag' (alert_state {a})")
                        for i, v, a in zip(wd.index[wrong], said[wrong], wd.loc[wrong, "alert_state"]))
        if len(wd) and {"nights_low", "nights_valid"} <= set(wd.columns):
            over = (wd["nights_low"].astype("Float64") > wd["nights_valid"].astype("Float64")).fillna(False).to_numpy(bool)
            rows.extend(("wearable_days", i, "nights_low", int(v), f"is more than the valid nights (nights_valid {int(n)})")
                        for i, v, n in zip(wd.index[over], wd.loc[over, "nights_low"], wd.loc[over, "nights_valid"]))
        rp = self._frames["risk_predictions"]
        if not len(rp):
            return rows
        if {"predicted_on", "assessed_on"} <= set(rp.columns):
            early = (rp["predicted_on"] < rp["assessed_on"]).fillna(False).to_numpy(bool)
            rows.extend(("risk_predictions", i, "predicted_on", f"{v:%Y-%m-%d}", f"is before the screening ({d:%Y-%m-%d})")
                        for i, v, d in zip(rp.index[early], rp.loc[early, "predicted_on"], rp.loc[early, "assessed_on"]))
        for k in (2, 3):
            column, before = f"reason_{k}", f"reason_{k - 1}"
            if {column, before} <= set(rp.columns):
                gap = (rp[column].notna() & rp[before].isna()).to_numpy(bool)
                rows.extend(("risk_predictions", i, column, v, f"is given while {before} is blank (reasons in order)")
                            for i, v in zip(rp.index[gap], rp.loc[gap, column]))
        d = self._frames["decisions"]
        shared = {"decision_id", "resident_id", "assessed_on"}
        if shared <= set(rp.columns) and shared <= set(d.columns):
            joined = rp[list(shared)].reset_index().merge(d[list(shared)], on="decision_id", suffixes=("", "_d"))
            for column in ("resident_id", "assessed_on"):
                differ = (joined[column] != joined[f"{column}_d"]).fillna(False).to_numpy(bool)
                bad = joined[differ]
                rows.extend(("risk_predictions", r["index"], column, r[column],
                             f"differs from the decision's {column} ({r[f'{column}_d']})") for _, r in bad.iterrows())
        return rows

    # what the tables hold ----------------------------------------------------------------------

    @property
    def policy_versions(self) -> list[str]:
        """The stepped-care policies (``id@version``) the decisions were made under."""
        return sorted(self._frames["decisions"]["policy_version"].dropna().unique().tolist())

    def subset(self, resident_ids: Iterable[str]) -> "Tables":
        """The same tables for some residents only (their communities kept)."""
        keep = pd.Index(pd.unique(pd.Series(list(resident_ids), dtype="string")))
        frames = {}
        for name, frame in self._frames.items():
            frames[name] = frame[frame["resident_id"].isin(keep)] if "resident_id" in frame.columns else frame
        return Tables(attrs=dict(self.attrs), **frames)

    def scores_of(self, instruments: Sequence[str] | str | None = None, *, purpose: str | Sequence[str] | None = None
                  ) -> pd.DataFrame:
        """Stored scores with the context of their assessment, one row per assessment.

        Columns: ``assessment_id, resident_id, assessed_on, instrument, purpose, referral_id,
        study, visit`` and the score columns (``score, band, n_answered, prorated``, flags and
        derived values of the instrument).
        """
        return self._scores_of(instruments, purpose=purpose)

    def _scores_of(self, instruments: Sequence[str] | str | None, *, purpose: str | Sequence[str] | None,
                   score_columns: Sequence[str] | None = None, rows_out: list | None = None) -> pd.DataFrame:
        """:meth:`scores_of`, with only ``score_columns`` of the score columns (None: all): what
        :meth:`scores_wide` reads, without copying the rest through every step. ``rows_out``
        (a list) receives the position in ``scores`` of each row given, when they are known."""
        s = self._frames["scores"]
        context = self._frames["assessments"][["assessment_id", "purpose", "referral_id", "study", "visit"]]
        keys = ["assessment_id", "resident_id", "assessed_on", "instrument"]
        own = [c for c in s.columns if c in keys or score_columns is None or c in score_columns]
        aligned = self._scores_aligned()  # scores saved with their assessments, row for row (registry, sample)
        rows = np.arange(len(s)) if instruments is None else np.flatnonzero(
            s["instrument"].isin([instruments] if isinstance(instruments, str) else list(instruments)).to_numpy(bool))
        checked = self.__dict__.get("_passed") == self._stamp()  # validated: the ids are unique, as declared
        ids = None if aligned else pd.Index(context["assessment_id"])
        first = ["assessment_id", "resident_id", "assessed_on", "instrument", "purpose", "referral_id", "study", "visit"]
        if aligned or checked or (ids.is_unique and s["assessment_id"].iloc[rows].is_unique):
            # a positional lookup, no merge: each column taken once, by position
            at = rows if aligned else ids.get_indexer(s["assessment_id"].array.take(rows))
            found = at >= 0
            if purpose is not None:  # keep the sittings asked for before building anything
                wanted = context["purpose"].isin([purpose] if isinstance(purpose, str) else list(purpose)).to_numpy(bool)
                keep = found & wanted[np.where(found, at, 0)]
                rows, at, found = rows[keep], at[keep], found[keep]
            where = np.where(found, at, -1)  # -1: a score without its assessment keeps a blank context (a left join)
            taken = {**{c: s[c].array.take(rows) for c in own},
                     **{c: context[c].array.take(where, allow_fill=True) for c in context.columns if c != "assessment_id"}}
            order = [c for c in first if c in taken] + [c for c in own if c not in first]
            if rows_out is not None:
                rows_out.append(rows)
            return pd.DataFrame({c: taken[c] for c in order})  # in the documented order, built once
        else:  # repeated ids: the merge names the problem
            out = s[own].iloc[rows].merge(context, on="assessment_id", how="left", validate="one_to_one")
            if purpose is not None:
                out = out[out["purpose"].isin([purpose] if isinstance(purpose, str) else list(purpose))]
        return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)

    def _scores_aligned(self) -> bool:
        """Whether scores and assessments hold the same assessments row for row (as the registry
        and the sample save them); known once per checked tables."""
        s, a = self._frames["scores"], self._frames["assessments"]

        def aligned() -> bool:
            return len(s) == len(a) and bool((s["assessment_id"].to_numpy(object)
                                              == a["assessment_id"].to_numpy(object)).all())
        return self._kept("aligned", aligned)

    def _kept(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` once per checked tables (kept until a table is replaced: the stamp
        :meth:`validate` set); made afresh each time for tables not checked."""
        stamp = self.__dict__.get("_passed")
        if stamp is None or stamp != self._stamp():
            return make()
        kept = self.__dict__.setdefault("_kept_values", {})
        if kept.get("stamp") != stamp:
            kept.clear()
            kept["stamp"] = stamp
        if key not in kept:
            kept[key] = make()
        return kept[key]

    def scores_wide(self, instruments: Sequence[str] = ("phq9", "gad7"), *, purpose: str | Sequence[str] | None = None,
                    columns: Sequence[str] = ("score",)) -> pd.DataFrame:
        """Stored scores side by side: one row per sitting (resident, date, purpose and study),
        with ``referral_id`` and ``visit``, and ``{instrument}_{column}`` for each instrument and
        score column (e.g. ``phq9_score``, ``phq9_self_harm``); an instrument not taken at that
        sitting is blank. Computed once per question for checked tables (:meth:`validate`); each
        call gets its own copy."""
        return self._kept_wide(instruments, purpose, columns, copy=True)

    def _resident_ranks(self, table: str, rows: np.ndarray, *ids: pd.Series) -> np.ndarray | None:
        """For checked tables: the rank, in ``resident_id`` order, of the resident of the rows
        ``rows`` of ``table`` (their positions as validation found them) and of each of ``ids``
        (looked up), one array; None when the tables are not checked or an id is not a resident.
        The ranks order the residents as sorting their ids does."""
        positions = self._positions_of(table, "resident_id")
        if positions is None:
            return None
        def ranks() -> tuple[pd.Index, np.ndarray]:
            residents = self._frames["residents"]["resident_id"].to_numpy(object)
            rank = np.empty(len(residents), dtype=np.int64)
            rank[np.argsort(residents, kind="stable")] = np.arange(len(residents))
            return pd.Index(residents), rank
        index, rank = self._kept("ranks", ranks)
        at = np.concatenate([positions[rows]] + [index.get_indexer(np.asarray(i.array, dtype=object)) for i in ids])
        at = at.astype(np.int64)
        if (at < 0).any():
            return None
        return rank[at]

    def _kept_wide(self, instruments: Sequence[str], purpose: str | Sequence[str] | None, columns: Sequence[str], *,
                   copy: bool) -> pd.DataFrame:
        """:meth:`scores_wide`: for checked tables computed once per question and kept; ``copy``
        False gives the kept frame itself, to the methods here that only read it (select, filter,
        look up; never write into it)."""
        key = ("wide", tuple(instruments), purpose if purpose is None or isinstance(purpose, str) else tuple(purpose),
               tuple(columns))
        checked = self.__dict__.get("_passed") == self._stamp()
        wide = self._kept(key, lambda: self._scores_wide(instruments, purpose=purpose, columns=columns))
        return wide.copy() if copy and checked else wide

    def _scores_wide(self, instruments: Sequence[str], *, purpose, columns: Sequence[str]) -> pd.DataFrame:
        rows: list = []
        long = self._scores_of(list(instruments), purpose=purpose, score_columns=columns, rows_out=rows)
        # one row per sitting, found on integer codes of the keys (sorted as the keys themselves):
        # the same rows, order and values as a groupby/pivot on the texts, ten times faster; on
        # checked tables a resident's code is their rank in resident_id order (no text sorted)
        ranks = self._resident_ranks("scores", rows[0]) if rows else None
        codes = [ranks if ranks is not None else pd.factorize(long["resident_id"], sort=True)[0],
                 long["assessed_on"].to_numpy("datetime64[ns]").view("i8"),
                 pd.factorize(long["purpose"], sort=True)[0],
                 pd.factorize(long["study"].fillna(""), sort=True)[0]]
        # a score whose assessment is gone (blank purpose) comes after every sitting, as pandas puts it
        order = np.lexsort(codes[::-1] + [codes[2] < 0])
        changed = np.zeros(len(order), dtype=bool)
        if len(order):
            changed[0] = True
            for c in codes:
                changed[1:] |= c[order][1:] != c[order][:-1]
        group = np.cumsum(changed) - 1  # the sitting of each row, in sorted order
        starts = np.flatnonzero(changed)
        n, m = len(starts), len(order)
        # every column taken once, from ``long`` by composed positions (never a sorted copy of it all)
        out = pd.DataFrame({c: long[c].array.take(order[starts]) for c in ("resident_id", "assessed_on", "purpose")})
        for column in ("referral_id", "study", "visit"):  # the first value given at the sitting (as groupby "first")
            given = long[column].notna().to_numpy()[order]
            position = np.where(given, np.arange(m), m)
            first = np.minimum.reduceat(position, starts) if n else np.zeros(0, dtype=np.int64)
            at = np.where(first < m, order[np.minimum(first, max(m - 1, 0))] if m else -1, -1)
            out[column] = long[column].array.take(at, allow_fill=True)
        inst_code, inst_names = pd.factorize(long["instrument"])
        inst_code = inst_code[order]
        for column in columns:
            if column not in long.columns:
                continue
            values = long[column].array
            for k in np.argsort(np.asarray(inst_names, dtype=object), kind="stable"):
                rows = np.flatnonzero(inst_code == k)
                if (np.diff(group[rows]) == 0).any():  # rows are in sitting order: a repeat is a neighbour
                    raise ValueError("Index contains duplicate entries, cannot reshape")
                at = np.full(n, -1, dtype=np.int64)
                at[group[rows]] = order[rows]
                out[f"{inst_names[k]}_{column}"] = values.take(at, allow_fill=True)
        for inst in instruments:
            for column in columns:
                name = f"{inst}_{column}"
                if name not in out.columns and column in long.columns:
                    out[name] = pd.Series(dtype=long[column].dtype)
        first = ["resident_id", "assessed_on", "purpose", "referral_id", "study", "visit"]
        return out[first + [c for c in out.columns if c not in first]]

    def screenings(self, instruments: Sequence[str] = ("phq9", "gad7"), *, columns: Sequence[str] = ("score",)) -> pd.DataFrame:
        """One row per screening: resident, date, the stored scores of ``instruments``
        (``{instrument}_{column}``) and the latest decision on it (``tier``, ``suggested_tier``,
        ``rule``, ``urgent``, ``needs_review``, ``psych_status``, ``disease_category``,
        ``service_cell``, ``service``, ``next_contact_due``, ``policy_version``, ``decided_by``,
        ``decided_at``, ``overridden``); a screening nobody has decided on has a blank tier."""
        return self._screenings(instruments, columns=columns)[0]

    def _screenings(self, instruments: Sequence[str], *, columns: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
        """:meth:`screenings`, and the position in ``assessments`` of each screening's first row
        (what the analyses read the resident's links from)."""
        a = self._frames["assessments"]
        screening = np.flatnonzero((a["purpose"] == "screening").fillna(False).to_numpy(bool))
        sessions = a[["resident_id", "assessed_on"]].iloc[screening]
        wide = self._kept_wide(instruments, None, columns, copy=False)  # every sitting (shared with referral_scores)
        wide = wide[(wide["purpose"] == "screening").fillna(False).to_numpy(bool)].reset_index(drop=True)
        wide = wide.drop(columns=["purpose", "referral_id", "study", "visit"])
        d = self._frames["decisions"]
        # one integer key per (resident, day) shared by the three tables: lookups instead of merges
        code = self._resident_ranks("assessments", screening, wide["resident_id"], d["resident_id"])
        if code is None:  # tables not checked: the texts factorized (sorted, so the same order)
            people = pd.concat([sessions["resident_id"], wide["resident_id"], d["resident_id"]], ignore_index=True)
            code = pd.factorize(people, sort=True)[0].astype(np.int64)
        day = np.concatenate([f["assessed_on"].to_numpy("datetime64[D]").astype(np.int64)
                              for f in (sessions, wide, d)])
        key = code * 4_000_000 + (day + 2_000_000)  # days within +-5,000 years
        k_s, k_w, k_d = np.split(key, np.cumsum([len(sessions), len(wide)]))
        if len(np.unique(k_w)) != len(k_w):  # a screening is one sitting a day
            raise TablesError([("assessments", None, "resident_id, assessed_on", None,
                                "holds two screenings of one resident on one day")], context="screenings")
        ks, first = np.unique(k_s, return_index=True)  # sorted: by resident, then day
        out = sessions.iloc[first].reset_index(drop=True)
        w = wide.drop(columns=["resident_id", "assessed_on"]).set_axis(pd.Index(k_w)).reindex(ks).reset_index(drop=True)
        decided = d["decided_at"].to_numpy("datetime64[ns]").view(np.int64)
        order = np.lexsort((pd.factorize(d["decision_id"], sort=True)[0], decided, k_d))  # latest decision last
        ordered = k_d[order]
        last = order[np.r_[ordered[1:] != ordered[:-1], True]] if len(order) else order
        latest = d.iloc[last].drop(columns=["decision_id", "override_reason", "resident_id", "assessed_on"])
        latest = latest.set_axis(pd.Index(k_d[last])).reindex(ks).reset_index(drop=True)
        return pd.concat([out, w, latest], axis=1), screening[first]

    def answers(self, instrument: str, *, purpose: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Item answers of one instrument, wide as the scoring engine names them
        (``{instrument}_{n}``), with ``assessment_id, resident_id, assessed_on, purpose``."""
        from workbench.instruments import get_instrument

        inst = get_instrument(instrument)
        a = self._frames["assessments"]
        a = a[a["instrument"] == instrument]
        if purpose is not None:
            a = a[a["purpose"].isin([purpose] if isinstance(purpose, str) else list(purpose))]
        names = list(inst.item_columns) + list(inst.supplementary_columns)
        out = a[["assessment_id", "resident_id", "assessed_on", "purpose"]].copy()
        for name in names:
            out[name] = a[f"item_{int(name.rsplit('_', 1)[1])}"]
        return out.reset_index(drop=True)

    def forms(self, instruments: Sequence[str] | None = None, *, purpose: str | Sequence[str] | None = None
              ) -> pd.DataFrame:
        """The answers as wide forms, one row per sitting, as an import file has them:
        ``resident_id, assessed_on, purpose, referral_id, study, visit, mode, language,
        submission_id`` and the item columns ``{instrument}_{n}`` of ``instruments`` (default:
        every instrument present). The inverse of :func:`workbench.records.assessments_from_forms`."""
        from workbench.instruments import get_instrument

        a = self._frames["assessments"]
        if purpose is not None:
            a = a[a["purpose"].isin([purpose] if isinstance(purpose, str) else list(purpose))]
        wanted = list(instruments) if instruments is not None else sorted(a["instrument"].dropna().unique())
        a = a[a["instrument"].isin(wanted)]
        keys = ["resident_id", "assessed_on", "purpose", "_study"]
        a = a.assign(_study=a["study"].fillna(""))
        context = ["referral_id", "study", "visit", "mode", "language", "submission_id"]
        out = a.groupby(keys, sort=True, observed=True)[context].first()
        for inst_id in wanted:
            inst = get_instrument(inst_id)
            mine = a[a["instrument"] == inst_id].set_index(keys)
            for name in list(inst.item_columns) + list(inst.supplementary_columns):
                out[name] = mine[f"item_{int(name.rsplit('_', 1)[1])}"].reindex(out.index)
        return out.reset_index().drop(columns="_study")

    def referral_scores(self, instruments: Sequence[str] = ("phq9", "gad7")) -> pd.DataFrame:
        """Stored scores per referral: the screening that led to it (``baseline``: the resident's
        screening on the referral date), then its reviews; ``{instrument}_score`` per instrument.
        Ready for :func:`workbench.outcomes.change` and :func:`workbench.outcomes.referral_outcomes`."""
        wide = self._kept_wide(instruments, None, ("score", "self_harm"), copy=False)  # the screenings' question, asked once
        refs = self._frames["referrals"][["referral_id", "resident_id", "referred_on"]]
        base = wide[wide["purpose"] == "screening"].drop(columns=["referral_id"]).merge(
            refs, left_on=["resident_id", "assessed_on"], right_on=["resident_id", "referred_on"], how="inner")
        reviews = wide[(wide["purpose"] == "review") & wide["referral_id"].notna()]
        keep = ["resident_id", "referral_id", "assessed_on", "baseline"] + [f"{i}_score" for i in instruments]
        out = pd.concat([base.assign(baseline=True)[keep], reviews.assign(baseline=False)[keep]], ignore_index=True)
        return out.sort_values(["referral_id", "assessed_on", "baseline"], ascending=[True, True, False], ignore_index=True)


# --- types from text and files -----------------------------------------------------------------

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _whole_integers(values: pd.Series, dtype: str) -> pd.Series | None:
    """Float ``values`` as the nullable integer ``dtype`` when every one is whole and fits (None
    otherwise): built from the numbers and their mask, ten times faster than ``astype``.

    >>> _whole_integers(pd.Series([1.0, None, 3.0]), "Int8").tolist(), _whole_integers(pd.Series([1.5]), "Int8")
    ([1, <NA>, 3], None)
    """
    numbers = values.to_numpy(dtype=np.float64)
    blank = np.isnan(numbers)
    filled = np.where(blank, 0.0, numbers)
    info = np.iinfo(dtype.lower())
    if not ((np.floor(filled) == filled) & (filled >= info.min) & (filled <= info.max)).all():
        return None
    return pd.Series(pd.arrays.IntegerArray(filled.astype(dtype.lower()), blank), index=values.index)


def _coerce_column(name: str, column: Column, values: pd.Series, problems: list[tuple], clean_text: bool = True) -> pd.Series:
    """``values`` as ``column``'s declared type; cells that cannot be read are reported and blanked.

    Values already of a fitting kind (numbers, dates, booleans from a database or Parquet) are
    converted directly; text (CSV cells) is stripped and parsed.
    """
    target = DTYPES[column.dtype]
    if str(values.dtype) == target:
        return values
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty" and column.dtype != "bool":  # every cell blank
        return pd.Series(index=values.index, dtype=target)
    if column.dtype == "string" and kind == "string":
        out = values.astype("string")
        if not clean_text:
            return out
        stripped = out.str.strip()
        return stripped.mask(stripped == "")
    if column.dtype == "date" and kind in ("date", "datetime", "datetime64"):
        out = pd.to_datetime(values, errors="coerce")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    if column.dtype == "timestamp" and kind in ("datetime", "datetime64"):
        out = pd.to_datetime(values, errors="coerce", utc=True)
        return out.astype(target)
    if column.dtype in ("bool", "boolean") and kind in ("boolean", "integer", "floating", "mixed-integer-float"):
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.dropna().isin([0, 1]).all():
            out = numeric.astype("boolean")
            return out.astype(bool) if column.dtype == "bool" and not out.isna().any() else out
    if column.dtype in ("Int8", "Int16", "Int32", "float", "Float") and kind in ("integer", "floating", "mixed-integer-float",
                                                                                 "decimal"):
        if column.dtype.startswith("Int") and values.dtype.kind == "f":  # floats with NaN, as a database gives
            whole = _whole_integers(values, column.dtype)
            if whole is not None:
                return whole
        number = pd.to_numeric(values, errors="coerce")
        if column.dtype.startswith("Int"):
            whole = number.isna() | (np.floor(number) == number)
            if whole.all():
                return number.astype(target)
        else:
            return number.astype(target)
    text = values.astype("string")
    if clean_text:  # a database's text (dates as SQLite stores them) has no stray spaces to strip
        text = text.str.strip()
    blank = text.isna() | (text == "")
    if column.dtype == "string":
        out = text.mask(blank)
        bad = pd.Series(False, index=values.index)
        rule = ""
    elif column.dtype in ("bool", "boolean"):
        low = text.str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[low.isin(_TRUE).fillna(False)] = True
        out[low.isin(_FALSE).fillna(False)] = False
        bad = ~blank & out.isna()
        rule = "must be True or False"
    elif column.dtype == "date":
        out = pd.to_datetime(text.mask(blank), format="%Y-%m-%d", errors="coerce")
        bad = ~blank & out.isna()
        rule = "must be a date YYYY-MM-DD"
    elif column.dtype == "timestamp":
        out = pd.to_datetime(text.mask(blank), errors="coerce", utc=True, format="ISO8601")
        bad = ~blank & out.isna()
        rule = "must be a date and time (ISO 8601)"
    else:
        number = pd.to_numeric(text.mask(blank), errors="coerce")
        bad = ~blank & number.isna()
        rule = "must be a number"
        if column.dtype.startswith("Int"):
            whole = number.isna() | (np.floor(number) == number)
            info = np.iinfo(column.dtype.lower())
            fits = number.isna() | ((number >= info.min) & (number <= info.max))
            bad |= ~whole | ~fits
            rule = "must be a whole number" if (~whole).any() else f"must be a whole number from {info.min} to {info.max}"
            number = number.where(whole & fits)
        out = number
    if bad.any():
        problems.extend((name, label, column.name, values[label], rule) for label in values.index[bad])
        out = out.mask(bad)
    if column.dtype == "bool":
        return out.fillna(False).astype(bool) if not out.isna().any() else out.astype("boolean")
    if column.dtype == "date":
        return out.astype("datetime64[ns]")
    return out.astype(target)


def coerce(name: str, frame: pd.DataFrame, *, clean_text: bool = True) -> tuple[pd.DataFrame, list[tuple]]:
    """A table read from text (CSV cells, database values) with its declared types, and the cells
    that could not be read (``table, row, column, value, rule``). Missing and extra columns are
    left for :meth:`Tables.validate` to report. Text is stripped and a blank cell is missing,
    unless ``clean_text=False`` (values already stored clean, as a database's)."""
    spec = TABLES[name]
    problems: list[tuple] = []
    declared = {c.name: c for c in spec.columns}
    columns = {label: (_coerce_column(name, declared[label], frame[label], problems, clean_text)
                       if label in declared else frame[label]) for label in frame.columns}
    return pd.DataFrame(columns, index=frame.index), problems  # built at once: no column-by-column copies


def tables_from_frames(frames: Mapping[str, pd.DataFrame], *, attrs: Mapping[str, Any] | None = None) -> Tables:
    """Typed, validated :class:`Tables` from frames of text or loosely typed values (files, SQL rows)."""
    problems: list[tuple] = []
    typed = {}
    for name, frame in frames.items():
        typed[name], found = coerce(name, frame)
        problems.extend(found)
    tables = Tables(attrs=attrs, **typed)
    found = tables.problems()
    if problems:  # a cell that could not be read is named once, not again as blank
        unread = {(t, r, c) for t, r, c, _, _ in problems}
        found = found[[(t, r, c) not in unread for t, r, c in found[["table", "row", "column"]].itertuples(index=False)]]
    if problems or len(found):
        all_problems = pd.concat([problems_frame(problems), found], ignore_index=True)
        raise TablesError(all_problems, context=str((attrs or {}).get("path", "analysis tables")),
                          outcome="nothing was read")
    return tables


# --- folders (exports) -------------------------------------------------------------------------

MANIFEST = "tables.json"
DICTIONARY_FILES = {"en": "dictionary_en.csv", "zh": "dictionary_zh.csv"}


@validate_params({"formats": Predicate(lambda v: not isinstance(v, (str, bytes)) and iter(v) is not v
                                       and len(list(v)) > 0 and all(f in ("parquet", "csv") for f in v),
                                       "a list of 'parquet' and/or 'csv'")})
def write(tables: Tables, folder: str | Path, *, formats: Sequence[str] = ("parquet", "csv"), overwrite: bool = False,
          dictionary_files: bool = True) -> Path:
    """Write ``tables`` to ``folder``: each table as Parquet and CSV (UTF-8 with BOM, so that
    spreadsheet programs read Chinese correctly), the data dictionary in both languages, and
    ``tables.json`` (shape version, source, row counts). A folder that is not empty is refused
    unless ``overwrite``. :func:`read` reads it back."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty: write the tables to a new folder (nothing was written)")
    folder.mkdir(parents=True, exist_ok=True)
    tables.validate()
    written: list[tuple[Path, Path]] = []

    def target(name: str) -> Path:  # each file is written under a temporary name, then moved in place
        final = folder / name
        temporary = folder / f".{name}.tmp"
        written.append((temporary, final))
        return temporary

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for name, frame in tables.items():
            table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)  # once for both files
            if "parquet" in formats:  # with pandas' metadata, as DataFrame.to_parquet writes it
                pq.write_table(table, target(f"{name}.parquet"))
            if "csv" in formats:
                _write_csv(frame, table, TABLES[name], target(f"{name}.csv"))
        if dictionary_files:
            for lang, filename in DICTIONARY_FILES.items():
                dictionary(lang).to_csv(target(filename), index=False, encoding="utf-8-sig", lineterminator="\n")
        attrs = {k: (v if isinstance(v, (str, int, float, bool, type(None), list)) else str(v))
                 for k, v in tables.attrs.items() if k != "path"}
        manifest = {"shape_version": SHAPE_VERSION, "tables": {name: len(frame) for name, frame in tables.items()},
                    "formats": list(formats), "attrs": attrs, "policy_versions": tables.policy_versions}
        target(MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for temporary, final in written:
            temporary.replace(final)
    finally:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
    return folder


#: What starts a text cell that spreadsheet programs would run as a formula (see :func:`_write_csv`).
FORMULA_START = r"^[=+\-@\t\r]"


def _write_csv(frame: pd.DataFrame, table, spec: TableSpec, path: Path) -> None:
    """One table (``frame``, and ``table``, the same as Arrow) as CSV for spreadsheets and other
    tools: UTF-8 with a BOM (so that spreadsheet programs read Chinese), dates ``YYYY-MM-DD``,
    times ISO 8601 in UTC, blanks empty, ``true`` / ``false``. Written by Arrow's CSV writer (ten
    times faster than pandas' on a city's tables).

    A text cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return: OWASP's "CSV injection") is written with a leading ``'``, so that it
    shows as text; numbers (a negative change score) are written as they are, and the Parquet
    files keep every true value."""
    import codecs

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            values = table.column(i)
            live = pc.match_substring_regex(values, FORMULA_START)
            if pc.any(live).as_py():
                table = table.set_column(i, field.name, pc.if_else(
                    live, pc.binary_join_element_wise(pa.scalar("'", field.type), values, ""), values))

    for column in spec.columns:
        i = table.schema.get_field_index(column.name)
        if i < 0:
            continue
        if column.dtype == "timestamp":
            text = frame[column.name].dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("string")
            table = table.set_column(i, column.name, pa.array(text.to_numpy(dtype=object, na_value=None), pa.string()))
        elif column.dtype == "date":
            table = table.set_column(i, column.name, table.column(i).cast(pa.date32()))
    with open(path, "wb") as handle:
        handle.write(codecs.BOM_UTF8)
        pa_csv.write_csv(table, handle, pa_csv.WriteOptions(quoting_style="needed"))


def _read_csv(path: Path, spec: TableSpec) -> pd.DataFrame:
    """One table's CSV: typed by Arrow's CSV reader when every cell reads as its declared type
    (fast), else as text, which :func:`coerce` then reads cell by cell, naming each one it cannot."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    arrow = {"string": pa.string(), "date": pa.date32(), "timestamp": pa.string(), "bool": pa.bool_(),
             "boolean": pa.bool_(), "Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "float": pa.float64(),
             "Float": pa.float64()}
    try:
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
            column_types={c.name: arrow[c.dtype] for c in spec.columns}, strings_can_be_null=True,
            quoted_strings_can_be_null=True, true_values=["true", "True", "TRUE", "1"],
            false_values=["false", "False", "FALSE", "0"]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    mapping = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
               pa.string(): pd.StringDtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype()}
    frame = table.to_pandas(types_mapper=mapping.get)
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if column.dtype == "date":
            frame[column.name] = pd.to_datetime(values).astype("datetime64[ns]")
        elif column.dtype == "float":
            frame[column.name] = values.astype("float64")
        elif column.dtype == "bool" and not values.isna().any():
            frame[column.name] = values.astype(bool)
        elif column.dtype == "timestamp":
            frame[column.name] = values.astype(object)  # parsed by coerce
    return frame


def read(folder: str | Path) -> Tables:
    """The analysis tables of a folder written by :func:`write` (or ``workbench export``):
    Parquet when present, else CSV; typed and validated (:class:`TablesError` names every bad cell).
    A table whose file is absent is empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of analysis tables")
    manifest_path = folder / MANIFEST
    attrs: dict[str, Any] = {}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if str(manifest.get("shape_version", "")).split(".")[0] != SHAPE_VERSION.split(".")[0]:
            raise ValueError(f"{folder} holds tables of shape version {manifest.get('shape_version')!r}; this "
                             f"workbench reads version {SHAPE_VERSION}")
        attrs.update(manifest.get("attrs", {}))
    frames = {}
    found = False
    for name in TABLES:
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.is_file():
            frames[name] = pd.read_parquet(parquet)
        elif csv.is_file():
            frames[name] = _read_csv(csv, TABLES[name])
        else:
            continue
        found = True
    if not found:
        raise FileNotFoundError(f"{folder} holds none of the analysis tables ({', '.join(TABLES)})")
    attrs.update(source=attrs.get("source", "export"), path=str(folder))
    return tables_from_frames(frames, attrs=attrs)


# --- the data dictionary ------------------------------------------------------------------------

_TYPE_WORDS = {"en": {"string": "text", "date": "date (YYYY-MM-DD)", "timestamp": "date and time (UTC)", "bool": "true/false",
                      "boolean": "true/false or blank", "Int8": "whole number", "Int16": "whole number",
                      "Int32": "whole number", "float": "number", "Float": "number"},
               "zh": {"string": "文本", "date": "日期（YYYY-MM-DD）", "timestamp": "日期时间（UTC）", "bool": "是/否",
                      "boolean": "是/否或空白", "Int8": "整数", "Int16": "整数", "Int32": "整数", "float": "数值",
                      "Float": "数值"}}


@validate_params({"lang": Options(of=lambda: sorted(_TYPE_WORDS))})
def dictionary(lang: str = "en") -> pd.DataFrame:
    """Every column of every table: ``table, column, type, required, rules, description`` in
    ``lang`` (``en`` or ``zh``), generated from the declarations."""
    rows = []
    for name, spec in TABLES.items():
        for c in spec.columns:
            rows.append({"table": name, "column": c.name, "type": _TYPE_WORDS[lang][c.dtype],
                         "required": not c.nullable, "rules": c.rules(), "description": c.zh if lang == "zh" else c.en})
    return pd.DataFrame(rows)


def catalogue_markdown(tables: Tables | None = None, *, title: str = "Analysis tables", intro: str = "") -> str:
    """The data dictionary as Markdown (both languages), with row counts when ``tables`` is given."""
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    for name, spec in TABLES.items():
        count = f" ({len(tables[name]):,} rows)" if tables is not None else ""
        lines += [f"## `{name}`{count}: {spec.en} / {spec.zh}", "",
                  f"Key: {', '.join(spec.key)}." + (" Links: " + "; ".join(
                      f"{', '.join(l.columns)} -> {l.table}" for l in spec.links) + "." if spec.links else ""), "",
                  "| column | type | rules | description | 说明 |", "|---|---|---|---|---|"]
        shown_items = False
        for c in spec.columns:
            if re.fullmatch(r"item_\d+", c.name):
                if shown_items:
                    continue
                shown_items = True
                lines.append(f"| `item_1` ... `item_{len(ITEM_COLUMNS)}` | {_TYPE_WORDS['en'][c.dtype]} | {c.rules()} | "
                             "Answer to item k of the instrument (blank: not answered) | 该问卷第k题的回答（空白：未回答） |")
                continue
            lines.append(f"| `{c.name}` | {_TYPE_WORDS['en'][c.dtype]} | {c.rules()} | {c.en} | {c.zh} |")
        lines.append("")
    return "\n".join(lines)

