"""Who may do what, tried as a hostile insider would (issue 14): dual authorisation of caseloads,
time-limited approvals, audited reads of resident records, private registry files, the serving
token kept off the command line, and the apps acting as the signed-in person only."""

import datetime as dt
import json
import os
import stat

import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry import audit, schema
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


def test_residents_for_a_city_district_take_a_few_queries_not_one_per_resident(tmp_path):
    # Speed is measured by the benchmarks; here the shape of the work: the number of SQL
    # statements does not grow with the number of residents (no query per row).
    counts = {}
    for n in (30, 3000):
        reg = Registry(str(tmp_path / f"r{n}.sqlite"))
        reg.init()
        reg.import_residents(pd.DataFrame([resident(f"R{k:05d}") for k in range(n)]), by="admin")
        reg.residents(as_user="admin")  # warm
        statements = []
        listener = lambda *args, **kw: statements.append(args[2])  # noqa: E731  (the statement text)
        sa.event.listen(reg.engine, "before_cursor_execute", listener)
        try:
            frame = reg.residents(as_user="admin", health=True)
        finally:
            sa.event.remove(reg.engine, "before_cursor_execute", listener)
        reg.engine.dispose()
        assert len(frame) == n
        counts[n] = len(statements)
    assert counts[3000] == counts[30] and counts[3000] <= 20, counts


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


# --- the users' lifecycle: staff leave, change jobs, get a new login -----------------------

def entries(reg, since=0):
    with reg.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT entry_id, user_name, action, target_table, target_key, content_hash, "
                                    "details FROM audit_log WHERE entry_id > :since ORDER BY entry_id"),
                            {"since": since}).all()
    return [(r.user_name, r.action, r.target_table, r.target_key, r.details and json.loads(r.details))
             for r in rows], rows


def last_entry(reg):
    with reg.engine.connect() as conn:
        return conn.execute(sa.text("SELECT MAX(entry_id) FROM audit_log")).scalar()


def test_a_deactivated_counsellor_can_do_nothing_until_reactivated(registry):
    registry.assign_caseload("li", ["R1"], by="wang")
    assert registry.save_screening(session("R1", submission="s-1"), by="li").written
    stored = {t: count(registry, t) for t in ("residents", "assessments", "tier_assignments", "caseloads")}
    since = last_entry(registry)
    assert registry.set_user_active("li", False, by="admin") is True
    gone = "'li' is no longer active"
    for attempt in (lambda: registry.assessments(as_user="li"), lambda: registry.residents(as_user="li"),
                    lambda: registry.follow_up_data(as_user="li"),
                    lambda: registry.save_screening(session("R1", submission="s-2", on="2025-06-02"), by="li"),
                    lambda: registry.import_residents(pd.DataFrame([resident("R3")]), by="li"),
                    lambda: registry.assign_caseload("wang", ["R2"], by="li"),
                    lambda: registry.approve_access("wang", "R1", by="li", reason="covering"),
                    lambda: registry.analysis_tables(as_user="li", pseudonymised=True)):
        with pytest.raises(AccessDenied, match=gone):
            attempt()
    # nothing they tried was written; what they did before stays, under their name
    assert {t: count(registry, t) for t in stored} == stored == {"residents": 2, "assessments": 2,
                                                                 "tier_assignments": 1, "caseloads": 1}
    assert set(registry.assessments(as_user="admin")["entered_by"]) == {"li"}
    users = registry.users().set_index("name")
    assert not users.loc["li", "active"] and users.loc["wang", "active"]
    # one audit entry: who did it, what changed, the row's hash after it
    logged, rows = entries(registry, since)
    assert logged[0] == ("admin", "update", "users", "li", {"active": {"from": True, "to": False}})
    assert [e[:3] for e in logged[1:]] == [("admin", "read_answers", "assessments")]  # li's attempts: none
    with registry.engine.connect() as conn:
        after = conn.execute(sa.select(schema.users).where(schema.users.c.name == "li")).mappings().one()
    assert rows[0].content_hash == audit.row_hash("users", after)
    # deactivating again changes nothing and logs nothing
    assert registry.set_user_active("li", False, by="admin") is False
    assert last_entry(registry) == rows[-1].entry_id and rows[0].entry_id == since + 1
    # reactivated: li works again, on the same caseload
    assert registry.set_user_active("li", True, by="admin") is True
    assert set(registry.assessments(as_user="li")["resident_id"]) == {"R1"}
    assert registry.save_screening(session("R1", submission="s-2", on="2025-06-02"), by="li").written
    logged, _ = entries(registry, since)
    assert [(who, what, key, details) for who, what, table, key, details in logged
            if table == "users"] == [("admin", "update", "li", {"active": {"from": True, "to": False}}),
                                     ("admin", "update", "li", {"active": {"from": False, "to": True}})]
    report = registry.verify_audit()
    assert report.ok, report.problems


