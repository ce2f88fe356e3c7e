"""Reading and validating import files before anything is written.

Every problem is reported at once as a table ``line, column, value, rule`` (``line`` is the
line of the file, the header being line 1), so staff can fix a spreadsheet in one pass.
Residents are checked with a pandera schema; questionnaire answers with the scoring engine's
own checks (:func:`workbench.check_answers`).

Nothing a file holds ends in a traceback: a file that cannot be read (its encoding, quoting, an
empty or binary file, a workbook that does not open), a header missing required columns, dates
in the future and answers that are no numbers are all problems. CSV files are UTF-8 (a byte-order
mark allowed) unless declared GB18030/GBK. Files that code sex as 1/2 (GB/T 2261.1), 男/女 or F/M
are read through a declared code map (:data:`CODE_MAPS`, :func:`apply_codes`); without one, a
column wrong in every row is one problem, not one per row (:func:`collapse_problems`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.instruments import get_instrument
from workbench.policy import CONDITIONS
from workbench.problems import ProblemsError
from workbench.scoring import check_answers, instruments_in

__all__ = ["CODE_MAPS", "ENCODINGS", "ImportProblems", "PROBLEM_COLUMNS", "PURPOSES", "apply_codes",
           "check_assessment_file", "collapse_problems", "header_problems", "parse_codes", "read_table",
           "validate_residents"]

PROBLEM_COLUMNS = ["line", "column", "value", "rule"]
RESIDENT_COLUMNS = ["resident_id", "sex", "birth_date", "community", "lives_alone", *CONDITIONS]
OPTIONAL_RESIDENT_COLUMNS = ["name", "phone", "id_number"]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
#: Columns an import of residents knows besides the required ones (``community_type`` names a new
#: community's kind).
KNOWN_RESIDENT_COLUMNS = [*RESIDENT_COLUMNS, *OPTIONAL_RESIDENT_COLUMNS, "community_type", "ckd"]
_ASSESSMENT_COLUMNS = ["resident_id", "assessed_on", "mode", "language", "submission_id", "purpose", "referral_id",
                       "study", "visit"]

#: Encodings a CSV file may be declared in (``encoding=``, ``--encoding``); UTF-8 (with or without
#: a byte-order mark) is always read. GB18030 is the superset of GBK that Chinese Windows writes.
ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "gb18030": "gb18030",
             "gbk": "gb18030", "gb2312": "gb18030"}

#: Declared code maps (``codes={"sex": "gb2261"}``, ``--codes sex=gb2261``), by the kind of column.
#: ``gb2261``: GB/T 2261.1-2003 "Codes for sex of human", table 1: 0 unknown, 1 male, 2 female,
#: 9 not stated (0 and 9 are neither, so they are refused by name). ``zh``: the Chinese words.
#: ``fm``: the first letters, either case. Booleans: ``zh`` (是/否) and ``yn`` (Y/N).
CODE_MAPS = {
    "sex": {
        "gb2261": {"1": "male", "2": "female"},
        "zh": {"男": "male", "女": "female", "男性": "male", "女性": "female"},
        "fm": {"f": "female", "m": "male", "F": "female", "M": "male"},
    },
    "bool": {
        "zh": {"是": "true", "否": "false", "有": "true", "无": "false"},
        "yn": {"y": "true", "n": "false", "Y": "true", "N": "false"},
    },
    # measurements (``workbench import measurements``): the national basic public health service
    # follow-up forms' codes for medication adherence (服药依从性: 1 规律 2 间断 3 不服药; source:
    # ``workbench/data/measurements.yaml``, ``adherence``), and the Chinese words
    "adherence": {
        "form": {"1": "regular", "2": "intermittent", "3": "none"},
        "zh": {"规律": "regular", "间断": "intermittent", "不服药": "none"},
    },
    "smoking": {
        "zh": {"从不吸烟": "never", "从不": "never", "已戒烟": "former", "已戒": "former", "吸烟": "current",
               "现在吸烟": "current"},
    },
}
#: Yes/no columns a ``bool`` code map applies to.
_BOOL_COLUMNS = ("lives_alone", *CONDITIONS, "ckd", "adverse_reaction", "complication", "alarm_symptoms")
#: Values a map refuses by name, with why (GB/T 2261.1's codes that are neither female nor male).
_REFUSED_CODES = {("sex", "gb2261"): {"0": "is 0, 'unknown' in GB/T 2261.1: the registry needs female or male",
                                      "9": "is 9, 'not stated' in GB/T 2261.1: the registry needs female or male"}}
#: The hint given when a column holds one pattern of codes in most rows.
_HINTS = [("sex", {"1", "2", "0", "9"}, "gb2261"), ("sex", {"男", "女", "男性", "女性"}, "zh"),
          ("sex", {"f", "m", "F", "M"}, "fm")]


class ImportProblems(ProblemsError):
    """An import that was refused; nothing was written. ``problems`` lists every bad cell as
    ``table`` (the file or source), ``row`` (the file's line; blank for the header or the file as
    a whole), ``column``, ``value`` and ``rule``."""

    row_word = "line"

    def __init__(self, source: str, problems: pd.DataFrame):
        if isinstance(problems, pd.DataFrame) and "line" in problems.columns:
            lines = problems["line"].astype(object).where(problems["line"].notna(), None)
            problems = [(source, None if line is None else int(line), column, value, rule)
                        for line, column, value, rule in zip(lines, problems["column"].astype(object),
                                                             problems["value"].astype(object),
                                                             problems["rule"].astype(object))]
        super().__init__(problems, context=source)


def _file_problem(source: str, column: str | None, value, rule: str) -> ImportProblems:
    return ImportProblems(source, pd.DataFrame([(None, column, value, rule)], columns=PROBLEM_COLUMNS))


def _decode(path: Path, data: bytes, encoding: str | None) -> str:
    """The text of a CSV file: UTF-8 (a byte-order mark allowed) unless another encoding is declared."""
    name = path.name
    if encoding is not None:
        codec = ENCODINGS.get(str(encoding).strip().lower())
        if codec is None:
            raise _file_problem(name, None, encoding, f"is not an encoding imports read: declare one of "
                                                      f"{sorted(set(ENCODINGS))}")
    else:
        codec = "utf-8-sig"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        if encoding is not None:
            raise _file_problem(name, None, None, f"is not {encoding} text: byte {err.start + 1} (line {line}) "
                                                  f"cannot be read that way; check the encoding it was saved in")
        try:
            data.decode("gb18030")
            looks = "looks like GBK/GB18030 (Chinese Windows)"
        except UnicodeDecodeError:
            looks = "is in an unknown encoding or is not text"
        raise _file_problem(name, None, None, f"is not UTF-8 text (byte {err.start + 1}, line {line}); it {looks}. "
                                              "Save it as UTF-8 (Excel: Save As 'CSV UTF-8') or declare its "
                                              "encoding (--encoding gb18030)") from None


def read_table(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """A CSV or Excel file as text cells (nothing guessed), blank cells as missing.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (or ``.txt``) or ``.xlsx`` file.
    encoding : str, optional
        The CSV file's encoding when it is not UTF-8: ``gb18030`` (or ``gbk``, read as its
        superset GB18030). UTF-8, with or without a byte-order mark, is always read.

    Raises
    ------
    ImportProblems
        A file that cannot be read (its type, encoding, quoting, an empty file, a workbook that
        does not open, a repeated column name), as one problem naming what was found and how to
        fix it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            frame = pd.read_excel(path, dtype=str)
        except Exception as err:  # any failure of the workbook parser on a file staff send is one problem
            raise _file_problem(path.name, None, None, f"could not be read as an Excel workbook "
                                                       f"({type(err).__name__}: {str(err)[:200]}); save it again "
                                                       "from Excel as .xlsx or as 'CSV UTF-8'") from None
    elif suffix in (".csv", ".txt"):
        text = _decode(path, path.read_bytes(), encoding)
        if "\x00" in text:
            raise _file_problem(path.name, None, None, "holds NUL bytes: it is not a text (CSV) file")
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:
            raise _file_problem(path.name, None, None, "is empty: the first line must name the columns") from None
        except (pd.errors.ParserError, ValueError) as err:
            raise _file_problem(path.name, None, None, f"is not a well-formed CSV file ({str(err).strip()[:200]}); "
                                                       "every line must have as many cells as the header") from None
    else:
        raise _file_problem(path.name, None, path.suffix, "import files must be CSV (.csv) or Excel (.xlsx)")
    frame.columns = [str(c).strip() for c in frame.columns]
    repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise _file_problem(path.name, ", ".join(repeated), None, "names more than one column: each column once")
    return frame.reset_index(drop=True)


