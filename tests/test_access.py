"""Who may do what, tried as a hostile insider would (issue 14): dual authorisation of caseloads,
time-limited approvals, audited reads of resident records, private registry files, the serving
token kept off the command line, and the apps acting as the signed-in person only."""

import datetime as dt
import os
import stat
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.store import APPROVAL_HOURS, Registry


def resident(rid):
    return {"resident_id": rid, "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
            "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
            "copd": "false", "asthma": "false", "name": "Test", "phone": "139"}


def session(rid, *, submission, on="2025-05-02"):
    row = {"resident_id": rid, "assessed_on": on, "submission_id": submission, "language": "zh", "mode": "interviewer"}
    row.update({f"phq9_{n}": v for n, v in enumerate((2, 2, 2, 1, 1, 1, 1, 0, 0), start=1)})
    row.update({f"gad7_{n}": 1 for n in range(1, 8)})
    return pd.DataFrame([row])


def count(reg, table, where=""):
    with reg.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} {where}")).scalar()


@pytest.fixture
def registry(registry_url):
    reg = Registry(registry_url)
    reg.init()
    for name, role in (("li", "counsellor"), ("wang", "counsellor"), ("dr_zhao", "doctor"), ("sw", "social_worker")):
        reg.add_user(name, role, by="admin")
    reg.import_residents(pd.DataFrame([resident("R1"), resident("R2")]), by="admin")
    yield reg
    reg.engine.dispose()


def test_nobody_puts_residents_on_their_own_caseload(registry):
    for who in ("li", "dr_zhao"):
        with pytest.raises(AccessDenied, match="own caseload: an admin or a second counsellor or doctor"):
            registry.assign_caseload(who, ["R1"], by=who)
    assert count(registry, "caseloads") == 0
    with pytest.raises(AccessDenied, match="li"):
        registry.assessments(as_user="li", resident_ids=["R1"])
    registry.assign_caseload("li", ["R1"], by="wang")  # a second counsellor
    registry.assign_caseload("dr_zhao", ["R2"], by="li")  # a counsellor for a doctor
    registry.assign_caseload("wang", ["R2"], by="admin")
    with registry.engine.connect() as conn:
        rows = set(conn.execute(sa.text("SELECT user_name, resident_id, assigned_by FROM caseloads")).all())
    assert rows == {("li", "R1", "wang"), ("dr_zhao", "R2", "li"), ("wang", "R2", "admin")}
    with pytest.raises(AccessDenied, match="social_worker"):
        registry.assign_caseload("sw", ["R1"], by="admin")  # a caseload opens answers: clinicians only
    with pytest.raises(AccessDenied, match="social_worker"):
        registry.assign_caseload("li", ["R2"], by="sw")


def test_a_screening_adds_to_ones_own_caseload_only_when_it_is_the_first_record_and_all_ones_own(registry):
    # R1 was registered by the admin: li may save a screening but not take R1 onto their caseload
    entries = count(registry, "audit_log")
    with pytest.raises(AccessDenied, match="'li' may not add 'R1' to their own caseload.*second person"):
        registry.save_screening(session("R1", submission="s-1"), by="li", add_to_caseload=True)
    assert (count(registry, "assessments"), count(registry, "tier_assignments"), count(registry, "caseloads"),
            count(registry, "audit_log")) == (0, 0, 0, entries)  # refused before anything was written
    assert registry.save_screening(session("R1", submission="s-1"), by="li").written
    assert count(registry, "caseloads") == 0
    # a resident li registered and screens first: nothing to see that li did not enter
    registry.import_residents(pd.DataFrame([resident("R9")]), by="li")
    assert registry.save_screening(session("R9", submission="s-2"), by="li", add_to_caseload=True).written
    assert set(registry.assessments(as_user="li")["resident_id"]) == {"R9"}
    # once someone else has stored something about R9, wang cannot take R9 onto their caseload
    with pytest.raises(AccessDenied, match="'wang' may not add 'R9'"):
        registry.save_screening(session("R9", submission="s-3", on="2025-06-02"), by="wang", add_to_caseload=True)
    assert count(registry, "assessments", "WHERE resident_id = 'R9'") == 2