def test_only_an_admin_changes_users_and_never_leaves_the_registry_without_one(registry):
    registry.add_user("ana", "analyst", by="admin")
    before = (last_entry(registry), registry.users().to_dict("records"))
    for who, role in (("li", "counsellor"), ("ana", "analyst"), ("sw", "social_worker"), ("dr_zhao", "doctor")):
        with pytest.raises(AccessDenied, match=f"'{who}' is a {role}: only \\['admin'\\] may activate or deactivate"):
            registry.set_user_active("wang", False, by=who)
        with pytest.raises(AccessDenied, match=f"'{who}' is a {role}: only \\['admin'\\] may change users' logins"):
            registry.set_user_login("wang", "wang.os", by=who)
    with pytest.raises(AccessDenied, match="'admin' may not deactivate themself: another admin must, and 'admin' is "
                                           "the last active admin: add another admin first"):
        registry.set_user_active("admin", False, by="admin")
    with pytest.raises(ValueError, match="'mallory' is not a user of this registry"):
        registry.set_user_active("mallory", False, by="admin")
    with pytest.raises(ValueError, match="'mallory' is not a user of this registry"):
        registry.set_user_login("mallory", "m.os", by="admin")
    with pytest.raises(ValueError, match="'active' parameter of set_user_active must be True or False. Got 'no'"):
        registry.set_user_active("li", "no", by="admin")
    with pytest.raises(AccessDenied, match="'nobody' is not a user of this registry"):
        registry.set_user_active("li", False, by="nobody")
    assert (last_entry(registry), registry.users().to_dict("records")) == before  # nothing written
    # a second admin: still nobody deactivates themself, but one admin deactivates the other
    registry.add_user("boss", "admin", by="admin")
    with pytest.raises(AccessDenied, match="'boss' may not deactivate themself: another admin must$"):
        registry.set_user_active("boss", False, by="boss")
    assert registry.set_user_active("admin", False, by="boss")
    with pytest.raises(AccessDenied, match="'admin' is no longer active"):  # and can no longer change anyone
        registry.set_user_active("boss", False, by="admin")
    assert registry.set_user_active("admin", True, by="boss")
    assert registry.verify_audit().ok


