"""The screening station's components: questionnaire forms, the live tier card, the safety
banner, finding or registering a resident, and the station that saves a session."""

from __future__ import annotations

import datetime as dt
import html
import logging
import uuid
from typing import Callable

import ipywidgets as w
import pandas as pd


from workbench.i18n import t
from workbench.instruments import get_instrument
from workbench.policy import load_policy
from workbench.registry.access import AccessDenied
from workbench.registry.imports import CONDITIONS, ImportProblems
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.item import ItemQuestion

__all__ = ["OPTIONAL_QUESTIONNAIRES", "QuestionnaireForm", "ResidentFinder", "SafetyBanner", "ScreeningStation",
           "TierCard", "screening_summary"]

log = logging.getLogger("workbench.ui")

#: Questionnaires always on the station's form, and those a staff member may add.
CORE_QUESTIONNAIRES = ("phq9", "gad7")
OPTIONAL_QUESTIONNAIRES = ("who5", "k10", "ucla3", "phq15", "pss10")


class QuestionnaireForm(w.VBox):
    """One questionnaire: its name and instructions, then one :class:`ItemQuestion` per item
    (scored items, then supplementary ones such as PHQ-9 question 10).

    Examples
    --------
    >>> form = QuestionnaireForm("phq9", lang="en")
    >>> len(form.questions), form.questions["phq9_1"].question
    (10, '1. Little interest or pleasure in doing things')
    >>> form.questions["phq9_2"].value = 3
    >>> form.answers()["phq9_2"], form.answers()["phq9_1"] is None
    (3, True)
    >>> form.set_language("zh"); form.questions["phq9_1"].question
    '1. 做事时提不起劲或没有兴趣'
    """

    def __init__(self, instrument: str, *, lang: str):
        self.instrument = get_instrument(instrument)
        self.lang = lang
        self.heading = w.HTML()
        self.questions: dict[str, ItemQuestion] = {}
        for item in self.instrument.items:
            self.questions[f"{self.instrument.id}_{item.n}"] = ItemQuestion()
        for extra in self.instrument.supplementary_items:
            self.questions[f"{self.instrument.id}_{extra['n']}"] = ItemQuestion()
        super().__init__([self.heading, *self.questions.values()])
        self.add_class("wb-questionnaire")
        self.set_language(lang)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        inst = self.instrument
        self.heading.value = (f"<h2>{html.escape(inst.name[lang])}</h2>"
                              f"<p>{html.escape(inst.instructions[lang])}</p>")
        answers = [(inst.answer_label(v, lang), v) for v in range(inst.response_min, inst.response_max + 1)]
        for item in inst.items:
            q = self.questions[f"{inst.id}_{item.n}"]
            q.question, q.options, q.clear_label = f"{item.n}. {item.text[lang]}", answers, t("clear_answer", lang)
        for extra in inst.supplementary_items:
            q = self.questions[f"{inst.id}_{extra['n']}"]
            labels = extra.get("labels") or {}
            q.question = f"{extra['n']}. {extra['text'][lang]}"
            q.options = [(labels[v][lang] if v in labels else str(v), v) for v in range(extra["min"], extra["max"] + 1)]
            q.clear_label = t("clear_answer", lang)

    def set_sex(self, sex: str | None) -> None:
        """Hide (and clear) the items that do not apply to a resident of this sex."""
        for item in self.instrument.items:
            wanted = item.applies_to.get("sex")
            q = self.questions[f"{self.instrument.id}_{item.n}"]
            hide = wanted is not None and sex is not None and sex != wanted
            q.layout.display = "none" if hide else None
            if hide:
                q.value = None

    def answers(self) -> dict[str, int | None]:
        """Every item column and its answer (None: not answered)."""
        return {column: q.value for column, q in self.questions.items()}

    def answered(self) -> int:
        return sum(v is not None for v in self.answers().values())

    def reset(self) -> None:
        for q in self.questions.values():
            q.value = None

    def disable(self, flag: bool) -> None:
        for q in self.questions.values():
            q.disabled = flag

    def observe_answers(self, callback: Callable) -> None:
        for q in self.questions.values():
            q.observe(callback, "value")


