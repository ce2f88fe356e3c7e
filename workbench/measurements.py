"""Physiological measurements: reading them from a file or a visit form, converting units, checking them.

Everything here is driven by ``workbench/data/measurements.yaml`` (units, conversions, plausible
ranges, answers, cross-field rules, settings), so every number is declared once there:

- :data:`MEASURE_NAMES` and :data:`ANSWER_NAMES`: the measures (stored units) and the answers
  recorded at a visit; :data:`UNIT_COLUMNS`: the other-unit columns an import may bring
  (``fasting_glucose_mg_dl``, ``hba1c_mmol_mol``, ``ldl_mg_dl`` ...), each with its conversion
  ``stored = value / divide_by + add``.
- :func:`hba1c_to_ifcc` and :func:`hba1c_to_ngsp`: the IFCC-NGSP master equation, exactly.
- :func:`prepare`: a file's (or a visit form's) rows as the ``measurements`` analysis table's
  columns, converted to the stored units, BMI computed from weight and height, HbA1c in mmol/mol
  computed from %, every value checked against its plausible range and every reading against the
  cross-field rules; each problem named ``(row, column, value, rule)``.
- :func:`cross_field_problems`: the cross-field rules on stored rows (used by
  :meth:`workbench.tables.Tables.validate`).

Examples
--------
>>> round(float(hba1c_to_ifcc(7.0)), 2), round(float(hba1c_to_ngsp(53.0)), 2)
(53.01, 7.0)
>>> frame, problems = prepare(pd.DataFrame({"resident_id": ["R1"], "measured_on": ["2026-03-02"],
...                                         "sbp": ["150"], "dbp": ["95"], "fasting_glucose_mg_dl": ["126"]}))
>>> problems, frame.loc[0, "setting"], int(frame.loc[0, "sbp"]), round(float(frame.loc[0, "fasting_glucose"]), 2)
([], 'clinic', 150, 6.99)
>>> prepare(pd.DataFrame({"resident_id": ["R1"], "measured_on": ["2026-03-02"], "sbp": ["400"], "dbp": ["95"]}))[1]
[(0, 'sbp', '400', 'is outside the plausible range 50 to 300 mmHg')]
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

import numpy as np
import pandas as pd

from workbench._declarations import measures
from workbench.measurement_rules import (_BMI_TOLERANCE, RULES, _fmt, _shown, cross_field_problems, hba1c_to_ifcc,
                                          hba1c_to_ngsp)

__all__ = ["ANSWER_NAMES", "BOOLEAN_ANSWERS", "COLUMNS", "MEASURE_NAMES", "RULES", "SETTINGS", "UNIT_COLUMNS",
           "cross_field_problems", "hba1c_to_ifcc", "hba1c_to_ngsp", "prepare"]


def _facts() -> dict[str, Any]:
    return measures()


#: The measures, in the stored units of ``measurements.yaml`` (``hba1c`` in %, NGSP/DCCT).
MEASURE_NAMES: tuple[str, ...] = tuple(_facts()["measures"])
#: The answers recorded at a visit (smoking, adherence, and yes/no facts of the visit).
ANSWER_NAMES: tuple[str, ...] = tuple(_facts()["answers"])
#: The answers that are yes/no (the rest take the values listed in the yaml).
BOOLEAN_ANSWERS: tuple[str, ...] = tuple(n for n, d in _facts()["answers"].items() if d["values"] == "boolean")
#: Where a reading was taken.
SETTINGS: tuple[str, ...] = tuple(_facts()["settings"])
#: Other-unit columns an import may bring: column -> (measure, unit, divide_by, add).
UNIT_COLUMNS: dict[str, tuple[str, str, float, float]] = {
    f"{name}_{suffix}": (name, d["unit"], float(d["divide_by"]), float(d.get("add", 0.0)))
    for name, m in _facts()["measures"].items() for suffix, d in (m.get("other_units") or {}).items()}
#: The columns :func:`prepare` returns (the ``measurements`` analysis table's, without its id).
COLUMNS: tuple[str, ...] = ("resident_id", "measured_on", "setting", "measured_by", "submission_id",
                            *[c for n in MEASURE_NAMES for c in ((n, "hba1c_mmol_mol") if n == "hba1c" else (n,))],
                            *ANSWER_NAMES)
_ID_COLUMNS = ("resident_id", "measured_on", "setting", "measured_by", "submission_id")
#: Two cells of one measure in two units agree when they differ (in the stored unit) by no more than
#: rounding: half a unit of the first decimal of the stored unit plus half a unit of the other unit's
#: whole number (values are reported so: 7.0 %, 53 mmol/mol; 6.9 mmol/L, 126 mg/dL).
_ROUNDING = 0.05, 0.5


# --- reading cells -----------------------------------------------------------------------------

def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, blank cells (and empty text) as NA."""
    out = values.astype("string").str.strip()
    return out.mask(out == "")


