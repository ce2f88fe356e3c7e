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


def _csv(frame, path):
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def test_import_report_names_file_lines_and_exit_status(db, tmp_path):
    residents = _csv(SAMPLE.residents.head(5), tmp_path / "residents.csv")
    ok = run("import", "residents", str(residents), db=db)
    assert ok.returncode == 0 and "5 written" in ok.stdout
    screenings = SAMPLE.screenings.head(5)[["resident_id", "assessed_on"] + [f"gad7_{n}" for n in range(1, 8)]].copy()
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


def test_every_write_names_its_user(db, tmp_path):
    residents = _csv(SAMPLE.residents.head(2), tmp_path / "residents.csv")
    result = run("import", "residents", str(residents), db=db, user=None, env={"WORKBENCH_USER": ""})
    assert result.returncode != 0 and "--user" in result.stderr
    by_env = run("import", "residents", str(residents), db=db, user=None, env={"WORKBENCH_USER": "admin"})
    assert by_env.returncode == 0
    stranger = run("users", "add", "li", "--role", "counsellor", db=db, user="li")
    assert stranger.returncode == 1 and "not a user" in stranger.stderr


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
    with pytest.raises(FileNotFoundError, match="nothing is regenerated"):
        prepare_sample(folder)
    assert (folder / "residents.csv").read_text() == "resident_id\nR1\n"
    # an optional survey table may be absent: it is read as empty
    sample_copy = tmp_path / "copy"
    prepare_sample(sample_copy)  # a new folder gets the generated sample
    (sample_copy / "satisfaction.csv").unlink()
    assert load_sample(sample_copy).satisfaction.empty
