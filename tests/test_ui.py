"""The staff apps' components, without a browser: what a person sees and what gets saved."""

import datetime as dt

import ipywidgets as widgets
import pandas as pd
import pytest
import sqlalchemy as sa

from workbench import ui
from workbench.i18n import strings, t
from workbench.registry.store import Registry

TODAY = dt.date(2025, 9, 30)


def resident(rid, **extra):
    row = {"resident_id": rid, "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
           "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
           "copd": "false", "asthma": "false", "name": "王秀英", "phone": "13900000001"}
    row.update(extra)
    return row


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / "registry.sqlite"))
    reg.init()
    reg.add_user("li", "counsellor", by="admin", display_name="李咨询师")
    reg.add_user("zhang", "social_worker", by="admin")
    reg.import_residents(pd.DataFrame([resident("R1"), resident("R2", name="Chen Min", sex="male",
                                                                 phone="13900000002", hypertension="false")]),
                         by="admin")
    yield reg
    reg.engine.dispose()


def station(registry, lang="en"):
    return ui.ScreeningStation(registry, user="li", lang=lang, today=TODAY)


def answer(st, instrument, values):
    for n, v in enumerate(values, start=1):
        st.forms[instrument].questions[f"{instrument}_{n}"].value = v


def rows(registry, table):
    with registry.engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all())


def test_every_interface_string_has_both_languages():
    for key, texts in strings().items():
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert texts["zh"] != texts["en"] or key in ("logrank_p",), key


def test_one_labelled_control_per_item_in_both_languages():
    form = ui.QuestionnaireForm("gad7", lang="zh")
    assert list(form.questions) == [f"gad7_{n}" for n in range(1, 8)]
    assert form.questions["gad7_1"].question.startswith("1. ") and "紧张" in form.questions["gad7_1"].question
    assert [label for label, _ in form.questions["gad7_1"].options][0] == "完全不会"
    form.set_language("en")
    assert form.questions["gad7_1"].question == "1. Feeling nervous, anxious, or on edge"


def test_phq15_item_4_is_hidden_for_men():
    form = ui.QuestionnaireForm("phq15", lang="en")
    form.questions["phq15_4"].value = 1
    form.set_sex("male")
    assert form.questions["phq15_4"].layout.display == "none" and form.questions["phq15_4"].value is None
    form.set_sex("female")
    assert form.questions["phq15_4"].layout.display is None


def test_finding_a_resident_by_id_name_or_phone(registry):
    st = station(registry)
    assert st.finder.find("chen")["resident_id"].tolist() == ["R2"]
    assert st.resident["resident_id"] == "R2"  # a single match is chosen
    assert st.finder.find("1390000000")["resident_id"].tolist() == ["R1", "R2"]
    assert st.finder.find("nobody").empty and "No resident" in st.finder.message.text


def test_the_card_follows_the_answers_live(registry):
    st = station(registry)
    assert "appear here" in st.card.value
    answer(st, "phq9", [2, 2, 2, 2, 2, 1, 1, None, None])  # 7 answered: 12 * 9/7 = 15.43 -> prorated? no: 2 missing
    summary = st.card.summary
    assert summary["scores"][0]["text"].startswith("15 · Moderately severe") and "prorated" in summary["scores"][0]["text"]
    answer(st, "phq9", [None] * 9)
    st.forms["phq9"].questions["phq9_1"].value = 1
    assert "not scorable yet: 1 of 9 answered, at least 7 needed" in st.card.summary["scores"][0]["text"]


