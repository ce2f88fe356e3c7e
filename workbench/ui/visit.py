"""A family doctor's visit (body and mind together): blood pressure, glucose, weight and the rest of
a chronic-care follow-up, with PHQ-2 and GAD-2 in the same visit (the full PHQ-9 / GAD-7 when a
screener is positive); a live card with the chronic-care classification and the suggested tier;
saved once, measurement and questionnaires in one transaction
(:meth:`Registry.save_visit <workbench.registry.store.Registry.save_visit>`).

Every label, unit, allowed answer and plausible range comes from ``workbench/data/measurements.yaml``,
the questionnaire declarations, the chronic-care policy or ``workbench/i18n/strings.yaml``.
"""

from __future__ import annotations

import datetime as dt
import functools
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
from workbench.registry.imports import ImportProblems
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.screening import QuestionnaireForm, ResidentFinder, SafetyBanner, TierCard, screening_summary

__all__ = ["ANSWER_FIELDS", "MEASURE_FIELDS", "SCREENERS", "CaseloadFinder", "ChronicCard", "VisitView",
           "follow_up_questionnaire"]

log = logging.getLogger("workbench.ui")

#: Measurements recorded at a visit (declared in ``workbench/data/measurements.yaml``).
MEASURE_FIELDS = ("sbp", "dbp", "heart_rate", "fasting_glucose", "hba1c", "weight_kg", "height_cm")
#: Answers recorded at a visit (declared there too, with their allowed values).
ANSWER_FIELDS = ("adherence", "smoking", "adverse_reaction", "complication", "alarm_symptoms")
#: The mood screeners of a visit; a positive one is followed by its full questionnaire.
SCREENERS = ("phq2", "gad2")
#: Where a visit takes place (a resident's own device is not a visit).
VISIT_SETTINGS = ("clinic", "home")
#: The value of an answer not recorded (a blank is never "no").
NOT_RECORDED = ""


@functools.lru_cache(maxsize=None)
def follow_up_questionnaire(screener: str) -> tuple[str, tuple[int, ...]] | None:
    """The questionnaire a positive ``screener`` is followed by and the items they share: the one
    its declaration takes its items from (``items_from``), e.g. PHQ-2 -> PHQ-9 items 1-2.

    Examples
    --------
    >>> follow_up_questionnaire("phq2"), follow_up_questionnaire("gad2")
    (('phq9', (1, 2)), ('gad7', (1, 2)))
    >>> follow_up_questionnaire("phq9") is None
    True
    """
    from workbench._declarations import load_yaml

    raw = load_yaml(get_instrument(screener).path.read_text(encoding="utf-8"))
    spec = raw.get("items_from")
    if not spec:
        return None
    return spec["instrument"], tuple(int(n) for n in spec["items"])


def _measures() -> dict:
    from workbench.tables import _measures as declared

    return declared()


def _short(inst_id: str, lang: str) -> str:
    from workbench.ui.screening import _short_name

    return _short_name(get_instrument(inst_id).name[lang])


class CaseloadFinder(ResidentFinder):
    """:class:`~workbench.ui.screening.ResidentFinder` limited to the residents ``allowed()`` names
    (those whose records the user may read: their caseload, or approved), without registering."""

    def __init__(self, registry, *, user: str, lang: str, allowed: Callable[[], set], on_select):
        self._allowed = allowed
        self.note = w.HTML()
        super().__init__(registry, user=user, lang=lang, on_select=on_select)
        self.new_toggle.layout.display = "none"
        self.register.disabled = True
        self.children = [*self.children, self.note]

    def set_language(self, lang: str) -> None:
        super().set_language(lang)
        self.note.value = f'<p class="wb-message wb-info">{html.escape(t("visit_caseload_note", lang))}</p>'

    def residents(self) -> pd.DataFrame:
        if self._residents is None:
            table = self.registry.residents(as_user=self.user, health=True)
            self._residents = table[table["resident_id"].isin(self._allowed())].reset_index(drop=True)
        return self._residents

    def find(self, text: str | None = None) -> pd.DataFrame:
        """As :meth:`ResidentFinder.find`; an empty search lists the caseload (at most 50)."""
        if (self.query.value if text is None else text).strip():
            return super().find(text)
        table = self.residents().head(50)
        self.matches.options = [(self._label(r), r["resident_id"]) for _, r in table.iterrows()]
        if table.empty:
            self.message.info(t("visit_caseload_empty", self.lang))
        return table

    def register_resident(self) -> None:  # a visit is for a resident already followed
        return None


