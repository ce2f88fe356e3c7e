"""The database enforces roles on PostgreSQL (migration 0004, ``workbench.registry.pg_security``).

A small registry (an admin, two counsellors with disjoint caseloads, a social worker, an analyst,
residents with screenings and contacts with notes), then plain SQL as each staff member's own
database role: every refused attempt is asserted precisely (permission denied, a row-security
violation, or zero rows), and the same reads through ``Registry`` connected as that role.
"""

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.store import Registry
from workbench.sample import load_sample
import sample_files

SAMPLE = load_sample()
A, B, SW, ANA, ADMIN = "rls_couns_a", "rls_couns_b", "rls_social", "rls_analyst", "rls_admin"
DENIED = "permission denied"
RLS = "violates row-level security policy"


def _as(url: str, user: str) -> str:
    return sa.engine.make_url(url).set(username=user).render_as_string(hide_password=False)


def _libpq(url: str, user: str) -> str:
    return _as(url, user).replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def built(fresh_postgres_url):
    reg = Registry(fresh_postgres_url)
    reg.init(admin=ADMIN)
    for name, role in [(A, "counsellor"), (B, "counsellor"), (SW, "social_worker"), (ANA, "analyst")]:
        reg.add_user(name, role, by=ADMIN)
    reg.import_residents(sample_files.residents_file(6), by=ADMIN)
    reg.import_assessments(sample_files.screenings_file(6), by=ADMIN)
    ids = SAMPLE.residents.resident_id.head(6).tolist()
    reg.assign_caseload(A, ids[:2], by=ADMIN)
    reg.assign_caseload(B, ids[2:4], by=ADMIN)
    reg.record("contacts", pd.DataFrame({"contact_id": ["C1", "C2"], "resident_id": [ids[0], ids[2]],
                                         "contact_on": ["2025-06-03"] * 2, "kind": ["phone"] * 2,
                                         "status": ["attended"] * 2, "note": ["talked about her son", "sleeps badly"]}),
               by=ADMIN)
    yield fresh_postgres_url, ids
    reg.engine.dispose()