def test_a_self_harm_answer_raises_the_banner_whatever_the_total(registry):
    st = station(registry, lang="zh")
    answer(st, "phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert st.banner.layout.display is None and 'role="alert"' in st.banner.value
    assert "安全警示" in st.banner.value and "自伤" in st.banner.value
    assert st.card.summary["tier_number"] == 3 and st.card.summary["urgent"]
    st.forms["phq9"].questions["phq9_9"].value = 0
    assert st.banner.layout.display == "none"


def test_nothing_is_saved_until_valid_and_the_message_says_why(registry):
    st = station(registry)
    assert st.save() is False
    assert "Choose or register a resident first" in st.message.text and "No question" in st.message.text
    st.finder.find("R1")
    answer(st, "phq9", [1] * 9)
    st.decision.value = 3  # a changed tier without a reason
    assert st.save() is False and "Say why" in st.reason_message.text
    st.assessed_on.value = TODAY + dt.timedelta(days=1)
    st.reason.value = "lives alone, recent bereavement"
    assert st.save() is False and "future" in st.message.text
    assert rows(registry, "assessments").empty and rows(registry, "tier_assignments").empty


def test_save_writes_the_session_under_the_user_once(registry):
    st = station(registry)
    st.finder.find("R1")
    answer(st, "phq9", [2, 2, 2, 2, 1, 1, 1, 1, 0])  # 12: screen-positive -> tier 2
    answer(st, "gad7", [1, 1, 1, 1, 1, 1, 1])
    assert st.save() is True
    assert "Saved: R1, Tier 2 counselling, next contact 2025-10-14" in st.message.text
    assert st.save() is False and "Saved: R1" in st.message.text  # a double-click saves once
    saved = rows(registry, "assessments")
    assert sorted(saved["instrument"]) == ["gad7", "phq9"] and set(saved["entered_by"]) == {"li"}
    assert saved.set_index("instrument").loc["phq9", "score"] == 12
    decision = rows(registry, "tier_assignments").iloc[0]
    assert (decision["tier"], decision["rule"], decision["decided_by"]) == (2, "screen_positive", "li")
    assert str(decision["next_contact_due"]) == "2025-10-14"
    assert registry.follow_up_data(as_user="li").residents.empty  # not on li's list unless a second person says so
    assert all(q.disabled for q in st.forms["phq9"].questions.values())
    st.new_session()
    assert st.resident is None and st.forms["phq9"].answered() == 0 and not st.save_button.disabled


def test_adding_to_ones_own_list_is_refused_for_a_resident_someone_else_registered(registry):
    st = station(registry)
    assert st.caseload.value is False and "second counsellor" in st.caseload.description
    st.finder.find("R2")  # registered by the admin
    answer(st, "phq9", [2, 2, 2, 2, 1, 1, 1, 1, 0])
    answer(st, "gad7", [1, 1, 1, 1, 1, 1, 1])
    st.caseload.value = True
    assert st.save() is False
    assert st.message.text.startswith("Not saved: 'li' may not add 'R2' to their own caseload")
    assert rows(registry, "assessments").empty and rows(registry, "caseloads").empty  # nothing written
    st.caseload.value = False
    assert st.save() is True and rows(registry, "caseloads").empty


def test_an_override_is_saved_with_its_reason(registry):
    st = station(registry)
    st.finder.find("R2")
    answer(st, "phq9", [0] * 9)
    st.decision.value = 2
    st.reason.value = "  recent bereavement  "
    assert st.save()
    decision = rows(registry, "tier_assignments").iloc[0]
    assert (decision["suggested_tier"], decision["tier"], bool(decision["overridden"]),
            decision["override_reason"]) == (1, 2, True, "recent bereavement")


def test_a_refused_save_names_the_problem_and_keeps_the_form(registry):
    first = station(registry)
    first.finder.find("R1")
    answer(first, "phq9", [1] * 9)
    assert first.save()
    again = station(registry)
    again.finder.find("R1")
    answer(again, "phq9", [2] * 9)
    assert again.save() is False
    assert "Not saved" in again.message.text and "nothing is overwritten" in again.message.text
    assert again.forms["phq9"].answered() == 9 and not again.saved


def test_registering_a_resident_checks_every_field(registry):
    st = station(registry)
    finder = st.finder
    finder.new_toggle.value = True
    assert finder.register_resident() is None
    assert all(finder.f_messages[k].text == "Required." for k in ("name", "sex", "birth_date", "community"))
    finder.f_name.value, finder.f_sex.value = "刘芳", "female"
    finder.f_birth.value, finder.f_community.value = dt.date(2030, 1, 1), "urban-02"
    assert finder.register_resident() is None and "not in the future" in finder.f_messages["birth_date"].text
    finder.f_birth.value = dt.date(1961, 5, 4)
    finder.f_conditions["diabetes"].value = True
    rid = finder.register_resident()
    assert rid and st.resident["resident_id"] == rid and st.resident["diabetes"]
    stored = registry.residents(as_user="li", health=True).set_index("resident_id").loc[rid]
    assert (stored["name"], stored["community"], bool(stored["diabetes"])) == ("刘芳", "urban-02", True)


def test_switching_language_keeps_the_answers(registry):
    st = station(registry, lang="zh")
    answer(st, "phq9", [1] * 8 + [0])
    app = ui.App("screening_title", lambda lang: [st], lang="zh")
    app.language.value = "en"
    assert st.forms["phq9"].answered() == 9 and st.save_button.description == "Save"
    assert app.title.value == "<h1>Screening station</h1>"
    assert st.card.summary["tier"] == t("tier_1", "en")


def test_staff_gate_acts_as_the_signed_in_person_only_and_offers_no_names(registry, monkeypatch):
    def gate(roles=("counsellor", "doctor")):
        return ui.StaffGate(registry, roles=set(roles), lang="en", start=lambda u, lang: ui.FieldMessage())

    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    nobody = gate()
    assert nobody.user is None and nobody.app is None and "Nobody is signed in" in nobody.message.text
    assert not any(isinstance(c, (widgets.Dropdown, widgets.Select, widgets.Button)) for c in nobody.children)
    # the one-person server: the registry user it was started for
    monkeypatch.setenv("WORKBENCH_USER", "li")
    assert gate().user == "li"
    monkeypatch.setenv("WORKBENCH_USER", "zhang")  # a social worker
    assert gate().user is None and gate().message.text == "zhang is a social_worker: this app is for counsellor, " \
                                                          "doctor only."
    # JupyterHub: the hub's login, mapped to the registry user with that login (before WORKBENCH_USER)
    registry.add_user("wu", "counsellor", by="admin", login="wu.hub")
    monkeypatch.setenv("JUPYTERHUB_USER", "wu.hub")
    assert gate().user == "wu"
    registry.add_user("chen", "counsellor", by="admin", login="chen.hub")
    monkeypatch.setenv("JUPYTERHUB_USER", "chen")  # a user named so, who signs in as chen.hub
    refused = gate()
    assert refused.user is None and refused.message.text.startswith("The login chen is not a user of this registry")
    monkeypatch.setenv("JUPYTERHUB_USER", "li")  # a user of that name without another login
    assert gate().user == "li"
    with registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET active = false WHERE name = 'li'"))
    assert gate().user is None and gate().message.text == "li is no longer an active staff member of the registry."


def test_an_unexpected_error_is_logged_not_shown(caplog):
    message = ui.FieldMessage()

    @ui.guarded(message, lambda: "en")
    def broken():
        raise RuntimeError("database exploded")

    broken()
    assert "Something went wrong" in message.text and "database exploded" not in message.value
    assert "database exploded" in caplog.text and "Traceback" in caplog.text


# --- the follow-up list ---------------------------------------------------------------------

def screened_and_saved(registry, rid, phq9, *, on=TODAY):
    st = ui.ScreeningStation(registry, user="li", lang="en", today=on)
    st.finder.find(rid)
    answer(st, "phq9", phq9)
    assert st.save()
    registry.assign_caseload("li", [rid], by="admin")  # a second person puts them on li's list


def test_the_follow_up_list_shows_who_to_contact_and_records_a_contact(registry):
    screened_and_saved(registry, "R1", [0, 0, 0, 0, 0, 0, 0, 0, 2])  # self-harm: urgent, due today
    screened_and_saved(registry, "R2", [2, 2, 2, 2, 1, 1, 1, 1, 0], on=TODAY - dt.timedelta(days=20))  # due +14: overdue 6
    view = ui.CaseloadView(registry, user="li", lang="en", today=TODAY)
    assert view.listed["resident_id"].tolist() == ["R1", "R2"]  # urgent first
    assert view.counts() == {"all": 2, "urgent": 1, "overdue": 1, "due_today": 1, "psychiatric_review_due": 0,
                             "not_improving": 0}
    assert "⚠ Urgent" in view.table.value and "Overdue 6 day(s)" in view.table.value
    view.view.value = "urgent"
    assert [v for _, v in view.who.options] == [None, "R1"]
    view.who.value = "R1"
    view.status.value = "attended"
    assert view.record_contact() is True
    assert view.record_contact() is False and "saved" in view.record_message.text  # double click
    contacts = rows(registry, "contacts")
    assert len(contacts) == 1 and contacts.loc[0, "recorded_by"] == "li" and contacts.loc[0, "status"] == "attended"
    row = view.listed.set_index("resident_id").loc["R1"]
    assert not row["urgent"] and str(row["next_contact_due"].date()) == "2025-10-03"  # + 3 days (tier 3)
    assert view.who.value is None  # R1 left the urgent view
    view.view.value = "all"
    view.who.value = "R1"
    view.note.value = "second call"  # a changed form is a new contact
    assert view.record_contact() is True and len(rows(registry, "contacts")) == 2


def test_a_missed_contact_needs_a_note_and_nothing_is_saved_without_one(registry):
    screened_and_saved(registry, "R1", [0, 0, 0, 0, 0, 0, 0, 0, 2])
    view = ui.CaseloadView(registry, user="li", lang="zh", today=TODAY)
    assert view.record_contact() is False and "请先选择" in view.record_message.text
    view.who.value = "R1"
    view.status.value = "missed"
    assert view.record_contact() is False and "备注" in view.record_message.text
    view.contact_on.value = TODAY + dt.timedelta(days=1)
    view.note.value = "电话无人接听"
    assert view.record_contact() is False and "不能晚于" in view.record_message.text
    assert rows(registry, "contacts").empty
    view.contact_on.value = TODAY
    assert view.record_contact() is True
    assert view.listed.set_index("resident_id").loc["R1", "urgent"]  # a missed contact does not meet the urgency


def test_the_list_is_only_the_users_caseload(registry):
    screened_and_saved(registry, "R1", [0, 0, 0, 0, 0, 0, 0, 0, 2])
    registry.add_user("chen", "counsellor", by="admin")
    view = ui.CaseloadView(registry, user="chen", lang="en", today=TODAY)
    assert view.listed.empty and "Nobody in this view" in view.table.value
    social = ui.CaseloadView(registry, user="zhang", lang="en", today=TODAY)
    assert "only" in social.message.text  # a social worker may not read follow-up lists