def screening_summary(screened: pd.Series, *, lang: str, policy=None) -> dict:
    """What the tier card shows for one row of a preview (:func:`~workbench.registry.store.preview_screening`): per questionnaire its
    total and band (or why it cannot be scored yet), the tier, the action, the service and the
    next contact date.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame([{**{f"phq9_{n}": 2 for n in range(1, 10)}, "phq9_9": 0, "assessed_on": "2025-06-02"}])
    >>> from workbench.registry.store import preview_screening
    >>> s = screening_summary(preview_screening(data, {"resident_id": "R1"}).iloc[0], lang="en")
    >>> s["scores"][0]["text"], s["tier"], s["next_contact_due"]
    ('16 · Moderately severe', 'Tier 2 counselling', '2025-06-16')
    """
    policy = load_policy(policy or "default")
    rules = {r.id: r for r in policy.rules}
    scores = []
    for inst_id in [c[:-len("_score")] for c in screened.index if c.endswith("_score")]:
        inst = get_instrument(inst_id)
        score = screened.get(f"{inst_id}_score")
        answered = int(screened.get(f"{inst_id}_n_answered", 0) or 0)
        if answered == 0:
            continue
        if pd.isna(score):
            text = t("not_scorable_yet", lang).format(answered=answered, needed=inst.n_items - inst.max_missing,
                                                      total=inst.n_items)
        else:
            band = screened.get(f"{inst_id}_band")
            text = f"{score:g}" + (f" · {inst.band_label(band, lang)}" if isinstance(band, str) else "")
            if bool(screened.get(f"{inst_id}_prorated", False)):
                text += " " + t("prorated_note", lang).format(answered=answered, total=inst.n_items)
        scores.append({"instrument": inst_id, "name": inst.name[lang], "text": text, "scored": not pd.isna(score)})
    tier = screened.get("tier")
    rule = rules.get(str(screened.get("rule")))
    due = screened.get("next_contact_due")
    return {
        "scores": scores,
        "tier_number": None if pd.isna(tier) else int(tier),
        "tier": t("no_tier", lang) if pd.isna(tier) else t(f"tier_{int(tier)}", lang),
        "action": rule.description[lang] if rule is not None else "",
        "service": _service(screened, policy, lang),
        "urgent": bool(screened.get("urgent", False)),
        "needs_review": bool(screened.get("needs_review", False)),
        "next_contact_due": "" if pd.isna(due) else pd.Timestamp(due).strftime("%Y-%m-%d"),
    }


def _service(screened: pd.Series, policy, lang: str) -> str:
    """The service package of the row's service-matrix cell, in ``lang`` (the stored ``service``
    text is the policy's English; a cell the policy does not know keeps it)."""
    cell = screened.get("service_cell")
    if isinstance(cell, str) and cell in policy.services:
        return policy.services[cell][lang]
    service = screened.get("service")
    return "" if service is None or pd.isna(service) else str(service)


def _short_name(name: str) -> str:
    """A questionnaire's short name from its full name: the text in its last brackets.

    >>> _short_name("Patient Health Questionnaire-9 (PHQ-9)"), _short_name("患者健康问卷抑郁量表（PHQ-9）")
    ('PHQ-9', 'PHQ-9')
    """
    for open_, close in (("（", "）"), ("(", ")")):
        if name.endswith(close) and open_ in name:
            return name[name.rindex(open_) + 1:-1]
    return name