def test_a_login_changes_hands_only_when_no_one_else_signs_in_with_it(registry):
    registry.set_user_login("li", "li.os", by="admin")
    assert registry.user_for_login("li.os") == "li" and registry.user_for_login("li") is None
    since = last_entry(registry)
    with pytest.raises(ValueError, match="The login 'li.os' already belongs to registry user 'li'"):
        registry.set_user_login("wang", "li.os", by="admin")
    # 'sw' has no login of their own: the login sw is how they sign in
    with pytest.raises(ValueError, match="The login 'sw' is how registry user 'sw' signs in .*give 'sw' another login"):
        registry.set_user_login("wang", "sw", by="admin")
    with pytest.raises(ValueError, match="'login' parameter of set_user_login must be a non-empty str"):
        registry.set_user_login("wang", "  ", by="admin")
    assert last_entry(registry) == since  # refused: nothing written
    assert registry.set_user_login("li", " li.new ", by="admin") is True  # li got a new login
    assert registry.user_for_login("li.new") == "li" and registry.user_for_login("li.os") is None
    assert registry.set_user_login("li", "li.new", by="admin") is False  # already so: nothing written
    assert registry.set_user_login("wang", "li.os", by="admin")  # the old one is free again
    assert registry.user_for_login("li.os") == "wang"
    logged, _ = entries(registry, since)
    assert logged == [("admin", "update", "users", "li", {"login": {"from": "li.os", "to": "li.new"}}),
                      ("admin", "update", "users", "wang", {"login": {"from": None, "to": "li.os"}})]
    assert registry.verify_audit().ok


def test_a_hand_edit_of_a_users_row_is_named_by_the_audit(registry):
    registry.set_user_active("li", False, by="admin")
    registry.set_user_login("wang", "wang.os", by="admin")
    assert registry.verify_audit().ok
    with registry.engine.begin() as conn:  # li reactivated behind the registry's back
        conn.execute(sa.text("UPDATE users SET active = true WHERE name = 'li'"))
    report = registry.verify_audit()
    assert not report.ok and any(p.startswith("users li: edited") for p in report.problems), report.problems


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "WORKBENCH_USER": ""})


def test_the_command_line_deactivates_reactivates_and_moves_logins(tmp_path):
    from workbench.cli import os_login

    db = str(tmp_path / "registry.sqlite")
    me = os_login()
    assert _cli("db", "init", "--db", db).returncode == 0  # this login: the admin
    assert _cli("users", "add", "li", "--role", "counsellor", "--login", "li.os", "--db", db).returncode == 0
    done = _cli("users", "deactivate", "li", "--db", db)
    assert done.returncode == 0 and done.stdout.strip() == "li is now inactive"
    again = _cli("--db", db, "users", "deactivate", "li")
    assert again.returncode == 0 and again.stdout.strip() == "li was already inactive: nothing changed"
    listed = _cli("users", "list", "--db", db)
    assert listed.returncode == 0
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["name", "role", "active", "login", "display_name"]
    assert rows[1:] == [["admin", "admin", "True", me], ["li", "counsellor", "False", "li.os"]]
    taken = _cli("users", "set-login", "li", me, "--db", db)
    assert taken.returncode == 1
    assert taken.stderr.strip() == f"workbench: The login {me!r} already belongs to registry user 'admin'."
    unknown = _cli("users", "activate", "mallory", "--db", db)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "workbench: 'mallory' is not a user of this registry."
    assert _cli("users", "set-login", "admin", "admin.elsewhere", "--db", db).returncode == 0
    # this login now signs in as nobody; the admin (elsewhere) gives it to li
    registry = Registry(db)
    registry.set_user_login("li", me, by="admin")
    pd.DataFrame([resident("R5")]).to_csv(tmp_path / "residents.csv", index=False)
    for args in (["users", "list"], ["import", "residents", str(tmp_path / "residents.csv")],
                 ["export", str(tmp_path / "export")], ["users", "activate", "li"]):
        refused = _cli(*args, "--db", db)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.strip() == (f"workbench: you are signed in to this machine as {me}, which is registry "
                                          "user li, no longer active (an admin reactivates them with 'workbench "
                                          "users activate li')")
    registry.set_user_active("li", True, by="admin")
    registry.engine.dispose()
    assert _cli("users", "list", "--db", db).returncode == 0  # li works again
    not_admin = _cli("users", "deactivate", "admin", "--db", db)
    assert not_admin.returncode == 1
    assert not_admin.stderr.strip() == "workbench: 'li' is a counsellor: only ['admin'] may activate or deactivate users"
    verified = _cli("audit", "verify", "--db", db)
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout


