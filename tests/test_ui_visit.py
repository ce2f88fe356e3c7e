"""The family doctor's visit app and the caseload's chronic-care list, without a browser (issue 15).

Expected classifications and dates are worked by hand from the policy text (REFERENCE.md "Chronic
disease follow-up", 国家基本公共卫生服务规范 第三版 2017): controlled = SBP < 140 and DBP < 90
mmHg; two not-controlled follow-ups in a row -> refer, follow up within 2 weeks; SBP >= 180 ->
urgent referral; fasting glucose controlled < 7.0 mmol/L; 1 mmol/L = 18.0156 mg/dL (molar mass of
glucose). Questionnaire thresholds: PHQ-2 / GAD-2 positive >= 3 (Kroenke 2003, 2007).
"""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
import traitlets

from workbench import ui
from workbench.registry.store import Registry

TODAY = dt.date(2025, 9, 30)


def resident(rid, **extra):
    row = {"resident_id": rid, "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
           "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
           "copd": "false", "asthma": "false", "name": f"Resident {rid}", "phone": "13900000001"}
    row.update(extra)
    return row


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / "registry.sqlite"))
    reg.init()
    reg.add_user("li", "counsellor", by="admin")
    reg.add_user("dr_wang", "doctor", by="admin")
    reg.import_residents(pd.DataFrame([resident("R1"), resident("R2", hypertension="false", diabetes="true",
                                                                birth_date="1960-05-05"),
                                       resident("R3", name="Not Li's")]), by="admin")
    reg.assign_caseload("li", ["R1", "R2"], by="admin")
    # R1: not controlled at the two follow-ups before today's visit; R3 (not on li's list) too
    reg.import_measurements(pd.DataFrame([
        {"resident_id": "R1", "measured_on": "2025-06-01", "setting": "clinic", "sbp": 150, "dbp": 92},
        {"resident_id": "R1", "measured_on": "2025-09-01", "setting": "clinic", "sbp": 148, "dbp": 91},
        {"resident_id": "R3", "measured_on": "2025-09-01", "setting": "clinic", "sbp": 190, "dbp": 100},
    ]), by="admin")
    yield reg
    reg.engine.dispose()


def rows(registry, table):
    with registry.engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all())


def visit(registry, user="li", lang="en"):
    return ui.VisitView(registry, user=user, lang=lang, today=TODAY)


def answer(view, instrument, values, first=1):
    for n, v in enumerate(values, start=first):
        view.forms[instrument].questions[f"{instrument}_{n}"].value = v


def new_measurements(registry):
    stored = rows(registry, "measurements")
    return stored[stored["measured_on"].astype(str) == TODAY.isoformat()]


def test_a_visit_is_saved_once_with_its_questionnaires_and_the_cards_follow_it(registry):
    v = visit(registry)
    v.finder.find("R1")
    assert v.resident["resident_id"] == "R1"
    assert "appears here once blood pressure" in v.chronic_card.value
    v.inputs["sbp"].value, v.inputs["dbp"].value = "152", "94"
    v.inputs["weight_kg"].value, v.inputs["height_cm"].value = "61.5", "158"
    v.choices["adherence"].value, v.choices["smoking"].value = "intermittent", "never"
    for name in ("adverse_reaction", "complication", "alarm_symptoms"):
        v.choices[name].value = False
    # third not-controlled follow-up in a row: refer, follow the referral up within 2 weeks
    card = v.chronic_card.rows.set_index("condition").loc["hypertension"]
    assert (card["classification"], card["action"], card["rule"]) == ("not_controlled", "refer", "not_controlled_twice")
    assert card["next_due"] == pd.Timestamp(TODAY + dt.timedelta(days=14)) and not card["urgent"]
    assert "152/94 mmHg" in v.chronic_card.value and "Not controlled" in v.chronic_card.value
    # PHQ-2 2 + 2 = 4 >= 3: positive, so the rest of PHQ-9 is asked; GAD-2 0 + 1: negative
    assert v.forms["phq9"].layout.display == "none"
    answer(v, "phq2", [2, 2])
    answer(v, "gad2", [0, 1])
    assert v.forms["phq9"].layout.display is None and v.forms["gad7"].layout.display == "none"
    assert v.forms["phq9"].questions["phq9_1"].layout.display == "none"  # answered once, in PHQ-2
    assert "PHQ-2 is positive: answer the rest of PHQ-9" in v.full_notes["phq2"].value
    answer(v, "phq9", [1, 1, 1, 1, 0, 0, 0], first=3)  # total 2 + 2 + 4 = 8: mild, not screen-positive
    summary = v.card.summary
    texts = {s["instrument"]: s["text"] for s in summary["scores"]}
    assert texts["phq9"].startswith("8 · Mild") and texts["gad2"].startswith("1 · Screen negative")
    assert summary["tier_number"] == 1
    assert v.banner.layout.display == "none"
    assert v.save() is True
    assert v.save() is False and "Saved: the visit of R1 on 2025-09-30" in v.message.text  # a double click
    stored = new_measurements(registry)
    assert len(stored) == 1
    row = stored.iloc[0]
    assert (row["resident_id"], row["sbp"], row["dbp"], row["measured_by"], row["adherence"], row["smoking"]) == \
        ("R1", 152, 94, "li", "intermittent", "never")
    tables = registry.analysis_tables(as_user="li")
    mine = tables.measurements[tables.measurements["measured_on"] == pd.Timestamp(TODAY)].iloc[0]
    assert mine["bmi"] == pytest.approx(61.5 / 1.58 ** 2) and mine["measured_by"] == "li"
    saved = rows(registry, "assessments").set_index("instrument")
    assert sorted(saved.index) == ["gad2", "phq9"] and set(saved["entered_by"]) == {"li"}
    assert saved.loc["phq9", "score"] == 8 and saved.loc["gad2", "score"] == 1
    assert all(q.disabled for q in v.forms["phq9"].questions.values()) and v.inputs["sbp"].disabled
    v.new_visit()
    assert v.resident is None and v.inputs["sbp"].value == "" and v.forms["phq2"].answered() == 0