class ChronicCard(w.HTML):
    """The live chronic-care card: per managed condition the target, this visit's reading, the
    classification, what to do and the next follow-up date (from
    :func:`workbench.chronic.classify`), and a red banner when a danger value or alarm symptom
    calls for urgent referral."""

    def __init__(self, *, lang: str, policy="default"):
        super().__init__()
        self.lang, self.rows, self.note, self.policy = lang, None, "chronic_card_empty", policy
        self.show(None)

    def _what_to_do(self, rule: str, action: str) -> str:
        """The fired rule's declared description (the policy's words), else the action's name."""
        from workbench.chronic import load_chronic_policy

        try:
            return load_chronic_policy(self.policy).rule(str(rule)).description[self.lang]
        except KeyError:
            return t(f"chronic_action_{action}", self.lang)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.show(self.rows, note=self.note)

    def show(self, rows: pd.DataFrame | None, *, readings: dict | None = None, note: str = "chronic_card_empty") -> None:
        self.rows, self.note, lang = rows, note, self.lang
        self.readings = readings if readings is not None else getattr(self, "readings", {})
        e = html.escape
        if rows is None or rows.empty:
            self.value = f'<div class="wb-card" role="status" aria-live="polite">{e(t(note, lang))}</div>'
            return
        tables, banners, worst = [], [], "routine"
        order = ("routine", "adjust", "refer", "urgent_referral")
        for r in rows.itertuples(index=False):
            reading = self.readings.get(r.condition, "")
            cells = [(t("condition", lang), t(r.condition, lang)), (t("target", lang), str(r.target)),
                     (t("this_reading", lang), reading),
                     (t("classification", lang), "" if pd.isna(r.classification) else t(f"classification_{r.classification}", lang)),
                     (t("action", lang), self._what_to_do(r.rule, r.action)),
                     (t("next_visit", lang), "" if pd.isna(r.next_due) else pd.Timestamp(r.next_due).strftime("%Y-%m-%d")),
                     (t("rule_fired", lang), str(r.rule))]
            tables.append("".join(f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in cells))
            if r.action in order and order.index(r.action) > order.index(worst):
                worst = r.action
            if bool(r.urgent):
                banners.append(e(t("chronic_urgent_text", lang).format(condition=t(r.condition, lang), value=reading)))
        css = {"routine": "wb-tier-1", "adjust": "wb-tier-2", "refer": "wb-tier-3", "urgent_referral": "wb-tier-3"}[worst]
        banner = (f'<div class="wb-banner" role="alert"><strong>{e(t("chronic_urgent_title", lang))}</strong>'
                  f'<p>{"<br>".join(banners)}</p></div>') if banners else ""
        body = '<tr><td colspan="2"><hr></td></tr>'.join(tables)
        self.value = (f'{banner}<div class="wb-card {css}" role="status" aria-live="polite">'
                      f'<h2>{e(t("chronic_card_title", lang))}</h2><table class="wb-card-table">{body}</table></div>')

    @property
    def urgent(self) -> bool:
        return self.rows is not None and not self.rows.empty and bool(self.rows["urgent"].astype(bool).any())


