"""The four staff apps in a real browser (issue 7): each opens in Chinese and English without an
error, a screening is completed and found in the registry with the right tier, a self-harm
answer raises the banner, a follow-up contact is recorded, and the page works from the keyboard
with every control labelled."""

from __future__ import annotations

import datetime as dt
import os
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.i18n import t
from workbench.ui._explorer_text import _WORDS

COUNSELLOR = "counsellor_li"  # who the session server's apps act as (conftest.COUNSELLOR)

pytestmark = pytest.mark.slow

APPS = {"screening": "screening_title", "caseload": "caseload_title", "cohort_explorer": "explorer_title",
        "quality": "quality_title", "visit": "visit_title"}


def registry_rows(server, sql: str, **params) -> pd.DataFrame:
    engine = sa.create_engine(server.registry_url)
    try:
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())
    finally:
        engine.dispose()


def open_resident(open_app, rid: str, lang: str):
    """The screening station (acting as counsellor Li, the server's user), showing resident ``rid``'s form."""
    app = open_app("screening", lang=lang, wait_for=".wb-app")
    app.page.get_by_label(t("find_resident", lang)).fill(rid)
    app.page.get_by_label(t("find_resident", lang)).press("Enter")
    app.page.wait_for_selector(f"p strong:has-text('{rid}')")
    return app


def unscreened_resident(server) -> str:
    """A sample resident of counsellor Li's communities with no assessment today."""
    today = dt.date.today().isoformat()
    rows = registry_rows(server, "SELECT r.resident_id FROM residents r WHERE r.community = 'urban-01' AND NOT EXISTS "
                                 "(SELECT 1 FROM assessments a WHERE a.resident_id = r.resident_id AND a.assessed_on = :d) "
                                 "ORDER BY r.resident_id DESC LIMIT 1", d=today)
    return rows.iloc[0, 0]


def answer(page, lang: str, instrument_questions: list[str], answer_label: str) -> None:
    for question in instrument_questions:
        page.get_by_role("group", name=question).get_by_label(answer_label).check()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", list(APPS))
def test_each_app_opens_in_both_languages_without_an_error(open_app, name, lang):
    # screening and caseload for counsellors; epidemiologists and managers: the analysts' pseudonymised tables
    analyst = name not in ("screening", "caseload", "visit")
    app = open_app(name, lang=lang, wait_for=".wb-app", analyst=analyst)
    print(f"first render {name}?lang={lang}: {app.render_seconds:.2f} s")  # shown with pytest -s
    app.page.wait_for_selector(f"h1:has-text('{t(APPS[name], lang)}')")
    if analyst:
        app.page.wait_for_selector(".wb-table")
    assert app.problems() == [] and app.external_requests == []
    other = "en" if lang == "zh" else "zh"
    app.page.get_by_role("button", name="English" if other == "en" else "中文").click()
    app.page.wait_for_selector(f"h1:has-text('{t(APPS[name], other)}')")
    assert app.problems() == []


def test_the_apps_act_as_the_person_the_server_was_started_for_with_no_name_to_choose(server, open_app):
    log = server.log()
    assert f"one person, embedded (make run): the apps act as registry user {COUNSELLOR} (WORKBENCH_USER)" in log
    assert 'README "Multi-staff"' in log
    app = open_app("screening", lang="zh", wait_for=".wb-app")
    app.page.wait_for_selector(f"text={t('find_resident', 'zh')}")
    assert app.page.get_by_text("工作人员", exact=True).count() == 0  # the old staff picker's label
    assert app.page.get_by_text("周分析员").count() == 0 and app.page.get_by_text("admin").count() == 0
    assert app.problems() == []


