"""The `workbench` command line, as staff and administrators use it."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.sample import load_sample

SAMPLE = load_sample()


def run(*args, db, user="admin", env=None):
    full = [sys.executable, "-m", "workbench.cli", "--db", str(db), *(["--user", user] if user else []), *args]
    return subprocess.run(full, capture_output=True, text=True, env={**os.environ, **(env or {})})


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "registry.sqlite"
    assert run("db", "init", db=path, user=None).returncode == 0
    return path


def sign_in_as(db, name):
    """Map this machine's login (root in the test container) to registry user ``name`` instead of
    the admin, as the owner of a SQLite registry file can: the CLI then acts as ``name``."""
    import pwd

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET login = NULL"))
        conn.execute(sa.text("UPDATE users SET login = :login WHERE name = :name"),
                     {"login": pwd.getpwuid(os.getuid()).pw_name, "name": name})
    engine.dispose()


def _csv(frame, path):
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def test_import_report_names_file_lines_and_exit_status(db, tmp_path):
    residents = _csv(SAMPLE.residents.head(5), tmp_path / "residents.csv")
    ok = run("import", "residents", str(residents), db=db)
    assert ok.returncode == 0 and "5 written" in ok.stdout
    forms = SAMPLE.forms(["gad7"], purpose="screening")
    screenings = forms.head(5)[["resident_id", "assessed_on"] + [f"gad7_{n}" for n in range(1, 8)]].copy()
    screenings["gad7_4"] = screenings["gad7_4"].astype(object)
    screenings.loc[2, "gad7_4"] = "often"
    path = _csv(screenings, tmp_path / "gad7.csv")
    refused = run("import", "assessments", str(path), db=db)
    assert refused.returncode == 1
    assert "line 4, column 'gad7_4': value 'often' is not a number" in refused.stderr
    assert "nothing was written" in refused.stderr
    partial = run("import", "assessments", str(path), "--skip-invalid", db=db)
    assert partial.returncode == 3 and "4 written" in partial.stdout and "often" in partial.stderr
    again = run("import", "assessments", str(path), "--skip-invalid", db=db)
    assert "0 written, 4 already stored unchanged" in again.stdout


def test_excel_files_import_too(db, tmp_path):
    path = tmp_path / "residents.xlsx"
    SAMPLE.residents.head(3).assign(birth_date=lambda d: d["birth_date"].dt.strftime("%Y-%m-%d")).to_excel(path, index=False)
    result = run("import", "residents", str(path), db=db)
    assert result.returncode == 0 and "3 written" in result.stdout, result.stderr


def _who(db):
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_name, action FROM audit_log ORDER BY entry_id")).all()
    engine.dispose()
    return rows


def test_the_cli_acts_as_the_login_running_it_never_as_a_typed_name(db, tmp_path):
    import pwd

    login = pwd.getpwuid(os.getuid()).pw_name  # root in the test container
    residents = _csv(SAMPLE.residents.head(2), tmp_path / "residents.csv")
    # db init made this login the registry's admin: no name needed, and the entry names admin
    plain = run("import", "residents", str(residents), db=db, user=None, env={"WORKBENCH_USER": "", "USER": "li"})
    assert plain.returncode == 0, plain.stderr
    assert _who(db)[-1] == ("admin", "import")
    # a typed name that is someone else is refused, from --user or WORKBENCH_USER, whatever $USER says
    assert run("users", "add", "li", "--role", "counsellor", db=db).returncode == 0
    for user, env, said in ((["mallory", "li"], {}, "--user"), ([None], {"WORKBENCH_USER": "li"}, "WORKBENCH_USER=")):
        for name in user:
            refused = run("users", "add", "mallory", "--role", "admin", db=db, user=name, env={**env, "USER": "li"})
            claimed = name or env["WORKBENCH_USER"]
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert (f"you are signed in to this machine as {login}, which is registry user admin; {said}"
                    f"{' ' if said == '--user' else ''}{claimed} is refused") in refused.stderr
    assert not any(action == "add_user" and who != "admin" for who, action in _who(db))
    # a login that is no registry user is told how to be added
    other = tmp_path / "other.sqlite"
    import sqlalchemy as sa

    assert run("db", "init", db=other, user=None).returncode == 0
    engine = sa.create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET login = 'someone_else', name = name WHERE name = 'admin'"))
    engine.dispose()
    stranger = run("import", "residents", str(residents), db=other, user=None)
    assert stranger.returncode == 1
    assert f"no registry user (an admin adds you with 'workbench users add NAME --role ROLE --login {login}')" \
        in stranger.stderr


def test_users_map_to_logins_and_options_go_after_the_subcommand(db, tmp_path):
    added = run("users", "add", "li", "--role", "counsellor", "--login", "li_os", "--user", "admin", "--db", str(db),
                db=db, user=None)
    assert added.returncode == 0 and "signing in as li_os" in added.stdout, added.stderr
    again = run("users", "add", "li2", "--role", "counsellor", "--login", "li_os", db=db)
    assert again.returncode == 1 and "already belongs" in again.stderr
    residents = _csv(SAMPLE.residents.head(2), tmp_path / "residents.csv")
    elsewhere = tmp_path / "elsewhere.sqlite"
    assert run("db", "init", "--db", str(elsewhere), db=tmp_path / "unused.sqlite", user=None).returncode == 0
    after = run("import", "residents", str(residents), "--user", "admin", "--db", str(elsewhere),
                db=tmp_path / "unused.sqlite", user=None)
    assert after.returncode == 0 and "2 written" in after.stdout, after.stderr
    assert not (tmp_path / "unused.sqlite").exists()  # --db after the subcommand wins over the one before
    wrong = run("import", "residents", str(residents), "--user", "li", db=db, user=None)
    assert wrong.returncode == 1 and "--user li is refused" in wrong.stderr


def test_files_the_cli_creates_are_private(tmp_path):
    import stat

    path = tmp_path / "made" / "registry.sqlite"
    assert run("db", "init", db=path, user=None, env={}).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    backup = run("backup", str(tmp_path / "copy.sqlite"), db=path, user=None)
    assert backup.returncode == 0, backup.stderr
    assert stat.S_IMODE((tmp_path / "copy.sqlite").stat().st_mode) & 0o077 == 0


def test_users_audit_and_tampering(db, tmp_path):
    assert run("users", "add", "li", "--role", "counsellor", db=db).returncode == 0
    assert run("users", "add", "li", "--role", "counsellor", db=db).returncode == 1  # exists
    verify = run("audit", "verify", db=db, user=None)
    assert verify.returncode == 0 and "OK" in verify.stdout
    import sqlite3
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE users SET role = 'admin' WHERE name = 'li'")
        conn.execute("UPDATE audit_log SET details = '{\"role\": \"admin\"}' WHERE target_key = 'li'")
    tampered = run("audit", "verify", db=db, user=None)
    assert tampered.returncode == 1 and "FAILED" in tampered.stdout and "edited" in tampered.stdout


def test_postgresql_url_as_written(fresh_postgres_url, tmp_path):
    assert fresh_postgres_url.startswith("postgresql://")
    assert run("db", "init", db=fresh_postgres_url, user=None).returncode == 0
    residents = _csv(SAMPLE.residents.head(3), tmp_path / "residents.csv")
    result = run("import", "residents", str(residents), db=fresh_postgres_url)
    assert result.returncode == 0 and "3 written" in result.stdout, result.stderr


def test_a_data_folder_is_never_overwritten_with_synthetic_data(tmp_path):
    from workbench.sample import load_sample, prepare_sample

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "residents.csv").write_text("resident_id\nR1\n")
    with pytest.raises(FileNotFoundError, match="nothing is generated over existing data"):
        prepare_sample(folder)
    assert (folder / "residents.csv").read_text() == "resident_id\nR1\n"
    # a table absent from a folder (a survey a programme did not run) is read as empty
    sample_copy = tmp_path / "copy"
    prepare_sample(sample_copy)  # a new folder gets the generated sample
    (sample_copy / "surveys.csv").unlink()
    assert load_sample(sample_copy).surveys.empty


def test_whole_tables_import_once_then_export_pseudonymised(db, tmp_path):
    from workbench.synth import community
    from workbench.tables import read

    folder = tmp_path / "community"
    community(150, seed=11).write(folder)
    first = run("import", "tables", str(folder), db=db)
    assert first.returncode == 0, first.stderr
    assert "residents: 150 written" in first.stdout
    again = run("import", "tables", str(folder), db=db)
    assert again.returncode == 0 and "residents: 0 written, 150 already stored unchanged" in again.stdout
    assert run("users", "add", "ana", "--role", "analyst", db=db).returncode == 0
    sign_in_as(db, "ana")
    out = run("export", str(tmp_path / "export"), "--key-file", str(tmp_path / "key"), db=db, user="ana")
    assert out.returncode == 0, out.stderr
    exported = read(tmp_path / "export")
    assert exported.attrs["pseudonymised"] and len(exported.residents) == 150
    assert len(exported.assessments) == len(read(folder).assessments)
    sign_in_as(db, "admin")
    refused = run("import", "tables", str(tmp_path / "export"), db=db)
    assert refused.returncode == 1 and "pseudonymised tables cannot be imported" in refused.stderr


def test_the_quality_report_from_an_export_folder_and_from_the_registry(db, tmp_path):
    from workbench.synth import community

    folder = tmp_path / "community"
    community(300, seed=4).write(folder)
    from_folder = run("report", "quality", "--month", "2025-06", "--out", str(tmp_path / "a.html"), "--data", str(folder),
                      db=db, user=None)
    assert from_folder.returncode == 0, from_folder.stderr
    assert run("import", "tables", str(folder), db=db).returncode == 0
    assert run("users", "add", "ana", "--role", "analyst", db=db).returncode == 0
    sign_in_as(db, "ana")
    from_registry = run("report", "quality", "--month", "2025-06", "--out", str(tmp_path / "b.html"), db=db, user="ana",
                        env={"WORKBENCH_EXPORT_KEY_FILE": str(tmp_path / "key")})
    assert from_registry.returncode == 0, from_registry.stderr
    text = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "default@1.1" in text and "<table" in text  # the policy the data were decided under
    refused = run("report", "quality", "--month", "2025-13", "--out", str(tmp_path / "c.html"), "--data", str(folder),
                  db=db, user=None)
    assert refused.returncode == 1 and not (tmp_path / "c.html").exists()
    nowhere = run("report", "quality", "--month", "2025-06", "--out", str(tmp_path / "d.html"), "--data",
                  str(tmp_path / "nothing"), db=db, user=None)
    assert nowhere.returncode == 1 and "not a folder of analysis tables" in nowhere.stderr