def test_the_apps_refuse_a_deactivated_user_and_welcome_them_back(tmp_path, monkeypatch):
    from workbench import ui
    from workbench.cli import os_login
    from workbench.server import acting_user

    db = str(tmp_path / "registry.sqlite")
    registry = Registry(db)
    registry.init(login=os_login())
    registry.add_user("li", "counsellor", by="admin", login="li.hub")
    registry.add_user("wang", "counsellor", by="admin")
    registry.set_user_active("li", False, by="admin")
    registry.set_user_active("wang", False, by="admin")

    def gate(lang="en"):
        return ui.StaffGate(registry, roles={"counsellor"}, lang=lang, start=lambda u, lang: ui.FieldMessage())

    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "li.hub")  # JupyterHub: the hub's login, mapped to li
    for lang, text in (("en", "li is no longer an active staff member of the registry."),
                       ("zh", "li 已不是登记库的在职工作人员。")):
        refused = gate(lang)
        assert refused.user is None and refused.app is None and refused.message.text == text
    monkeypatch.delenv("JUPYTERHUB_USER")
    monkeypatch.setenv("WORKBENCH_USER", "wang")  # the one-person server's user
    assert gate().user is None and gate().message.text == "wang is no longer an active staff member of the registry."
    with pytest.raises(SystemExit, match="registry user wang is no longer active .*'workbench users activate wang'"):
        acting_user(db, named="wang")
    registry.set_user_active("li", True, by="admin")
    registry.set_user_active("wang", True, by="admin")
    assert gate().user == "wang" and acting_user(db, named="wang") == ("wang", "WORKBENCH_USER")
    monkeypatch.setenv("JUPYTERHUB_USER", "li.hub")
    assert gate().user == "li"
    registry.engine.dispose()


def test_on_postgresql_a_deactivated_users_login_role_cannot_connect(fresh_postgres_url):
    import psycopg

    def libpq(user):
        return sa.engine.make_url(fresh_postgres_url).set(username=user).render_as_string(
            hide_password=False).replace("postgresql+psycopg://", "postgresql://")

    def can_login(user):
        with psycopg.connect(libpq("life_admin"), autocommit=True) as conn:
            return conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", [user]).fetchone()[0]

    owner = Registry(fresh_postgres_url)
    owner.init(admin="life_admin")
    owner.add_user("life_couns", "counsellor", by="life_admin")
    owner.engine.dispose()
    with psycopg.connect(libpq("life_couns"), autocommit=True) as conn:  # staff other than admins: not at all
        with pytest.raises(psycopg.Error, match="permission denied for function set_active"):
            conn.execute("SELECT workbench_private.set_active('life_admin', false)")
    # the admin, connected as themselves (no CREATEROLE), deactivates the counsellor
    admin = Registry(sa.engine.make_url(fresh_postgres_url).set(username="life_admin")
                     .render_as_string(hide_password=False))
    try:
        assert admin.set_user_active("life_couns", False, by="life_admin")
        assert can_login("life_couns") is False
        with pytest.raises(psycopg.OperationalError, match='role "life_couns" is not permitted to log in'):
            psycopg.connect(libpq("life_couns")).close()
        # the function behind it changes registry users only, and only as their row says
        with psycopg.connect(libpq("life_admin"), autocommit=True) as conn:
            for who, allowed, said in (("life_couns", True, "no registry user life_couns who is active"),
                                       ("postgres", False, "no registry user postgres who is inactive")):
                with pytest.raises(psycopg.Error, match=said):
                    conn.execute("SELECT workbench_private.set_active(%s, %s)", [who, allowed])
        assert admin.set_user_active("life_couns", True, by="life_admin")
        assert can_login("life_couns") is True
        with psycopg.connect(libpq("life_couns"), autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("life_couns",)
        assert admin.verify_audit().ok
    finally:
        admin.engine.dispose()