def test_a_screening_is_saved_once_with_the_right_tier(server, open_app):
    rid = unscreened_resident(server)
    app = open_resident(open_app, rid, "zh")
    page = app.page
    from workbench.instruments import get_instrument

    phq9, gad7 = get_instrument("phq9"), get_instrument("gad7")
    # PHQ-9: "more than half the days" (2) on items 1-6, "not at all" on 7-9 -> 12: screen-positive, tier 2
    answer(page, "zh", [f"{n}. {phq9.item_text(n, 'zh')}" for n in range(1, 7)], phq9.answer_label(2, "zh"))
    answer(page, "zh", [f"{n}. {phq9.item_text(n, 'zh')}" for n in range(7, 10)], phq9.answer_label(0, "zh"))
    answer(page, "zh", [f"{n}. {gad7.item_text(n, 'zh')}" for n in range(1, 8)], gad7.answer_label(1, "zh"))
    page.wait_for_selector(f".wb-card:has-text('{t('tier_2', 'zh')}')")
    assert page.locator(".wb-banner").count() == 0
    save = page.get_by_role("button", name=t("save", "zh"))
    start = time.perf_counter()
    save.dblclick()  # a double click saves once
    page.wait_for_selector(".wb-message.wb-ok")
    print(f"save, click to message: {time.perf_counter() - start:.3f} s")
    assert rid in page.inner_text(".wb-message.wb-ok")
    saved = registry_rows(server, "SELECT instrument, score, entered_by FROM assessments WHERE resident_id = :r "
                                  "AND assessed_on = :d ORDER BY instrument", r=rid, d=dt.date.today().isoformat())
    assert saved.to_dict("list") == {"instrument": ["gad7", "phq9"], "score": [7.0, 12.0],
                                     "entered_by": [COUNSELLOR, COUNSELLOR]}
    tiers = registry_rows(server, "SELECT tier, rule, decided_by FROM tier_assignments WHERE resident_id = :r "
                                  "AND assessed_on = :d", r=rid, d=dt.date.today().isoformat())
    assert tiers.to_dict("records") == [{"tier": 2, "rule": "screen_positive", "decided_by": COUNSELLOR}]
    assert app.problems() == []


def test_a_self_harm_answer_raises_the_banner_and_nothing_saves_without_a_resident(server, open_app):
    app = open_app("screening", lang="en", wait_for=".wb-app")
    page = app.page
    from workbench.instruments import get_instrument

    phq9 = get_instrument("phq9")
    page.get_by_role("group", name=f"9. {phq9.item_text(9, 'en')}").get_by_label(phq9.answer_label(1, "en")).check()
    banner = page.get_by_role("alert").filter(has_text=t("safety_title", "en"))
    banner.first.wait_for()
    assert banner.count() >= 1 and page.locator(".wb-card.wb-tier-3").count() == 1
    before = registry_rows(server, "SELECT COUNT(*) AS n FROM assessments").iloc[0, 0]
    page.get_by_role("button", name=t("save", "en")).click()
    page.wait_for_selector(f"text={t('choose_resident_first', 'en')}")
    assert registry_rows(server, "SELECT COUNT(*) AS n FROM assessments").iloc[0, 0] == before
    assert app.problems() == []
    page.get_by_role("group", name=f"9. {phq9.item_text(9, 'en')}").get_by_role(
        "button", name=f"{t('clear_answer', 'en')}: 9. {phq9.item_text(9, 'en')}").click()
    page.wait_for_selector(".wb-banner", state="detached")


def test_the_questionnaire_works_from_the_keyboard(open_app):
    app = open_app("screening", lang="en", wait_for=".wb-app")
    page = app.page
    from workbench.instruments import get_instrument

    phq9 = get_instrument("phq9")
    group = page.get_by_role("group", name=f"1. {phq9.item_text(1, 'en')}")
    group.get_by_label(phq9.answer_label(0, "en")).focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # arrows move within the question's answers
    assert group.get_by_label(phq9.answer_label(2, "en")).is_checked()
    page.keyboard.press("Tab")  # Tab leaves the group: the next stop is its "clear" link
    assert "Clear" in page.evaluate("document.activeElement.textContent")
    page.wait_for_selector(".wb-card:has-text('not scorable yet: 1 of 9 answered')")


def test_every_control_has_an_accessible_label_and_larger_text_works(open_app):
    app = open_app("screening", lang="zh", wait_for=".wb-app")
    page = app.page
    page.wait_for_selector(".wb-item")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('.wb-app input, .wb-app select, .wb-app textarea')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('label'))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabelled == []
    groups = page.evaluate("""() => [...document.querySelectorAll('fieldset.wb-item')]
        .map(f => f.querySelector('legend') && f.querySelector('legend').textContent.trim()).filter(x => !x)""")
    assert groups == []
    before = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.wb-item legend')).fontSize)")
    page.get_by_role("button", name=t("larger_text", "zh")).click()
    page.wait_for_selector(".wb-app.wb-large")
    after = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.wb-item legend')).fontSize)")
    assert after >= 20 and after > before


