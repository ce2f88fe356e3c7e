"""Exports cannot be re-identified without the key (issue 14, "Exports"): rows in random order,
every identifier and staff name pseudonymised with the links kept, free text left out unless an
admin asks for it, small groups of quasi-identifiers counted, spreadsheet formulas neutralised,
and the folder private to its owner."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.analysis import _pseudonym
from workbench.registry.disclosure import small_groups
from workbench.registry.export import _key, export_tables
from workbench.registry.store import Registry
from workbench.synth import community
from workbench.tables import read, write


REASONS = ["Her son Wang Lei says she was hospitalised in May", "Lives above the pharmacy on Xinhua Road",
           "Known to the police since 2019"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A registry of 400 synthetic residents (SQLite), an analyst's export of it and the key."""
    tmp = tmp_path_factory.mktemp("export")
    registry = Registry(f"sqlite:///{tmp / 'registry.sqlite'}")
    registry.init()
    tables = community(400, seed=5).tables()
    registry.import_tables(tables, by="admin")
    registry.add_user("ana", "analyst", by="admin")
    with registry.engine.begin() as conn:  # three decisions changed by a person, with their reasons
        ids = conn.execute(sa.text("SELECT assignment_id FROM tier_assignments ORDER BY assignment_id LIMIT 3")).scalars()
        for i, decision in enumerate(list(ids)):
            conn.execute(sa.text("UPDATE tier_assignments SET overridden = :t, override_reason = :r WHERE assignment_id = :i"),
                         {"t": True, "r": REASONS[i], "i": decision})
    key_file = tmp / "keys" / "export.key"
    old = os.umask(0o022)  # a permissive umask: the export must be private all the same
    try:
        folder = export_tables(registry, tmp / "out", as_user="ana", key_file=key_file)
    finally:
        os.umask(old)
    yield registry, tables, folder, _key(key_file), key_file
    registry.engine.dispose()


def test_rows_are_shuffled_so_sorting_recovers_no_more_than_chance(exported):
    registry, tables, folder, key, _ = exported
    out = read(folder)
    original = tables.residents["resident_id"].tolist()  # the registry's order (as written)
    position = {_pseudonym("P", None, key, rid): i for i, rid in enumerate(original)}
    where = np.array([position[p] for p in out.residents["resident_id"]])
    rho = pd.Series(np.arange(len(where))).corr(pd.Series(where), method="spearman")
    assert abs(rho) < 0.2, rho
    # The attack of the issue: sort the export and line it up with the registry sorted by id.
    for column in out.residents.columns:
        lined_up = out.residents.sort_values(column, kind="stable")["resident_id"].map(position).to_numpy()
        assert (lined_up == np.arange(len(lined_up))).mean() < 0.05, column
    # Not in pseudonym order either (an order the same key always gives back) ...
    for name in ("residents", "assessments", "referrals", "contacts"):
        first = out[name].iloc[:, 0].tolist()
        assert first != sorted(first), name
    # ... and each export has its own order.
    again = read(export_tables(registry, folder.parent / "out-again", as_user="ana", key_file=exported[4]))
    assert again.residents["resident_id"].tolist() != out.residents["resident_id"].tolist()
    assert sorted(again.residents["resident_id"]) == sorted(out.residents["resident_id"])


