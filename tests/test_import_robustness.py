"""Imports never end in a traceback: each finding of issue 14 (a wrong header, an answer ``inf``,
a GBK-encoded file, dates in 2099, sex coded 1/2) as a named problem, and a fuzz test (hypothesis)
over malformed CSV and Excel files: every outcome is success or ImportProblems, and a refused
import leaves every table and the audit log as they were."""

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sample_files
from workbench.cli import main as cli
from workbench.registry.imports import ImportProblems, parse_codes, read_table
from workbench.registry.schema import metadata
from workbench.registry.store import Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(f"sqlite:///{tmp_path_factory.mktemp('imports')}/registry.db")
    reg.init()
    reg.import_residents(sample_files.residents_file(5), by="admin")
    yield reg
    reg.engine.dispose()


def refused(call) -> pd.DataFrame:
    with pytest.raises(ImportProblems) as err:
        call()
    return err.value.problems


def test_a_wrong_header_names_the_missing_and_the_unexpected_columns(registry):
    found = refused(lambda: registry.import_residents(sample_files.residents_file(3).rename(
        columns={"birth_date": "birthdate", "lives_alone": "lives alone"}), by="admin"))
    assert len(found) == 2 and found["row"].isna().all()
    assert found["column"].iloc[0] == "birth_date, lives_alone" and "absent" in found["rule"].iloc[0]
    assert "'birthdate' (did you mean 'birth_date'?)" in found["rule"].iloc[1]
    found = refused(lambda: registry.import_assessments(sample_files.screenings_file(3).rename(
        columns={"assessed_on": "assessed"}), by="admin"))
    assert found["column"].tolist() == ["assessed_on", "assessed"]
    assert "did you mean 'assessed_on'" in found["rule"].iloc[1]
    for kind in ("residents", "assessments"):  # without resident_id the old code ended in a KeyError
        frame = (sample_files.residents_file(3) if kind == "residents" else sample_files.screenings_file(3))
        method = registry.import_residents if kind == "residents" else registry.import_assessments
        found = refused(lambda: method(frame.rename(columns={"resident_id": "id"}), by="admin"))
        assert found["column"].tolist() == ["resident_id", "id"] and found["row"].isna().all()


@pytest.mark.parametrize("answer", ["inf", "nan", "1e999", "3.5", "-inf", "x"])
def test_a_non_finite_or_non_whole_answer_is_named(registry, answer):
    frame = sample_files.screenings_file(3)
    frame.loc[1, "phq9_4"] = answer
    found = refused(lambda: registry.import_assessments(frame, by="admin"))
    assert found[["row", "column", "value"]].values.tolist() == [[3, "phq9_4", answer]]


def test_dates_in_the_future_are_refused_by_name(registry):
    people = sample_files.residents_file(3).assign(resident_id=["F1", "F2", "F3"])
    people.loc[1, "birth_date"] = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    found = refused(lambda: registry.import_residents(people, by="admin"))
    assert found[["row", "column"]].values.tolist() == [[3, "birth_date"]] and "today" in found["rule"].iloc[0]
    people.loc[1, "birth_date"] = "1899-12-31"  # the lower bound stays
    assert refused(lambda: registry.import_residents(people, by="admin"))["row"].tolist() == [3]
    forms = sample_files.screenings_file(3)
    forms.loc[2, "assessed_on"] = "2099-01-01"
    found = refused(lambda: registry.import_assessments(forms, by="admin"))
    assert found[["row", "column", "value"]].values.tolist() == [[4, "assessed_on", "2099-01-01"]]
    assert "future" in found["rule"].iloc[0]


def test_a_gbk_file_is_refused_with_a_hint_and_read_when_declared(tmp_path):
    path = tmp_path / "gbk.csv"
    sample_files.residents_file(3).assign(community="东城社区").to_csv(path, index=False, encoding="gbk")
    found = refused(lambda: read_table(path))
    assert len(found) == 1 and "GBK/GB18030 (Chinese Windows)" in found["rule"].iloc[0]
    assert "CSV UTF-8" in found["rule"].iloc[0] and "--encoding gb18030" in found["rule"].iloc[0]
    assert read_table(path, encoding="gb18030")["community"].tolist() == ["东城社区"] * 3
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "resident_id,community\nR1,东城\n".encode())
    assert read_table(bom).columns.tolist() == ["resident_id", "community"]