def test_a_follow_up_contact_is_recorded(server, open_app):
    from workbench.registry.store import Registry

    rid = unscreened_resident(server)
    registry = Registry(server.registry_url)  # an urgent resident on Li's list: a self-harm answer today
    answers = pd.DataFrame([{"resident_id": rid, "assessed_on": dt.date.today().isoformat(), "submission_id": f"e2e-{rid}",
                             **{f"phq9_{n}": 0 for n in range(1, 9)}, "phq9_9": 2}])
    assert registry.save_screening(answers, by=COUNSELLOR).written
    registry.assign_caseload(COUNSELLOR, [rid], by="admin")  # a second person puts the resident on Li's list
    registry.engine.dispose()

    app = open_app("caseload", lang="zh", wait_for=".wb-app")
    page = app.page
    page.wait_for_selector(f"tr.wb-alert:has-text('{rid}')")
    page.get_by_role("button", name=f"{t('view_urgent', 'zh')} (").first.click()
    page.get_by_label(t("resident", "zh")).select_option(label=rid)
    page.get_by_label(t("contact_kind", "zh")).select_option(label=t("kind_phone", "zh"))
    page.get_by_label(t("note", "zh")).fill("已电话评估，安排明日面谈")
    page.get_by_role("button", name=t("save_contact", "zh")).click()
    page.wait_for_selector(f"text={t('contact_saved', 'zh').format(resident=rid, day=dt.date.today().isoformat())}")
    saved = registry_rows(server, "SELECT kind, status, note, recorded_by FROM contacts WHERE resident_id = :r "
                                  "AND contact_on = :d", r=rid, d=dt.date.today().isoformat())
    assert saved.to_dict("records") == [{"kind": "phone", "status": "attended", "note": "已电话评估，安排明日面谈",
                                         "recorded_by": COUNSELLOR}]
    assert app.problems() == []


def test_the_explorer_and_the_quality_board_answer_their_controls(open_app):
    app = open_app("cohort_explorer", lang="en", wait_for=".wb-app", analyst=True)
    page = app.page
    page.wait_for_selector("img")
    assert "Log-rank" in page.inner_text(".wb-app") or "log-rank" in page.inner_text(".wb-app").lower()
    assert app.problems() == []
    board = open_app("quality", lang="zh", wait_for=".wb-app", analyst=True)
    board.page.wait_for_selector("tr.wb-alert")
    assert "⚠" in board.page.inner_text(".wb-app") and board.problems() == []



def _number(text: str) -> int:
    return int(text.replace(",", "").strip())