def test_every_identifier_and_staff_name_is_pseudonymised_and_the_links_hold(exported):
    _, tables, folder, key, _ = exported
    out = read(folder)
    clear = set()
    for name, frame in tables.items():
        for column in ("resident_id", "assessment_id", "referral_id", "contact_id", "decision_id", "event_id",
                       "enrolment_id", "survey_id", "consent_id", "submission_id", "decided_by", "recorded_by"):
            if column in frame.columns:
                clear |= set(frame[column].dropna().astype(str))
    clear |= {"admin", "ana"}
    for name, frame in out.items():
        for column in frame.columns:
            if frame[column].dtype == "string" or frame[column].dtype == object:
                leaked = clear & set(frame[column].dropna().astype(str))
                assert not leaked, (name, column, sorted(leaked)[:3])
    assert out.decisions["decided_by"].dropna().str.match(r"^U[0-9a-f]{16}$").all()
    assert out.decisions["decided_by"].notna().any()
    referrals = set(out.referrals["referral_id"])
    assert out.referrals["referral_id"].str.match(r"^F[0-9a-f]{16}$").all()
    assert set(out.contacts["referral_id"].dropna()) <= referrals and out.contacts["referral_id"].notna().any()
    assert set(out.assessments["referral_id"].dropna()) <= referrals
    assert set(out.scores["assessment_id"]) == set(out.assessments["assessment_id"])
    out.validate()  # every link between the tables still holds
    # One referral's pseudonym is the same wherever it appears.
    rid = tables.contacts["referral_id"].dropna().iloc[0]
    assert _pseudonym("F", "referral", key, str(rid)) in set(out.contacts["referral_id"])
    # Kinds never collide: the same raw value gets a different pseudonym as each kind of id.
    names = {_pseudonym(p, k, key, "1") for p, k in (("A", "assessment"), ("D", "decision"), ("F", "referral"),
                                                     ("C", "contact"), ("V", "event"), ("U", "staff"))}
    assert len(names) == 6 and len({n[1:] for n in names}) == 6


def test_free_text_is_left_out_unless_an_admin_asks_and_that_is_audited(exported, tmp_path):
    registry, tables, folder, _, key_file = exported
    reasons = REASONS
    assert read(folder).decisions["override_reason"].isna().all()
    text = (folder / "decisions.csv").read_text(encoding="utf-8-sig")
    assert not any(r in text for r in reasons)
    with pytest.raises(AccessDenied, match="only an admin may export free text"):
        export_tables(registry, tmp_path / "refused", as_user="ana", key_file=key_file, include_free_text=True)
    assert not (tmp_path / "refused").exists()
    full = read(export_tables(registry, tmp_path / "full", as_user="admin", key_file=key_file, include_free_text=True))
    assert sorted(full.decisions["override_reason"].dropna()) == sorted(reasons)
    assert full.residents["resident_id"].str.match(r"^P[0-9a-f]{16}$").all()  # pseudonymised all the same
    with registry.engine.connect() as conn:
        details = [json.loads(d) if isinstance(d, str) else d for d in conn.execute(sa.text(
            "SELECT details FROM audit_log WHERE action = 'export' AND user_name = 'admin'")).scalars()]
    assert [d["free_text"] for d in details] == [True]


def test_small_groups_counted_on_a_worked_example():
    # community, sex, birth year: (A, female, 1950) x 5, (A, female, 1951) x 2, (A, male, 1950) x 1,
    # (B, male, 1960) x 4: four groups; three below k = 5 with 2 + 1 + 4 = 7 residents; smallest 1.
    people = pd.DataFrame({
        "community": ["A"] * 8 + ["B"] * 4, "sex": ["female"] * 7 + ["male"] * 5,
        "birth_date": pd.to_datetime(["1950-01-02"] * 3 + ["1950-12-31"] * 2 + ["1951-06-01"] * 2
                                     + ["1950-03-03"] + ["1960-05-05"] * 4)})
    r = small_groups(people, k=5)
    assert (r["groups"], r["groups_below_k"], r["rows_in_groups_below_k"], r["smallest_group"]) == (4, 3, 7, 1)
    assert not r["k_anonymous"]
    r = small_groups(people, k=2)
    assert (r["groups_below_k"], r["rows_in_groups_below_k"], r["k_anonymous"]) == (1, 1, False)
    assert small_groups(people.iloc[:5], k=5)["k_anonymous"]
    with pytest.raises(ValueError, match="k"):
        small_groups(people, k=1)


def test_the_export_says_how_identifiable_it_is(exported):
    _, tables, folder, _, _ = exported
    disclosure = json.loads((folder / "disclosure.json").read_text(encoding="utf-8"))
    expected = small_groups(tables.residents, 5)
    assert disclosure == expected and disclosure["k"] == 5
    assert disclosure["rows_in_groups_below_k"] > 0  # 400 residents in a few communities: many are unique


