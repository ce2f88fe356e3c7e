"""Saving a screening from an app, and the follow-up list: on real SQLite and PostgreSQL, with
every definition checked on hand-worked examples."""

import pandas as pd
import pytest
import sqlalchemy as sa

import workbench
from workbench.outcomes import follow_up_interval, follow_up_list
from workbench.registry.access import AccessDenied
from workbench.registry.imports import ImportProblems
from workbench.registry.store import FollowUpData, Registry


def resident(rid, **extra):
    row = {"resident_id": rid, "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
           "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
           "copd": "false", "asthma": "false", "name": "Test", "phone": "139"}
    row.update(extra)
    return row


def session(rid, phq9, *, on="2025-05-02", submission="s-1", gad7=(0,) * 7):
    row = {"resident_id": rid, "assessed_on": on, "submission_id": submission, "language": "zh", "mode": "interviewer"}
    row.update({f"phq9_{n}": v for n, v in enumerate(phq9, start=1)})
    row.update({f"gad7_{n}": v for n, v in enumerate(gad7, start=1)})
    return pd.DataFrame([row])


@pytest.fixture
def registry(registry_url):
    reg = Registry(registry_url)
    reg.init()
    reg.add_user("counsellor_a", "counsellor", by="admin")
    reg.add_user("counsellor_b", "counsellor", by="admin")
    reg.add_user("social_c", "social_worker", by="admin")
    reg.import_residents(pd.DataFrame([resident("R1"), resident("R2"), resident("R3")]), by="admin")
    yield reg
    reg.engine.dispose()


def count(reg, table, where=""):
    with reg.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} {where}")).scalar()


def test_a_screening_is_saved_whole_once_and_lands_on_the_caseload(registry):
    answers = session("R1", (2, 2, 2, 2, 2, 1, 1, 0, 1))  # 13 with item 9 = 1: self-harm -> tier 3, urgent
    registry.assign_caseload("counsellor_a", ["R1"], by="counsellor_b")  # a second person (tests/test_access.py)
    saved = registry.save_screening(answers, by="counsellor_a")
    assert saved.written is True
    again = registry.save_screening(answers, by="counsellor_a")  # a double click
    assert again.written is False
    assert count(registry, "assessments") == 2  # PHQ-9 and GAD-7
    assert count(registry, "tier_assignments") == 1
    with registry.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT tier, urgent, rule, decided_by FROM tier_assignments")).one()
        flags = conn.execute(sa.text("SELECT flags, score FROM assessments WHERE instrument = 'phq9'")).one()
    assert (row.tier, bool(row.urgent), row.rule, row.decided_by) == (3, True, "self_harm", "counsellor_a")
    assert flags.flags == '{"self_harm": true}' and flags.score == 13
    # the decision returned is the row as stored, the same twice, and the same the analyses read
    stored = registry.analysis_tables(as_user="admin").decisions
    pd.testing.assert_frame_equal(saved.decision.reset_index(drop=True), stored.reset_index(drop=True))
    pd.testing.assert_frame_equal(again.decision.reset_index(drop=True), stored.reset_index(drop=True))
    assert stored.loc[0, ["service_cell", "psych_status", "disease_category"]].tolist() == [
        "A-clinical", "clinical", "A"]  # hypertension: cardio-cerebrovascular; PHQ-9 13 clinical
    assert registry.verify_audit().ok
    data = registry.follow_up_data(as_user="counsellor_a")
    assert list(data.residents["resident_id"]) == ["R1"]
    listed = follow_up_list(data, on="2025-05-02")
    assert listed.loc[0, ["resident_id", "urgent", "due_today"]].tolist() == ["R1", True, True]


def test_a_changed_tier_is_saved_with_its_reason_and_never_without_one(registry):
    answers = session("R2", (1, 1, 1, 1, 1, 1, 1, 1, 0))  # PHQ-9 8, item 9 "not at all": tier 1 suggested
    with pytest.raises(ImportProblems) as info:
        registry.save_screening(answers, by="counsellor_a", tier=2)
    assert "reason" in info.value.problems["column"].tolist() and count(registry, "assessments") == 0
    with pytest.raises(ImportProblems) as info:
        registry.save_screening(answers, by="counsellor_a", tier=5, reason="x")
    assert "tier" in info.value.problems["column"].tolist() and count(registry, "tier_assignments") == 0
    saved = registry.save_screening(answers, by="counsellor_a", tier=2, reason="lives alone since her husband died")
    row = saved.decision.iloc[0]
    assert (row["suggested_tier"], row["tier"], row["overridden"]) == (1, 2, True)
    assert row["override_reason"] == "lives alone since her husband died" and row["decided_by"] == "counsellor_a"
    assert registry.residents(as_user="admin").set_index("resident_id").loc["R2", "tier"] == 2


