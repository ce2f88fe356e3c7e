"""Analysts on PostgreSQL read the analysis tables through the database's pseudonymised views.

A synthetic community (every analysis table) plus a resident with a name and phone, a contact
with a note and an overridden tier decision with its reason; an analyst and two counsellors, each
connecting as their own database role. The analyst's ``analysis_tables`` (read from the views of
schema ``analyst``) must equal, pseudonym for pseudonym and value for value, what Python's
:func:`pseudonymise` makes of the admin's full tables with the database's key, and what an
admin's export of the same registry holds; plain SQL as the analyst reaches nothing else.
"""

import os

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from workbench.registry import migrate
from workbench.registry.analysis import _pseudonym, pseudonymise
from workbench.registry.export import export_tables
from workbench.registry.store import Registry
from workbench.synth import community
from workbench.tables import TABLES, read

ANA, A, B, ADMIN = "pga_analyst", "pga_couns_a", "pga_couns_b", "admin"  # the synthetic tables: by "admin"
VIEWS = ("communities", "residents", "assessments", "decisions", "referrals", "contacts", "events", "enrolments",
         "surveys", "consents")
DENIED = "permission denied"
NAME, PHONE, NOTE, REASON = "Wang Xiuying", "13912345678", "talked about her son", "lives with her daughter now"


def _as(url: str, user: str) -> str:
    return sa.engine.make_url(url).set(username=user).render_as_string(hide_password=False)


def _sql(url, user, query, params=None):
    libpq = _as(url, user).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def _refused(url, user, query, params=None, match=DENIED):
    with pytest.raises(psycopg.Error, match=match):
        _sql(url, user, query, params)


