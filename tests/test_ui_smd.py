"""The follow-up list's severe-mental-disorder section and its follow-up form, without a browser (issue 16).

Expected suggestions, dates and banners are worked by hand from the rules as REFERENCE.md
"Severe mental disorders" gives them (严重精神障碍管理治疗工作规范 2018, secondary copies): risk
grade 0 with symptoms largely gone, insight and social function fair -> stable, next follow-up
in 3 months; grade 1-2, or one of symptoms, insight, social function poor -> basically stable,
2 weeks; grade 3-5, or marked symptoms, no insight, an acute drug reaction or a serious physical
illness -> unstable: refer now, follow up within 2 weeks. A blank grade is "not assessed", never
grade 0. The grade texts checked are the specification's own words (危险性评估 0-5).
"""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
import traitlets

from workbench import ui
from workbench.registry.store import Registry
from workbench.ui.smd import SMD_FILTERS

TODAY = dt.date(2025, 9, 30)
STABLE = {"risk_grade": 0, "symptoms": "remitted", "insight": "full", "social_function": "fair",
          "adverse_reaction": "none", "physical_illness": "none"}


def resident(rid, **extra):
    row = {"resident_id": rid, "sex": "male", "birth_date": "1975-04-02", "community": "urban-01",
           "lives_alone": "false", "hypertension": "false", "diabetes": "false", "chd": "false", "stroke": "false",
           "copd": "false", "asthma": "false", "name": f"Patient {rid}", "phone": "13900000002"}
    row.update(extra)
    return row


def followup(registry, rid, day, *, by="admin", **answers):
    row = {"resident_id": rid, "followed_on": day, "mode": "face_to_face", "submission_id": f"{rid}-{day}", **answers}
    return registry.save_smd_followup(pd.DataFrame([row]), by=by)


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / "registry.sqlite"))
    reg.init()
    reg.add_user("li", "counsellor", by="admin")
    reg.add_user("zhang", "social_worker", by="admin")
    reg.import_residents(pd.DataFrame([resident(r) for r in ("R1", "R2", "R3", "R4")]), by="admin")
    reg.assign_caseload("li", ["R1", "R2", "R4"], by="admin")
    for rid, diagnosis, day in (("R1", "schizophrenia", "2024-01-10"), ("R2", "bipolar", "2025-03-01"),
                                ("R3", "schizophrenia", "2024-05-05"), ("R4", "delusional", "2025-09-01")):
        reg.register_smd(pd.DataFrame([{"resident_id": rid, "diagnosis": diagnosis, "registered_on": day,
                                        "guardian": "parent", "consent": True, "consent_on": day}]), by="admin")
    # R1 stable on 2025-06-15: next within 3 months, 2025-09-15: overdue by 15 days today
    followup(reg, "R1", "2025-06-15", **STABLE)
    # R2 basically stable (grade 1) on 2025-09-20: next within 2 weeks, 2025-10-04: not due yet
    followup(reg, "R2", "2025-09-20", **{**STABLE, "risk_grade": 1})
    # R3, not on li's caseload: grade 4, unstable
    followup(reg, "R3", "2025-09-01", **{**STABLE, "risk_grade": 4})
    # R4: registered, never followed up
    yield reg
    reg.engine.dispose()


def stored(registry, rid):
    with registry.engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text("SELECT * FROM smd_followups WHERE resident_id = :r ORDER BY followed_on"),
                                         {"r": rid}).mappings().all())


def caseload(registry, user="li", lang="en"):
    return ui.CaseloadView(registry, user=user, lang=lang, today=TODAY)


def fill(form, rid, **answers):
    form.who.value = rid
    for name, value in answers.items():
        if name == "risk_grade":
            form.grade.value = value
        else:
            form.choices[name].value = value