def test_nothing_is_written_when_any_part_is_refused(registry):
    answers = session("R9", (1,) * 9)  # not a resident
    with pytest.raises(ImportProblems, match="R9"):
        registry.save_screening(answers, by="counsellor_a")
    bad = session("R1", (1, 1, 1, 1, 1, 1, 1, 1, 5))  # 5 is not an answer of PHQ-9
    with pytest.raises(ImportProblems) as info:
        registry.save_screening(bad, by="counsellor_a")
    problem = info.value.problems.set_index("column").loc["phq9_9"]
    assert str(problem["value"]) == "5" and "0" in problem["rule"] and "3" in problem["rule"]
    with pytest.raises(AccessDenied):
        registry.save_screening(session("R1", (1,) * 9), by="social_c")
    assert count(registry, "assessments") == 0 and count(registry, "tier_assignments") == 0


def test_a_second_different_screening_the_same_day_is_refused_not_overwritten(registry):
    registry.save_screening(session("R1", (1,) * 9, submission="s-1"), by="counsellor_a")
    with pytest.raises(ImportProblems, match="nothing is overwritten"):
        registry.save_screening(session("R1", (2,) * 9, submission="s-2"), by="counsellor_a")
    with pytest.raises(ImportProblems, match="already stored"):  # the same answers saved again from a new form
        registry.save_screening(session("R1", (1,) * 9, submission="s-3"), by="counsellor_a")
    assert count(registry, "assessments") == 2 and count(registry, "tier_assignments") == 1


def test_save_screening_needs_one_row_and_a_submission_id(registry):
    answers = session("R1", (1,) * 9)
    with pytest.raises(ValueError, match="one row"):
        registry.save_screening(pd.concat([answers, answers]), by="counsellor_a")
    with pytest.raises(ValueError, match="submission_id"):
        registry.save_screening(answers.drop(columns="submission_id"), by="counsellor_a")


def test_follow_up_data_is_limited_to_the_caseload_and_audited(registry):
    registry.assign_caseload("counsellor_a", ["R1"], by="admin")
    registry.assign_caseload("counsellor_b", ["R2", "R3"], by="admin")
    registry.record("contacts", pd.DataFrame({"contact_id": ["c1", "c2"], "resident_id": ["R1", "R2"],
                                              "contact_on": ["2025-05-03", "2025-05-03"], "kind": ["phone", "phone"],
                                              "status": ["attended", "missed"]}), by="counsellor_a")
    a = registry.follow_up_data(as_user="counsellor_a")
    assert list(a.contacts["contact_id"]) == ["c1"] and list(a.residents["resident_id"]) == ["R1"]
    assert sorted(registry.follow_up_data(as_user="admin").residents["resident_id"]) == ["R1", "R2", "R3"]
    with pytest.raises(AccessDenied):
        registry.follow_up_data(as_user="social_c")
    assert count(registry, "audit_log", "WHERE action = 'read_follow_up'") == 2
    assert "item" not in " ".join(a.scores.columns)  # totals only, never item answers


# --- the list's definitions on hand-worked data ---------------------------------------------

def frames(decisions, contacts=(), referrals=(), scores=()):
    ids = sorted({d[0] for d in decisions} | {r[1] for r in referrals})
    res = pd.DataFrame({"resident_id": ids, "name": ids, "phone": "1", "community": "c"})
    dec = pd.DataFrame(decisions, columns=["resident_id", "assessed_on", "tier", "rule", "urgent", "needs_review",
                                           "service_cell", "next_contact_due"])
    dec["assessed_on"] = pd.to_datetime(dec["assessed_on"])
    dec["next_contact_due"] = pd.to_datetime(dec["next_contact_due"])
    dec["decided_at"] = pd.to_datetime(dec["assessed_on"], utc=True)
    con = pd.DataFrame(list(contacts), columns=["contact_id", "resident_id", "referral_id", "contact_on", "status"])
    con["contact_on"] = pd.to_datetime(con["contact_on"])
    refs = pd.DataFrame(list(referrals), columns=["referral_id", "resident_id", "referred_on", "ended_on"])
    sc = pd.DataFrame(list(scores), columns=["resident_id", "assessed_on", "score"])
    return FollowUpData(res, dec, refs, con, sc)