@pytest.mark.parametrize("content", [b"", b"a,b\n1,2,3,4\n\"x", b"\x00\x01\x02PK\x03\x04"])
def test_an_unreadable_csv_is_one_problem(tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert len(refused(lambda: read_table(path))) == 1


def test_sex_coded_one_two_is_one_problem_or_read_through_a_declared_map(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path}/r.db")
    reg.init()
    people = sample_files.residents_file(30)
    coded = people.assign(sex=people["sex"].map({"male": "1", "female": "2"}))
    found = refused(lambda: reg.import_residents(coded, by="admin"))
    assert len(found) == 1 and found["column"].iloc[0] == "sex"
    assert "all of 30 rows" in found["rule"].iloc[0] and "--codes sex=gb2261" in found["rule"].iloc[0]
    strays = people.copy()
    strays.loc[[3, 7], "sex"] = ["M", "x"]  # wrong here and there: named one by one
    assert refused(lambda: reg.import_residents(strays, by="admin"))["row"].tolist() == [5, 9]
    unknown = coded.copy()
    unknown.loc[4, "sex"] = "9"
    found = refused(lambda: reg.import_residents(unknown, by="admin", codes={"sex": "gb2261"}))
    assert found[["row", "value"]].values.tolist() == [[6, "9"]] and "not stated" in found["rule"].iloc[0]
    assert reg.import_residents(coded, by="admin", codes={"sex": "gb2261"}).written == 30
    with reg.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT resident_id, sex FROM residents")).all())
    assert stored == dict(zip(people["resident_id"], people["sex"]))
    zh = people.assign(resident_id="Z" + people["resident_id"], sex=people["sex"].map({"male": "男", "female": "女"}),
                       lives_alone=people["lives_alone"].map({"True": "是", "False": "否"}))
    assert reg.import_residents(zh, by="admin", codes={"sex": "zh", "lives_alone": "zh"}).written == 30
    assert parse_codes("sex=1:male,2:female") == {"sex": {"1": "male", "2": "female"}}


def test_the_cli_reads_a_declared_encoding_and_code_map(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path}/cli.db"]
    assert cli(["db", "init", *db]) == 0
    people = sample_files.residents_file(4)
    path = tmp_path / "people.csv"
    people.assign(sex=people["sex"].map({"male": "1", "female": "2"}), community="东城").to_csv(
        path, index=False, encoding="gbk")
    capsys.readouterr()
    assert cli(["import", "residents", str(path), *db]) == 1
    assert "GBK/GB18030" in capsys.readouterr().err
    assert cli(["import", "residents", str(path), "--encoding", "gb18030", *db]) == 1
    assert "--codes sex=gb2261" in capsys.readouterr().err
    assert cli(["import", "residents", str(path), "--encoding", "gb18030", "--codes", "sex=gb2261", *db]) == 0
    assert cli(["import", "residents", str(path), "--encoding", "gb18030", "--codes", "sex=1:male,2:female", *db]) == 0
    assert "0 written, 4 already stored unchanged" in capsys.readouterr().out


# ---- fuzz: malformed CSV and Excel files --------------------------------------------------------

def snapshot(reg) -> dict:
    with reg.engine.connect() as conn:
        return {name: sorted(map(repr, conn.execute(sa.select(table)).all())) for name, table in metadata.tables.items()}


HEADERS = ["resident_id", "sex", "birth_date", "community", "lives_alone", "hypertension", "diabetes", "chd",
           "stroke", "copd", "asthma", "assessed_on", "phq9_1", "phq9_2", "phq9_9", "gad7_1", "=cmd", "", "sex",
           "Resident ID", "性别"]
CELLS = st.one_of(st.sampled_from(["R0000001", "R0000002", "female", "male", "1", "2", "男", "True", "0", "inf",
                                   "1e999", "-1", " 2 ", "3.5", "2099-01-01", "1942-04-17", "2024-03-01", "=1+1",
                                   "@SUM(A1)", "+1", '"', "", "nan", "9" * 40]),
                  st.text(max_size=8))


@st.composite
def csv_bytes(draw):
    header = draw(st.lists(st.sampled_from(HEADERS), max_size=12))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), max_size=6))
    text = "\n".join(",".join(cells) for cells in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        data = draw(st.binary(max_size=40)) + data if draw(st.booleans()) else data + draw(st.binary(max_size=40))
    return data


@st.composite
def workbook_bytes(draw):
    book = openpyxl.Workbook()
    for k in range(draw(st.integers(0, 2))):
        book.create_sheet(f"s{k}")
    sheet = book.worksheets[0]
    header = draw(st.lists(st.sampled_from(HEADERS), max_size=8))
    text = st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)), max_size=8)  # openpyxl writes these
    values = st.one_of(st.sampled_from(["R0000001", "female", "1", "男", "inf", "2099-01-01", "=1+1", ""]), text,
                       st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
                       st.dates(), st.booleans(), st.none())
    for r, cells in enumerate([header, *draw(st.lists(st.lists(values, max_size=8), max_size=5))], start=1):
        for c, value in enumerate(cells, start=1):
            sheet.cell(r, c, value)
    if draw(st.booleans()) and sheet.max_row > 1:
        sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def import_file(reg, path, kind, encoding=None):
    """What staff do: read the file, import it; success or ImportProblems, nothing else."""
    before = snapshot(reg)
    try:
        frame = read_table(path, encoding=encoding)
        method = reg.import_residents if kind == "residents" else reg.import_assessments
        method(frame, by="admin", source=path.name)
    except ImportProblems as err:
        assert len(err.problems) >= 1
        assert snapshot(reg) == before  # nothing half-written


@FUZZ
@given(data=csv_bytes(), kind=st.sampled_from(["residents", "assessments"]),
       encoding=st.sampled_from([None, None, "gb18030"]))
def test_fuzz_csv_files_end_in_success_or_named_problems(registry, tmp_path_factory, data, kind, encoding):
    path = tmp_path_factory.mktemp("fuzz") / "file.csv"
    path.write_bytes(data)
    import_file(registry, path, kind, encoding)


@FUZZ
@given(data=st.one_of(workbook_bytes(), st.binary(max_size=200)), kind=st.sampled_from(["residents", "assessments"]))
def test_fuzz_excel_files_end_in_success_or_named_problems(registry, tmp_path_factory, data, kind):
    path = tmp_path_factory.mktemp("fuzz") / "file.xlsx"
    path.write_bytes(data)
    import_file(registry, path, kind)