def test_the_list_shows_ones_registered_patients_due_overdue_and_never_followed_up(registry):
    view = caseload(registry)
    section = view.smd
    listed = section.listed.set_index("resident_id")
    assert sorted(listed.index) == ["R1", "R2", "R4"]  # R3 is not on li's caseload
    assert listed.loc["R1", "overdue"] and listed.loc["R1", "days_overdue"] == 15
    assert listed.loc["R1", "next_due"] == pd.Timestamp("2025-09-15")
    assert not listed.loc["R2", "due"] and listed.loc["R2", "next_due"] == pd.Timestamp("2025-10-04")
    assert listed.loc["R4", "due"] and pd.isna(listed.loc["R4", "last_followup"])
    assert section.counts() == {"all": 3, "due": 2, "overdue": 1, "unstable": 0, "high_risk": 0}
    assert list(section.listed["resident_id"]) == ["R1", "R4", "R2"]  # overdue first, then due, then the rest
    table = section.table.value
    assert "Overdue 15 day(s)" in table and "Never followed up: due now" in table and "Persistent delusional disorder" in table
    assert "1 risk assessment(s) in 12 months (at least 4 needed)" in table  # regular management needs 4 a year
    assert table.count('<tr class="wb-alert">') == 2  # R1 overdue, R4 never followed up
    assert [v for _, v in section.form.who.options] == [None, "R1", "R4", "R2"]
    with pytest.raises(traitlets.TraitError):  # a patient not on one's list cannot be chosen
        section.form.who.value = "R3"
    section.view.value = "overdue"
    assert "R1" in section.table.value and "R2" not in section.table.value
    section.view.value = "all"
    view.set_language("zh")
    assert "逾期 15 天" in section.table.value and "尚未随访：应立即随访" in section.table.value
    assert "持久的妄想性障碍" in section.table.value


def test_grade_3_raises_the_referral_banner_and_the_follow_up_is_saved_once(registry):
    view = caseload(registry)
    form = view.smd.form
    assert form.banner.layout.display == "none" and "Choose a patient" in form.card.value
    fill(form, "R2", **{**STABLE, "risk_grade": 3})
    # grade 3-5: unstable, refer now, follow up within 2 weeks (2025-09-30 + 14 days)
    assert form.suggested == "unstable" and form.suggestion["rule"] == "unstable_risk"
    assert form.suggestion["next_due"] == pd.Timestamp("2025-10-14") and bool(form.suggestion["refer"])
    assert form.banner.layout.display is None and 'role="alert"' in form.banner.value
    assert "obvious smashing, in any place, against property, does not stop when talked to" in form.banner.value
    assert "refer to a psychiatric hospital now" in form.banner.value
    assert "call the emergency services" in form.banner.value  # the self-harm banner's emergency step
    assert "Unstable" in form.card.value and "2025-10-14" in form.card.value and "wb-tier-3" in form.card.value
    assert form.outcome.options[0] == ("Confirm the suggestion (Unstable)", None)
    form.referred.value = True
    assert form.save() is True
    assert form.save() is False and "Saved: the follow-up of R2 on 2025-09-30" in form.message.text  # a double click
    rows = stored(registry, "R2")
    assert len(rows) == 2
    row = rows.iloc[-1]
    assert (row["risk_grade"], row["suggested_outcome"], row["outcome"], row["rule"], row["recorded_by"]) == \
        (3, "unstable", "unstable", "unstable_risk", "li")
    assert bool(row["referred"]) and str(row["next_due"])[:10] == "2025-10-14"
    assert "Stability: Unstable (suggested: Unstable); next follow-up by 2025-10-14" in form.message.text
    # the list is read again: R2 is now unstable and at a high risk grade
    section = view.smd
    assert section.counts()["unstable"] == 1 and section.counts()["high_risk"] == 1
    assert section.listed["resident_id"].iloc[0] == "R2"
    assert "⚠ Refer now; Grade 3; Unstable" in section.table.value
    assert form.grade.disabled and form.save_button.disabled
    form.new_followup()
    assert form.who.value is None and form.grade.value == "" and not form.saved and form.banner.layout.display == "none"
    fill(form, "R2", **STABLE)  # the same patient and day again: refused by the registry, shown beside the date
    assert form.save() is False
    assert "already stored for this patient and day" in form.messages["followed_on"].text
    assert len(stored(registry, "R2")) == 2


def test_the_risk_grades_are_shown_with_their_definitions_in_chinese_and_english(registry):
    view = caseload(registry, lang="zh")
    grades = dict((value, label) for label, value in view.smd.form.grade.options)
    # 严重精神障碍管理治疗工作规范（2018年版）, 危险性评估
    assert grades[3] == "3级：明显打砸行为，不分场合，针对财物，不能接受劝说而停止"
    assert grades[5].startswith("5级：持械针对人的任何暴力行为，或者纵火、爆炸等行为")
    assert grades[""] == "未评估（留空：不视为0级）" and len(grades) == 7
    app = ui.App("caseload_title", lambda lang: [view], lang="zh")
    fill(view.smd.form, "R4", risk_grade=4)
    assert "请立即转诊" in view.smd.form.banner.value and "4级：持续的打砸行为" in view.smd.form.banner.value
    app.language.value = "en"
    grades = dict((value, label) for label, value in view.smd.form.grade.options)
    assert grades[4].startswith("Grade 4: continued smashing") and "self-harm and suicide" in grades[4]
    assert view.smd.form.grade.value == 4 and view.smd.form.who.value == "R4"  # the form is kept
    assert "Refer now" in view.smd.form.banner.value and "Grade 4: continued smashing" in view.smd.form.banner.value
    assert "严重精神障碍管理治疗工作规范" in view.smd.form.grade_source.value