def test_an_expired_approval_no_longer_opens_answers(registry):
    registry.save_screening(session("R2", submission="s-1"), by="wang")
    registry.approve_access("li", "R2", by="wang", reason="covering for Wang on leave")
    assert set(registry.assessments(as_user="li", resident_ids=["R2"])["resident_id"]) == {"R2"}
    with registry.engine.connect() as conn:
        approved_at, expires_at = conn.execute(sa.text("SELECT approved_at, expires_at FROM access_approvals")).one()
    if isinstance(approved_at, str):  # SQLite returns text through a raw query
        approved_at, expires_at = dt.datetime.fromisoformat(approved_at), dt.datetime.fromisoformat(expires_at)
    assert expires_at - approved_at == dt.timedelta(hours=APPROVAL_HOURS) == dt.timedelta(hours=72)
    with registry.engine.begin() as conn:  # 73 hours later
        conn.execute(sa.text("UPDATE access_approvals SET approved_at = :a, expires_at = :e"),
                     {"a": dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=73),
                      "e": dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)})
    with pytest.raises(AccessDenied, match="not on their caseload"):
        registry.assessments(as_user="li", resident_ids=["R2"])
    assert registry.assessments(as_user="li").empty


def test_reading_resident_records_is_audited(registry):
    before = count(registry, "audit_log")
    assert len(registry.residents(as_user="sw")) == 2
    assert len(registry.residents(as_user="li", health=True)) == 2
    with registry.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_name, action, target_table, details FROM audit_log "
                                    "ORDER BY entry_id")).all()[before:]
    assert [(r.user_name, r.action, r.target_table) for r in rows] == [("sw", "read_residents", "residents"),
                                                                         ("li", "read_residents", "residents")]
    assert '"rows": 2' in rows[0].details and '"health": true' in rows[1].details
    assert "Test" not in rows[0].details and "139" not in rows[0].details  # who, what, how many: not the data
    assert registry.verify_audit().ok


def test_residents_for_a_city_district_is_quick(tmp_path):
    reg = Registry(str(tmp_path / "r.sqlite"))
    reg.init()
    reg.import_residents(pd.DataFrame([resident(f"R{n:05d}") for n in range(3000)]), by="admin")
    reg.residents(as_user="admin")  # warm
    start = time.perf_counter()
    frame = reg.residents(as_user="admin", health=True)
    took = time.perf_counter() - start
    assert len(frame) == 3000 and took < 1.0, took


def test_the_registry_file_and_folder_are_private(tmp_path):
    old = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless the registry sees to it
    try:
        reg = Registry(str(tmp_path / "new" / "deeper" / "registry.sqlite"))
        reg.init()
        reg.import_residents(pd.DataFrame([resident("R1")]), by="admin")
        with reg.engine.connect() as conn:  # keep the -wal and -shm files while looking
            conn.execute(sa.text("SELECT 1")).all()
            folder = tmp_path / "new" / "deeper"
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
            assert set(modes) >= {"registry.sqlite", "registry.sqlite-wal", "registry.sqlite-shm"}
            assert set(modes.values()) == {0o600}, modes
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
        reg.engine.dispose()
        assert os.umask(0o022) == 0o022  # the process's umask is left as it was
    finally:
        os.umask(old)


def test_the_token_is_never_on_the_command_line_and_never_short(tmp_path):
    from workbench.server import jupyter_command, server_environment

    token = "k" * 40
    cmd = jupyter_command(port=8888, token=token)
    assert not any(token in part for part in cmd)
    assert server_environment({}, token=token)["JUPYTER_TOKEN"] == token
    for short in ("a", "x" * 31):
        with pytest.raises(ValueError, match="at least 32 characters.*secrets.token_hex"):
            jupyter_command(port=8888, token=short)


def test_the_one_person_server_acts_as_the_person_who_starts_it(tmp_path):
    from workbench.cli import os_login
    from workbench.server import acting_user

    mine, other = str(tmp_path / "mine.sqlite"), str(tmp_path / "other.sqlite")
    registry = Registry(mine)
    registry.init(login=os_login())
    registry.add_user("li", "counsellor", by="admin")
    registry.engine.dispose()
    assert acting_user(mine) == ("admin", f"mapped to the login {os_login()}")
    assert acting_user(mine, named="li") == ("li", "WORKBENCH_USER")  # their machine, their file
    with pytest.raises(SystemExit, match="WORKBENCH_USER=mallory is not a user of the registry"):
        acting_user(mine, named="mallory")
    unmapped = Registry(other)
    unmapped.init()  # no login mapped to anyone
    unmapped.engine.dispose()
    with pytest.raises(SystemExit, match=f"signed in to this machine as {os_login()}, which is no user"):
        acting_user(other)
    assert acting_user(other, sample=True)[0] == "admin"  # the synthetic sample: its admin
    with pytest.raises(SystemExit, match="cannot be read"):
        acting_user(str(tmp_path / "empty.sqlite"))
