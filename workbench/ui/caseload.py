"""A staff member's follow-up list: who to contact today, and recording a contact."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import logging
import uuid

import ipywidgets as w
import pandas as pd

from workbench.i18n import t
from workbench.outcomes import follow_up_list
from workbench.registry.access import AccessDenied
from workbench.registry.store import RecordProblems
from workbench.ui._base import FieldMessage, guarded
from workbench.ui.smd import SmdSection

__all__ = ["CHRONIC_FILTERS", "CHART_MEASURES", "CONTACT_KINDS", "CaseloadView", "FILTERS", "caseload_table_html",
           "chronic_table_html"]

log = logging.getLogger("workbench.ui")

#: Views of the list: the column that selects the rows (None: everyone).
FILTERS = {"all": None, "urgent": "urgent", "overdue": "overdue", "due_today": "due_today",
           "psychiatric_review_due": "psychiatric_review_due", "not_improving": "not_improving"}
#: Kinds of contact a person records from the list.
CONTACT_KINDS = ("phone", "home_visit", "clinic_visit", "treatment", "assessment")
#: Views of the chronic-care list (:func:`workbench.chronic.due_list`): the column that selects the rows.
CHRONIC_FILTERS = {"all": None, "due": "due", "overdue": "overdue", "uncontrolled_twice": "uncontrolled_twice",
                   "urgent_referral": "urgent_referral"}
#: What the dual-track chart of the chronic-care list can show (:func:`workbench.plots.dual_track`).
CHART_MEASURES = ("sbp", "fasting_glucose", "hba1c")


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


def caseload_table_html(listed: pd.DataFrame, *, lang: str, caption: str, wearables: pd.DataFrame | None = None,
                        risk: pd.DataFrame | None = None, on=None) -> str:
    """The follow-up list as an accessible HTML table; rows needing action today are marked in
    words (not by colour alone) and highlighted. Beside the tier: the risk band of the latest
    prediction on or before ``on`` with its top reasons (``risk``: ``risk_predictions`` rows), and
    the wristband's latest day with its state and a flag's reason (``wearables``:
    ``wearable_days`` rows; blank for a resident without a device); see
    :mod:`workbench.ui._early_warning_text`.

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
    from workbench.ui._early_warning_text import early_warning_cells, word

    heads = ["resident", "name", "tier", "risk_band", "wearable", "status", "next_contact", "last_contact", "week",
             "phq9_latest"]
    label = {h: word("col_" + h, lang) if h in ("risk_band", "wearable") else t("col_" + h, lang) for h in heads}
    head = "".join(f'<th scope="col">{html.escape(label[h])}</th>' for h in heads)
    early = early_warning_cells(listed["resident_id"].tolist() if len(listed) else [], wearables=wearables, risk=risk,
                                lang=lang, on=on)
    body = []
    for _, r in listed.iterrows():
        alert = bool(r["urgent"] or r["overdue"] or r["due_today"])
        latest = "" if pd.isna(r.get("latest_phq9")) else f"{r['latest_phq9']:g}"
        if latest and not pd.isna(r.get("baseline_phq9")):
            latest = f"{r['baseline_phq9']:g} → {latest}"
        tier = "" if pd.isna(r["tier"]) else t(f"tier_{int(r['tier'])}", lang)
        wear_html, risk_html = early.get(r["resident_id"], ("", ""))
        # (text, HTML already made, no wrapping) per column after the resident
        cells = [(r.get("name") or "", None, False), (tier, None, False), (None, risk_html, False),
                 (None, wear_html, False), (_status_words(r, lang), None, False),
                 (_day(r.get("next_contact_due")), None, True), (_day(r.get("last_contact_on")), None, True),
                 ("" if pd.isna(r.get("week")) else str(int(r["week"])), None, False), (latest, None, False)]
        first = f'<th scope="row">{html.escape(str(r["resident_id"]))}</th>'
        rest = "".join(("<td class=\"wb-nowrap\">" if nowrap else "<td>")
                       + (made if made is not None else html.escape(str(text))) + "</td>" for text, made, nowrap in cells)
        body.append(f'<tr class="wb-alert">{first}{rest}</tr>' if alert else f"<tr>{first}{rest}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}">{html.escape(t("nobody_listed", lang))}</td></tr>')
    return (f'<table class="wb-table"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _yes(value) -> bool:
    """True only when a flag is recorded True (a blank flag, e.g. "overdue" before any follow-up, is not)."""
    return not pd.isna(value) and bool(value)


def _chronic_status(row, lang: str) -> str:
    words = []
    if _yes(row["urgent_referral"]):
        words.append("⚠ " + t("urgent_referral", lang))
    if _yes(row["overdue"]):
        words.append(t("overdue_days", lang).format(days=int(row["days_overdue"])))
    elif _yes(row["due"]):
        words.append(t("chronic_due", lang))
    if _yes(row["uncontrolled_twice"]):
        words.append(t("uncontrolled_twice", lang))
    return "; ".join(words)


def chronic_table_html(rows: pd.DataFrame, *, lang: str, caption: str, names: dict | None = None,
                       mood: dict | None = None) -> str:
    """The chronic-care list (rows of :func:`workbench.chronic.due_list`) as an accessible HTML
    table beside each resident's mood flags (``mood``: resident -> text); rows needing action
    (urgent referral, overdue, not controlled twice running) are marked in words and highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> row = {"resident_id": "R1", "condition": "hypertension", "last_visit": pd.Timestamp("2025-06-02"),
    ...        "last_classification": "not_controlled", "last_value": "152/94 mmHg",
    ...        "next_due": pd.Timestamp("2025-06-16"), "due": True, "overdue": True, "days_overdue": 3,
    ...        "uncontrolled_twice": True, "urgent_referral": False}
    >>> out = chronic_table_html(pd.DataFrame([row]), lang="en", caption="Chronic care", mood={"R1": "Tier 2"})
    >>> '<tr class="wb-alert">' in out and "Overdue 3 day(s); Not controlled twice running" in out and "Tier 2" in out
    True
    """
    heads = ["resident", "name", "condition", "last_visit", "last_value", "classification", "next_due",
             "chronic_status", "mood"]
    head = "".join(f'<th scope="col">{html.escape(t("col_" + h, lang))}</th>' for h in heads)
    body = []
    for _, r in rows.iterrows():
        alert = _yes(r["urgent_referral"]) or _yes(r["overdue"]) or _yes(r["uncontrolled_twice"])
        classification = r["last_classification"]
        cells = [r["resident_id"], (names or {}).get(r["resident_id"], "") or "", t(r["condition"], lang),
                 _day(r["last_visit"]) or t("no_follow_up_yet", lang), "" if pd.isna(r["last_value"]) else r["last_value"],
                 "" if pd.isna(classification) else t(f"classification_{classification}", lang),
                 _day(r["next_due"]), _chronic_status(r, lang), (mood or {}).get(r["resident_id"], "")]
        first = f'<th scope="row">{html.escape(str(cells[0]))}</th>'
        rest = "".join(f'<td class="wb-nowrap">{html.escape(str(c))}</td>' if k in (3, 6) else f"<td>{html.escape(str(c))}</td>"
                       for k, c in enumerate(cells[1:], start=1))
        body.append(f'<tr class="wb-alert">{first}{rest}</tr>' if alert else f"<tr>{first}{rest}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(heads)}">{html.escape(t("nobody_listed", lang))}</td></tr>')
    return (f'<table class="wb-table wb-chronic"><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _png(fig, *, alt: str) -> str:
    """A matplotlib figure as an ``<img>`` with its text alternative (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


class CaseloadView(w.VBox):
    """The follow-up list of ``user`` on a working day, with views (urgent, overdue, due today,
    psychiatric review due, not improving) and a form to record a contact (attended or missed,
    with a note), saved under ``user``'s name once however often Save is clicked.

    Below it, the chronic-care list of the same residents (:func:`workbench.chronic.due_list` under
    ``chronic_policy``): who is due or overdue for a blood-pressure or glucose follow-up, not
    controlled twice running or in need of urgent referral, next to their mood flags, with the
    dual-track chart (:func:`workbench.plots.dual_track`) of a chosen resident.

    Below that, the severe-mental-disorder section (:class:`workbench.ui.smd.SmdSection` under
    ``smd_policy``): the registered patients among them who are due, overdue, unstable or at a
    high risk grade, and the follow-up form with its referral banner."""

    def __init__(self, registry, *, user: str, lang: str, today: dt.date, policy="default",
                 chronic_policy="default", smd_policy="default"):
        self.registry, self.user, self.lang, self.today, self.policy = registry, user, lang, today, policy
        self.chronic_policy = chronic_policy
        self.data = None
        self.listed = pd.DataFrame()
        self.chronic = pd.DataFrame()
        self._chronic_tables = None
        self.chronic_view = w.ToggleButtons(options=[("", "all")], value="all", style={"button_width": "auto"})
        self.chronic_refresh = w.Button()
        self.chronic_table = w.HTML()
        self.chronic_message = FieldMessage()
        self.chart_who = w.Dropdown()
        self.chart_measure = w.Dropdown()
        self.chart = w.HTML()
        self.on = w.DatePicker(value=today)
        self.view = w.ToggleButtons(options=[("", "all")], value="all", style={"button_width": "auto"})
        self.table = w.HTML()
        self.message = FieldMessage()
        self.headings = {k: w.HTML() for k in ("list", "record", "chronic")}
        self.who = w.Dropdown()
        self.contact_on = w.DatePicker(value=today)
        self.kind = w.Dropdown()
        self.status = w.RadioButtons()
        self.note = w.Textarea(rows=3)
        self.save_button = w.Button(button_style="primary")
        self.record_message = FieldMessage()
        self.contact_id = uuid.uuid4().hex
        self._saved_ids: set[str] = set()
        self.smd = SmdSection(registry, user=user, lang=lang, today=today, policy=smd_policy,
                              tables=self.chronic_tables, names=self._names, mood=self._mood)
        super().__init__([self.headings["list"], w.HBox([self.on]), self.view, self.message, self.table,
                          self.headings["record"], self.who, self.contact_on, self.kind, self.status, self.note,
                          self.save_button, self.record_message,
                          self.headings["chronic"], w.HBox([self.chronic_view, self.chronic_refresh],
                                                           layout=w.Layout(flex_flow="row wrap")),
                          self.chronic_message, self.chronic_table,
                          w.HBox([self.chart_who, self.chart_measure], layout=w.Layout(flex_flow="row wrap")),
                          self.chart, self.smd])
        self.set_language(lang)
        g = guarded(self.message, lambda: self.lang)
        self.on.observe(g(lambda _: self.refresh()), "value")
        self.view.observe(g(lambda _: self.show()), "value")
        c = guarded(self.chronic_message, lambda: self.lang)
        self.chronic_view.observe(c(lambda _: self.show_chronic()), "value")
        self.chronic_refresh.on_click(c(lambda _: self.refresh_chronic(read=True)))
        self.chart_who.observe(c(lambda _: self.draw_chart()), "value")
        self.chart_measure.observe(c(lambda _: self.draw_chart()), "value")
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
        self.chronic_refresh.description = t("quality_refresh", lang)
        self.chronic_refresh.tooltip = t("quality_refresh", lang)
        self.chart_who.description = t("chart_resident", lang)
        measure = self.chart_measure.value or CHART_MEASURES[0]
        self.chart_measure.description = t("chart_measure", lang)
        self.chart_measure.options = [(_measure_label(m, lang), m) for m in CHART_MEASURES]
        self.chart_measure.value = measure
        for widget in (self.chart_who, self.chart_measure):
            widget.style = {"description_width": "initial"}
        self.show()
        if hasattr(self, "_chronic_shown"):
            self.show_chronic()
        self.smd.set_language(lang)

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
            self.data, self.listed, self.chronic = None, pd.DataFrame(), pd.DataFrame()
            self.show()
            self.show_chronic()
            self.smd.refresh(available=False)
            return
        self.listed = follow_up_list(self.data, on=self.on.value, policy=self.policy)
        self.show()
        guarded(self.chronic_message, lambda: self.lang)(self.refresh_chronic)()
        guarded(self.smd.message, lambda: self.lang)(self.smd.refresh)(day=self.on.value)

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
            view=t("view_" + self.view.value, lang), day=day, n=len(shown)),
            wearables=None if self.data is None else self.data.wearables,
            risk=None if self.data is None else self.data.risk, on=self.on.value)
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

    # --- the chronic-care list ------------------------------------------------------------

    def chronic_tables(self, *, read: bool = False):
        """The analysis tables of the residents on this list (read through the registry as the user:
        their caseload; admins: everyone), read once and again on Refresh."""
        if self._chronic_tables is None or read:
            tables = self.registry.analysis_tables(as_user=self.user)
            if self.data is not None:  # the follow-up list's residents: the caseload, not approvals
                tables = tables.subset(self.data.residents["resident_id"])
            self._chronic_tables = tables
        return self._chronic_tables

    def refresh_chronic(self, *, read: bool = False) -> None:
        """Recompute the chronic-care list for the working day (``read``: read the registry again)."""
        from workbench.chronic import due_list

        self._chronic_shown = True
        self.chronic_message.clear()
        if self.on.value is None or self.data is None:
            self.chronic = pd.DataFrame()
            self.show_chronic()
            return
        try:
            tables = self.chronic_tables(read=read)
        except AccessDenied as exc:
            self.chronic_message.error(t("chronic_unavailable", self.lang).format(reason=str(exc)))
            self.chronic = pd.DataFrame()
            self.show_chronic()
            return
        listed = due_list(tables, today=self.on.value, policy=self.chronic_policy)
        flag = lambda column: listed[column].astype("boolean").fillna(False).astype(bool)  # noqa: E731
        order = listed.assign(_u=~flag("urgent_referral"), _o=-listed["days_overdue"].astype("Float64").fillna(0),
                              _t=~flag("uncontrolled_twice"), _d=~flag("due"))
        self.chronic = (order.sort_values(["_u", "_o", "_t", "_d", "resident_id", "condition"])
                        .drop(columns=["_u", "_o", "_t", "_d"]).reset_index(drop=True))
        self.show_chronic()
        if read and self.chart_who.value is not None:
            self.draw_chart()

    def chronic_rows(self, view: str | None = None) -> pd.DataFrame:
        """The rows of a view of the chronic-care list."""
        column = CHRONIC_FILTERS[view or self.chronic_view.value]
        if self.chronic.empty or column is None:
            return self.chronic
        return self.chronic[self.chronic[column].astype("boolean").fillna(False).to_numpy(bool)]

    def chronic_counts(self) -> dict[str, int]:
        return {view: len(self.chronic_rows(view)) for view in CHRONIC_FILTERS}

    def _names(self) -> dict[str, str]:
        """Each listed resident's name (from the follow-up list's basic record)."""
        return {} if self.data is None else dict(zip(self.data.residents["resident_id"], self.data.residents["name"]))

    def _mood(self) -> dict[str, str]:
        """Each listed resident's mood flags from the follow-up list: the tier and its status words."""
        out = {}
        for _, r in self.listed.iterrows():
            tier = "" if pd.isna(r["tier"]) else t(f"tier_{int(r['tier'])}", self.lang)
            out[r["resident_id"]] = "; ".join(p for p in (tier, _status_words(r, self.lang)) if p)
        return out

    def show_chronic(self) -> None:
        lang = self.lang
        counts = self.chronic_counts() if not self.chronic.empty else dict.fromkeys(CHRONIC_FILTERS, 0)
        value = self.chronic_view.value
        self.chronic_view.options = [(f"{t('chronic_view_' + v, lang)} ({counts[v]})", v) for v in CHRONIC_FILTERS]
        self.chronic_view.value = value
        shown = self.chronic_rows()
        names = {} if self.data is None else dict(zip(self.data.residents["resident_id"], self.data.residents["name"]))
        day = self.on.value.isoformat() if self.on.value else ""
        self.headings["chronic"].value = f"<h2>{html.escape(t('section_chronic', lang))}</h2>"
        self.chronic_table.value = chronic_table_html(
            shown, lang=lang, names=names, mood=self._mood(),
            caption=t("chronic_list_caption", lang).format(view=t("chronic_view_" + self.chronic_view.value, lang),
                                                           day=day, n=len(shown)))
        chosen = self.chart_who.value
        ids = list(dict.fromkeys(shown["resident_id"])) if not shown.empty else []
        options = [("", None)] + [(f"{rid} {names.get(rid) or ''}".strip(), rid) for rid in ids]
        self.chart_who.options = options
        self.chart_who.value = chosen if chosen in ids else None
        if self.chart_who.value is None:
            self.chart.value = ""
        elif chosen is not None:
            self.draw_chart()

    def draw_chart(self) -> None:
        """The dual-track chart of the chosen resident (nothing when no one is chosen)."""
        rid = self.chart_who.value
        if rid is None or self._chronic_tables is None:
            self.chart.value = ""
            return
        from workbench.plots import dual_track

        measure = self.chart_measure.value or CHART_MEASURES[0]
        fig = dual_track(self._chronic_tables, rid, measure=measure, lang=self.lang, policy=self.chronic_policy)
        self.chart.value = _png(fig, alt=t("dual_track_alt", self.lang).format(
            resident=rid, measure=_measure_label(measure, self.lang)))


def _measure_label(measure: str, lang: str) -> str:
    """The name of a chart's measure from ``measurements.yaml`` (blood pressure for ``sbp``: both
    pressures are drawn)."""
    from workbench.tables import _measures

    if measure == "sbp":
        return t("blood_pressure", lang)
    text = _measures()["measures"][measure][lang]
    return text.split("（")[0].split(" (")[0]