def test_a_bad_value_is_named_beside_its_field_and_nothing_is_saved(registry):
    v = visit(registry)
    v.finder.find("R1")
    answer(v, "phq2", [0, 0])
    v.inputs["sbp"].value, v.inputs["dbp"].value = "400", "95"
    assert v.messages["sbp"].text == "Row 1, sbp = 400: is outside the plausible range 50 to 300 mmHg"
    assert "Correct the values" in v.chronic_card.value
    assert v.save() is False and "Not saved" in v.message.text
    v.inputs["sbp"].value = "abc"
    assert v.messages["sbp"].text == "Row 1, sbp = abc: must be a number"
    assert v.save() is False
    v.inputs["sbp"].value, v.inputs["dbp"].value = "120", "130"  # diastolic above systolic
    assert "dbp = 130" in v.messages["dbp"].text and "lower than the systolic" in v.messages["dbp"].text
    assert v.save() is False
    v.inputs["sbp"].value, v.inputs["dbp"].value = "128", "82"
    v.inputs["fasting_glucose"].value = "126"  # mg/dL typed under mmol/L
    assert "fasting_glucose = 126" in v.messages["fasting_glucose"].text
    assert "fasting_glucose_mg_dl" in v.messages["fasting_glucose"].text
    assert v.save() is False
    assert new_measurements(registry).empty and rows(registry, "assessments").empty  # nothing half-written
    v.units["fasting_glucose"].value = "mg_dl"
    assert v.messages["fasting_glucose"].text == "" and v.messages["sbp"].text == ""
    assert v.save() is True
    stored = new_measurements(registry).iloc[0]
    assert stored["fasting_glucose"] == pytest.approx(126 / 18.0156) and stored["sbp"] == 128
    assert rows(registry, "assessments")["instrument"].tolist() == ["phq2"]


def test_the_visit_needs_a_resident_and_something_recorded(registry):
    v = visit(registry, lang="zh")
    assert v.save() is False and "请先选择" in v.message.text
    v.finder.find("R1")
    assert v.save() is False and "请至少记录" in v.message.text
    v.measured_on.value = TODAY + dt.timedelta(days=1)
    v.inputs["sbp"].value, v.inputs["dbp"].value = "130", "80"
    assert v.save() is False and "不能晚于今天" in v.messages["measured_on"].text
    assert new_measurements(registry).empty


def test_a_counsellor_cannot_pick_a_resident_outside_their_caseload(registry):
    v = visit(registry)
    assert [value for _, value in v.finder.matches.options] == ["R1", "R2"]  # the caseload, listed at once
    assert v.finder.find("R3").empty and "No resident matches" in v.finder.message.text
    with pytest.raises(traitlets.TraitError):
        v.finder.matches.value = "R3"
    assert v.resident is None and "follow-up caseload" in v.finder.note.value
    doctor = visit(registry, user="dr_wang")  # nobody on the doctor's caseload yet
    assert doctor.finder.matches.options == () and "Nobody is on your follow-up caseload" in doctor.finder.message.text


