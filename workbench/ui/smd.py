"""Severe mental disorders (SMD) in the follow-up list: who of one's registered patients is due,
overdue, unstable or at a high risk grade today (:func:`workbench.smd.due_list`), and the
follow-up form: the risk grade with its definitions, the answers, a live suggestion
(:func:`workbench.smd.classify`), the stability as staff judge it (confirm the suggestion or
change it with a reason), a referral banner, saved once
(:meth:`Registry.save_smd_followup <workbench.registry.store.Registry.save_smd_followup>`).

Disorders, risk-grade definitions, answers, stability classes, intervals and the referral action
come from the SMD policy file (``workbench/policies/smd_default.yaml``) in the page's language;
the rest of the words from ``workbench/i18n/strings.yaml``. The suggestion is made once more when
the follow-up is saved, by the registry, and stored beside the judgement: this module only shows it.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import uuid
from typing import Callable

import ipywidgets as w
import pandas as pd

from workbench.i18n import t
from workbench.registry.access import AccessDenied
from workbench.problems import ProblemsError
from workbench.smd_codes import ITEM_VALUES, MODES, REGULARITY, STABILITIES
from workbench.ui._base import FieldMessage, guarded

__all__ = ["SMD_FILTERS", "SmdBanner", "SmdCard", "SmdFollowUpForm", "SmdSection", "smd_table_html"]

log = logging.getLogger("workbench.ui")

#: Views of the SMD list (:func:`workbench.smd.due_list`): the column that selects the rows.
SMD_FILTERS = {"all": None, "due": "due", "overdue": "overdue", "unstable": "unstable", "high_risk": "high_risk"}
#: The answers of a follow-up the rules read (the policy labels their values).
ANSWERS = tuple(ITEM_VALUES)
#: The value of a choice not recorded (a blank is never "none" nor grade 0).
NOT_RECORDED = ""
#: Rows of the form, in the order of the national follow-up record.
FIELDS = ("who", "followed_on", "mode", "risk_grade", *ANSWERS, "on_medication", "medication_regularity", "referred")


def _policy(policy):
    from workbench.smd import load_smd_policy

    return load_smd_policy(policy)


def _day(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _yes(value) -> bool:
    """True only when a flag is recorded True (a blank flag, e.g. "overdue" before any follow-up, is not)."""
    return value is not None and not pd.isna(value) and bool(value)


def _stability(value, lang: str, policy) -> str:
    """A stability class in the policy's words ('' when blank)."""
    if value is None or pd.isna(value):
        return ""
    s = _policy(policy).stability[str(value)]
    return s.zh if lang == "zh" else s.en


def _grade(value, lang: str) -> str:
    if value is None or pd.isna(value):
        return t("smd_not_assessed", lang)
    return t("smd_grade_value", lang).format(grade=int(value))


def _status(row, lang: str, policy) -> str:
    pol = _policy(policy)
    words = []
    if _yes(row["refer"]):
        words.append("⚠ " + t("smd_refer_now", lang))
    if _yes(row["high_risk"]):
        words.append(_grade(row["last_risk_grade"], lang))
    if _yes(row["unstable"]):
        words.append(_stability("unstable", lang, policy))
    if pd.isna(row["last_followup"]):
        words.append(t("smd_never_followed", lang))
    elif _yes(row["overdue"]):
        words.append(t("overdue_days", lang).format(days=int(row["days_overdue"])))
    elif _yes(row["due"]):
        words.append(t("chronic_due", lang))
    if int(row["assessed_in_period"]) < pol.regular_follow_ups:
        words.append(t("smd_few_assessments", lang).format(n=int(row["assessed_in_period"]), months=pol.period_months,
                                                           needed=pol.regular_follow_ups))
    return "; ".join(words)