def test_a_screening_saved_with_a_changed_tier_reaches_the_quality_board_and_the_explorer(server, open_app):
    """Issue 13: what staff record is what managers and epidemiologists analyse. A counsellor
    screens a new resident in the screening app and changes the suggested tier (1) to 3 with a
    reason; after Refresh the quality board counts one more tier-3 screening that month, and the
    cohort explorer one more tier-3 resident."""
    from workbench.registry.store import Registry

    rid, day, month = "E2E-OVERRIDE-1", "2025-06-15", "2025-06"
    registry = Registry(server.registry_url)
    registry.import_residents(pd.DataFrame([{"resident_id": rid, "sex": "female", "birth_date": "1948-02-03",
                                             "community": "urban-01", "lives_alone": "true", "hypertension": "true",
                                             "diabetes": "false", "chd": "false", "stroke": "false", "copd": "false",
                                             "asthma": "false"}]), by="admin")
    registry.assign_caseload(COUNSELLOR, [rid], by="admin")
    registry.engine.dispose()

    explorer = open_app("cohort_explorer", lang="en", wait_for=".wb-app", analyst=True)
    explorer.page.get_by_label(t("grouping", "en")).select_option(label=t("screening_tier", "en"))
    explorer.page.wait_for_selector(f".wb-table tbody th:has-text('{t('tier_3', 'en')}')")  # redrawn by tier
    # the per-group table: "... median time per group" for death, "... how follow-up had ended by
    # m months" for an endpoint with competing outcomes (the default, crisis or ER visit)
    per_group_caption = os.path.commonprefix([t("per_group", "en"), _WORDS["outcomes_title"]["en"]])
    per_group = f".wb-table:has(caption:has-text('{per_group_caption}'))"
    tier3 = explorer.page.locator(f"{per_group} tbody tr:has(th:has-text('{t('tier_3', 'en')}'))").first
    before_cohort = _number(tier3.locator("td").first.inner_text())  # the residents of the group
    board = open_app("quality", lang="en", wait_for=".wb-app", analyst=True)
    board.page.get_by_label(t("month", "en")).select_option(value=month)
    board.page.wait_for_selector(f"caption:has-text('{month}')")  # the kernel has redrawn the table for that month
    from workbench import quality, quality_view

    t2_title = quality_view.title(quality.load_indicators().indicator("T2"), "en")  # severe (tier 3) seen within 72 h
    row = board.page.locator(f"table:has(caption:has-text('{month}')) tr:has-text('{t2_title}')").first
    before_board = _number(row.locator("td").nth(1).inner_text())  # numerator, then denominator

    app = open_resident(open_app, rid, "en")
    page = app.page
    page.get_by_label(t("assessed_on", "en")).fill(day)
    from workbench.instruments import get_instrument

    phq9, gad7 = get_instrument("phq9"), get_instrument("gad7")
    answer(page, "en", [f"{n}. {phq9.item_text(n, 'en')}" for n in range(1, 10)], phq9.answer_label(0, "en"))
    answer(page, "en", [f"{n}. {gad7.item_text(n, 'en')}" for n in range(1, 8)], gad7.answer_label(0, "en"))
    page.wait_for_selector(f".wb-card:has-text('{t('tier_1', 'en')}')")  # the policy suggests tier 1
    page.get_by_label(t("decision", "en")).select_option(label=t("tier_3", "en"))
    page.get_by_label(t("override_reason", "en")).fill("lives alone; husband died last month; refuses help")
    page.get_by_role("button", name=t("save", "en")).click()
    page.wait_for_selector(".wb-message.wb-ok")
    stored = registry_rows(server, "SELECT suggested_tier, tier, overridden, decided_by FROM tier_assignments "
                                   "WHERE resident_id = :r", r=rid)
    assert stored.to_dict("records") == [{"suggested_tier": 1, "tier": 3, "overridden": True, "decided_by": COUNSELLOR}]

    board.page.get_by_role("button", name=t("quality_refresh", "en")).click()
    board.page.wait_for_function(
        "([before, label]) => { const r = [...document.querySelectorAll('tr')].find(e => e.innerText.includes(label)); "
        "return r && parseInt(r.querySelectorAll('td')[1].innerText.replace(/,/g, '')) === before + 1; }",
        arg=[before_board, t2_title])
    explorer.page.get_by_role("button", name=t("explorer_refresh", "en")).click()
    explorer.page.wait_for_function(
        "([caption, label, before]) => [...document.querySelectorAll('table.wb-table')]"
        ".filter(tb => tb.caption && tb.caption.innerText.includes(caption))"
        ".some(tb => [...tb.querySelectorAll('tbody tr')].some(r => r.querySelector('th').innerText.includes(label) && "
        "parseInt(r.querySelector('td').innerText.replace(/,/g, '')) === before + 1))",
        arg=[per_group_caption, t("tier_3", "en"), before_cohort])
    for opened in (app, board, explorer):
        assert opened.problems() == [] and opened.external_requests == []