def parse_codes(text: str | None) -> dict:
    """``--codes`` text as code maps: ``sex=gb2261`` (a named map, :data:`CODE_MAPS`) or
    ``sex=1:male,2:female``; several columns separated by ``;``.

    >>> parse_codes("sex=1:male,2:female;lives_alone=zh")
    {'sex': {'1': 'male', '2': 'female'}, 'lives_alone': 'zh'}
    """
    codes: dict = {}
    for part in [p for p in (text or "").split(";") if p.strip()]:
        column, sep, spec = part.partition("=")
        if not sep or not column.strip() or not spec.strip():
            raise ValueError(f"--codes {part!r}: write COLUMN=MAP (e.g. sex=gb2261) or COLUMN=CODE:VALUE,... "
                             "(e.g. sex=1:male,2:female)")
        if ":" in spec:
            pairs = [p.split(":", 1) for p in spec.split(",") if p.strip()]
            codes[column.strip()] = {k.strip(): v.strip() for k, v in pairs}
        else:
            codes[column.strip()] = spec.strip()
    return codes


def apply_codes(frame: pd.DataFrame, codes: dict | None) -> tuple[pd.DataFrame, list[tuple]]:
    """The file with its declared codes replaced by the registry's values, and the cells no map
    covers (``line, column, value, rule``).

    ``codes``: column to a named map (:data:`CODE_MAPS`: ``sex``: gb2261, zh, fm; booleans such as
    ``lives_alone``: zh, yn) or to a dict ``{code: value}``. Blank cells stay blank.
    """
    if not codes:
        return frame, []
    out, problems = frame.copy(), []
    for column, spec in codes.items():
        kind = (column if column in CODE_MAPS and column != "bool" else "bool" if column in _BOOL_COLUMNS
                else None)
        refused = {}
        if isinstance(spec, str):
            named = CODE_MAPS.get(kind, {})
            if spec not in named:
                problems.append((None, column, spec, f"is not a code map for this column: one of {sorted(named)} "
                                                     "or CODE:VALUE pairs" if named else
                                                     "has no named code maps: give CODE:VALUE pairs"))
                continue
            refused = _REFUSED_CODES.get((kind, spec), {})
            mapping = named[spec]
        else:
            mapping = {str(k).strip(): str(v).strip() for k, v in dict(spec).items()}
        if column not in out.columns:
            continue  # the header check names it
        text = out[column].astype("string").str.strip()
        mapped = text.map(mapping, na_action="ignore")
        unmapped = text.notna() & (text != "") & mapped.isna()
        lines = _lines(out.index)
        for i in np.flatnonzero(unmapped.to_numpy()):
            value = text.iloc[i]
            problems.append((lines[i], column, out[column].iloc[i],
                             refused.get(value, f"is not in the declared code map ({', '.join(mapping)})")))
        out[column] = mapped.where(~unmapped, text).astype(object).where(text.notna() & (text != ""), None)
    return out, problems