class TierCard(w.HTML):
    """The live card: totals and bands, the suggested tier, what to do and the next contact."""

    def __init__(self, *, lang: str):
        super().__init__()
        self.lang, self.summary = lang, None
        self.show(None)

    def set_language(self, lang: str) -> None:
        self.lang = lang

    def show(self, summary: dict | None) -> None:
        self.summary = summary
        lang = self.lang
        if summary is None or not summary["scores"]:
            self.value = (f'<div class="wb-card" role="status" aria-live="polite">'
                          f'{html.escape(t("card_empty", lang))}</div>')
            return
        def row(label: str, value: str) -> str:
            return f'<tr><th scope="row">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'

        rows = "".join(row(_short_name(s["name"]), s["text"]) for s in summary["scores"])
        rows += row(t("action", lang), summary["action"]) + row(t("service", lang), summary["service"])
        rows += row(t("next_contact", lang), summary["next_contact_due"])
        if summary["urgent"]:
            rows += row(t("urgent", lang), t("yes", lang))
        if summary["needs_review"]:
            rows += row(t("needs_review", lang), t("yes", lang))
        tier_class = f"wb-tier-{summary['tier_number']}" if summary["tier_number"] else ""
        self.value = (
            f'<div class="wb-card {tier_class}" role="status" aria-live="polite">'
            f'<h2>{html.escape(t("suggested_tier", lang))}: {html.escape(summary["tier"])}</h2>'
            f'<table class="wb-card-table">{rows}</table></div>')


class SafetyBanner(w.HTML):
    """A prominent banner while any critical item (PHQ-9 item 9) is endorsed: the declared
    message and what to do now. It cannot be dismissed; it goes only when the answer changes."""

    def __init__(self, *, lang: str, policy="default"):
        super().__init__()
        self.lang, self.messages = lang, []
        self.policy = load_policy(policy)
        self.show([])

    def set_language(self, lang: str) -> None:
        self.lang = lang

    def show(self, hits: list[tuple[str, str]]) -> None:
        """``hits``: (instrument id, flag) of every endorsed critical item."""
        self.messages = hits
        if not hits:
            self.value, self.layout.display = "", "none"
            return
        lang = self.lang
        lines = []
        for inst_id, flag in hits:
            inst = get_instrument(inst_id)
            for critical in inst.critical_items:
                if critical.flag == flag:
                    lines.append(html.escape(critical.message[lang]))
        rules = {r.id: r for r in self.policy.rules}
        first = [rules["self_harm"].description[lang]] if "self_harm" in rules else []
        steps = "".join(f"<li>{html.escape(text)}</li>"
                        for text in first + [t("safety_step_record", lang), t("safety_step_danger", lang)])
        self.layout.display = None
        self.value = (f'<div class="wb-banner" role="alert"><strong>{html.escape(t("safety_title", lang))}</strong>'
                      f'<p>{"<br>".join(lines)}</p><ol>{steps}</ol></div>')


