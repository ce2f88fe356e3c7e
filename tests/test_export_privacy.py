"""Exports cannot be re-identified without the key (issue 14, "Exports"): rows in random order,
every identifier and staff name pseudonymised with the links kept, free text left out unless an
admin asks for it, the residents k-anonymous on community, sex and birth year (birth years in
bands, small groups suppressed cell by cell, what was done reported), spreadsheet formulas
neutralised, and the folder private to its owner; a registry refuses such an export."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from workbench.registry.access import AccessDenied
from workbench.registry.analysis import _pseudonym
from workbench.registry.disclosure import anonymise, small_groups
from workbench.registry.export import _key, export_tables
from workbench.registry.store import Registry
from workbench.synth import community
from workbench.tables import Tables, read, write


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
    # a reading measured by a named member of staff (its measurer is a staff name to pseudonymise)
    registry.import_measurements(pd.DataFrame({"resident_id": [tables.residents["resident_id"].iloc[0]],
                                               "measured_on": ["2019-12-31"], "setting": ["home"], "sbp": ["141"],
                                               "dbp": ["87"], "measured_by": ["admin"]}), by="admin")
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
                       "enrolment_id", "survey_id", "consent_id", "submission_id", "decided_by", "recorded_by",
                       "measurement_id", "measured_by"):
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
    # the measurer is the same staff pseudonym as in the decisions (one per user, in every table)
    mine = out.measurements[(out.measurements["sbp"] == 141) & (out.measurements["measured_on"] == "2019-12-31")]
    assert len(mine) == 1 and mine["measured_by"].iloc[0] == _pseudonym("U", "staff", key, "admin")
    assert out.measurements["measurement_id"].str.match(r"^M[0-9a-f]{16}$").all()
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


def test_the_export_says_how_identifiable_it_was_and_is(exported):
    registry, tables, folder, _, _ = exported
    disclosure = json.loads((folder / "disclosure.json").read_text(encoding="utf-8"))
    assert disclosure["before"] == small_groups(tables.residents, 5) and disclosure["k"] == 5
    assert disclosure["before"]["rows_in_groups_below_k"] > 0  # 400 residents in a few communities: many are unique
    out = read(folder)
    assert disclosure["after"] == small_groups(out.residents, 5) and disclosure["k_anonymous"] is True
    assert out.attrs["birth_band_years"] == disclosure["birth_band_years"] and out.attrs["k_anonymity"] == 5
    with registry.engine.connect() as conn:  # the export's audit entry carries the same report
        details = [json.loads(d) if isinstance(d, str) else d for d in conn.execute(sa.text(
            "SELECT details FROM audit_log WHERE action = 'export' AND user_name = 'ana' ORDER BY entry_id")).scalars()]
    assert details[0]["disclosure"] == disclosure


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
    line = [x for x in out.stdout.splitlines() if x.startswith("disclosure:")]
    report = json.loads((tmp_path / "full" / "disclosure.json").read_text(encoding="utf-8"))
    assert line == [f"disclosure: k = 5, birth dates in {report['birth_band_years']}-year band(s); left blank: "
                    f"{report['cells_suppressed']['birth_date']} birth_date, {report['cells_suppressed']['sex']} sex, "
                    f"{report['cells_suppressed']['community']} community ({report['rows_touched']} of 150 resident(s), "
                    f"{'within' if report['within_limit'] else 'OVER'} the 5% limit); smallest group of community, "
                    f"sex and birth band: {report['after']['smallest_group']} (was 1) (disclosure.json)"]
    assert report["after"]["smallest_group"] >= 5 and report["k"] == 5
    bigger = run("export", str(tmp_path / "k10"), "--key-file", str(tmp_path / "key"), "--k", "10")
    assert bigger.returncode == 0, bigger.stderr
    assert json.loads((tmp_path / "k10" / "disclosure.json").read_text(encoding="utf-8"))["after"]["smallest_group"] >= 10
    one = run("export", str(tmp_path / "k1"), "--key-file", str(tmp_path / "key"), "--k", "1")
    assert one.returncode == 1 and "The 'k' parameter of export_tables must be an int >= 2. Got 1" in one.stderr
    assert "Traceback" not in one.stderr and not (tmp_path / "k1").exists()
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


# --- k-anonymity: birth years coarsened to bands, small groups suppressed cell by cell ---------------

def _people(rows):
    """Residents (and their communities) from (id, community, sex, birth year) rows."""
    residents = pd.DataFrame({
        "resident_id": pd.array([r[0] for r in rows], dtype="string"),
        "sex": pd.array([r[2] for r in rows], dtype="string"),
        "birth_date": pd.to_datetime([f"{r[3]}-07-01" for r in rows]).astype("datetime64[ns]"),
        "community": pd.array([r[1] for r in rows], dtype="string"), "lives_alone": False,
        **{c: False for c in ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")},
        "ckd": pd.array([None] * len(rows), dtype="boolean")})
    communities = pd.DataFrame({"community": pd.array(sorted({r[1] for r in rows}), dtype="string"),
                                "community_type": pd.array([None] * len({r[1] for r in rows}), dtype="string")})
    return Tables(residents=residents, communities=communities)


# A dozen residents, k = 2, suppression limit 50 % (6 residents). Worked by hand:
# - 1-year bands: only (A, male, 1960) holds 2; the other 10 residents are alone: 10 > 6, refused.
# - 5-year bands: (A, female, 1950-54) holds R01 R02 R11 R12, (A, male, 1960-64) R03 R04; R05-R10 are each
#   alone in their band: 6 <= 6, so 5-year bands are chosen (10-year bands are never tried).
# - R05-R10 lose their birth date. (B, female, blank) is then R05 R06: kept. (C, male, blank) R07,
#   (C, female, blank) R08, (D, male, blank) R09, (E, female, blank) R10 are alone: they lose their sex.
#   (C, blank, blank) is R07 R08: kept; (D, ...) R09 and (E, ...) R10 are alone: they lose their community.
# So: 6 birth dates, 4 sexes, 2 communities blanked; 6 residents touched; R09 and R10 say nothing.
DOZEN = [("R01", "A", "female", 1950), ("R02", "A", "female", 1953), ("R03", "A", "male", 1960),
         ("R04", "A", "male", 1960), ("R05", "B", "female", 1971), ("R06", "B", "female", 1985),
         ("R07", "C", "male", 1991), ("R08", "C", "female", 1942), ("R09", "D", "male", 1966),
         ("R10", "E", "female", 1977), ("R11", "A", "female", 1951), ("R12", "A", "female", 1954)]
PUBLISHED = {"R01": ("A", "female", "1952-07-01"), "R02": ("A", "female", "1952-07-01"),
             "R03": ("A", "male", "1962-07-01"), "R04": ("A", "male", "1962-07-01"),
             "R05": ("B", "female", None), "R06": ("B", "female", None), "R07": ("C", None, None),
             "R08": ("C", None, None), "R09": (None, None, None), "R10": (None, None, None),
             "R11": ("A", "female", "1952-07-01"), "R12": ("A", "female", "1952-07-01")}


def _published(residents):
    return {r.resident_id: (None if pd.isna(r.community) else r.community, None if pd.isna(r.sex) else r.sex,
                            None if pd.isna(r.birth_date) else r.birth_date.strftime("%Y-%m-%d"))
            for r in residents.itertuples(index=False)}


def test_a_worked_example_gets_the_band_and_the_suppressions_computed_by_hand():
    tables = _people(DOZEN)
    out, report = anonymise(tables, k=2, suppression_limit=0.5)
    assert report["birth_band_years"] == 5 and report["within_limit"] is True
    assert report["rows_below_k_by_band"] == {"1": 10, "5": 6}
    assert report["cells_suppressed"] == {"birth_date": 6, "sex": 4, "community": 2}
    assert (report["rows_touched"], report["rows_fully_suppressed"], report["residents"]) == (6, 2, 12)
    assert _published(out.residents) == PUBLISHED
    before, after = report["before"], report["after"]
    assert (before["groups"], before["smallest_group"], before["rows_in_groups_below_k"]) == (11, 1, 10)
    assert (after["groups"], after["smallest_group"], after["rows_in_groups_below_k"]) == (4, 2, 0)
    assert report["k_anonymous"] is True and after["k_anonymous"] is True
    assert out.attrs["birth_band_years"] == 5 and "5-year bands" in out.attrs["anonymisation"]
    out.validate()  # blanks are allowed in the analysis tables; every other column is as it was
    kept = [c for c in out.residents.columns if c not in ("sex", "birth_date", "community")]
    pd.testing.assert_frame_equal(out.residents[kept], tables.residents[kept])
    # Row order never matters: shuffled, the same residents are published alike.
    shuffled = _people([DOZEN[i] for i in (7, 3, 11, 0, 9, 5, 1, 10, 2, 8, 6, 4)])
    assert _published(anonymise(shuffled, k=2, suppression_limit=0.5)[0].residents) == PUBLISHED


def test_when_no_band_keeps_within_the_limit_the_widest_is_used_and_k_still_holds():
    # Limit 40 % (4 residents): 5-year bands leave 6 alone; 10-year bands too (R05 alone in 1970-79, R10 too,
    # R06, R07, R08, R09 each alone): 6 > 4. The widest band is used, the report says so, k holds all the same.
    out, report = anonymise(_people(DOZEN), k=2, suppression_limit=0.4)
    assert report["rows_below_k_by_band"] == {"1": 10, "5": 6, "10": 6}
    assert report["birth_band_years"] == 10 and report["within_limit"] is False and report["k_anonymous"]
    assert set(out.residents["birth_date"].dropna().dt.strftime("%Y-%m-%d")) == {"1955-01-01", "1965-01-01"}
    with pytest.raises(ValueError, match="'k' parameter of anonymise"):
        anonymise(_people(DOZEN), k=1)
    with pytest.raises(ValueError, match="'bands' parameter of anonymise"):
        anonymise(_people(DOZEN), bands=(5, 1))


@pytest.fixture(scope="module")
def sample_exported(tmp_path_factory):
    """The 3,000-resident sample in a registry, exported twice by an analyst."""
    from workbench.sample import load_sample

    tmp = tmp_path_factory.mktemp("sample-export")
    registry = Registry(f"sqlite:///{tmp / 'registry.sqlite'}")
    registry.init()
    registry.import_tables(load_sample(), by="admin")
    registry.add_user("ana", "analyst", by="admin")
    key_file = tmp / "keys" / "export.key"
    first = export_tables(registry, tmp / "first", as_user="ana", key_file=key_file)
    second = export_tables(registry, tmp / "second", as_user="ana", key_file=key_file)
    yield registry, first, second
    registry.engine.dispose()


def test_the_sample_export_is_k_anonymous_within_the_limit_and_says_what_was_done(sample_exported):
    _, folder, _ = sample_exported
    out = read(folder)
    report = json.loads((folder / "disclosure.json").read_text(encoding="utf-8"))
    r = out.residents
    # Checked with a plain groupby: every group of published values with a non-blank one has >= 5 rows.
    published = pd.DataFrame({"community": r["community"].astype(object), "sex": r["sex"].astype(object),
                              "birth": r["birth_date"].astype(object)})
    some = published.notna().any(axis=1)
    sizes = published[some].groupby(["community", "sex", "birth"], dropna=False).size()  # a blank: its own value
    assert sizes.min() >= 5, sizes[sizes < 5]
    assert report["after"]["smallest_group"] == sizes.min() and report["after"]["groups"] == len(sizes)
    # The report's numbers are the tables' numbers.
    n = len(r)
    assert report["residents"] == n == 3000 and report["k"] == 5 and report["k_anonymous"] is True
    assert report["cells_suppressed"] == {"birth_date": int(r["birth_date"].isna().sum()),
                                          "sex": int(r["sex"].isna().sum()),
                                          "community": int(r["community"].isna().sum())}
    touched = r[["birth_date", "sex", "community"]].isna().any(axis=1)
    assert report["rows_touched"] == int(touched.sum()) <= 0.05 * n and report["within_limit"] is True
    assert report["rows_fully_suppressed"] == int((~some).sum())
    assert report["before"]["smallest_group"] == 1 and report["before"]["rows_in_groups_below_k"] > 1000
    # The chosen band: the birth dates are the middles of bands of that width, as tables.json says.
    width = report["birth_band_years"]
    assert width == out.attrs["birth_band_years"] and width in (1, 5, 10)
    assert report["rows_below_k_by_band"][str(width)] <= 0.05 * n
    assert all(report["rows_below_k_by_band"][str(w)] > 0.05 * n for w in (1, 5, 10) if w < width)
    middles = r["birth_date"].dropna()
    assert ((middles.dt.year - width // 2) % width == 0).all()
    assert (middles.dt.strftime("%m-%d") == ("07-01" if width % 2 else "01-01")).all()
    dictionary = pd.read_csv(folder / "dictionary_en.csv")
    described = dictionary.query("table == 'residents' and column == 'birth_date'")["description"].item()
    assert "middle of a band of birth years" in described


def test_a_second_export_of_the_same_registry_is_coarsened_alike(sample_exported):
    _, first, second = sample_exported
    a, b = read(first).residents, read(second).residents
    assert a["resident_id"].tolist() != b["resident_id"].tolist()  # rows in a fresh order ...
    columns = ["resident_id", "community", "sex", "birth_date"]
    pd.testing.assert_frame_equal(a[columns].sort_values("resident_id", ignore_index=True),
                                  b[columns].sort_values("resident_id", ignore_index=True))  # ... same values
    one, two = (json.loads((f / "disclosure.json").read_text(encoding="utf-8")) for f in (first, second))
    assert one == two


def test_an_anonymised_export_feeds_the_analyses(sample_exported):
    from workbench.cohort import age_at, endpoints, trial_frame
    from workbench.epi import prevalence
    from workbench.table1 import table1

    _, folder, _ = sample_exported
    out = read(folder).validate()
    r = out.residents
    assert r["birth_date"].isna().any() and r["sex"].isna().any()  # the sample needs suppression
    ages = age_at(r["birth_date"], "2025-06-01")
    assert ages.isna().tolist() == r["birth_date"].isna().tolist()  # a blank birth date gives a blank age
    base = trial_frame(out).merge(r, on="resident_id")
    base["age"] = age_at(base["birth_date"], "2025-06-01").astype(float)
    t1 = table1(base, group="arm", variables=["age", "sex", "phq9_0"], categorical=["sex"])
    assert len(t1) > 0
    screened = out.screenings().merge(r, on="resident_id", how="left")
    screened["positive"] = screened["phq9_score"] >= 10
    screened = screened.dropna(subset=["phq9_score"])
    overall = prevalence(screened, outcome="positive")
    assert overall["n"].sum() == len(screened)
    by_sex = prevalence(screened.dropna(subset=["sex"]), outcome="positive", by="sex")
    assert set(by_sex["sex"]) == {"female", "male"}
    on_age = endpoints(out, censor_date="2026-06-30", which=["death"], time_scale="age")
    assert on_age.attrs["excluded"]["all"]["residents without a birth date (age time scale)"] > 0


def test_a_registry_refuses_an_anonymised_export_by_name_and_writes_nothing(sample_exported, tmp_path):
    from workbench.tables import TablesError

    _, folder, _ = sample_exported
    target = Registry(f"sqlite:///{tmp_path / 'other.sqlite'}")
    target.init()
    with pytest.raises(TablesError) as err:
        target.import_tables(read(folder), by="admin")
    problems = err.value.problems
    blanks = read(folder).residents[["sex", "birth_date", "community"]].isna().sum()
    for column in ("sex", "birth_date", "community"):
        named = problems[(problems["table"] == "residents") & (problems["column"] == column)]
        assert len(named) == blanks[column] > 0 and named["rule"].str.contains("is blank: a registry needs").all()
    assert problems["rule"].str.contains("pseudonymised tables cannot be imported").any()
    with target.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM residents")).scalar() == 0
    target.engine.dispose()


def test_a_blank_sex_birth_date_or_community_is_refused_at_import_naming_each(tmp_path):
    import subprocess
    import sys

    tables = community(100, seed=3).tables()
    residents = tables.residents.copy()
    first, second = residents["resident_id"].iloc[0], residents["resident_id"].iloc[1]
    residents.loc[0, "sex"] = pd.NA
    residents.loc[1, "birth_date"] = pd.NaT
    residents.loc[1, "community"] = pd.NA
    write(tables.replace(residents=residents), tmp_path / "blanks")
    db = tmp_path / "registry.sqlite"
    run = [sys.executable, "-m", "workbench.cli", "--db", str(db)]
    assert subprocess.run([*run, "db", "init"], capture_output=True).returncode == 0
    done = subprocess.run([*run, "import", "tables", str(tmp_path / "blanks")], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "3 problems; nothing was written" in done.stderr
    for rid, column, words in ((first, "sex", "sex"), (second, "birth_date", "birth date"),
                               (second, "community", "community")):
        assert (f"- residents, row '{rid}', column '{column}': value (none) is blank: a registry needs every "
                f"resident's {words}") in done.stderr
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM residents")).scalar() == 0
    engine.dispose()