def visit_resident(server) -> str:
    """A resident with hypertension on counsellor Li's caseload, aged 35 or over, with no reading and no
    questionnaire today."""
    today = dt.date.today().isoformat()
    found = registry_rows(server, "SELECT r.resident_id FROM residents r JOIN caseloads c ON c.resident_id = r.resident_id "
                                  "WHERE c.user_name = :u AND r.hypertension AND r.birth_date < '1980-01-01' AND NOT EXISTS "
                                  "(SELECT 1 FROM measurements m WHERE m.resident_id = r.resident_id AND m.measured_on = :d) "
                                  "AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.resident_id = r.resident_id "
                                  "AND a.assessed_on = :d) ORDER BY r.resident_id", u=COUNSELLOR, d=today)
    return found["resident_id"].iloc[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_visit_is_saved_once_and_found_in_the_registry(server, open_app, lang):
    """Issue 15: the family doctor's visit in a real browser, in Chinese and English: blood pressure
    typed from the keyboard, adherence and PHQ-2 / GAD-2 recorded from labelled controls, the live
    chronic-care card, larger text, one save (a double click), the reading and the questionnaires
    found in the registry under the server's user."""
    from workbench.instruments import get_instrument
    from workbench.tables import _measures

    rid = visit_resident(server)
    app = open_app("visit", lang=lang, wait_for=".wb-app")
    page = app.page
    page.get_by_label(t("find_resident", lang)).fill(rid)
    page.get_by_label(t("find_resident", lang)).press("Enter")
    page.wait_for_selector(f"p strong:has-text('{rid}')")
    measures = _measures()["measures"]

    def field(name: str):
        label = measures[name][lang].split("（")[0].split(" (")[0]
        return page.get_by_label(f"{label} ({measures[name]['unit']})", exact=True)

    field("sbp").focus()  # from the keyboard: type, Tab to the next field, type, Tab (a field is read when left)
    page.keyboard.type("152")
    page.keyboard.press("Tab")
    page.keyboard.type("94")
    page.keyboard.press("Tab")
    assert field("dbp").input_value() == "94"
    page.get_by_label(t("adherence", lang)).select_option(label=t("adherence_intermittent", lang))
    phq2, gad2 = get_instrument("phq2"), get_instrument("gad2")
    # 152/94 mmHg is above the 140/90 target whatever the resident's age (REFERENCE.md)
    page.wait_for_selector(f".wb-card:has-text('{t('classification_not_controlled', lang)}')")
    assert "152/94 mmHg" in page.inner_text(".wb-app")
    answer(page, lang, [f"{n}. {phq2.item_text(n, lang)}" for n in (1, 2)], phq2.answer_label(0, lang))
    answer(page, lang, [f"{n}. {gad2.item_text(n, lang)}" for n in (1, 2)], gad2.answer_label(1, lang))
    page.wait_for_selector(".wb-card:has-text('GAD-2')")
    assert page.locator(".wb-banner").count() == 0
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('.wb-app input, .wb-app select, .wb-app textarea')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('label'))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabelled == []
    page.get_by_role("button", name=t("larger_text", lang)).click()
    page.wait_for_selector(".wb-app.wb-large")
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.wb-visit input[type=text]')).fontSize)")
    assert size >= 20
    page.get_by_role("button", name=t("save", lang)).dblclick()  # a double click saves once
    page.wait_for_selector(".wb-message.wb-ok")
    assert rid in page.inner_text(".wb-message.wb-ok")
    today = dt.date.today().isoformat()
    saved = registry_rows(server, "SELECT sbp, dbp, adherence, setting, measured_by FROM measurements "
                                  "WHERE resident_id = :r AND measured_on = :d", r=rid, d=today)
    assert saved.to_dict("records") == [{"sbp": 152, "dbp": 94, "adherence": "intermittent", "setting": "clinic",
                                         "measured_by": COUNSELLOR}]
    answers = registry_rows(server, "SELECT instrument, score, entered_by FROM assessments WHERE resident_id = :r "
                                    "AND assessed_on = :d ORDER BY instrument", r=rid, d=today)
    assert answers.to_dict("list") == {"instrument": ["gad2", "phq2"], "score": [2.0, 0.0],
                                       "entered_by": [COUNSELLOR, COUNSELLOR]}
    assert app.problems() == [] and app.external_requests == []


def test_the_caseload_shows_chronic_care_and_a_dual_track_chart(open_app):
    """Issue 15: the follow-up list's chronic-care section in the browser: the residents not
    controlled twice running, and the dual-track chart of one of them with its text alternative."""
    app = open_app("caseload", lang="zh", wait_for=".wb-chronic")
    page = app.page
    page.get_by_role("button", name=f"{t('chronic_view_uncontrolled_twice', 'zh')} (").click()
    page.wait_for_selector(f"caption:has-text('{t('chronic_view_uncontrolled_twice', 'zh')}')")
    assert page.locator(".wb-chronic tbody tr.wb-alert").count() >= 1
    assert t("uncontrolled_twice", "zh") in page.inner_text(".wb-chronic tbody")
    picker = page.get_by_label(t("chart_resident", "zh"))
    picker.select_option(index=1)
    page.wait_for_selector("img[alt*='双轨图']")
    assert app.problems() == [] and app.external_requests == []