def _dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from cells: ``YYYY-MM-DD``, also with a midnight time (an Excel date cell read as text:
    ``2026-03-02 00:00:00``), or date/datetime values. Returns (dates, bad)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values)
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[ns]"), out.notna() & (out.dt.normalize() != out)
    text = _text(values.map(lambda v: v.isoformat() if isinstance(v, (dt.date, pd.Timestamp)) else v))
    day = text.str.replace(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$", r"\1", regex=True)
    out = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    return out.astype("datetime64[ns]"), text.notna() & out.isna()


def _numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from cells (text or numeric). Returns (float64 numbers, bad: not blank, not a number)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        out = values.astype("float64")
        return out, pd.Series(False, index=values.index)
    text = _text(values)
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    return out, text.notna() & out.isna()


def _unit(name: str) -> str:
    return _facts()["measures"][name]["unit"]


# --- prepare ---------------------------------------------------------------------------------------

def _known_columns() -> list[str]:
    return [*_ID_COLUMNS, *MEASURE_NAMES, *UNIT_COLUMNS, *ANSWER_NAMES]


def _column_problems(columns: list[str]) -> list[tuple]:
    known = _known_columns()
    problems = []
    missing = [c for c in ("resident_id", "measured_on") if c not in columns]
    if missing:
        problems.append((None, ", ".join(missing), None, f"{'is' if len(missing) == 1 else 'are'} absent: required "
                                                         "columns are resident_id, measured_on"))
    for c in columns:
        if c not in known:
            close = difflib.get_close_matches(c.lower(), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append((None, c, None, f"is not a column of a measurements file{hint}: known columns are "
                                            f"{', '.join(known)}"))
    if not any(c in columns for c in (*MEASURE_NAMES, *UNIT_COLUMNS, *ANSWER_NAMES)):
        problems.append((None, "(measures)", None, "no measure or answer column was found (e.g. sbp, dbp, "
                                                   "fasting_glucose, weight_kg, adherence)"))
    return problems


def prepare(frame: pd.DataFrame, *, today: dt.date | None = None) -> tuple[pd.DataFrame, list[tuple]]:
    """Readings from a file or a visit form as the ``measurements`` analysis table's columns,
    converted, computed and checked.

    Parameters
    ----------
    frame : DataFrame
        One row per reading or visit, text or typed cells: ``resident_id``, ``measured_on``
        (``YYYY-MM-DD``; an Excel date cell's midnight time is accepted), optionally ``setting``
        (clinic, home, device; no column: clinic), ``measured_by`` and ``submission_id``; then any
        of :data:`MEASURE_NAMES` (stored units), :data:`UNIT_COLUMNS` (other units, converted:
        ``stored = value / divide_by + add``) and :data:`ANSWER_NAMES`. A blank cell is not
        measured (never zero). A measure given in both units must agree within rounding.
    today : date, optional
        Readings after it are refused (default: today).

    Returns
    -------
    (DataFrame, list of tuple)
        The rows without a problem (the input's index kept), columns :data:`COLUMNS` typed as the
        analysis table declares them (``measured_by``, ``submission_id``: string, blank when not
        given): ``bmi`` computed from weight and height when both are given (a given BMI must agree
        within 0.5 kg/m2), ``hba1c_mmol_mol`` computed from ``hba1c``. And every problem as
        ``(row, column, value, rule)``: ``row`` the index label (None for the frame as a whole),
        ``column`` and ``value`` as given (an other-unit column with its own value), ``rule`` the
        rule broken. Rows sharing resident, date and setting are a problem (a key must be unique).

    Notes
    -----
    A value outside its plausible range (a data-quality rule, ``measurements.yaml``) is refused;
    when the value would be plausible in another declared unit (a glucose of 126 under the mmol/L
    column is 7.0 mmol/L in mg/dL), the rule names the column to use.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"The 'frame' parameter of prepare must be a DataFrame. Got {type(frame).__name__} instead.")
    today = pd.Timestamp(today or dt.date.today())
    frame = frame.rename(columns=lambda c: str(c).strip())
    problems: list[tuple] = _column_problems(list(frame.columns))
    if problems:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}).pipe(_typed), problems
    index = frame.index
    out: dict[str, pd.Series] = {}

    ids = _text(frame["resident_id"])
    problems += [(index[i], "resident_id", _shown(frame["resident_id"].iloc[i]), "is blank but required")
                 for i in np.flatnonzero(ids.isna().to_numpy())]
    out["resident_id"] = ids
    days, bad = _dates(frame["measured_on"])
    for i in np.flatnonzero(bad.to_numpy()):
        value = frame["measured_on"].iloc[i]
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        hint = (": it looks like a spreadsheet's day number; format the column as a date (YYYY-MM-DD)"
                if pd.notna(number) and 1 <= number <= 80000 else "")
        problems.append((index[i], "measured_on", _shown(value), f"must be a date YYYY-MM-DD{hint}"))
    for i in np.flatnonzero((days.isna() & ~bad).to_numpy()):
        problems.append((index[i], "measured_on", None, "is blank but required"))
    for i in np.flatnonzero((days > today).to_numpy()):
        problems.append((index[i], "measured_on", _shown(frame["measured_on"].iloc[i]),
                         "is in the future: a reading is recorded once it was taken"))
    out["measured_on"] = days
    if "setting" in frame.columns:
        setting = _text(frame["setting"]).str.lower()
        for i in np.flatnonzero((setting.isna() | ~setting.isin(SETTINGS)).to_numpy()):
            problems.append((index[i], "setting", _shown(frame["setting"].iloc[i]),
                             f"must be one of {', '.join(SETTINGS)}"))
        out["setting"] = setting
    else:
        out["setting"] = pd.Series("clinic", index=index, dtype="string")
    for column in ("measured_by", "submission_id"):
        out[column] = _text(frame[column]) if column in frame.columns else pd.Series(pd.NA, index=index, dtype="string")

    measures = _facts()["measures"]
    for name, spec in measures.items():
        value = pd.Series(np.nan, index=index, dtype="float64")
        source = pd.Series(pd.NA, index=index, dtype="string")
        shown = pd.Series(None, index=index, dtype=object)
        units = [c for c, (m, *_) in UNIT_COLUMNS.items() if m == name and c in frame.columns]
        for column in ([name] if name in frame.columns else []) + units:
            number, bad = _numbers(frame[column])
            for i in np.flatnonzero(bad.to_numpy()):
                problems.append((index[i], column, _shown(frame[column].iloc[i]), "must be a number"))
            if column != name:
                _, unit, divide_by, add = UNIT_COLUMNS[column]
                converted = number / divide_by + add
                both = value.notna() & converted.notna()
                tolerance = _ROUNDING[0] + _ROUNDING[1] / divide_by
                for i in np.flatnonzero((both & ((value - converted).abs() > tolerance)).to_numpy()):
                    problems.append((index[i], column, _shown(frame[column].iloc[i]),
                                     f"disagrees with {source.iloc[i]} ({_shown(frame[source.iloc[i]].iloc[i])}): "
                                     f"{_fmt(number.iloc[i])} {unit} is {converted.iloc[i]:.2f} {spec['unit']}; a "
                                     f"measure given in two units must agree within rounding ({tolerance:.3f} "
                                     f"{spec['unit']})"))
                take = value.isna() & converted.notna()
                value = value.where(~take, converted)
                shown = shown.where(~take, frame[column])
                source = source.where(~take, column)
            else:
                value, shown = number, frame[column].where(number.notna(), None)
                source = source.where(number.isna(), column)
        low, high = spec["range"]
        outside = value.notna() & ((value < low) | (value > high))
        for i in np.flatnonzero(outside.to_numpy()):
            column, v = source.iloc[i], value.iloc[i]
            if column == name:
                rule = f"is outside the plausible range {_fmt(low)} to {_fmt(high)} {spec['unit']}"
                for other, (m, unit, divide_by, add) in UNIT_COLUMNS.items():
                    if m == name and low <= v / divide_by + add <= high:  # (no value in the rule: a column
                        rule += f": is it in {unit}? Then name the column {other}"  # of them is one problem)
                        break
            else:
                _, unit, divide_by, add = UNIT_COLUMNS[column]
                rule = (f"is outside the plausible range {_fmt(low)} to {_fmt(high)} {spec['unit']} once converted "
                        f"from {unit} ({_fmt((low - add) * divide_by)} to {_fmt((high - add) * divide_by)} {unit})")
            problems.append((index[i], column, _shown(shown.iloc[i]), rule))
        if spec["dtype"].startswith("Int"):
            fraction = value.notna() & (np.floor(value) != value) & ~outside
            for i in np.flatnonzero(fraction.to_numpy()):
                problems.append((index[i], source.iloc[i], _shown(shown.iloc[i]), f"must be a whole number of "
                                                                                  f"{spec['unit']}"))
        out[name] = value
        if name == "hba1c":
            out["hba1c_mmol_mol"] = hba1c_to_ifcc(value)

    # BMI from weight and height when both are given; a BMI given beside them must agree
    computed = out["weight_kg"] / (out["height_cm"] / 100) ** 2
    given_bmi = out["bmi"]
    low, high = measures["bmi"]["range"]
    for i in np.flatnonzero((given_bmi.notna() & computed.notna()
                             & ((given_bmi - computed).abs() > _BMI_TOLERANCE)).to_numpy()):
        problems.append((index[i], "bmi", _shown(frame["bmi"].iloc[i]),
                         f"{RULES['bmi_agrees']} (weight / height squared is {computed.iloc[i]:.1f})"))
    for i in np.flatnonzero((given_bmi.isna() & computed.notna() & ((computed < low) | (computed > high))).to_numpy()):
        problems.append((index[i], "weight_kg", _shown(frame["weight_kg"].iloc[i]),
                         f"with height {_fmt(out['height_cm'].iloc[i])} cm gives a BMI of {computed.iloc[i]:.1f}, "
                         f"outside the plausible range {_fmt(low)} to {_fmt(high)} kg/m2: check weight and height"))
    out["bmi"] = computed.where(computed.notna(), given_bmi)

    for name, spec in _facts()["answers"].items():
        if name not in frame.columns:
            out[name] = pd.Series(pd.NA, index=index, dtype="boolean" if spec["values"] == "boolean" else "string")
            continue
        text = _text(frame[name]) if frame[name].dtype != bool else frame[name].astype("string").str.lower()
        if spec["values"] == "boolean":
            low_text = text.str.lower()
            value = pd.Series(pd.NA, index=index, dtype="boolean")
            value[low_text.isin(["true", "1", "yes", "y", "t"]).fillna(False).to_numpy(bool)] = True
            value[low_text.isin(["false", "0", "no", "n", "f"]).fillna(False).to_numpy(bool)] = False
            for i in np.flatnonzero((text.notna() & value.isna()).to_numpy()):
                problems.append((index[i], name, _shown(frame[name].iloc[i]), "must be True or False (blank: not "
                                                                              "recorded)"))
        else:
            value = text.str.lower()
            for i in np.flatnonzero((value.notna() & ~value.isin(spec["values"])).to_numpy()):
                problems.append((index[i], name, _shown(frame[name].iloc[i]),
                                 f"must be one of {', '.join(spec['values'])} (blank: not recorded)"))
        out[name] = value

    typed = pd.DataFrame({c: out[c] for c in COLUMNS}, index=index)
    recorded = typed[[*MEASURE_NAMES, *ANSWER_NAMES]].notna().any(axis=1)
    problems += [(index[i], "(measures)", None, "nothing was measured or recorded in this row")
                 for i in np.flatnonzero(~recorded.to_numpy())]
    # the cross-field rules on blood pressure (BMI and HbA1c agree by construction here)
    problems += cross_field_problems(typed[["sbp", "dbp"]])
    key = typed[["resident_id", "measured_on", "setting"]]
    complete = key.notna().all(axis=1)
    repeated = key[complete].duplicated(keep="first")
    first = {}
    for label, values in zip(key[complete].index, key[complete].itertuples(index=False)):
        first.setdefault(tuple(values), label)
    for label in key[complete].index[repeated.to_numpy()]:
        values = tuple(key.loc[label])
        problems.append((label, "resident_id, measured_on, setting",
                         f"{values[0]}, {values[1].date()}, {values[2]}",
                         f"repeats row {first[values]} (same resident, date and setting): one reading per resident, "
                         "day and setting"))
    bad_rows = {p[0] for p in problems}
    keep = ~pd.Series(index.isin(list(bad_rows)), index=index)
    return _typed(typed[keep.to_numpy()]), _sorted(problems, index)


def _sorted(problems: list[tuple], index: pd.Index) -> list[tuple]:
    position = {label: k for k, label in enumerate(index)}
    return sorted(dict.fromkeys(problems), key=lambda p: -1 if p[0] is None else position.get(p[0], len(position)))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the analysis table's dtypes (``measured_by``, ``submission_id``: string)."""
    from workbench.tables import DTYPES, TABLES

    spec = TABLES["measurements"]
    columns = {}
    for c in COLUMNS:
        values = frame[c]
        if c == "submission_id":
            columns[c] = values.astype("string")
            continue
        dtype = DTYPES[spec.column(c).dtype]
        if dtype.startswith("Int"):
            values = values.astype("float64").round()
        columns[c] = values.astype(dtype)
    return pd.DataFrame(columns, index=frame.index)