def test_urgent_until_someone_attends_then_the_tier_interval():
    data = frames([("A", "2025-03-03", 3, "self_harm", True, False, "A-clinical", "2025-03-03")],
                  contacts=[("c1", "A", None, "2025-03-04", "missed")])
    on4 = follow_up_list(data, on="2025-03-04").iloc[0]
    assert (on4["urgent"], on4["overdue"], on4["days_overdue"]) == (True, True, 1)  # a missed contact does not count
    data = frames([("A", "2025-03-03", 3, "self_harm", True, False, "A-clinical", "2025-03-03")],
                  contacts=[("c1", "A", None, "2025-03-04", "attended")])
    row = follow_up_list(data, on="2025-03-06").iloc[0]
    # policy next_contact: tier 3 (not urgent) -> 3 days; 2025-03-04 + 3 = 2025-03-07
    assert (row["urgent"], str(row["next_contact_due"].date()), row["overdue"]) == (False, "2025-03-07", False)
    assert follow_up_list(data, on="2025-03-07").iloc[0]["due_today"]
    assert follow_up_list(data, on="2025-03-10").iloc[0]["days_overdue"] == 3


def test_who_is_on_the_list():
    data = frames([("T1", "2025-03-01", 1, "universal", False, False, "none-normal", "2026-03-01"),
                   ("T2", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-15"),
                   ("NR", "2025-03-01", 2, "self_harm_unknown", False, True, "none-clinical", "2025-03-15"),
                   ("CL", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-15"),
                   ("FU", "2025-06-01", 2, "screen_positive", False, False, "none-clinical", "2025-06-15")],
                  referrals=[("F1", "CL", "2025-03-01", "2025-05-01")])
    listed = follow_up_list(data, on="2025-05-20")
    # T1: tier 1; CL: its referral ended after the decision; FU: decided after the working day
    assert sorted(listed["resident_id"]) == ["NR", "T2"]
    assert listed.set_index("resident_id").loc["NR", "needs_review"]


def test_not_improving_and_review_come_from_the_open_referral():
    data = frames([("A", "2025-01-06", 2, "screen_positive", False, False, "none-clinical", "2025-01-20")],
                  referrals=[("F1", "A", "2025-01-06", None)],
                  contacts=[("c1", "A", "F1", "2025-02-24", "attended")],
                  scores=[("A", "2025-01-06", 16.0), ("A", "2025-02-24", 12.0), ("A", "2024-12-01", 3.0)])
    row = follow_up_list(data, on="2025-03-03").iloc[0]  # week 8; 12 is neither < 10 nor a 50% fall from 16
    assert (row["week"], row["baseline_phq9"], row["latest_phq9"]) == (8, 16.0, 12.0)
    assert row["not_improving"] and row["psychiatric_review_due"]
    assert str(row["next_contact_due"].date()) == "2025-03-10"  # 2025-02-24 + 14 days (tier 2)


def test_most_pressing_first():
    data = frames([("late", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-05"),
                   ("later", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-02"),
                   ("today", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-10"),
                   ("soon", "2025-03-01", 2, "screen_positive", False, False, "none-clinical", "2025-03-12"),
                   ("urgent", "2025-03-10", 3, "self_harm", True, False, "none-clinical", "2025-03-10")])
    assert follow_up_list(data, on="2025-03-10")["resident_id"].tolist() == ["urgent", "later", "late", "today", "soon"]


def test_follow_up_interval_reads_the_policy():
    d = pd.DataFrame({"tier": [3, 2, 1, 1], "rule": ["severe", "screen_positive", "universal", "universal"],
                      "service_cell": ["A-clinical", "none-clinical", "none-subclinical", "none-normal"]})
    policy = workbench.load_policy("default")
    expected = {3: 3, 2: 14}
    for cond, days in policy.next_contact:  # the declared numbers, not copies of them
        if cond.get("tier") in expected:
            assert days == expected[cond["tier"]]
    assert follow_up_interval(d).tolist() == [3, 14, 90, 365]