@pytest.fixture
def built(fresh_postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_EXPORT_KEY_FILE", str(tmp_path / "no-export-key"))  # none: the database's own
    reg = Registry(fresh_postgres_url)
    reg.init(admin=ADMIN)
    tables = community(100, seed=5).tables()
    reg.import_tables(tables, by=ADMIN)
    for name, role in [(ANA, "analyst"), (A, "counsellor"), (B, "counsellor")]:
        reg.add_user(name, role, by=ADMIN)
    reg.import_residents(pd.DataFrame([{
        "resident_id": "PGA-1", "sex": "female", "birth_date": "1950-03-02", "community": tables.residents.community[0],
        "lives_alone": "false", "hypertension": "true", "diabetes": "false", "chd": "false", "stroke": "false",
        "copd": "false", "asthma": "false", "name": NAME, "phone": PHONE}]), by=ADMIN)
    reg.assign_caseload(A, ["PGA-1"], by=ADMIN)
    reg.record("consents", pd.DataFrame({"resident_id": ["PGA-1"], "purpose": ["research"], "given": [True],
                                         "given_on": ["2025-05-01"]}), by=ADMIN)
    answers = {"resident_id": "PGA-1", "assessed_on": "2025-05-02", "submission_id": "pga-sub-1", "language": "zh",
               "mode": "interviewer", **{f"phq9_{n}": 1 for n in range(1, 10)}}
    reg_a = Registry(_as(fresh_postgres_url, A))
    try:
        saved = reg_a.save_screening(pd.DataFrame([answers]), by=A, tier=3, reason=REASON)
        assert saved.written and saved.decision["override_reason"].iloc[0] == REASON
        reg_a.record("contacts", pd.DataFrame({"contact_id": ["PGA-C1"], "resident_id": ["PGA-1"],
                                               "contact_on": ["2025-05-03"], "kind": ["phone"],
                                               "status": ["attended"], "note": [NOTE]}), by=A)
    finally:
        reg_a.engine.dispose()
    yield fresh_postgres_url, reg
    reg.engine.dispose()


def _database_key(url) -> bytes:
    return bytes(_sql(url, "postgres", "SELECT key FROM workbench_private.pseudonym_key")[0][0])


def _sorted(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    key = list(TABLES[name].key)
    return frame.sort_values(key, ignore_index=True, kind="stable")


def _assert_same(got, expected, *, skip=None):
    """Every table equal, row order aside; ``skip``: {table: columns} not compared."""
    for name in TABLES:
        left, right = _sorted(got[name], name), _sorted(expected[name], name)
        drop = list((skip or {}).get(name, ()))
        pd.testing.assert_frame_equal(left.drop(columns=drop), right.drop(columns=drop), check_exact=False,
                                      rtol=1e-12, obj=name)


def test_an_analyst_connected_as_themselves_reads_the_pseudonymised_tables(built, tmp_path):
    url, reg = built
    analyst = Registry(_as(url, ANA))
    try:
        got = analyst.analysis_tables(as_user=ANA)
    finally:
        analyst.engine.dispose()
    got.validate()
    assert got.attrs["pseudonymised"] and got.attrs["read_by"] == ANA
    full = reg.analysis_tables(as_user=ADMIN, pseudonymised=False)
    assert {n: len(f) for n, f in got.items()} == {n: len(f) for n, f in full.items()}
    # exactly what Python's pseudonymisation makes of the full tables with the database's key
    _assert_same(got, pseudonymise(full, _database_key(url)))
    assert got.residents["resident_id"].str.fullmatch("P[0-9a-f]{16}").all()
    assert set(got.decisions["decided_by"]) == {_pseudonym("U", "staff", _database_key(url), n) for n in (ADMIN, A)}
    assert got.decisions["override_reason"].isna().all()
    # and what an admin's export of the same registry holds (the residents' quasi-identifiers
    # left aside: exports may coarsen small groups)
    folder = export_tables(reg, tmp_path / "export", as_user=ADMIN, formats=("parquet",))
    _assert_same(got, read(folder), skip={"residents": ("sex", "birth_date", "community")})
    # the analyst's read is audited under their own name (their own database role appended it)
    owner = Registry(url)
    try:
        with owner.engine.connect() as conn:
            reads = conn.execute(sa.text("SELECT user_name FROM audit_log WHERE action = 'read_analysis_tables'")
                                 ).scalars().all()
        assert reads[0] == ANA
        assert owner.verify_audit().ok
    finally:
        owner.engine.dispose()


def test_an_admin_gets_the_same_pseudonyms_with_or_without_free_text(built, tmp_path):
    url, _ = built
    analyst, admin = Registry(_as(url, ANA)), Registry(_as(url, ADMIN))  # each connected as themselves
    try:
        theirs = analyst.analysis_tables(as_user=ANA)
        mine = admin.analysis_tables(as_user=ADMIN, pseudonymised=True)
        # the admin's free-text export: the same pseudonyms, the reason kept
        folder = export_tables(admin, tmp_path / "free", as_user=ADMIN, formats=("parquet",),
                               include_free_text=True)
    finally:
        analyst.engine.dispose()
        admin.engine.dispose()
    _assert_same(mine, theirs)
    exported = read(folder)
    _assert_same(exported, theirs, skip={"residents": ("sex", "birth_date", "community"),
                                         "decisions": ("override_reason",)})
    assert exported.decisions["override_reason"].dropna().tolist() == [REASON]
    assert not (tmp_path / "no-export-key").exists()  # PostgreSQL pseudonymises with the database's key


def test_plain_sql_as_the_analyst_reaches_the_views_only(built):
    url, _ = built
    for table in ("residents", "assessments", "tier_assignments", "contacts", "referrals", "events", "enrolments",
                  "surveys", "consents", "communities", "caseloads", "workbench_private.pseudonym_key"):
        _refused(url, ANA, f"SELECT * FROM {table}")
    # the function holding the key is the admins': an analyst calling it on guessed ids would
    # undo the pseudonyms (the admin may; the counsellors may not either)
    _refused(url, ANA, "SELECT workbench_private.pseudonym('resident_id', 'PGA-1')")
    _refused(url, A, "SELECT workbench_private.pseudonym('resident_id', 'PGA-1')")
    key = _database_key(url)
    assert _sql(url, ADMIN, "SELECT workbench_private.pseudonym('resident_id', 'PGA-1')") == [
        (_pseudonym("P", None, key, "PGA-1"),)]
    _refused(url, ADMIN, "SELECT workbench_private.pseudonym('name', 'PGA-1')", match="not a kind of id: name")
    # every view, every value: no name, phone, note, reason, id or staff name
    secrets = {NAME, PHONE, NOTE, REASON, "PGA-1", "PGA-C1", "pga-sub-1", "1950-03-02", A, ADMIN}
    seen = set()
    for view in VIEWS:
        rows = _sql(url, ANA, f"SELECT * FROM analyst.{view}")
        assert rows, view
        seen |= {str(v) for row in rows for v in row}
    assert not secrets & seen
    columns = {c for (c,) in _sql(url, ANA, "SELECT column_name FROM information_schema.columns "
                                            "WHERE table_schema = 'analyst'")}
    assert not {"name", "phone", "id_number", "note", "content_hash", "entered_by"} & columns
    assert _sql(url, ANA, "SELECT count(*) FROM analyst.decisions WHERE override_reason IS NOT NULL") == [(0,)]
    births = {d for (d,) in _sql(url, ANA, "SELECT DISTINCT to_char(birth_date, 'MM-DD') FROM analyst.residents")}
    assert births == {"07-01"}


def test_the_analyst_reads_every_view_and_a_counsellor_none(built):
    url, _ = built
    for view in VIEWS:
        count = _sql(url, "postgres", f"SELECT count(*) FROM analyst.{view}")
        assert count[0][0] > 0 and _sql(url, ANA, f"SELECT count(*) FROM analyst.{view}") == count, view
        for user in (A, B):  # neither the schema nor the view is theirs to read
            _refused(url, user, f"SELECT * FROM analyst.{view}", match="permission denied for schema analyst")
            assert _sql(url, "postgres", "SELECT has_table_privilege(%s, %s, 'SELECT')", [user, f"analyst.{view}"]
                        ) == [(False,)]


def test_the_views_do_not_give_away_the_order_rows_were_written_in(built):
    """A table's physical order is the order its rows were written in (residents R0000001,
    R0000002 ...): read in that order, pseudonyms would be re-identified by their rank. The views
    give rows ordered by the keyed pseudonym instead."""
    url, _ = built
    written = [r for (r,) in _sql(url, "postgres", "SELECT resident_id FROM residents")]  # physical order
    assert written[:3] == ["R0000001", "R0000002", "R0000003"]  # the synthetic ids, in the order written
    key = _database_key(url)
    seen = [r for (r,) in _sql(url, ANA, "SELECT resident_id FROM analyst.residents")]
    assert seen == sorted(seen)
    assert seen != [_pseudonym("P", None, key, r) for r in written]
    for view in VIEWS[1:]:  # every other view: ordered by its own pseudonymised id
        ids = [row[0] for row in _sql(url, ANA, f"SELECT * FROM analyst.{view}")]
        assert ids == sorted(ids), view


def test_migration_0005_keeps_the_pseudonyms_of_earlier_exports(fresh_postgres_url, tmp_path, monkeypatch):
    """A registry exported before 0005 (pseudonyms from the export key file): 0005, run by the
    owner, loads that key into the database, so the views give the pseudonyms the exports had."""
    key_file = tmp_path / "export.key"
    monkeypatch.setenv("WORKBENCH_EXPORT_KEY_FILE", str(key_file))
    engine = sa.create_engine(fresh_postgres_url)
    try:
        migrate.upgrade(engine, "0004")  # no key file yet: the database made its own key
        key_file.write_text(os.urandom(32).hex())
        key_file.chmod(0o600)
        file_key = bytes.fromhex(key_file.read_text())
        assert _database_key(fresh_postgres_url) != file_key
        migrate.upgrade(engine, "0005")
        assert _database_key(fresh_postgres_url) == file_key
    finally:
        engine.dispose()
    reg = Registry(fresh_postgres_url)
    try:
        reg.init(admin=ADMIN)
        reg.import_tables(community(100, seed=7).tables(), by=ADMIN)
        before = pseudonymise(reg.analysis_tables(as_user=ADMIN), file_key)  # as exports made before 0005 were
        _assert_same(reg.analysis_tables(as_user=ADMIN, pseudonymised=True), before)
    finally:
        reg.engine.dispose()


def test_migration_0005_refuses_an_unreadable_key_and_changes_nothing(fresh_postgres_url, tmp_path, monkeypatch):
    key_file = tmp_path / "export.key"
    monkeypatch.setenv("WORKBENCH_EXPORT_KEY_FILE", str(key_file))
    engine = sa.create_engine(fresh_postgres_url)
    try:
        migrate.upgrade(engine, "0004")
        key = _database_key(fresh_postgres_url)
        key_file.write_text("not a key\n")
        with pytest.raises(ValueError, match=f"export key file {key_file} does not hold a hexadecimal key"):
            migrate.upgrade(engine, "0005")
        assert migrate.current_revision(engine) == "0004" and _database_key(fresh_postgres_url) == key
    finally:
        engine.dispose()