class ResidentFinder(w.VBox):
    """Find a resident by ID, name or phone, or register a new one (validated by the registry's
    residents schema; problems shown beside the fields, nothing saved until valid)."""

    def __init__(self, registry, *, user: str, lang: str, on_select: Callable[[dict | None], None]):
        self.registry, self.user, self.lang, self._on_select = registry, user, lang, on_select
        self.query = w.Text(continuous_update=False)
        self.search = w.Button(icon="")
        self.matches = w.Dropdown(options=[], value=None)
        self.message = FieldMessage()
        self.new_toggle = w.ToggleButton(value=False)
        # registration form
        self.f_name = w.Text()
        self.f_phone = w.Text()
        self.f_sex = w.Dropdown()
        self.f_birth = w.DatePicker()
        self.f_community = w.Combobox(ensure_option=False)
        self.f_alone = w.Checkbox(value=False, indent=False)
        self.f_conditions = {c: w.Checkbox(value=False, indent=False) for c in CONDITIONS}
        self.f_messages = {k: FieldMessage() for k in ("name", "sex", "birth_date", "community", "form")}
        self.register = w.Button(button_style="primary")
        field = lambda widget, key: w.VBox([widget, self.f_messages[key]]) if key in self.f_messages else widget  # noqa: E731
        self.form = w.VBox([field(self.f_name, "name"), self.f_phone, field(self.f_sex, "sex"),
                            field(self.f_birth, "birth_date"), field(self.f_community, "community"), self.f_alone,
                            w.HBox(list(self.f_conditions.values()), layout=w.Layout(flex_flow="row wrap")),
                            self.register, self.f_messages["form"]], layout=w.Layout(display="none"))
        super().__init__([w.HBox([self.query, self.search]), self.matches, self.message, self.new_toggle, self.form])
        self._residents = None
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        self.query.observe(g(lambda _: self.find()), "value")
        self.search.on_click(g(lambda _: self.find()))
        self.matches.observe(g(self._selected), "value")
        self.new_toggle.observe(lambda ch: setattr(self.form.layout, "display", None if ch["new"] else "none"), "value")
        self.register.on_click(guarded(self.f_messages["form"], lambda: self.lang)(lambda _: self.register_resident()))

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.query.description, self.query.placeholder = t("find_resident", lang), t("find_placeholder", lang)
        self.query.style = {"description_width": "initial"}
        self.search.description = t("search", lang)
        self.matches.description = t("resident", lang)
        self.new_toggle.description = t("register_new", lang)
        for widget, key in ((self.f_name, "name"), (self.f_phone, "phone"), (self.f_sex, "sex"),
                            (self.f_birth, "birth_date"), (self.f_community, "community"),
                            (self.f_alone, "lives_alone")):
            widget.description = t(key, lang)
            widget.style = {"description_width": "10em"}
        sex = self.f_sex.value
        self.f_sex.options = [("", None), (t("female", lang), "female"), (t("male", lang), "male")]
        self.f_sex.value = sex
        for condition, box in self.f_conditions.items():
            box.description = t(condition, lang)
        self.register.description = t("register", lang)

    def residents(self) -> pd.DataFrame:
        if self._residents is None:
            self._residents = self.registry.residents(as_user=self.user, health=True)
            self.f_community.options = sorted(self._residents["community"].dropna().unique().tolist())
        return self._residents

    def find(self, text: str | None = None) -> pd.DataFrame:
        """Residents whose ID, name or phone contains the text (at most 50, ID order)."""
        text = (self.query.value if text is None else text).strip()
        if text != self.query.value:
            self.query.value = text
        self.message.clear()
        if not text:
            self.matches.options = []
            return self.residents().iloc[0:0]
        table = self.residents()
        hit = pd.Series(False, index=table.index)
        for column in ("resident_id", "name", "phone"):
            hit |= table[column].astype("string").str.contains(text, case=False, regex=False).fillna(False)
        found = table[hit].head(50)
        self.matches.options = [(self._label(r), r["resident_id"]) for _, r in found.iterrows()]
        if len(found) == 0:
            self.message.info(t("no_match", self.lang))
        elif len(found) == 1:
            self.matches.value = found.iloc[0]["resident_id"]
        return found

    def _label(self, row) -> str:
        parts = [row["resident_id"], row["name"] if isinstance(row["name"], str) else "",
                 t(row["sex"], self.lang) if row["sex"] in ("female", "male") else "",
                 str(pd.Timestamp(row["birth_date"]).year) if pd.notna(row["birth_date"]) else "", row["community"]]
        return " · ".join(p for p in parts if p)

    def _selected(self, change) -> None:
        rid = change["new"]
        if rid is None:
            self._on_select(None)
            return
        row = self.residents().set_index("resident_id").loc[rid]
        self._on_select({"resident_id": rid, **row.to_dict()})

    def _new_id(self) -> str:
        return "W" + uuid.uuid4().hex[:10].upper()

    def register_resident(self) -> str | None:
        """Validate the registration form and add the resident; returns the new ID or None."""
        for m in self.f_messages.values():
            m.clear()
        lang = self.lang
        problems = []
        if not self.f_name.value.strip():
            problems.append(("name", t("required", lang)))
        if self.f_sex.value is None:
            problems.append(("sex", t("required", lang)))
        birth = self.f_birth.value
        if birth is None:
            problems.append(("birth_date", t("required", lang)))
        elif birth > dt.date.today() or birth.year < 1900:
            problems.append(("birth_date", t("birth_date_range", lang)))
        if not (self.f_community.value or "").strip():
            problems.append(("community", t("required", lang)))
        for key, text in problems:
            self.f_messages[key].error(text)
        if problems:
            return None
        rid = self._new_id()
        row = {"resident_id": rid, "name": self.f_name.value.strip(), "phone": self.f_phone.value.strip() or None,
               "sex": self.f_sex.value, "birth_date": birth.isoformat(), "community": self.f_community.value.strip(),
               "lives_alone": str(bool(self.f_alone.value)).lower(),
               **{c: str(bool(box.value)).lower() for c, box in self.f_conditions.items()}}
        try:
            self.registry.import_residents(pd.DataFrame([row]), by=self.user, source="screening station")
        except ImportProblems as exc:
            for p in exc.problems.itertuples(index=False):
                target = self.f_messages.get(p.column, self.f_messages["form"])
                target.error(f"{p.value!s}: {p.rule}" if p.value is not None else str(p.rule))
            return None
        except AccessDenied as exc:
            self.f_messages["form"].error(str(exc))
            return None
        self._residents = None
        self.new_toggle.value = False
        self.f_messages["form"].ok(t("registered", lang).format(resident=rid))
        for widget in (self.f_name, self.f_phone):
            widget.value = ""
        self.query.value = rid
        self.find(rid)
        return rid