def test_danger_values_and_a_self_harm_answer_raise_their_banners(registry):
    v = visit(registry, lang="zh")
    v.finder.find("R1")
    v.inputs["sbp"].value, v.inputs["dbp"].value = "185", "100"  # SBP >= 180: urgent referral
    assert v.chronic_card.urgent and v.chronic_card.rows["action"].tolist() == ["urgent_referral"]
    assert 'role="alert"' in v.chronic_card.value and "紧急转诊" in v.chronic_card.value
    answer(v, "phq2", [2, 1])  # 3: positive
    answer(v, "phq9", [0] * 6 + [2], first=3)  # item 9 answered 2
    station = ui.ScreeningStation(registry, user="li", lang="zh", today=TODAY)
    station.forms["phq9"].questions["phq9_9"].value = 2
    assert v.banner.layout.display is None and v.banner.value == station.banner.value  # exactly as screening shows it
    assert v.card.summary["tier_number"] == 3 and v.card.summary["urgent"]
    v.forms["phq2"].questions["phq2_1"].value = 0  # 1: negative, the PHQ-9 is no longer asked nor sent
    assert v.forms["phq9"].layout.display == "none" and v.banner.layout.display == "none"
    assert "phq9_9" not in v.answers().columns


def test_switching_language_keeps_the_visit(registry):
    v = visit(registry, lang="zh")
    v.finder.find("R2")
    v.inputs["fasting_glucose"].value = "8.2"
    answer(v, "gad2", [1, 1])
    assert v.inputs["fasting_glucose"].description == "空腹血糖" and v.units["fasting_glucose"].options[0][0] == "mmol/L"
    app = ui.App("visit_title", lambda lang: [v], lang="zh")
    app.language.value = "en"
    assert app.title.value == "<h1>Family doctor visit</h1>" and v.save_button.description == "Save"
    assert v.inputs["fasting_glucose"].value == "8.2" and v.forms["gad2"].answered() == 2
    row = v.chronic_card.rows.set_index("condition").loc["diabetes"]
    assert row["classification"] == "not_controlled" and "Fasting plasma glucose" in v.inputs["fasting_glucose"].description
    assert "8.2 mmol/L" in v.chronic_card.value and "Not controlled" in v.chronic_card.value


# --- the chronic-care list of the caseload ------------------------------------------------------

def test_the_caseload_lists_chronic_care_beside_the_mood_flags_and_draws_the_dual_track(registry):
    registry.save_screening(pd.DataFrame([{"resident_id": "R1", "assessed_on": "2025-09-01", "submission_id": "s1",
                                           **{f"phq9_{n}": 2 for n in range(1, 9)}, "phq9_9": 0}]), by="li")
    view = ui.CaseloadView(registry, user="li", lang="en", today=TODAY)
    listed = view.chronic.set_index(["resident_id", "condition"])
    assert "R3" not in set(view.chronic["resident_id"])  # not on li's caseload
    r1 = listed.loc[("R1", "hypertension")]
    # last follow-up 2025-09-01 not controlled after 2025-06-01 not controlled: refer, due 2 weeks later
    assert r1["uncontrolled_twice"] and r1["overdue"] and r1["next_due"] == pd.Timestamp("2025-09-15")
    assert r1["days_overdue"] == 15 and r1["last_value"] == "148/91 mmHg"
    assert view.chronic_counts()["uncontrolled_twice"] == 1 and view.chronic_counts()["urgent_referral"] == 0
    table = view.chronic_table.value
    assert "Overdue 15 day(s); Not controlled twice running" in table
    assert "Tier 2 counselling; Overdue 15 day(s)" in table  # the mood flags (PHQ-9 16: tier 2, due +14 days)
    view.chronic_view.value = "uncontrolled_twice"
    assert [v for _, v in view.chart_who.options] == [None, "R1"]
    view.chart_who.value = "R1"
    assert view.chart.value.startswith('<img src="data:image/png;base64,') and "Dual-track chart of R1" in view.chart.value
    view.set_language("zh")
    assert "连续两次控制不满意" in view.chronic_table.value and "R1 的双轨图" in view.chart.value


def test_a_social_worker_gets_no_chronic_list(registry):
    registry.add_user("zhang", "social_worker", by="admin")
    view = ui.CaseloadView(registry, user="zhang", lang="en", today=TODAY)
    assert view.chronic.empty and "Nobody in this view" in view.chronic_table.value