def header_problems(columns, required: list[str], known: list[str]) -> list[tuple]:
    """One problem naming the missing required columns and one naming the unexpected ones (with
    the known column each is closest to), for a file missing some."""
    columns = [str(c) for c in columns]
    missing = [c for c in required if c not in columns]
    if not missing:
        return []
    problems = [(None, ", ".join(missing), None, f"{'is' if len(missing) == 1 else 'are'} absent from the file: "
                                                 f"required columns are {', '.join(required)}")]
    unexpected = [c for c in columns if c not in known]
    if unexpected:
        named = []
        for c in unexpected:
            close = difflib.get_close_matches(c.lower(), missing + [k for k in known if k not in columns], n=1,
                                              cutoff=0.6)
            named.append(f"{c!r} (did you mean {close[0]!r}?)" if close else repr(c))
        problems.append((None, ", ".join(unexpected), None,
                         f"{'is' if len(unexpected) == 1 else 'are'} not expected: " + ", ".join(named)))
    return problems


def collapse_problems(problems: list[tuple], rows: int) -> list[tuple]:
    """Problems with a column wrong in every row (or in at least half of 10 or more rows, with at
    most three distinct values) reported as one problem for the column, not one per row."""
    if rows < 2 or not problems:
        return problems
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS, dtype=object)
    table["key"] = table["value"].map(lambda v: "(blank)" if v is None or (isinstance(v, float) and v != v)
                                      else str(v).strip())
    keep = pd.Series(True, index=table.index)
    extra = []
    for (column, rule), group in table[table["line"].notna()].groupby(["column", "rule"], sort=False, dropna=False):
        count, values = group["line"].nunique(), sorted(group["key"].unique())
        if not (count == rows or (rows >= 10 and count * 2 >= rows and len(values) <= 3)):
            continue
        keep[group.index] = False
        shown = "/".join(values[:5]) + ("/..." if len(values) > 5 else "")
        hint = next((f": declare a code map, e.g. --codes {c}={m}" for c, found, m in _HINTS
                     if c == column and set(values) <= found), "")
        extra.append((None, column, shown, f"{'all' if count == rows else count} of {rows:,} rows hold {shown}, "
                                           f"which {rule}{hint}"))
    if not extra:
        return problems
    return extra + [tuple(r) for r in table.loc[keep, PROBLEM_COLUMNS].itertuples(index=False)]