class ScreeningStation(w.VBox):
    """The screening station: pick a resident, fill PHQ-9 and GAD-7 (and any added
    questionnaire), see the tier card live, confirm or change the tier, and save the session to
    the registry under ``user``'s name (once, whatever the number of clicks).

    ``today`` is the station's working date (the assessment date defaults to it).
    """

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, policy="default"):
        self.registry, self.user, self.lang, self.today = registry, user, lang, today
        self.policy = load_policy(policy)
        self.resident: dict | None = None
        self.submission_id = uuid.uuid4().hex
        self.saved = False
        self.finder = ResidentFinder(registry, user=user, lang=lang, on_select=self._on_resident)
        self.resident_note = w.HTML()
        self.assessed_on = w.DatePicker(value=today)
        self.mode = w.Dropdown()
        self.extra = w.SelectMultiple(options=[], rows=len(OPTIONAL_QUESTIONNAIRES))
        self.forms = {i: QuestionnaireForm(i, lang=lang) for i in CORE_QUESTIONNAIRES + OPTIONAL_QUESTIONNAIRES}
        self.forms_box = w.VBox()
        self.banner = SafetyBanner(lang=lang, policy=self.policy)
        self.card = TierCard(lang=lang)
        self.decision = w.Dropdown()
        self.reason = w.Textarea(rows=2, layout=w.Layout(width="40em", max_width="100%"))
        self.reason_message = FieldMessage()
        # Off by default: one's own caseload opens item-level answers, so it needs a second person
        # unless the screener registered the resident and everything stored about them is theirs.
        self.caseload = w.Checkbox(value=False, indent=False)
        self.save_button = w.Button(button_style="primary", icon="")
        self.new_button = w.Button()
        self.message = FieldMessage()
        self.headings = {k: w.HTML() for k in ("who", "questionnaires", "result")}
        super().__init__([
            self.headings["who"], self.finder, self.resident_note,
            w.HBox([self.assessed_on, self.mode], layout=w.Layout(flex_flow="row wrap")),
            self.headings["questionnaires"], self.extra, self.banner, self.forms_box,
            self.headings["result"], self.banner_copy(), self.card,
            self.decision, w.VBox([self.reason, self.reason_message]), self.caseload,
            w.HBox([self.save_button, self.new_button]), self.message,
        ])
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        for form in self.forms.values():
            form.observe_answers(g(lambda _: self.refresh()))
        self.extra.observe(g(lambda _: self._lay_out_forms()), "value")
        self.assessed_on.observe(g(lambda _: self.refresh()), "value")
        self.decision.observe(g(lambda _: self.reason_message.clear()), "value")
        self.save_button.on_click(g(lambda _: self.save()))
        self.new_button.on_click(g(lambda _: self.new_session()))
        self._lay_out_forms()
        self.refresh()

    def banner_copy(self) -> SafetyBanner:
        """A second copy of the safety banner beside the tier card, so it is seen from both the
        questions and the result."""
        self._banner_copy = SafetyBanner(lang=self.lang, policy=self.policy)
        return self._banner_copy

    # --- language -------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.finder.set_language(lang)
        for key in self.headings:
            self.headings[key].value = f"<h2>{html.escape(t('section_' + key, lang))}</h2>"
        self.assessed_on.description = t("assessed_on", lang)
        self.mode.description = t("mode", lang)
        mode = self.mode.value or "interviewer"
        self.mode.options = [(t("mode_interviewer", lang), "interviewer"), (t("mode_self", lang), "self")]
        self.mode.value = mode
        chosen = self.extra.value
        self.extra.description = t("add_questionnaires", lang)
        self.extra.style = {"description_width": "initial"}
        self.extra.options = [(get_instrument(i).name[lang], i) for i in OPTIONAL_QUESTIONNAIRES]
        self.extra.value = chosen
        for form in self.forms.values():
            form.set_language(lang)
        for part in (self.banner, self._banner_copy, self.card):
            part.set_language(lang)
        decision = self.decision.value
        self.decision.description = t("decision", lang)
        self.decision.style = {"description_width": "initial"}
        self.decision.options = [(t("confirm_suggested", lang), None)] + [(t(f"tier_{k}", lang), k) for k in (1, 2, 3)]
        self.decision.value = decision
        self.reason.description = t("override_reason", lang)
        self.reason.placeholder = t("override_reason_placeholder", lang)
        self.reason.style = {"description_width": "initial"}
        self.caseload.description = t("add_to_my_list", lang)
        self.save_button.description = t("save", lang)
        self.new_button.description = t("new_screening", lang)
        self._note_resident()
        self.refresh()

    # --- state ----------------------------------------------------------------------------

    def _lay_out_forms(self) -> None:
        chosen = list(CORE_QUESTIONNAIRES) + [i for i in OPTIONAL_QUESTIONNAIRES if i in self.extra.value]
        for inst_id, form in self.forms.items():
            if inst_id not in chosen:
                form.reset()
        self.forms_box.children = [self.forms[i] for i in chosen]
        self.refresh()

    def _on_resident(self, resident: dict | None) -> None:
        self.resident = resident
        for form in self.forms.values():
            form.set_sex(resident.get("sex") if resident else None)
        self._note_resident()
        self.refresh()

    def _note_resident(self) -> None:
        r = self.resident
        if r is None:
            self.resident_note.value = f"<p>{html.escape(t('no_resident', self.lang))}</p>"
            return
        tier = r.get("tier")
        last = "" if tier is None or pd.isna(tier) else f" · {t('latest_tier', self.lang)}: {t(f'tier_{int(tier)}', self.lang)}"
        self.resident_note.value = (f"<p><strong>{html.escape(str(r['resident_id']))}</strong> "
                                    f"{html.escape(str(r.get('name') or ''))}{html.escape(last)}</p>")

    def answers(self) -> pd.DataFrame:
        """The session as one row of wide answers (the registry's import format)."""
        row = {"resident_id": self.resident["resident_id"] if self.resident else None,
               "assessed_on": self.assessed_on.value.isoformat() if self.assessed_on.value else None,
               "submission_id": self.submission_id, "language": self.lang, "mode": self.mode.value}
        if self.resident and self.resident.get("sex"):
            row["sex"] = self.resident["sex"]
        for inst_id in self._chosen():
            answers = self.forms[inst_id].answers()
            if any(v is not None for v in answers.values()):
                row.update(answers)
        return pd.DataFrame([row])

    def _chosen(self) -> list[str]:
        return list(CORE_QUESTIONNAIRES) + [i for i in OPTIONAL_QUESTIONNAIRES if i in self.extra.value]

    def screened(self) -> pd.DataFrame | None:
        """What saving would store for the current answers: the registry's save path run without
        storing (:func:`workbench.registry.store.preview_screening`: the scores and the suggested
        decision); None before any answer."""
        from workbench.registry.store import preview_screening
        from workbench.scoring import instruments_in

        frame = self.answers()
        if not instruments_in(frame):
            return None
        frame["assessed_on"] = frame["assessed_on"].fillna(self.today.isoformat())
        resident = self.resident or {"resident_id": "(not chosen yet)"}
        item_columns = [c for c in frame.columns if c.split("_")[0] in self.forms and c.split("_")[-1].isdigit()]
        frame[item_columns] = frame[item_columns].astype("float64")
        return preview_screening(frame.drop(columns=["sex"], errors="ignore"), resident, policy=self.policy)

    def refresh(self) -> None:
        """Recompute the card and the banner from the answers."""
        screened = self.screened()
        if screened is None:
            self.card.show(None)
            hits = []
        else:
            row = screened.iloc[0]
            self.card.show(screening_summary(row, lang=self.lang, policy=self.policy))
            hits = [(i, c.flag) for i in self._chosen() for c in get_instrument(i).critical_items
                    if f"{i}_{c.flag}" in row.index and pd.notna(row[f"{i}_{c.flag}"]) and bool(row[f"{i}_{c.flag}"])]
        self.banner.show(hits)
        self._banner_copy.show(hits)

    # --- saving ---------------------------------------------------------------------------

    def problems(self) -> list[tuple[str, str]]:
        """What must be fixed before saving: (field, message)."""
        lang, out = self.lang, []
        if self.resident is None:
            out.append(("resident", t("choose_resident_first", lang)))
        if self.assessed_on.value is None:
            out.append(("assessed_on", t("required", lang)))
        elif self.assessed_on.value > self.today:
            out.append(("assessed_on", t("date_in_future", lang)))
        if not any(self.forms[i].answered() for i in self._chosen()):
            out.append(("answers", t("no_answers", lang)))
        if self.decision.value is not None and not self.reason.value.strip():
            out.append(("reason", t("reason_required", lang)))
        return out

    def save(self) -> bool:
        """Save the session (questionnaires + tier decision) in one transaction; True if written."""
        if self.saved:  # a second click (a double click) saves nothing and keeps the saved message
            self.message.ok(self._saved_text)
            return False
        self.save_button.disabled = True
        try:
            return self._save()
        finally:
            self.save_button.disabled = self.saved

    def _save(self) -> bool:
        lang = self.lang
        self.message.clear()
        self.reason_message.clear()
        problems = self.problems()
        if problems:
            for field, text in problems:
                (self.reason_message if field == "reason" else self.message).error(text)
            if any(f != "reason" for f, _ in problems):
                self.message.error(" ".join(text for f, text in problems if f != "reason"))
            return False
        answers = self.answers().drop(columns=["sex"], errors="ignore")
        tier = self.decision.value
        try:
            saved = self.registry.save_screening(answers, by=self.user, tier=tier,
                                                 reason=self.reason.value.strip() if tier is not None else None,
                                                 add_to_caseload=bool(self.caseload.value), policy=self.policy)
        except ImportProblems as exc:
            self.message.error(t("not_saved", lang) + " " + "; ".join(
                f"{p.column}: {'' if p.value is None else str(p.value) + ' '}{p.rule}"
                for p in exc.problems.itertuples(index=False)))
            return False
        except AccessDenied as exc:
            self.message.error(t("not_saved", lang) + " " + str(exc))
            return False
        written, decided = saved
        self.saved = True
        for form in self.forms.values():
            form.disable(True)
        tier = decided["tier"].iloc[0]
        tier_text = t("no_tier", lang) if pd.isna(tier) else t(f"tier_{int(tier)}", lang)
        due = decided["next_contact_due"].iloc[0]
        self._saved_text = t("saved", lang).format(resident=answers["resident_id"].iloc[0], tier=tier_text,
                                                   due=pd.Timestamp(due).strftime("%Y-%m-%d") if pd.notna(due) else "-")
        if not written:
            self._saved_text += " " + t("already_saved", lang)
        self.message.ok(self._saved_text)
        return written

    def new_session(self) -> None:
        """Clear the answers for the next resident (a new submission)."""
        self.submission_id = uuid.uuid4().hex
        self.saved = False
        self.save_button.disabled = False
        for form in self.forms.values():
            form.disable(False)
            form.reset()
        self.decision.value = None
        self.reason.value = ""
        self.message.clear()
        self.reason_message.clear()
        self.finder.query.value = ""
        self.finder.matches.options = []
        self.resident = None
        self._note_resident()
        self.refresh()