def smd_table_html(rows: pd.DataFrame, *, lang: str, caption: str, names: dict | None = None,
                   mood: dict | None = None, policy="default") -> str:
    """The SMD list (rows of :func:`workbench.smd.due_list`) as an accessible HTML table beside
    each patient's mood flags (``mood``: resident -> text); rows needing action (refer, high risk
    grade, unstable, overdue, never followed up) are marked in words and highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> row = {"resident_id": "R1", "diagnosis": "schizophrenia", "last_followup": pd.Timestamp("2025-09-01"),
    ...        "last_risk_grade": 3, "last_outcome": None, "suggested": "unstable", "next_due": pd.Timestamp("2025-09-15"),
    ...        "due": True, "overdue": True, "days_overdue": 15, "unstable": True, "high_risk": True, "refer": True,
    ...        "assessed_in_period": 4}
    >>> out = smd_table_html(pd.DataFrame([row]), lang="en", caption="SMD")
    >>> '<tr class="wb-alert">' in out and "⚠ Refer now; Grade 3; Unstable; Overdue 15 day(s)" in out
    True
    >>> "Schizophrenia" in out and "Not judged" in out
    True
    """
    pol = _policy(policy)
    heads = ["resident", "name", "diagnosis", "last_visit", "risk_grade", "outcome", "suggested", "next_due",
             "smd_status", "mood"]
    head = "".join(f'<th scope="col">{html.escape(t("col_" + h, lang))}</th>' for h in heads)
    body = []
    for _, r in rows.iterrows():
        never = pd.isna(r["last_followup"])
        alert = never or any(_yes(r[c]) for c in ("refer", "high_risk", "unstable", "overdue"))
        outcome = _stability(r["last_outcome"], lang, policy) or ("" if never else t("smd_not_judged", lang))
        cells = [r["resident_id"], (names or {}).get(r["resident_id"], "") or "", pol.disorders[str(r["diagnosis"])][lang],
                 _day(r["last_followup"]) or t("no_follow_up_yet", lang), "" if never else _grade(r["last_risk_grade"], lang),
                 outcome, _stability(r["suggested"], lang, policy), _day(r["next_due"]), _status(r, lang, policy),
                 (mood or {}).get(r["resident_id"], "")]
        first = f'<th scope="row">{html.escape(str(cells[0]))}</th>'
        rest = "".join(f'<td class="wb-nowrap">{html.escape(str(c))}</td>' if k in (3, 7) else f"<td>{html.escape(str(c))}</td>"
                       for k, c in enumerate(cells[1:], start=1))
        body.append(f'<tr class="wb-alert">{first}{rest}</tr>' if alert else f"<tr>{first}{rest}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}">{html.escape(t("nobody_listed", lang))}</td></tr>')
    return (f'<table class="wb-table wb-smd"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


class SmdBanner(w.HTML):
    """The referral banner of a follow-up, in the self-harm banner's form (``wb-banner``,
    ``role="alert"``, cannot be dismissed): why (the risk grade's definition, the answers that made
    the suggestion unstable, or the person's own judgement) and what to do now (the policy's
    referral action, recording it, and the emergency step). Hidden while nothing calls for it."""

    def __init__(self, *, lang: str, policy="default"):
        super().__init__()
        self.lang, self.policy, self.reasons = lang, policy, []
        self.show([])

    def set_language(self, lang: str) -> None:
        self.lang = lang

    def show(self, reasons: list[str]) -> None:
        """``reasons``: the sentences saying why (none: hidden)."""
        self.reasons = list(reasons)
        if not reasons:
            self.value, self.layout.display = "", "none"
            return
        lang = self.lang
        steps = [_policy(self.policy).referral.action[lang], t("smd_step_record", lang), t("safety_step_danger", lang)]
        self.layout.display = None
        self.value = (f'<div class="wb-banner" role="alert"><strong>{html.escape(t("smd_banner_title", lang))}</strong>'
                      f'<p>{"<br>".join(html.escape(r) for r in reasons)}</p>'
                      f'<ol>{"".join(f"<li>{html.escape(s)}</li>" for s in steps)}</ol></div>')

    @property
    def raised(self) -> bool:
        return bool(self.reasons)


class SmdCard(w.HTML):
    """The live suggestion of a follow-up (one row of :func:`workbench.smd.classify`): the
    suggested stability, what to do (the fired rule's words in the policy), the next follow-up
    date, whether to refer, the rule and the policy version."""

    def __init__(self, *, lang: str, policy="default"):
        super().__init__()
        self.lang, self.policy, self.row = lang, policy, None
        self.show(None)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.show(self.row)

    def show(self, row: pd.Series | None) -> None:
        self.row, lang, e = row, self.lang, html.escape
        if row is None:
            self.value = f'<div class="wb-card" role="status" aria-live="polite">{e(t("smd_card_empty", lang))}</div>'
            return
        pol = _policy(self.policy)
        suggested = _stability(row["stability"], lang, self.policy) or t("smd_no_suggestion", lang)
        cells = [(t("smd_card_title", lang), suggested),
                 (t("action", lang), pol.rule(str(row["rule"])).description[lang]),
                 (t("next_visit", lang), _day(row["next_due"])),
                 (t("smd_referral", lang), t("yes" if bool(row["refer"]) else "no", lang)),
                 (t("rule_fired", lang), str(row["rule"])), (t("smd_policy", lang), str(row["policy_version"]))]
        css = {"stable": " wb-tier-1", "basically_stable": " wb-tier-2", "unstable": " wb-tier-3"}.get(
            None if pd.isna(row["stability"]) else str(row["stability"]), "")
        if bool(row["refer"]):
            css = " wb-tier-3"
        body = "".join(f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in cells)
        self.value = (f'<div class="wb-card{css}" role="status" aria-live="polite"><h2>{e(t("smd_card_title", lang))}</h2>'
                      f'<table class="wb-card-table">{body}</table></div>')


def _choice(width: str = "34em") -> w.Dropdown:
    return w.Dropdown(options=[("", NOT_RECORDED)], value=NOT_RECORDED, layout=w.Layout(width=width, max_width="100%"))


class SmdFollowUpForm(w.VBox):
    """A follow-up of a registered patient: who (``set_patients``), the date, how, the risk grade
    (each grade with its definition from the policy; blank: not assessed, never grade 0), symptoms,
    insight, social function, adverse reaction, physical illness, medication and its regularity,
    whether referred; a live suggestion and the referral banner (risk grade among the policy's
    referral grades, or unstable: suggested or judged); the stability judged (the suggestion
    confirmed, or another with a reason); saved once under ``user``'s name
    (:meth:`Registry.save_smd_followup`). ``on_saved()`` is called after a save."""

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, policy="default",
                 on_saved: Callable[[], None] | None = None):
        self.registry, self.user, self.lang, self.today, self.policy = registry, user, lang, today, policy
        self.on_saved = on_saved
        self.submission_id = uuid.uuid4().hex
        self.saved = False
        self.saved_row: pd.DataFrame | None = None
        self._saved_text = ""
        self.who = w.Dropdown(options=[("", None)], value=None, layout=w.Layout(width="34em", max_width="100%"))
        self.followed_on = w.DatePicker(value=today)
        self.mode = w.Dropdown(options=[(m, m) for m in MODES], value=MODES[0])
        self.grade = w.RadioButtons(options=[("", NOT_RECORDED)], value=NOT_RECORDED,
                                    layout=w.Layout(width="auto", max_width="100%"))
        self.grade_source = w.HTML()
        self.choices: dict[str, w.Dropdown] = {a: _choice() for a in ANSWERS}
        self.on_medication = _choice("24em")
        self.regularity = _choice("24em")
        self.referred = _choice("24em")
        self.messages = {k: FieldMessage() for k in FIELDS}
        self.banner = SmdBanner(lang=lang, policy=policy)
        self.card = SmdCard(lang=lang, policy=policy)
        self.outcome = w.Dropdown(options=[("", None)], value=None, layout=w.Layout(width="34em", max_width="100%"))
        self.reason = w.Textarea(rows=2, layout=w.Layout(width="40em", max_width="100%"))
        self.reason_message = FieldMessage()
        self.save_button = w.Button(button_style="primary")
        self.new_button = w.Button()
        self.message = FieldMessage()
        self.suggestion: pd.Series | None = None
        field = lambda widget, key: w.VBox([widget, self.messages[key]])  # noqa: E731
        super().__init__([
            field(self.who, "who"), field(self.followed_on, "followed_on"), field(self.mode, "mode"),
            w.VBox([self.grade, self.grade_source, self.messages["risk_grade"]]),
            *[field(self.choices[a], a) for a in ANSWERS],
            field(self.on_medication, "on_medication"), field(self.regularity, "medication_regularity"),
            self.banner, self.card, field(self.referred, "referred"),
            self.outcome, w.VBox([self.reason, self.reason_message]),
            w.HBox([self.save_button, self.new_button]), self.message,
        ])
        self.add_class("wb-smd-form")
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        for widget in (self.who, self.followed_on, self.mode, self.grade, *self.choices.values(), self.on_medication,
                       self.regularity, self.referred, self.outcome):
            widget.observe(g(lambda _: self.refresh()), "value")
        self.outcome.observe(g(lambda _: self.reason_message.clear()), "value")
        self.save_button.on_click(g(lambda _: self.save()))
        self.new_button.on_click(g(lambda _: self.new_followup()))
        self.refresh()

    # --- language and patients ------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        self.lang = lang
        pol = _policy(self.policy)
        self.who.description = t("smd_patient", lang)
        self.followed_on.description = t("smd_followed_on", lang)
        mode = self.mode.value
        self.mode.description = t("smd_mode", lang)
        self.mode.options = [(t(f"smd_mode_{m}", lang), m) for m in MODES]
        self.mode.value = mode
        grade = self.grade.value
        self.grade.description = t("smd_risk_grade", lang)
        self.grade.options = [(t("smd_grade_blank", lang), NOT_RECORDED)] + [
            (text[lang], g) for g, text in pol.risk_grades.items()]
        self.grade.value = grade
        source = pol.source.split(":")[0].strip()  # the citation, without the list of what it covers
        self.grade_source.value = (f'<p class="wb-hint">'
                                   f'{html.escape(t("smd_grades_source", lang).format(policy=pol.version, source=source))}</p>')
        for name, box in self.choices.items():
            self._options(box, t(f"smd_item_{name}", lang),
                          [(pol.items[name][v][lang], v) for v in ITEM_VALUES[name]])
        self._options(self.on_medication, t("smd_on_medication", lang), [(t("yes", lang), True), (t("no", lang), False)])
        self._options(self.regularity, t("smd_regularity", lang), [(t(f"adherence_{v}", lang), v) for v in REGULARITY])
        self._options(self.referred, t("smd_referred", lang), [(t("yes", lang), True), (t("no", lang), False)])
        for widget in (self.who, self.followed_on, self.mode, self.grade, *self.choices.values(), self.on_medication,
                       self.regularity, self.referred):
            widget.style = {"description_width": "14em"}
        self.outcome.description = t("smd_outcome", lang)
        self.outcome.style = {"description_width": "initial"}
        self._outcome_options()
        self.reason.description = t("smd_reason", lang)
        self.reason.placeholder = t("smd_reason_placeholder", lang)
        self.reason.style = {"description_width": "initial"}
        self.save_button.description = t("save", lang)
        self.new_button.description = t("new_smd_followup", lang)
        for part in (self.banner, self.card):
            part.set_language(lang)
        if hasattr(self, "suggestion"):
            self.refresh()
        if self.saved:
            self.message.ok(self._saved_text)

    def _options(self, box: w.Dropdown, description: str, options: list) -> None:
        chosen = box.value
        box.description = description
        box.options = [(t("not_recorded", self.lang), NOT_RECORDED)] + options
        box.value = chosen if chosen is not None else NOT_RECORDED

    def _outcome_options(self) -> None:
        lang, pol = self.lang, _policy(self.policy)
        suggested = self.suggested
        first = (t("smd_confirm_suggested", lang) + f" ({_stability(suggested, lang, self.policy)})" if suggested
                 else t("smd_confirm_blank", lang))
        chosen = self.outcome.value
        options = [(first, None)] + [(pol.stability[s].zh if lang == "zh" else pol.stability[s].en, s) for s in STABILITIES]
        if list(self.outcome.options) != options:
            self.outcome.options = options
        self.outcome.value = chosen
        if chosen is None:
            self.outcome.index = 0

    def set_patients(self, options: list[tuple[str, str]]) -> None:
        """The patients one may record a follow-up of: (label, resident_id); the chosen one is
        kept while still listed."""
        chosen = self.who.value
        self.who.options = [("", None)] + list(options)
        self.who.value = chosen if chosen in [v for _, v in options] else None

    # --- what the form holds --------------------------------------------------------------

    @staticmethod
    def _value(box):
        return None if box.value in (None, NOT_RECORDED) else box.value

    def followup(self) -> pd.DataFrame:
        """The follow-up as one row (the columns ``workbench import smd-followups`` takes, with
        this form's ``submission_id``); blanks are not recorded."""
        grade = self._value(self.grade)
        row = {"submission_id": self.submission_id, "resident_id": self.who.value,
               "followed_on": self.followed_on.value.isoformat() if self.followed_on.value else None,
               "mode": self.mode.value, "risk_grade": None if grade is None else int(grade),
               **{a: self._value(box) for a, box in self.choices.items()},
               "on_medication": self._value(self.on_medication), "medication_regularity": self._value(self.regularity),
               "referred": self._value(self.referred)}
        return pd.DataFrame([row])

    @property
    def suggested(self) -> str | None:
        """The suggested stability (None: no patient, or no suggestion)."""
        row = getattr(self, "suggestion", None)
        return None if row is None or pd.isna(row["stability"]) else str(row["stability"])

    def suggest(self) -> pd.Series | None:
        """:func:`workbench.smd.classify` of the form (None until a patient is chosen)."""
        if self.who.value is None:
            return None
        from workbench.smd import classify

        row = self.followup().drop(columns=["submission_id"])
        row["followup_id"] = "(this follow-up)"
        row["followed_on"] = pd.to_datetime(row["followed_on"].fillna(self.today.isoformat()))
        row["risk_grade"] = row["risk_grade"].astype("Int8")
        for a in ANSWERS:
            row[a] = row[a].astype("string")
        return classify(row, policy=self.policy).iloc[0]

    def reasons(self) -> list[str]:
        """Why the banner is raised: the grade's definition when it is a referral grade, the answers
        behind an unstable suggestion, the person's own judgement of unstable."""
        pol, lang, row = _policy(self.policy), self.lang, self.suggestion
        out = []
        grade = self._value(self.grade)
        if grade is not None and int(grade) in pol.referral.risk_grades:
            out.append(pol.risk_grades[int(grade)][lang])
        if row is not None and not pd.isna(row["stability"]) and str(row["stability"]) in pol.referral.stability:
            rule = pol.rule(str(row["rule"]))
            for item, wanted in rule.items.items():
                value = self._value(self.grade) if item == "risk_grade" else self._value(self.choices[item])
                if item != "risk_grade" and value in wanted:
                    out.append(pol.items[item][value][lang])
            if len(out) == 0:
                out.append(rule.description[lang])
        if self.outcome.value in pol.referral.stability and self.outcome.value != self.suggested:
            out.append(t("smd_banner_judged", lang))
        return list(dict.fromkeys(out))

    def refresh(self) -> None:
        """Recompute the suggestion, the card and the banner from the form."""
        self.suggestion = self.suggest()
        self._outcome_options()
        self.card.show(self.suggestion)
        self.banner.show(self.reasons())

    # --- saving ---------------------------------------------------------------------------

    def problems(self) -> list[tuple[str, str]]:
        """What must be fixed before saving: (field, message)."""
        lang, out = self.lang, []
        if self.who.value is None:
            out.append(("who", t("smd_choose_patient", lang)))
        if self.followed_on.value is None:
            out.append(("followed_on", t("required", lang)))
        elif self.followed_on.value > self.today:
            out.append(("followed_on", t("smd_date_in_future", lang)))
        taking, regularity = self._value(self.on_medication), self._value(self.regularity)
        if taking is False and regularity in ("regular", "intermittent"):
            out.append(("medication_regularity", t("smd_regularity_not_taking", lang)))
        if taking is True and regularity == "none":
            out.append(("medication_regularity", t("smd_regularity_taking", lang)))
        if self._judged() is not None and not self.reason.value.strip():
            out.append(("reason", t("smd_reason_required", lang)))
        return out

    def _judged(self) -> str | None:
        """The stability judged when it differs from the suggestion (None: the suggestion confirmed)."""
        chosen = self.outcome.value
        return None if chosen is None or chosen == self.suggested else chosen

    def save(self) -> bool:
        """Save the follow-up; True if written. A second click saves nothing and keeps the saved message."""
        if self.saved:
            self.message.ok(self._saved_text)
            return False
        self.save_button.disabled = True
        try:
            return self._save()
        finally:
            self.save_button.disabled = self.saved

    def _clear(self) -> None:
        self.message.clear()
        self.reason_message.clear()
        for m in self.messages.values():
            m.clear()

    def _save(self) -> bool:
        lang = self.lang
        self._clear()
        problems = self.problems()
        if problems:
            general = []
            for name, text in problems:
                (self.reason_message if name == "reason" else self.messages[name]).error(text)
                general.append(text)
            self.message.error(t("not_saved", lang) + " " + " ".join(general))
            return False
        row, judged = self.followup(), self._judged()
        try:
            saved = self.registry.save_smd_followup(row, by=self.user, outcome=judged,
                                                    reason=self.reason.value.strip() if judged is not None else None,
                                                    policy=self.policy)
        except ProblemsError as exc:  # ImportProblems, RecordProblems: every bad cell named
            elsewhere = self._show_problems(exc.problems)
            self.message.error(t("not_saved", lang) + " " + "; ".join(
                elsewhere or [m.text for m in self.messages.values() if m.value]))
            return False
        except AccessDenied as exc:
            self.message.error(t("not_saved", lang) + " " + str(exc))
            return False
        self.saved = True
        self.saved_row = saved.followup
        for widget in (self.who, self.followed_on, self.mode, self.grade, *self.choices.values(), self.on_medication,
                       self.regularity, self.referred, self.outcome, self.reason):
            widget.disabled = True
        stored = saved.followup.iloc[0]
        self._saved_text = t("smd_saved", lang).format(
            resident=stored["resident_id"], day=_day(stored["followed_on"]),
            outcome=_stability(stored["outcome"], lang, self.policy) or t("smd_not_judged", lang),
            suggested=_stability(stored["suggested_outcome"], lang, self.policy) or t("smd_no_suggestion", lang),
            due=_day(stored["next_due"]) or "-")
        if not saved.written:
            self._saved_text += " " + t("smd_already_saved", lang)
        self.message.ok(self._saved_text)
        if self.on_saved is not None:
            self.on_saved()
        return saved.written

    def _show_problems(self, problems) -> list[str]:
        """Show each ``(row, column, value, rule)`` beside its field; return those of no field."""
        elsewhere = []
        for p in problems.itertuples(index=False):  # one follow-up: shown as row 1
            column, value = p.column, p.value
            text = t("field_problem", self.lang).format(row=1, column=column,
                                                        value="" if value is None or pd.isna(value) else value, rule=p.rule)
            target = {"resident_id": "who", "outcome": "reason"}.get(str(column), str(column))
            box = self.reason_message if target == "reason" else self.messages.get(target)
            if box is None:
                elsewhere.append(text)
            else:
                box.error(text if not box.value else box.text + " " + text)
        return elsewhere

    def new_followup(self) -> None:
        """Clear the form for the next follow-up (a new submission)."""
        self.submission_id = uuid.uuid4().hex
        self.saved, self.saved_row, self._saved_text = False, None, ""
        for widget in (self.who, self.followed_on, self.mode, self.grade, *self.choices.values(), self.on_medication,
                       self.regularity, self.referred, self.outcome, self.reason):
            widget.disabled = False
        self.save_button.disabled = False
        self.who.value = None
        self.followed_on.value = self.today
        self.mode.value = MODES[0]
        self.grade.value = NOT_RECORDED
        for box in (*self.choices.values(), self.on_medication, self.regularity, self.referred):
            box.value = NOT_RECORDED
        self.outcome.index = 0
        self.reason.value = ""
        self._clear()
        self.refresh()


class SmdSection(w.VBox):
    """The SMD part of the follow-up list: the registered patients of the list's residents
    (``tables(read)`` gives their analysis tables) with views (due, overdue, unstable, high risk
    grade), beside their mood flags (``mood()``), and the follow-up form of one of them."""

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, tables: Callable[..., object],
                 names: Callable[[], dict] = dict, mood: Callable[[], dict] = dict, policy="default"):
        self.registry, self.user, self.lang, self.today, self.policy = registry, user, lang, today, policy
        self._tables, self._names, self._mood = tables, names, mood
        self.day: dt.date | None = today
        self.listed = pd.DataFrame()
        self.heading = w.HTML()
        self.form_heading = w.HTML()
        self.view = w.ToggleButtons(options=[("", "all")], value="all", style={"button_width": "auto"})
        self.refresh_button = w.Button()
        self.message = FieldMessage()
        self.table = w.HTML()
        self.form = SmdFollowUpForm(registry, user=user, lang=lang, today=today, policy=policy,
                                    on_saved=lambda: self.refresh(read=True))
        super().__init__([self.heading, w.HBox([self.view, self.refresh_button], layout=w.Layout(flex_flow="row wrap")),
                          self.message, self.table, self.form_heading, self.form])
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        self.view.observe(g(lambda _: self.show()), "value")
        self.refresh_button.on_click(g(lambda _: self.refresh(read=True)))

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.heading.value = f"<h2>{html.escape(t('section_smd', lang))}</h2>"
        self.form_heading.value = f"<h2>{html.escape(t('section_smd_form', lang))}</h2>"
        self.refresh_button.description = t("quality_refresh", lang)
        self.refresh_button.tooltip = t("quality_refresh", lang)
        self.form.set_language(lang)
        self.show()

    def refresh(self, *, read: bool = False, day: dt.date | None = None, available: bool = True) -> None:
        """Recompute the list for ``day`` (default: the last one; ``read``: read the registry
        again). ``available`` False (no follow-up list, e.g. a social worker): nobody is listed."""
        from workbench.smd import due_list

        self.message.clear()
        if day is not None:
            self.day = day
        if not available or self.day is None:
            self.listed = pd.DataFrame()
            self.show()
            return
        try:
            tables = self._tables(read=read)
        except AccessDenied as exc:
            self.message.error(t("smd_unavailable", self.lang).format(reason=str(exc)))
            self.listed = pd.DataFrame()
            self.show()
            return
        listed = due_list(tables.smd_register, tables.smd_followups, today=self.day, policy=self.policy)
        flag = lambda column: listed[column].astype("boolean").fillna(False).astype(bool)  # noqa: E731
        order = listed.assign(_r=~flag("refer"), _h=~flag("high_risk"), _u=~flag("unstable"),
                              _o=-listed["days_overdue"].astype("Float64").fillna(0), _d=~flag("due"))
        self.listed = (order.sort_values(["_r", "_h", "_u", "_o", "_d", "resident_id"], kind="stable")
                       .drop(columns=["_r", "_h", "_u", "_o", "_d"]).reset_index(drop=True))
        self.show()

    def rows(self, view: str | None = None) -> pd.DataFrame:
        """The rows of a view of the SMD list."""
        column = SMD_FILTERS[view or self.view.value]
        if self.listed.empty or column is None:
            return self.listed
        return self.listed[self.listed[column].astype("boolean").fillna(False).to_numpy(bool)]

    def counts(self) -> dict[str, int]:
        return {view: len(self.rows(view)) for view in SMD_FILTERS}

    def show(self) -> None:
        lang = self.lang
        counts = self.counts() if not self.listed.empty else dict.fromkeys(SMD_FILTERS, 0)
        value = self.view.value
        self.view.options = [(f"{t('smd_view_' + v, lang)} ({counts[v]})", v) for v in SMD_FILTERS]
        self.view.value = value
        shown = self.rows()
        names = self._names() or {}
        self.table.value = smd_table_html(
            shown, lang=lang, names=names, mood=self._mood(), policy=self.policy,
            caption=t("smd_list_caption", lang).format(view=t("smd_view_" + self.view.value, lang),
                                                       day=self.day.isoformat() if self.day else "", n=len(shown)))
        pol = _policy(self.policy)
        everyone = self.listed
        self.form.set_patients([(" · ".join(p for p in (str(r.resident_id), str(names.get(r.resident_id) or ""),
                                                         pol.disorders[str(r.diagnosis)][lang]) if p), r.resident_id)
                                for r in everyone.itertuples()] if not everyone.empty else [])