def test_the_export_folder_and_files_are_private(exported):
    folder = exported[2]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) > 10
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(small_tables, tmp_path):
    link = '=HYPERLINK("http://x","click")'
    t = small_tables
    communities = t.communities.copy()
    old = communities["community"].iloc[0]
    communities.loc[0, "community"] = link
    residents = t.residents.copy()
    residents["community"] = residents["community"].where(residents["community"] != old, link).astype("string")
    scores = t.scores.copy()
    derived = [c for c in ("percent",) if c in scores.columns][0]
    scores[derived] = scores[derived].astype("Float64")
    scores.loc[0, derived] = -3.5  # a real negative number stays a number
    referrals = t.referrals.copy()
    referrals["destination"] = referrals["destination"].astype("string")
    referrals.loc[0, "destination"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    referrals.loc[1, "destination"] = "+1-2"
    referrals.loc[2, "destination"] = "-x"
    referrals.loc[3, "destination"] = "\tTab"
    tables = type(t)(attrs=t.attrs, **{**dict(t.items()), "communities": communities, "residents": residents,
                                       "scores": scores, "referrals": referrals})
    folder = write(tables, tmp_path / "out")
    csv = pd.read_csv(folder / "residents.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert (csv["community"] == "'" + link).sum() == (residents["community"] == link).sum() > 0
    assert not csv["community"].str.match(r"^[=+\-@\t\r]").any()
    dest = pd.read_csv(folder / "referrals.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)["destination"]
    assert dest.iloc[:4].tolist() == ["'@SUM(1+1)*cmd|' /C calc'!A0", "'+1-2", "'-x", "'\tTab"]
    s = pd.read_csv(folder / "scores.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert s[derived].iloc[0] == "-3.5"
    back = read(folder)  # Parquet keeps the true values
    assert (back.residents["community"] == link).sum() == (residents["community"] == link).sum()
    assert back.referrals["destination"].iloc[0] == "@SUM(1+1)*cmd|' /C calc'!A0"


def test_the_cli_exports_free_text_only_for_an_admin_and_prints_the_small_groups(tmp_path):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "workbench.cli", "--db", str(db), *args], capture_output=True,
                              text=True)

    db = tmp_path / "registry.sqlite"
    assert run("db", "init").returncode == 0  # maps this login to the registry's admin
    community(150, seed=11).write(tmp_path / "community")
    assert run("import", "tables", str(tmp_path / "community")).returncode == 0
    out = run("export", str(tmp_path / "full"), "--key-file", str(tmp_path / "key"), "--include-free-text")
    assert out.returncode == 0, out.stderr
    assert "disclosure: k = 5, smallest group of community, sex and birth year: 1;" in out.stdout
    assert read(tmp_path / "full").attrs["pseudonymisation"].count("free text included")
    assert stat.S_IMODE((tmp_path / "full").stat().st_mode) == 0o700
    assert run("users", "add", "ana", "--role", "analyst").returncode == 0
    engine = sa.create_engine(f"sqlite:///{db}")  # this login now signs in as the analyst
    with engine.begin() as conn:
        login = conn.execute(sa.text("SELECT login FROM users WHERE name = 'admin'")).scalar()
        conn.execute(sa.text("UPDATE users SET login = NULL"))
        conn.execute(sa.text("UPDATE users SET login = :login WHERE name = 'ana'"), {"login": login})
    engine.dispose()
    refused = run("export", str(tmp_path / "refused"), "--key-file", str(tmp_path / "key"), "--include-free-text")
    assert refused.returncode != 0 and "only an admin may export free text" in refused.stderr
    assert not (tmp_path / "refused").exists()
    plain = run("export", str(tmp_path / "plain"), "--key-file", str(tmp_path / "key"))
    assert plain.returncode == 0 and read(tmp_path / "plain").decisions["override_reason"].isna().all()