def test_a_changed_judgement_needs_a_reason_and_is_stored_beside_the_suggestion(registry):
    form = caseload(registry).smd.form
    fill(form, "R1", **STABLE)
    assert form.suggested == "stable" and form.suggestion["next_due"] == pd.Timestamp("2025-12-30")
    assert form.banner.layout.display == "none"
    form.outcome.value = "basically_stable"
    assert form.save() is False and "Say why" in form.reason_message.text
    assert len(stored(registry, "R1")) == 1  # nothing written
    form.reason.value = "sleeping badly since his father died; family worried"
    assert form.save() is True
    row = stored(registry, "R1").iloc[-1]
    assert (row["suggested_outcome"], row["outcome"]) == ("stable", "basically_stable")
    assert row["outcome_reason"] == "sleeping badly since his father died; family worried"
    # the earlier of 3 months (stable, suggested) and 2 weeks (basically stable, decided): safety first
    assert str(row["next_due"])[:10] == "2025-10-14"


def test_judging_unstable_raises_the_banner_even_when_the_suggestion_is_not(registry):
    form = caseload(registry).smd.form
    fill(form, "R2", **{**STABLE, "risk_grade": 1})
    assert form.suggested == "basically_stable" and form.banner.layout.display == "none"
    form.outcome.value = "unstable"
    assert form.banner.layout.display is None and "You judged the patient unstable." in form.banner.value
    form.outcome.value = None
    assert form.banner.layout.display == "none"


def test_marked_symptoms_make_it_unstable_and_the_banner_says_so(registry):
    form = caseload(registry).smd.form
    fill(form, "R1", **{**STABLE, "symptoms": "marked"})
    assert form.suggested == "unstable" and form.suggestion["rule"] == "unstable_clinical"
    assert form.banner.reasons == ["Marked symptoms"]
    form.choices["symptoms"].value = "remitted"
    form.choices["physical_illness"].value = "serious"
    assert form.banner.reasons == ["Serious physical illness"]


def test_a_blank_grade_is_not_assessed_never_grade_0(registry):
    form = caseload(registry).smd.form
    fill(form, "R4", **{k: v for k, v in STABLE.items() if k != "risk_grade"})
    assert form.suggested is None and form.suggestion["rule"] == "not_assessed"
    assert "No suggestion" in form.card.value and "never grade 0" in form.card.value
    assert form.suggestion["next_due"] == pd.Timestamp("2025-10-14")  # assess the risk within 2 weeks
    assert form.outcome.options[0] == ("No suggestion: leave not judged", None)
    assert form.banner.layout.display == "none"
    assert form.save() is True
    row = stored(registry, "R4").iloc[0]
    assert pd.isna(row["risk_grade"]) and pd.isna(row["suggested_outcome"]) and pd.isna(row["outcome"])
    assert row["rule"] == "not_assessed"


def test_bad_answers_are_named_beside_their_field_and_nothing_is_saved(registry):
    form = caseload(registry, lang="zh").smd.form
    assert form.save() is False and "请先选择在册患者" in form.messages["who"].text
    fill(form, "R1", **STABLE)
    form.on_medication.value = False
    form.regularity.value = "regular"
    assert form.save() is False and "未服用精神科药物" in form.messages["medication_regularity"].text
    form.regularity.value = "none"
    form.followed_on.value = TODAY + dt.timedelta(days=1)
    assert form.save() is False and "不能晚于今天" in form.messages["followed_on"].text
    form.followed_on.value = dt.date(2023, 12, 1)  # before R1's registration (2024-01-10): the registry refuses
    assert form.save() is False and "registration" in form.messages["followed_on"].text
    assert len(stored(registry, "R1")) == 1


def test_a_social_worker_gets_no_smd_list(registry):
    view = caseload(registry, user="zhang")
    assert view.smd.listed.empty and "Nobody in this view" in view.smd.table.value
    assert [v for _, v in view.smd.form.who.options] == [None]
    assert set(SMD_FILTERS) == {"all", "due", "overdue", "unstable", "high_risk"}