def _sql(url, user, query, params=None):
    with psycopg.connect(_libpq(url, user), autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def _refused(url, user, query, params=None, match=DENIED):
    with pytest.raises(psycopg.Error, match=match):
        _sql(url, user, query, params)


def test_each_staff_member_is_a_login_role_in_their_groups(built):
    url, _ = built
    rows = dict(_sql(url, ADMIN, "SELECT r.rolname, g.rolname FROM pg_roles r "
                                 "JOIN pg_auth_members m ON m.member = r.oid "
                                 "JOIN pg_roles g ON g.oid = m.roleid WHERE r.rolname LIKE 'rls_%%'"))
    assert rows == {A: "workbench_counsellor", B: "workbench_counsellor", SW: "workbench_social_worker",
                    ANA: "workbench_analyst", ADMIN: "workbench_admin"}
    assert _sql(url, A, "SELECT rolsuper, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = %s", [A]) == [
        (False, False, False)]


def test_an_admin_connected_as_themselves_adds_staff_who_can_then_connect(built):
    url, _ = built
    assert _sql(url, ADMIN, "SELECT rolcreaterole FROM pg_roles WHERE rolname = %s", [ADMIN]) == [(False,)]
    reg = Registry(_as(url, ADMIN))
    try:
        reg.add_user("rls_doctor", "doctor", by=ADMIN)
    finally:
        reg.engine.dispose()
    assert _sql(url, "rls_doctor", "SELECT current_user, pg_has_role('workbench_doctor', 'MEMBER')") == [
        ("rls_doctor", True)]
    # the function making login roles is the admins' only, and only for registry users
    _refused(url, A, "SELECT workbench_private.create_login('rls_mallory', 'admin')")
    _refused(url, ADMIN, "SELECT workbench_private.create_login('rls_mallory', 'admin')",
             match="no registry user rls_mallory with role admin")
    _refused(url, ADMIN, "CREATE ROLE rls_mallory LOGIN")


def test_a_counsellor_reads_only_their_caseload(built):
    url, ids = built
    seen = {r for (r,) in _sql(url, A, "SELECT DISTINCT resident_id FROM assessments")}
    assert seen == set(ids[:2])
    # guessing B's residents' ids: zero rows, in every table of resident data
    for table in ("assessments", "tier_assignments", "contacts"):
        assert _sql(url, A, f"SELECT * FROM {table} WHERE resident_id = ANY(%s)", [ids[2:4]]) == []
    assert _sql(url, A, "SELECT note FROM contacts") == [("talked about her son",)]
    # the basic record of every resident (what Registry.residents shows every staff role)
    assert _sql(url, A, "SELECT count(*) FROM residents") == [(6,)]
    # nobody on staff changes or deletes stored resident data
    _refused(url, A, "UPDATE assessments SET score = 0 WHERE resident_id = %s", [ids[2]])
    _refused(url, A, "UPDATE assessments SET score = 0 WHERE resident_id = %s", [ids[0]])
    _refused(url, A, "DELETE FROM assessments WHERE resident_id = %s", [ids[2]])
    _refused(url, A, "DELETE FROM residents WHERE resident_id = %s", [ids[2]])
    # rows are written under one's own name only
    _refused(url, A, "INSERT INTO contacts (contact_id, resident_id, contact_on, kind, status, recorded_by, "
                     "recorded_at) "
                     "VALUES ('C9', %s, '2025-06-04', 'phone', 'attended', %s, now())", [ids[0], B], match=RLS)


def test_no_one_opens_a_caseload_or_an_approval_for_themselves(built):
    url, ids = built
    _refused(url, A, "INSERT INTO caseloads VALUES (%s, %s, %s, now())", [A, ids[2], A], match=RLS)
    _refused(url, A, "INSERT INTO caseloads VALUES (%s, %s, %s, now())", [A, ids[2], B], match=RLS)
    _refused(url, A, "INSERT INTO access_approvals (user_name, resident_id, reason, approved_by, approved_at, "
                     "expires_at) "
                     "VALUES (%s, %s, 'me', %s, now(), now() + interval '1 hour')", [A, ids[2], A],
             match="second_person|" + RLS)
    # a second counsellor may approve, but not for longer than 72 hours nor backdated
    _refused(url, B, "INSERT INTO access_approvals (user_name, resident_id, reason, approved_by, approved_at, "
                     "expires_at) "
                     "VALUES (%s, %s, 'cover', %s, now(), now() + interval '73 hours')", [A, ids[2], B], match=RLS)
    _refused(url, B, "INSERT INTO access_approvals (user_name, resident_id, reason, approved_by, approved_at, "
                     "expires_at) "
                     "VALUES (%s, %s, 'cover', %s, now() + interval '10 days', now() + interval '11 days')",
             [A, ids[2], B], match=RLS)
    # nor a social worker (approvers are counsellors)
    _refused(url, SW, "INSERT INTO access_approvals (user_name, resident_id, reason, approved_by, approved_at, "
                      "expires_at) VALUES (%s, %s, 'x', %s, now(), now() + interval '1 hour')", [A, ids[2], SW])
    # approvals and caseload lines are never changed by staff
    _refused(url, B, "UPDATE access_approvals SET expires_at = now() + interval '1 year'")
    _refused(url, A, "DELETE FROM caseloads")


def test_an_approval_opens_a_resident_until_it_expires(built):
    url, ids = built
    query = "SELECT answers FROM assessments WHERE resident_id = %s"
    assert _sql(url, A, query, [ids[2]]) == []
    reg_b = Registry(_as(url, B))
    reg_b.approve_access(A, ids[2], by=B, reason="covering for B on leave")
    reg_b.engine.dispose()
    assert len(_sql(url, A, query, [ids[2]])) == 2  # PHQ-9 and GAD-7
    # the approval expires: nothing again (expired here by the owner, as time would)
    _sql(url, "postgres", "UPDATE access_approvals SET expires_at = now() - interval '1 second'")
    assert _sql(url, A, query, [ids[2]]) == []


def test_the_audit_log_is_append_only_for_staff(built):
    url, _ = built
    for user in (A, ADMIN):
        _refused(url, user, "DELETE FROM audit_log")
        _refused(url, user, "UPDATE audit_log SET details = NULL")
        _refused(url, user, "TRUNCATE audit_log")
    _refused(url, A, "SELECT details FROM audit_log")
    assert _sql(url, A, "SELECT count(entry_hash) FROM audit_log")[0][0] > 0


def test_a_social_worker_sees_the_basic_record_only(built):
    url, _ = built
    assert len(_sql(url, SW, "SELECT resident_id, name, phone, sex, birth_date, community FROM residents")) == 6
    assert len(_sql(url, SW, "SELECT resident_id, tier, next_contact_due FROM tier_assignments")) == 6
    for query in ("SELECT id_number FROM residents", "SELECT lives_alone FROM residents",
                  "SELECT answers FROM assessments",
                  "SELECT score FROM assessments", "SELECT note FROM contacts", "SELECT override_reason FROM "
                  "tier_assignments", "SELECT * FROM caseloads"):
        _refused(url, SW, query)
    # the same through the registry connected as the social worker: the list, never answers
    reg = Registry(_as(url, SW))
    try:
        listed = reg.residents(as_user=SW)
        assert len(listed) == 6 and listed["tier"].notna().all()
        with pytest.raises(AccessDenied):
            reg.assessments(as_user=SW)
        with pytest.raises(sa.exc.ProgrammingError, match=DENIED):
            reg.residents(as_user=ADMIN, health=True)  # a claimed admin: the database refuses the health columns
    finally:
        reg.engine.dispose()


def test_an_analyst_reads_pseudonymised_views_only(built):
    url, ids = built
    for table in ("residents", "assessments", "tier_assignments", "contacts", "referrals", "caseloads", "audit_log",
                  "users", "workbench_private.pseudonym_key"):
        _refused(url, ANA, f"SELECT * FROM {table}")
    with psycopg.connect(_libpq(url, ANA)) as conn:
        people = conn.execute("SELECT * FROM analyst.residents")
        columns = [c.name for c in people.description]
        rows = people.fetchall()
        answers = conn.execute("SELECT resident_id, instrument, answers FROM analyst.assessments").fetchall()
        contacts = conn.execute("SELECT * FROM analyst.contacts")
        contact_columns = [c.name for c in contacts.description]
        contact_rows = contacts.fetchall()
    assert len(rows) == 6 and len(answers) == 12
    assert "birth_date" in columns and not {"name", "phone", "id_number"} & set(columns)
    assert "note" not in contact_columns and not {"C1", "C2"} & {r[contact_columns.index("contact_id")]
                                                                  for r in contact_rows}
    pseudonyms = {r[0] for r in rows}
    assert len(pseudonyms) == 6 and not pseudonyms & set(ids)
    assert {r[0] for r in answers} == pseudonyms  # the same pseudonym across views: tables join
    births = {str(d)[:10] for d in SAMPLE.residents.head(6)["birth_date"]}
    assert not {str(v) for row in rows for v in row} & (births | set(ids))
    assert sorted(str(r[columns.index("birth_date")]) for r in rows) == sorted(f"{b[:4]}-07-01" for b in births)
    # keyed: a plain hash of an id is not the pseudonym
    plain = _sql(url, "postgres", "SELECT encode(workbench_private.digest(%s, 'sha256'), 'hex')", [ids[0]])[0][0]
    assert plain not in pseudonyms
    # counsellors and social workers do not read the analysts' views
    _refused(url, A, "SELECT * FROM analyst.assessments")
    _refused(url, SW, "SELECT * FROM analyst.residents")


def test_the_registry_connected_as_a_counsellor_behaves_the_same(built):
    url, ids = built
    reg_a = Registry(_as(url, A))
    try:
        assert set(reg_a.assessments(as_user=A)["resident_id"]) == set(ids[:2])
        # claiming to be someone else in Python does not get past the database: the read is
        # filtered to A's caseload and its audit entry, under another name, is refused
        with pytest.raises(sa.exc.ProgrammingError, match=RLS + ' for table "audit_log"'):
            reg_a.assessments(as_user=ADMIN)
        with pytest.raises(AccessDenied):
            reg_a.assessments(as_user=A, resident_ids=[ids[2]])
        follow = reg_a.follow_up_data(as_user=A)
        assert set(follow.residents["resident_id"]) == set(ids[:2])
        assert set(follow.contacts["note"]) == {"talked about her son"}
        with pytest.raises(sa.exc.ProgrammingError, match=DENIED):
            reg_a.add_user("mallory", "admin", by=ADMIN)  # a claimed admin: refused by the database
    finally:
        reg_a.engine.dispose()


def test_migration_is_idempotent_and_sqlite_untouched(built, tmp_path):
    from workbench.registry import pg_security

    url, ids = built
    engine = sa.create_engine(_as(url, "postgres"))
    with engine.begin() as conn:
        pg_security.install(conn)  # again: nothing breaks, nothing opens
    engine.dispose()
    assert {r for (r,) in _sql(url, A, "SELECT DISTINCT resident_id FROM assessments")} == set(ids[:2])
    lite = Registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    lite.init()
    from workbench.registry import migrate

    assert lite.upgrade() == migrate.head_revision()
    lite.engine.dispose()


def test_the_registry_connected_as_a_counsellor_still_does_their_work(built):
    url, ids = built
    row = {"resident_id": "RLS-NEW", "sex": "female", "birth_date": "1950-03-02", "community": "urban-01",
           "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
           "copd": "false", "asthma": "false", "name": "Test", "phone": "139"}
    answers = {"resident_id": "RLS-NEW", "assessed_on": "2025-05-02", "submission_id": "rls-1", "language": "zh",
               "mode": "interviewer", **{f"phq9_{n}": 2 for n in range(1, 10)}}
    reg_a = Registry(_as(url, A))
    try:
        reg_a.import_residents(pd.DataFrame([row]), by=A)
        saved = reg_a.save_screening(pd.DataFrame([answers]), by=A, add_to_caseload=True)  # their first record
        assert saved.written and saved.decision["resident_id"].tolist() == ["RLS-NEW"]
        assert reg_a.record("contacts", pd.DataFrame({"contact_id": ["C3"], "resident_id": ["RLS-NEW"],
                                                      "contact_on": ["2025-05-03"], "kind": ["phone"],
                                                      "status": ["attended"]}), by=A) == 1
        assert set(reg_a.assessments(as_user=A)["resident_id"]) == {*ids[:2], "RLS-NEW"}
        assert len(reg_a.residents(as_user=A)) == 7
    finally:
        reg_a.engine.dispose()
    # B screens a resident of A's caseload (a screening station serves everyone) and sees what B
    # entered, never A's records of that resident
    reg_b = Registry(_as(url, B))
    try:
        again = dict(answers, resident_id=ids[0], submission_id="rls-2", assessed_on="2025-07-01")
        assert reg_b.save_screening(pd.DataFrame([again]), by=B).written
        assert _sql(url, B, "SELECT assessed_on::text FROM assessments WHERE resident_id = %s", [ids[0]]) == [
            ("2025-07-01",)]
        assert _sql(url, B, "SELECT * FROM contacts WHERE resident_id = %s", [ids[0]]) == []
    finally:
        reg_b.engine.dispose()