def _lines(index) -> np.ndarray:
    return np.asarray(index, dtype=np.int64) + 2  # header is line 1


def _as_bool(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    text = series.astype("string").str.strip().str.lower()
    return pd.Series(np.where(text.isin(_TRUE), True, np.where(text.isin(_FALSE), False, None)),
                     index=series.index, dtype="boolean")


def _as_date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.astype("string").str.strip(), format="%Y-%m-%d", errors="coerce")


def _residents_schema():
    import pandera.pandas as pa  # on first use: pandera takes ~0.5 s to import

    is_bool = pa.Check(lambda s: _as_bool(s).notna(), element_wise=False,
                       error="must be True or False (blank is not allowed)")
    return pa.DataFrameSchema({
        "resident_id": pa.Column(str, [pa.Check.str_length(1, 64), pa.Check.str_matches(r"^\S(.*\S)?$")],
                                 nullable=False, unique=True, report_duplicates="all"),
        "sex": pa.Column(str, pa.Check.isin(["female", "male"]), nullable=False),
        "birth_date": pa.Column(str, pa.Check(lambda s: _as_date(s).notna() & (_as_date(s) >= "1900-01-01")
                                              & (_as_date(s) <= pd.Timestamp(dt.date.today())),
                                              error="must be a date YYYY-MM-DD from 1900 to today"), nullable=False),
        "community": pa.Column(str, pa.Check.str_length(1, 100), nullable=False),
        **{c: pa.Column(nullable=False, checks=is_bool) for c in ("lives_alone", *CONDITIONS)},
        **{c: pa.Column(str, pa.Check.str_length(0, 200), nullable=True, required=False)
           for c in OPTIONAL_RESIDENT_COLUMNS},
        # chronic kidney disease: optional, blank = not recorded (never taken as no)
        "ckd": pa.Column(nullable=True, required=False,
                         checks=pa.Check(lambda s: (s.isna() | s.astype("string").str.strip().eq("")).fillna(True)
                                         | _as_bool(s).notna(), element_wise=False,
                                         error="must be True or False (blank: not recorded)")),
    }, strict=False, coerce=False)


_RULES = {"str_length": "is too long or empty", "isin": "is not allowed", "field_uniqueness": "is repeated in the file",
          "not_nullable": "is blank but required", "column_in_dataframe": "is absent from the file",
          "str_matches": "has spaces at its start or end"}


