"""A staff member's follow-up list: who to contact today, and recording a contact."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import ipywidgets as w
import pandas as pd

from workbench.i18n import t
from workbench.outcomes import follow_up_list
from workbench.registry.access import AccessDenied
from workbench.registry.store import RecordProblems
from workbench.ui._base import FieldMessage, guarded

__all__ = ["CONTACT_KINDS", "CaseloadView", "FILTERS", "caseload_table_html"]

#: Views of the list: the column that selects the rows (None: everyone).
FILTERS = {"all": None, "urgent": "urgent", "overdue": "overdue", "due_today": "due_today",
           "psychiatric_review_due": "psychiatric_review_due", "not_improving": "not_improving"}
#: Kinds of contact a person records from the list.
CONTACT_KINDS = ("phone", "home_visit", "clinic_visit", "treatment", "assessment")


def _status_words(row, lang: str) -> str:
    words = []
    if row["urgent"]:
        words.append("⚠ " + t("urgent", lang))
    if row["overdue"]:
        words.append(t("overdue_days", lang).format(days=int(row["days_overdue"])))
    if row["due_today"]:
        words.append(t("due_today", lang))
    if row["psychiatric_review_due"]:
        words.append(t("psychiatric_review_due", lang))
    elif row["not_improving"]:
        words.append(t("not_improving", lang))
    if row["needs_review"]:
        words.append(t("needs_review", lang))
    return "; ".join(words)


def _day(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def caseload_table_html(listed: pd.DataFrame, *, lang: str, caption: str) -> str:
    """The follow-up list as an accessible HTML table; rows needing action today are marked in
    words (not by colour alone) and highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.outcomes import FOLLOW_UP_COLUMNS
    >>> row = dict.fromkeys(FOLLOW_UP_COLUMNS, None)
    >>> row.update(resident_id="R1", tier=3, urgent=True, overdue=False, due_today=True, days_overdue=0,
    ...            not_improving=False, psychiatric_review_due=False, needs_review=False)
    >>> out = caseload_table_html(pd.DataFrame([row]), lang="en", caption="Today")
    >>> '<tr class="wb-alert">' in out and "⚠ Urgent; Due today" in out
    True
    """
    heads = ["resident", "name", "tier", "status", "next_contact", "last_contact", "week", "phq9_latest"]
    head = "".join(f'<th scope="col">{html.escape(t("col_" + h, lang))}</th>' for h in heads)
    body = []
    for _, r in listed.iterrows():
        alert = bool(r["urgent"] or r["overdue"] or r["due_today"])
        latest = "" if pd.isna(r.get("latest_phq9")) else f"{r['latest_phq9']:g}"
        if latest and not pd.isna(r.get("baseline_phq9")):
            latest = f"{r['baseline_phq9']:g} → {latest}"
        tier = "" if pd.isna(r["tier"]) else t(f"tier_{int(r['tier'])}", lang)
        cells = [r["resident_id"], r.get("name") or "", tier, _status_words(r, lang), _day(r.get("next_contact_due")),
                 _day(r.get("last_contact_on")), "" if pd.isna(r.get("week")) else str(int(r["week"])), latest]
        first = f'<th scope="row">{html.escape(str(cells[0]))}</th>'
        rest = "".join(f'<td class="wb-nowrap">{html.escape(str(c))}</td>' if k in (4, 5) else f"<td>{html.escape(str(c))}</td>"
                       for k, c in enumerate(cells[1:], start=1))
        body.append(f'<tr class="wb-alert">{first}{rest}</tr>' if alert else f"<tr>{first}{rest}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}">{html.escape(t("nobody_listed", lang))}</td></tr>')
    return (f'<table class="wb-table"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


class CaseloadView(w.VBox):
    """The follow-up list of ``user`` on a working day, with views (urgent, overdue, due today,
    psychiatric review due, not improving) and a form to record a contact (attended or missed,
    with a note), saved under ``user``'s name once however often Save is clicked."""

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, policy="default"):
        self.registry, self.user, self.lang, self.today, self.policy = registry, user, lang, today, policy
        self.data = None
        self.listed = pd.DataFrame()
        self.on = w.DatePicker(value=today)
        self.view = w.ToggleButtons(options=[("", "all")], value="all", style={"button_width": "auto"})
        self.table = w.HTML()
        self.message = FieldMessage()
        self.headings = {k: w.HTML() for k in ("list", "record")}
        self.who = w.Dropdown()
        self.contact_on = w.DatePicker(value=today)
        self.kind = w.Dropdown()
        self.status = w.RadioButtons()
        self.note = w.Textarea(rows=3)
        self.save_button = w.Button(button_style="primary")
        self.record_message = FieldMessage()
        self.contact_id = uuid.uuid4().hex
        self._saved_ids: set[str] = set()
        super().__init__([self.headings["list"], w.HBox([self.on]), self.view, self.message, self.table,
                          self.headings["record"], self.who, self.contact_on, self.kind, self.status, self.note,
                          self.save_button, self.record_message])
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        self.on.observe(g(lambda _: self.refresh()), "value")
        self.view.observe(g(lambda _: self.show()), "value")
        self.save_button.on_click(guarded(self.record_message, lambda: self.lang)(lambda _: self.record_contact()))
        for widget in (self.who, self.contact_on, self.kind, self.status, self.note):
            widget.observe(self._form_changed, "value")
        self.refresh()

    def _form_changed(self, change) -> None:
        """Any change to the form after a save starts a new contact (a new ``contact_id``)."""
        if self.contact_id in self._saved_ids and not getattr(self, "_quiet", False):
            self.contact_id = uuid.uuid4().hex
            self.record_message.clear()

    def set_language(self, lang: str) -> None:
        self.lang = lang
        for key, widget in self.headings.items():
            widget.value = f"<h2>{html.escape(t('section_' + key, lang))}</h2>"
        self.on.description = t("working_day", lang)
        self.who.description = t("resident", lang)
        self.contact_on.description = t("contact_date", lang)
        kind = self.kind.value or CONTACT_KINDS[0]
        self.kind.description = t("contact_kind", lang)
        self.kind.options = [(t(f"kind_{k}", lang), k) for k in CONTACT_KINDS]
        self.kind.value = kind
        status = self.status.value or "attended"
        self.status.description = t("contact_result", lang)
        self.status.options = [(t("attended", lang), "attended"), (t("missed", lang), "missed")]
        self.status.value = status
        self.note.description = t("note", lang)
        self.note.placeholder = t("note_placeholder", lang)
        for widget in (self.on, self.who, self.contact_on, self.kind, self.status, self.note):
            widget.style = {"description_width": "9em"}
        self.save_button.description = t("save_contact", lang)
        self.show()

    # --- the list -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the caseload from the registry and recompute the list for the working day."""
        self.message.clear()
        if self.on.value is None:
            self.message.error(t("working_day", self.lang) + ": " + t("required", self.lang))
            return
        try:
            self.data = self.registry.follow_up_data(as_user=self.user)
        except AccessDenied as exc:
            self.message.error(str(exc))
            self.data, self.listed = None, pd.DataFrame()
            self.show()
            return
        self.listed = follow_up_list(self.data, on=self.on.value, policy=self.policy)
        self.show()

    def rows(self, view: str | None = None) -> pd.DataFrame:
        """The rows of a view of the list."""
        column = FILTERS[view or self.view.value]
        if self.listed.empty or column is None:
            return self.listed
        return self.listed[self.listed[column].astype(bool)]

    def counts(self) -> dict[str, int]:
        return {view: len(self.rows(view)) for view in FILTERS}

    def show(self) -> None:
        lang = self.lang
        if not hasattr(self, "table"):
            return
        counts = self.counts() if not self.listed.empty else dict.fromkeys(FILTERS, 0)
        value = self.view.value
        self.view.options = [(f"{t('view_' + v, lang)} ({counts[v]})", v) for v in FILTERS]
        self.view.value = value
        shown = self.rows()
        day = self.on.value.isoformat() if self.on.value else ""
        self.table.value = caseload_table_html(shown, lang=lang, caption=t("list_caption", lang).format(
            view=t("view_" + self.view.value, lang), day=day, n=len(shown)))
        chosen = self.who.value
        options = [("", None)] + [(f"{r.resident_id} {r.name or ''}".strip(), r.resident_id) for r in shown.itertuples()]
        self.who.options = options
        self.who.value = chosen if chosen in [v for _, v in options] else None

    # --- recording a contact --------------------------------------------------------------

    def record_contact(self) -> bool:
        """Validate and save the contact form; True when written."""
        lang = self.lang
        self.record_message.clear()
        if self.contact_id in self._saved_ids:  # a second click saves nothing and keeps the saved message
            self.record_message.ok(self._saved_text)
            return False
        problems = []
        if self.who.value is None:
            problems.append(t("choose_resident_first", lang))
        if self.contact_on.value is None:
            problems.append(t("contact_date", lang) + ": " + t("required", lang))
        elif self.contact_on.value > self.today:
            problems.append(t("contact_in_future", lang))
        if self.status.value == "missed" and not self.note.value.strip():
            problems.append(t("missed_needs_note", lang))
        if problems:
            self.record_message.error(" ".join(problems))
            return False
        referral = None
        if self.data is not None and len(self.data.referrals):
            refs = self.data.referrals
            day = pd.Timestamp(self.contact_on.value)
            open_refs = refs[(refs["resident_id"] == self.who.value) & (refs["referred_on"] <= day)
                             & (refs["ended_on"].isna() | (refs["ended_on"] > day))]
            if len(open_refs):
                referral = open_refs.sort_values("referred_on")["referral_id"].iloc[-1]
        row = pd.DataFrame([{"contact_id": self.contact_id, "resident_id": self.who.value, "referral_id": referral,
                             "contact_on": self.contact_on.value.isoformat(), "kind": self.kind.value,
                             "status": self.status.value, "note": self.note.value.strip() or None}])
        self.save_button.disabled = True
        try:
            self.registry.record("contacts", row, by=self.user)
        except (RecordProblems, AccessDenied) as exc:
            self.record_message.error(t("not_saved", lang) + " " + str(exc))
            return False
        finally:
            self.save_button.disabled = False
        self._saved_ids.add(self.contact_id)
        who = self.who.value
        self._quiet = True  # the list is re-read; the form keeps what was saved until someone changes it
        try:
            self.refresh()
        finally:
            self._quiet = False
        self._saved_text = t("contact_saved", lang).format(resident=who, day=self.contact_on.value.isoformat())
        self.record_message.ok(self._saved_text)
        return True