class VisitView(w.VBox):
    """A family doctor's visit: pick a resident of one's caseload, record the measurements and
    the follow-up answers, PHQ-2 and GAD-2 (the full PHQ-9 / GAD-7 when positive), see the
    chronic-care classification and the suggested tier live, confirm or change the tier, and save
    the visit once under ``user``'s name (measurement and questionnaires in one transaction).

    ``today`` is the working date (the visit date defaults to it); ``policy`` the stepped-care
    policy, ``chronic_policy`` the chronic-care one.
    """

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, policy="default",
                 chronic_policy="default"):
        self.registry, self.user, self.lang, self.today = registry, user, lang, today
        self.policy = load_policy(policy)
        self.chronic_policy = chronic_policy
        self.resident: dict | None = None
        self.submission_id = uuid.uuid4().hex
        self.saved = False
        self._tables = None
        self._saved_text = ""
        self.finder = CaseloadFinder(registry, user=user, lang=lang, allowed=self._allowed_ids,
                                     on_select=self._on_resident)
        self.resident_note = w.HTML()
        self.measured_on = w.DatePicker(value=today)
        self.setting = w.Dropdown()
        measures = _measures()["measures"]
        self.inputs: dict[str, w.Text] = {m: w.Text(continuous_update=False) for m in MEASURE_FIELDS}
        self.units: dict[str, w.Dropdown] = {m: w.Dropdown() for m in MEASURE_FIELDS if measures[m].get("other_units")}
        self.choices: dict[str, w.Dropdown] = {a: w.Dropdown(value=None, layout=w.Layout(width="30em", max_width="100%"))
                                               for a in ANSWER_FIELDS}
        self.hints = {"alarm_symptoms": w.HTML()}  # what counts, as measurements.yaml declares it
        self.messages: dict[str, FieldMessage] = {k: FieldMessage() for k in (*MEASURE_FIELDS, *ANSWER_FIELDS,
                                                                              "measured_on", "setting")}
        self.forms = {i: QuestionnaireForm(i, lang=lang) for i in SCREENERS}
        self.full: dict[str, tuple[str, tuple[int, ...]]] = {}
        for screener in SCREENERS:
            full = follow_up_questionnaire(screener)
            if full is not None:
                self.full[screener] = full
                self.forms[full[0]] = QuestionnaireForm(full[0], lang=lang)
        self.full_notes = {s: w.HTML() for s in self.full}
        self.banner = SafetyBanner(lang=lang, policy=self.policy)
        self.banner_copy = SafetyBanner(lang=lang, policy=self.policy)
        self.chronic_card = ChronicCard(lang=lang, policy=chronic_policy)
        self.card = TierCard(lang=lang)
        self.decision = w.Dropdown()
        self.reason = w.Textarea(rows=2, layout=w.Layout(width="40em", max_width="100%"))
        self.reason_message = FieldMessage()
        self.save_button = w.Button(button_style="primary")
        self.new_button = w.Button()
        self.message = FieldMessage()
        self.headings = {k: w.HTML() for k in ("who", "measures", "mood", "result")}

        def field(name: str) -> w.VBox:
            row = [self.inputs[name]] + ([self.units[name]] if name in self.units else [])
            return w.VBox([w.HBox(row, layout=w.Layout(flex_flow="row wrap")), self.messages[name]])

        mood = []
        for screener in SCREENERS:
            mood.append(self.forms[screener])
            if screener in self.full:
                mood += [self.full_notes[screener], self.forms[self.full[screener][0]]]
        super().__init__([
            self.headings["who"], self.finder, self.resident_note,
            w.VBox([self.measured_on, self.messages["measured_on"]]), w.VBox([self.setting, self.messages["setting"]]),
            self.headings["measures"], *[field(m) for m in MEASURE_FIELDS],
            *[w.VBox([self.choices[a], *([self.hints[a]] if a in self.hints else []), self.messages[a]])
              for a in ANSWER_FIELDS],
            self.headings["mood"], self.banner, *mood,
            self.headings["result"], self.banner_copy, self.chronic_card, self.card,
            self.decision, w.VBox([self.reason, self.reason_message]),
            w.HBox([self.save_button, self.new_button]), self.message,
        ])
        self.add_class("wb-visit")
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        for widget in (*self.inputs.values(), *self.units.values(), *self.choices.values(), self.measured_on,
                       self.setting):
            widget.observe(g(lambda _: self.refresh()), "value")
        for form in self.forms.values():
            form.observe_answers(g(lambda _: self.refresh()))
        self.decision.observe(g(lambda _: self.reason_message.clear()), "value")
        self.save_button.on_click(g(lambda _: self.save()))
        self.new_button.on_click(g(lambda _: self.new_visit()))
        self.finder.find("")
        self.refresh()

    # --- language -------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        self.lang = lang
        measures, answers = _measures()["measures"], _measures()["answers"]
        self.finder.set_language(lang)
        for key, widget in self.headings.items():
            widget.value = f"<h2>{html.escape(t('section_visit_' + key, lang))}</h2>"
        self.measured_on.description = t("measured_on", lang)
        setting = self.setting.value or VISIT_SETTINGS[0]
        self.setting.description = t("setting", lang)
        self.setting.options = [(t(f"setting_{s}", lang), s) for s in VISIT_SETTINGS]
        self.setting.value = setting
        for name, box in self.inputs.items():
            d = measures[name]
            label = d[lang].split("（")[0].split(" (")[0]
            box.description = label if name in self.units else f"{label} ({d['unit']})"
            box.placeholder = t("not_recorded", lang)
        for name, unit in self.units.items():
            d, chosen = measures[name], self.units[name].value or ""
            unit.description = t("unit_of", lang).format(what=d[lang].split("（")[0].split(" (")[0])
            unit.options = [(d["unit"], "")] + [(o["unit"], key) for key, o in d["other_units"].items()]
            unit.value = chosen
        for name, box in self.choices.items():
            chosen = box.value
            values = answers[name]["values"]
            options = ([(t("yes", lang), True), (t("no", lang), False)] if values == "boolean"
                       else [(t(f"{name}_{v}", lang), v) for v in values])
            box.description = t(name, lang)
            box.options = [(t("not_recorded", lang), NOT_RECORDED)] + options
            box.value = chosen if chosen is not None else NOT_RECORDED
        for name, hint in self.hints.items():
            hint.value = f'<p class="wb-hint">{html.escape(answers[name][lang])}</p>'
        for widget in (self.measured_on, self.setting, *self.inputs.values(), *self.choices.values()):
            widget.style = {"description_width": "18em"}
        for widget in self.units.values():
            widget.style = {"description_width": "initial"}
        for form in self.forms.values():
            form.set_language(lang)
        for part in (self.banner, self.banner_copy, self.card, self.chronic_card):
            part.set_language(lang)
        decision = self.decision.value
        self.decision.description = t("decision", lang)
        self.decision.style = {"description_width": "initial"}
        self.decision.options = [(t("confirm_suggested", lang), None)] + [(t(f"tier_{k}", lang), k) for k in (1, 2, 3)]
        self.decision.value = decision
        if decision is None:
            self.decision.index = 0  # shows "confirm the suggested tier" rather than a blank
        self.reason.description = t("override_reason", lang)
        self.reason.placeholder = t("override_reason_placeholder", lang)
        self.reason.style = {"description_width": "initial"}
        self.save_button.description = t("save", lang)
        self.new_button.description = t("new_visit", lang)
        self._note_resident()
        if hasattr(self, "_refreshed"):
            self.refresh()

    # --- the residents the user may see, and their earlier follow-ups ----------------------

    def tables(self):
        """The analysis tables of what the user may read (their caseload; admins: everyone),
        read from the registry once per visit (:meth:`Registry.analysis_tables`)."""
        if self._tables is None:
            self._tables = self.registry.analysis_tables(as_user=self.user)
        return self._tables

    def _allowed_ids(self) -> set:
        try:
            return set(self.tables().residents["resident_id"])
        except AccessDenied as exc:
            self.message.error(str(exc))
            return set()

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
        conditions = [t(c, self.lang) for c in ("hypertension", "diabetes") if bool(r.get(c, False))]
        tier = r.get("tier")
        last = "" if tier is None or pd.isna(tier) else f" · {t('latest_tier', self.lang)}: {t(f'tier_{int(tier)}', self.lang)}"
        self.resident_note.value = (f"<p><strong>{html.escape(str(r['resident_id']))}</strong> "
                                    f"{html.escape(str(r.get('name') or ''))}"
                                    f"{html.escape(' · ' + '、'.join(conditions) if conditions else '')}"
                                    f"{html.escape(last)}</p>")

    # --- what the form holds --------------------------------------------------------------

    def _parsed(self) -> tuple[dict, list[tuple[str, str]]]:
        """The measurement columns given (in the unit chosen) and the fields that are not numbers."""
        values, problems = {}, []
        for name, box in self.inputs.items():
            text = box.value.strip().replace("，", ".").replace(",", ".")
            if not text:
                continue
            unit = self.units[name].value if name in self.units else ""
            column = f"{name}_{unit}" if unit else name
            try:
                number = float(text)
            except ValueError:
                problems.append((name, t("field_problem", self.lang).format(
                    row=1, column=column, value=box.value.strip(), rule=t("must_be_number", self.lang))))
                continue
            values[column] = int(number) if number.is_integer() else number
        return values, problems

    def visit(self) -> pd.DataFrame:
        """The visit as one row (the registry's visit format: other units allowed as in imports)."""
        values, _ = self._parsed()
        row = {"resident_id": self.resident["resident_id"] if self.resident else None,
               "measured_on": self.measured_on.value.isoformat() if self.measured_on.value else None,
               "setting": self.setting.value, "submission_id": self.submission_id, **values}
        for name, box in self.choices.items():
            if box.value not in (None, NOT_RECORDED):
                row[name] = box.value
        return pd.DataFrame([row])

    def _recorded(self) -> bool:
        """Whether any follow-up answer is recorded."""
        return any(box.value not in (None, NOT_RECORDED) for box in self.choices.values())

    def _shown_full(self) -> dict[str, bool]:
        """For each screener, whether its full questionnaire is asked (the screener is positive)."""
        from workbench.registry.store import preview_screening

        given = {screener: self.forms[screener].answers() for screener in self.full}
        given = {screener: answers for screener, answers in given.items() if any(v is not None for v in answers.values())}
        scored = None
        if given:  # scored as saving would score them (the registry's preview), never by hand
            frame = pd.DataFrame([{k: v for answers in given.values() for k, v in answers.items()}], dtype="float64")
            frame["assessed_on"] = self.today.isoformat()
            scored = preview_screening(frame, {"resident_id": "(preview)"}, policy=self.policy).iloc[0]
        shown = {}
        for screener in self.full:
            threshold = get_instrument(screener).screen_positive
            total = scored.get(f"{screener}_score") if scored is not None and screener in given else None
            shown[screener] = bool(threshold is not None and total is not None and pd.notna(total) and total >= threshold)
        return shown

    def answers(self) -> pd.DataFrame | None:
        """The questionnaires of the visit as one row of wide answers (the screening format), or
        None when no question is answered. A positive screener is sent as its full questionnaire
        (its items answered once, in the screener)."""
        row = {"resident_id": self.resident["resident_id"] if self.resident else None,
               "assessed_on": self.measured_on.value.isoformat() if self.measured_on.value else None,
               "submission_id": self.submission_id, "language": self.lang, "mode": "interviewer"}
        given = False
        for screener, full_shown in self._shown_full().items():
            full, shared = self.full[screener]
            first = self.forms[screener].answers()
            if full_shown:
                items = self.forms[full].answers()
                for k, n in enumerate(shared, start=1):
                    items[f"{full}_{n}"] = first[f"{screener}_{k}"]
                row.update(items)
                given = True
            elif any(v is not None for v in first.values()):
                row.update(first)
                given = True
        return pd.DataFrame([row]) if given else None

    # --- the live cards -------------------------------------------------------------------

    def _lay_out_full_forms(self, shown: dict[str, bool]) -> None:
        for screener, (full, shared) in self.full.items():
            form, note = self.forms[full], self.full_notes[screener]
            form.layout.display = None if shown[screener] else "none"
            for n in shared:  # answered in the screener: not asked twice
                form.questions[f"{full}_{n}"].layout.display = "none"
            note.value = (f'<p class="wb-message wb-info" role="status">'
                          f'{html.escape(t("full_form_follows", self.lang).format(screener=_short(screener, self.lang), full=_short(full, self.lang)))}</p>'
                          if shown[screener] else "")

    def screened(self) -> pd.DataFrame | None:
        """What saving would store for the questionnaires (:meth:`Registry.preview_screening`)."""
        frame = self.answers()
        if frame is None:
            return None
        frame["assessed_on"] = frame["assessed_on"].fillna(self.today.isoformat())
        items = [c for c in frame.columns if c.split("_")[0] in self.forms and c.split("_")[-1].isdigit()]
        frame[items] = frame[items].astype("float64")
        resident = self.resident or {"resident_id": "(not chosen yet)"}
        return self.registry.preview_screening(frame, resident, policy=self.policy)

    def readings(self, prepared: pd.Series) -> dict[str, str]:
        """This visit's values as the card shows them, per condition."""
        units = {m: d["unit"] for m, d in _measures()["measures"].items()}

        def num(v) -> str:
            return f"{float(v):g}"

        out = {}
        if pd.notna(prepared.get("sbp")) and pd.notna(prepared.get("dbp")):
            out["hypertension"] = f"{num(prepared['sbp'])}/{num(prepared['dbp'])} {units['sbp']}"
        parts = [f"{num(prepared[m])} {units[m]}" for m in ("fasting_glucose", "hba1c") if pd.notna(prepared.get(m))]
        if parts:
            out["diabetes"] = ", ".join(parts)
        return out

    def classified(self) -> tuple[pd.DataFrame | None, dict, str]:
        """The chronic-care classification of this visit (one row per managed condition) with the
        resident's earlier follow-ups, the readings shown, and the card's note when there is none."""
        for name in (*MEASURE_FIELDS, *ANSWER_FIELDS):
            self.messages[name].clear()
        values, problems = self._parsed()
        for name, text in problems:
            self.messages[name].error(text)
        if problems:
            return None, {}, "chronic_fix_first"
        if self.resident is None or not values and not self._recorded():
            return None, {}, "chronic_card_empty"
        from workbench.chronic import classify
        from workbench.measurements import prepare

        frame = self.visit().drop(columns=["submission_id"])
        frame["measured_on"] = frame["measured_on"].fillna(self.today.isoformat())
        prepared, found = prepare(frame, today=self.today)
        if found:
            self._show_problems(found, first_row=0)
            return None, {}, "chronic_fix_first"
        tables = self.tables()
        rid = self.resident["resident_id"]
        residents = tables.residents[tables.residents["resident_id"] == rid]
        if residents.empty or not (bool(residents["hypertension"].iloc[0]) or bool(residents["diabetes"].iloc[0])):
            return None, {}, "chronic_not_managed"
        history = tables.measurements[tables.measurements["resident_id"] == rid]
        new = prepared.reset_index(drop=True).copy()
        new["measurement_id"] = "(this visit)"
        new["measured_by"] = self.user
        new = new.reindex(columns=history.columns)
        for column in history.columns:
            try:
                new[column] = new[column].astype(history[column].dtype)
            except (TypeError, ValueError):
                pass
        earlier = history[pd.to_datetime(history["measured_on"]) < pd.Timestamp(new["measured_on"].iloc[0])]
        rows = classify(pd.concat([earlier, new], ignore_index=True), residents, policy=self.chronic_policy)
        mine = rows[rows["measurement_id"] == "(this visit)"].reset_index(drop=True)
        return mine, self.readings(new.iloc[0]), "chronic_card_empty"

    def _show_problems(self, problems, *, first_row: int = 1) -> list[str]:
        """Show each ``(row, column, value, rule)`` beside its field; return those of no field.
        ``first_row``: the number the problems give the visit's row (shown as row 1)."""
        lines = problems.itertuples(index=False) if isinstance(problems, pd.DataFrame) else problems
        elsewhere = []
        fields = sorted((*MEASURE_FIELDS, *ANSWER_FIELDS, "measured_on", "setting"), key=len, reverse=True)
        for row, column, value, rule in ((p[0], p[1], p[2], p[3]) for p in lines):
            row_no = row - first_row + 1 if isinstance(row, (int, float)) and pd.notna(row) else 1
            text = t("field_problem", self.lang).format(row=row_no, column=column,
                                                        value="" if value is None else value, rule=rule)
            target = next((f for f in fields if column is not None and str(column).startswith(f)), None)
            if target is None:
                target = next((f for f in fields if column is not None and f in str(column)), None)
            if target is None:
                elsewhere.append(text)
            else:
                self.messages[target].error(text if not self.messages[target].value
                                            else self.messages[target].text + " " + text)
        return elsewhere

    def refresh(self) -> None:
        """Recompute both cards and the safety banner from the form."""
        self._refreshed = True
        shown = self._shown_full()
        self._lay_out_full_forms(shown)
        screened = self.screened()
        if screened is None:
            self.card.show(None)
            hits = []
        else:
            row = screened.iloc[0]
            self.card.show(screening_summary(row, lang=self.lang, policy=self.policy))
            hits = [(i, c.flag) for i in self.forms for c in get_instrument(i).critical_items
                    if f"{i}_{c.flag}" in row.index and pd.notna(row[f"{i}_{c.flag}"]) and bool(row[f"{i}_{c.flag}"])]
        self.banner.show(hits)
        self.banner_copy.show(hits)
        rows, readings, note = self.classified()
        self.chronic_card.show(rows, readings=readings, note=note)

    # --- saving ---------------------------------------------------------------------------

    def problems(self) -> list[tuple[str, str]]:
        """What must be fixed before saving: (field, message)."""
        lang, out = self.lang, []
        if self.resident is None:
            out.append(("resident", t("choose_resident_first", lang)))
        if self.measured_on.value is None:
            out.append(("measured_on", t("required", lang)))
        elif self.measured_on.value > self.today:
            out.append(("measured_on", t("visit_date_in_future", lang)))
        values, bad = self._parsed()
        out += bad
        answers = self.answers()
        if not bad and not values and not self._recorded() and answers is None:
            out.append(("form", t("visit_nothing_recorded", lang)))
        if self.decision.value is not None and answers is None:
            out.append(("form", t("decision_needs_answers", lang)))
        if self.decision.value is not None and not self.reason.value.strip():
            out.append(("reason", t("reason_required", lang)))
        return out

    def save(self) -> bool:
        """Save the visit (measurement, questionnaires and tier decision) in one transaction; True
        if written. A second click saves nothing and keeps the saved message."""
        if self.saved:
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
        self.messages["measured_on"].clear()
        problems = self.problems()
        if problems:
            general = []
            for field, text in problems:
                if field == "reason":
                    self.reason_message.error(text)
                elif field in self.messages:
                    self.messages[field].error(text)
                    general.append(text)
                else:
                    general.append(text)
            self.message.error(t("not_saved", lang) + " " + " ".join(general) if general else t("not_saved", lang))
            return False
        visit, answers = self.visit(), self.answers()
        tier = self.decision.value
        try:
            saved = self.registry.save_visit(visit, answers, by=self.user, tier=tier,
                                             reason=self.reason.value.strip() if tier is not None else None,
                                             policy=self.policy)
        except ImportProblems as exc:
            elsewhere = self._show_problems(exc.problems)
            self.message.error(t("not_saved", lang) + " " + "; ".join(
                elsewhere or [m.text for m in self.messages.values() if m.value]))
            return False
        except AccessDenied as exc:
            self.message.error(t("not_saved", lang) + " " + str(exc))
            return False
        self.saved = True
        for form in self.forms.values():
            form.disable(True)
        for widget in (*self.inputs.values(), *self.units.values(), *self.choices.values()):
            widget.disabled = True
        rid, day = visit["resident_id"].iloc[0], visit["measured_on"].iloc[0]
        text = t("visit_saved", lang).format(resident=rid, day=day)
        decision = saved.decision
        if decision is not None and len(decision):
            tier_value, due = decision["tier"].iloc[0], decision["next_contact_due"].iloc[0]
            text += " " + t("visit_saved_tier", lang).format(
                tier=t("no_tier", lang) if pd.isna(tier_value) else t(f"tier_{int(tier_value)}", lang),
                due=pd.Timestamp(due).strftime("%Y-%m-%d") if pd.notna(due) else "-")
        if not saved.written:
            text += " " + t("visit_already_saved", lang)
        self._saved_text = text
        self.message.ok(text)
        return saved.written

    def new_visit(self) -> None:
        """Clear the form for the next visit (a new submission); earlier follow-ups are read again."""
        self.submission_id = uuid.uuid4().hex
        self.saved = False
        self._tables = None
        self.save_button.disabled = False
        for form in self.forms.values():
            form.disable(False)
            form.reset()
        for widget in (*self.inputs.values(), *self.units.values(), *self.choices.values()):
            widget.disabled = False
        for box in self.inputs.values():
            box.value = ""
        for unit in self.units.values():
            unit.value = ""
        for box in self.choices.values():
            box.value = NOT_RECORDED
        self.decision.index = 0
        self.reason.value = ""
        self.message.clear()
        self.reason_message.clear()
        self.finder._residents = None
        self.finder.query.value = ""
        self.finder.find("")
        self.resident = None
        self._note_resident()
        self.refresh()