def _no_residents() -> pd.DataFrame:
    return pd.DataFrame(columns=[*RESIDENT_COLUMNS, *OPTIONAL_RESIDENT_COLUMNS], dtype=object)


def validate_residents(frame: pd.DataFrame, *, codes: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed residents of the valid rows, and every problem (``line, column, value, rule``).

    ``codes``: declared code maps (see :func:`apply_codes`), e.g. ``{"sex": "gb2261"}``. A file
    missing required columns gets one problem naming them and one naming the columns not expected.
    A column wrong in every row is one problem (:func:`collapse_problems`).
    """
    from pandera.errors import SchemaErrors

    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    header = header_problems(frame.columns, RESIDENT_COLUMNS, KNOWN_RESIDENT_COLUMNS)
    if header:
        return _no_residents(), pd.DataFrame(header, columns=PROBLEM_COLUMNS)
    frame = frame.astype(object).where(frame.notna(), None)
    frame, coded = apply_codes(frame, codes)
    if any(p[0] is None for p in coded):
        return _no_residents(), pd.DataFrame(coded, columns=PROBLEM_COLUMNS)
    for column in RESIDENT_COLUMNS + [c for c in OPTIONAL_RESIDENT_COLUMNS if c in frame.columns]:
        if column not in ("lives_alone", *CONDITIONS):  # cells as text, whatever a caller's frame held
            frame[column] = frame[column].map(lambda v: None if v is None else str(v), na_action="ignore")
    try:
        _residents_schema().validate(frame, lazy=True)
        failures = pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    except SchemaErrors as err:
        failures = err.failure_cases
    rows = []
    for f in failures.itertuples(index=False):
        check = str(f.check)
        name = check.split("(")[0]
        rule = _RULES.get(name, check)
        if name == "isin":
            rule = "must be female or male"
        if name == "column_in_dataframe":
            rows.append((None, str(f.failure_case), None, "is absent from the file: it is required"))
        else:
            index = f.index if f.index is not None and not pd.isna(f.index) else None
            rows.append((None if index is None else int(index) + 2, f.column, f.failure_case, rule))
    coded_cells = {(p[0], p[1]) for p in coded}
    rows = coded + [r for r in rows if (r[0], r[1]) not in coded_cells]
    problems = pd.DataFrame(rows, columns=PROBLEM_COLUMNS).drop_duplicates(ignore_index=True)
    if problems["line"].isna().any() and (problems["rule"].str.startswith("is absent")).any():
        return _no_residents(), problems
    bad_lines = set(problems["line"].dropna().astype(int))
    problems = pd.DataFrame(collapse_problems(list(problems.itertuples(index=False, name=None)), len(frame)),
                            columns=PROBLEM_COLUMNS)
    valid = frame[~pd.Series(_lines(frame.index), index=frame.index).isin(bad_lines)]
    typed = pd.DataFrame({
        "resident_id": valid["resident_id"].str.strip(), "sex": valid["sex"],
        "birth_date": _as_date(valid["birth_date"]).dt.date, "community": valid["community"].str.strip(),
        **{c: _as_bool(valid[c]).astype(bool) for c in ("lives_alone", *CONDITIONS)},
        **{c: valid[c].where(valid[c].notna(), None) if c in valid else None for c in OPTIONAL_RESIDENT_COLUMNS},
        "ckd": (_as_bool(valid["ckd"]).astype(object).where(_as_bool(valid["ckd"]).notna(), None) if "ckd" in valid
                else None),
    }, index=valid.index)
    return typed, problems


#: Why a questionnaire was taken (an import file's optional ``purpose`` column; blank: screening).
PURPOSES = ("screening", "review", "study")


def check_assessment_file(frame: pd.DataFrame) -> tuple[list[tuple], pd.Series]:
    """Every problem of a file (or app form) of questionnaires, ``(line, column, value, rule)``
    (``line`` None for the file as a whole), and the purpose of each row.

    A row may hold several questionnaires; a questionnaire whose items are all blank in a row
    was not given in that sitting. A row with no questionnaire at all is a problem. A review
    names its ``referral_id``; a study visit its ``study`` and ``visit``.
    """
    from workbench.instruments import instrument_ids

    frame = frame.rename(columns=str)
    items = [c for i in instrument_ids() for c in get_instrument(i).item_columns + get_instrument(i).supplementary_columns]
    problems: list[tuple] = header_problems(frame.columns, ["resident_id", "assessed_on"], _ASSESSMENT_COLUMNS + items)
    present = instruments_in(frame)
    if not present:
        problems.append((None, "(items)", None, "no questionnaire item columns such as phq9_1 were found"))
    purposes = pd.Series("screening", index=frame.index, dtype=object)
    if problems:
        return problems, purposes
    lines = _lines(frame.index)
    ids = frame["resident_id"].astype("string").str.strip()
    for i in np.flatnonzero((ids.isna() | (ids == "")).to_numpy()):
        problems.append((lines[i], "resident_id", frame["resident_id"].iloc[i], "is blank but required"))
    dates = _as_date(frame["assessed_on"])
    for i in np.flatnonzero(dates.isna().to_numpy()):
        problems.append((lines[i], "assessed_on", frame["assessed_on"].iloc[i], "must be a date YYYY-MM-DD"))
    today = pd.Timestamp(dt.date.today())
    for i in np.flatnonzero((dates > today).to_numpy()):
        problems.append((lines[i], "assessed_on", frame["assessed_on"].iloc[i], "is in the future: a questionnaire "
                                                                                "is imported once it was taken"))
    for column, allowed in (("mode", {"self", "interviewer"}), ("language", {"zh", "en"})):
        if column in frame.columns:
            bad = frame[column].notna() & ~frame[column].isin(allowed)
            for i in np.flatnonzero(bad.to_numpy()):
                problems.append((lines[i], column, frame[column].iloc[i], f"must be one of {sorted(allowed)} or blank"))
    if "purpose" in frame.columns:
        text = frame["purpose"].astype("string").str.strip().str.lower()
        bad = text.notna() & ~text.isin(PURPOSES)
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append((lines[i], "purpose", frame["purpose"].iloc[i], f"must be one of {list(PURPOSES)} or blank "
                                                                           "(a screening)"))
        purposes = text.where(text.isin(PURPOSES), "screening").astype(object)

    def blank(column: str) -> pd.Series:
        if column not in frame.columns:
            return pd.Series(True, index=frame.index)
        return frame[column].astype("string").str.strip().fillna("").eq("")

    for i in np.flatnonzero(((purposes == "review") & blank("referral_id")).to_numpy()):
        problems.append((lines[i], "referral_id", None, "is required for a review: the referral it belongs to"))
    for column in ("study", "visit"):
        for i in np.flatnonzero(((purposes == "study") & blank(column)).to_numpy()):
            problems.append((lines[i], column, None, "is required for a study visit"))
    if "visit" in frame.columns:
        visit = pd.to_numeric(frame["visit"], errors="coerce")
        bad = ~blank("visit") & (visit.isna() | (visit < 0) | (visit != np.floor(visit)))
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append((lines[i], "visit", frame["visit"].iloc[i], "must be a whole number (month or wave) >= 0"))
    for inst_id in present:
        found = check_answers(frame, inst_id)
        position = {label: k for k, label in enumerate(frame.index)}
        for r in found.itertuples(index=False):
            line = None if r.row is None or (isinstance(r.row, float) and np.isnan(r.row)) else lines[position[r.row]]
            problems.append((line, r.column, r.value, r.rule))
    given_any = np.zeros(len(frame), dtype=bool)
    for inst_id in present:
        inst = get_instrument(inst_id)
        columns = [c for c in inst.item_columns + inst.supplementary_columns if c in frame.columns]
        given_any |= frame[columns].apply(pd.to_numeric, errors="coerce").notna().any(axis=1).to_numpy()
    for i in np.flatnonzero(~given_any):
        problems.append((lines[i], "(items)", None, "no questionnaire was answered in this row"))
    problems = [(None if line is None else int(line), column, value, rule) for line, column, value, rule in problems]
    return sorted(problems, key=lambda p: (-1 if p[0] is None else p[0])), purposes