def smd_patient(server, rid: str) -> str:
    """A new resident of counsellor Li's, on the SMD register for 400 days, with one stable follow-up
    100 days ago: due again now (stable: next within 3 months, REFERENCE.md "Severe mental disorders")."""
    from workbench.registry.store import Registry

    today = dt.date.today()
    registry = Registry(server.registry_url)
    try:
        registry.import_residents(pd.DataFrame([{"resident_id": rid, "sex": "male", "birth_date": "1979-08-14",
                                                 "community": "urban-01", "lives_alone": "false", "hypertension": "false",
                                                 "diabetes": "false", "chd": "false", "stroke": "false", "copd": "false",
                                                 "asthma": "false", "name": f"SMD {rid}"}]), by="admin")
        registry.assign_caseload(COUNSELLOR, [rid], by="admin")
        registry.register_smd({"resident_id": rid, "diagnosis": "schizophrenia",
                               "registered_on": (today - dt.timedelta(days=400)).isoformat()}, by="admin")
        earlier = (today - dt.timedelta(days=100)).isoformat()
        assert registry.save_smd_followup({"submission_id": f"e2e-{rid}-earlier", "resident_id": rid, "followed_on": earlier,
                                           "mode": "face_to_face", "risk_grade": 0, "symptoms": "remitted",
                                           "insight": "full", "social_function": "fair", "adverse_reaction": "none",
                                           "physical_illness": "none"}, by="admin").written
    finally:
        registry.engine.dispose()
    return f"SMD {rid}"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_smd_follow_up_with_grade_3_raises_the_banner_and_is_found_in_the_registry(server, open_app, lang):
    """Issue 16: the follow-up list's severe-mental-disorder section in a real browser, in Chinese and
    English: the patient listed as due, the risk grade chosen from the keyboard among the grades'
    definitions (grade 3: obvious smashing that does not stop when talked to), the referral banner
    and the live suggestion (grade 3-5: unstable, refer now), one save (a double click), the
    follow-up found in the registry under the server's user, and the list read again."""
    from workbench.smd import load_smd_policy

    pol = load_smd_policy()
    rid = f"E2E-SMD-{lang.upper()}"
    name = smd_patient(server, rid)
    app = open_app("caseload", lang=lang, wait_for=".wb-smd")
    page = app.page
    page.wait_for_selector(f".wb-smd tr.wb-alert:has-text('{rid}')")  # due: 100 days after a stable follow-up
    page.get_by_label(t("smd_patient", lang), exact=True).select_option(
        label=f"{rid} · {name} · {pol.disorders['schizophrenia'][lang]}")
    page.wait_for_selector(f".wb-smd-form .wb-card:has-text('{t('smd_no_suggestion', lang)}')")  # no grade yet
    blank = page.get_by_label(t("smd_grade_blank", lang), exact=True)
    blank.focus()
    for _ in range(4):  # not assessed -> 0 -> 1 -> 2 -> 3: arrows move within the grades
        page.keyboard.press("ArrowDown")
    grade3 = page.get_by_label(pol.risk_grades[3][lang], exact=True)
    assert grade3.is_checked()
    for item, value in (("symptoms", "residual"), ("insight", "partial"), ("social_function", "fair"),
                        ("adverse_reaction", "none"), ("physical_illness", "none")):
        page.get_by_label(t(f"smd_item_{item}", lang), exact=True).select_option(label=pol.items[item][value][lang])
    banner = page.get_by_role("alert").filter(has_text=t("smd_banner_title", lang))
    banner.first.wait_for()
    text = banner.first.inner_text()
    assert pol.risk_grades[3][lang] in text and pol.referral.action[lang] in text
    unstable = getattr(pol.stability["unstable"], lang)  # the policy's name of the class, in the page's language
    page.wait_for_selector(f".wb-smd-form .wb-card.wb-tier-3:has-text('{unstable}')")
    page.get_by_label(t("smd_referred", lang), exact=True).select_option(label=t("yes", lang))
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('.wb-smd-form input, .wb-smd-form select, .wb-smd-form textarea')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.closest('label'))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabelled == []
    page.get_by_role("button", name=t("larger_text", lang)).click()
    page.wait_for_selector(".wb-app.wb-large")
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.wb-smd-form select')).fontSize)")
    assert size >= 20
    page.get_by_role("button", name=t("save", lang), exact=True).dblclick()  # a double click saves once
    page.wait_for_selector(".wb-smd-form .wb-message.wb-ok")
    assert rid in page.inner_text(".wb-smd-form .wb-message.wb-ok")
    today = dt.date.today().isoformat()
    saved = registry_rows(server, "SELECT risk_grade, symptoms, suggested_outcome, outcome, rule, referred, recorded_by "
                                  "FROM smd_followups WHERE resident_id = :r AND followed_on = :d", r=rid, d=today)
    saved["referred"] = saved["referred"].astype(bool)
    assert saved.to_dict("records") == [{"risk_grade": 3, "symptoms": "residual", "suggested_outcome": "unstable",
                                         "outcome": "unstable", "rule": "unstable_risk", "referred": True,
                                         "recorded_by": COUNSELLOR}]
    # the list is read again: the patient is now to refer, at grade 3
    page.wait_for_selector(f".wb-smd tr.wb-alert:has-text('{rid}'):has-text('{t('smd_refer_now', lang)}')")
    assert app.problems() == [] and app.external_requests == []


def test_the_caseload_shows_the_wristband_flag_and_the_risk_band_beside_the_tier(server, open_app):
    """Issue 17: a resident on counsellor Li's list with a flagged wristband night today and a
    stored risk prediction: the list shows the flag with its reason and the band with its top
    reasons beside the tier, and says it is not a suicide-risk score."""
    from workbench.registry.store import Registry
    from workbench.ui._early_warning_text import word

    rid = unscreened_resident(server)
    today = dt.date.today()
    registry = Registry(server.registry_url)
    try:
        answers = pd.DataFrame([{"resident_id": rid, "assessed_on": today.isoformat(), "submission_id": f"e2e-ew-{rid}",
                                 **{f"phq9_{n}": 2 for n in range(1, 9)}, "phq9_9": 0}])
        assert registry.save_screening(answers, by=COUNSELLOR).written
        registry.assign_caseload(COUNSELLOR, [rid], by="admin")
        decision = registry.analysis_tables(as_user="admin").decisions
        decision = decision[(decision["resident_id"] == rid) & (pd.to_datetime(decision["assessed_on"]).dt.date == today)]
        day = {"resident_id": rid, "day": today, "device_id": "band-e2e", "wear_minutes": 1300, "night_wear_minutes": 350,
               "resting_hr": 71.0, "rmssd": 12.5, "steps": 2100, "sleep_minutes": 380, "sleep_midpoint": 3.5,
               "sleep_regularity": 40.0, "baseline_days": 26, "rmssd_z": -2.6, "resting_hr_z": 1.1, "steps_z": -0.8,
               "sleep_z": -0.4, "wear_state": "worn", "alert_state": "flag", "flag": True, "nights_low": 3,
               "nights_valid": 4, "rule": "wearables_default@1.1:rmssd_low"}
        registry.save_wearable_days(pd.DataFrame([day]), as_user="admin")
        prediction = {"prediction_id": f"RPE2E{rid}", "decision_id": decision["decision_id"].iloc[0], "resident_id": rid,
                      "assessed_on": today, "model": "not_improving_logistic@1.0", "data_version": "sha256:e2e",
                      "outcome": "not_improving_12w", "risk": 0.41, "band": "high", "reason_1": "phq9_total",
                      "reason_2": "lives_alone", "reason_3": None, "predicted_on": today, "predicted_by": "admin"}
        registry.save_risk_predictions(pd.DataFrame([prediction]), as_user="admin")
    finally:
        registry.engine.dispose()

    for lang in ("zh", "en"):
        app = open_app("caseload", lang=lang, wait_for=".wb-app")
        page = app.page
        row = page.locator(f"tr:has-text('{rid}')").first
        row.wait_for()
        text = row.inner_text()
        assert word("wear_flag", lang) in text and word("band_high", lang) in text and "41%" in text
        titles = " ".join(filter(None, (el.get_attribute("title") for el in row.locator("[title]").all())))
        shown = text + " " + titles
        assert ("筛查时PHQ-9总分" if lang == "zh" else "PHQ-9 total at screening") in shown
        assert ("不是自杀风险评分" if lang == "zh" else "not a suicide-risk score") in shown
        assert app.problems() == [] and app.external_requests == []
