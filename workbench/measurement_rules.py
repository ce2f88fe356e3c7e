"""The cross-field rules of a physiological measurement and the exact HbA1c conversion.

Read from ``workbench/data/measurements.yaml`` (``rules``; the IFCC constants of ``hba1c``), with
nothing above them: :mod:`workbench.tables` checks stored rows with :func:`cross_field_problems`
and :mod:`workbench.measurements` (reading files and forms) uses the same functions; both are
reached from here, so the checks are written once.

>>> round(float(hba1c_to_ifcc(7.0)), 2)
53.01
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench._declarations import measures

__all__ = ["RULES", "cross_field_problems", "hba1c_to_ifcc", "hba1c_to_ngsp"]

#: The cross-field rules by name (their text is the rule a problem names).
RULES: dict[str, str] = dict(measures()["rules"])
_IFCC = measures()["measures"]["hba1c"]["other_units"]["mmol_mol"]
_BMI_TOLERANCE = 0.5  # kg/m2 (rules.bmi_agrees)


def _convert(values, function):
    """``function`` of ``values`` (a number, array-like or Series; blanks stay NaN), the same shape out."""
    if isinstance(values, pd.Series):
        return function(values.astype("float64"))
    array = np.asarray(values, dtype="float64")
    out = function(array)
    return float(out) if array.ndim == 0 else out


def hba1c_to_ifcc(pct):
    """HbA1c in mmol/mol (IFCC) from % (NGSP/DCCT): ``(pct - 2.15) * 10.929`` exactly (the
    IFCC-NGSP master equation, Hoelzel et al., Clin Chem 2004;50:166-174; the constants are those
    of ``measurements.yaml``).

    Parameters
    ----------
    pct : float, array-like or Series
        HbA1c in %. Blanks (NaN, None) stay blank.

    Returns
    -------
    float, ndarray or Series
        The same shape as ``pct``.

    Examples
    --------
    >>> hba1c_to_ifcc([6.5, 7.0, None]).round(3).tolist()
    [47.541, 53.006, nan]
    """
    add, divide_by = float(_IFCC["add"]), float(_IFCC["divide_by"])
    return _convert(pct, lambda x: (x - add) * divide_by)


def hba1c_to_ngsp(mmol_mol):
    """HbA1c in % (NGSP/DCCT) from mmol/mol (IFCC): ``mmol_mol / 10.929 + 2.15`` exactly (the
    inverse of :func:`hba1c_to_ifcc`).

    Examples
    --------
    >>> hba1c_to_ngsp(np.array([48.0, 53.0])).round(3).tolist()
    [6.542, 6.999]
    """
    add, divide_by = float(_IFCC["add"]), float(_IFCC["divide_by"])
    return _convert(mmol_mol, lambda x: x / divide_by + add)


def _shown(value) -> Any:
    """A cell as reported in a problem: blanks as None, numpy scalars as Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def _fmt(x: float) -> str:
    return f"{x:g}"


def cross_field_problems(frame: pd.DataFrame) -> list[tuple]:
    """The cross-field rules (``measurements.yaml`` ``rules``) on stored rows, as ``(row, column,
    value, rule)`` (``row``: the frame's index label).

    - ``dbp_below_sbp``: the diastolic pressure lower than the systolic of the same reading;
    - ``bp_pair``: both pressures or neither;
    - ``bmi_agrees``: a BMI with weight and height agrees with weight / height squared within 0.5;
    - ``hba1c_mmol_mol`` equals :func:`hba1c_to_ifcc` of ``hba1c`` (to 1e-6), blank with it.

    >>> cross_field_problems(pd.DataFrame({"sbp": [120, 80], "dbp": [80, 90]}))
    [(1, 'dbp', 90, 'the diastolic pressure must be lower than the systolic pressure of the same reading (sbp 80)')]
    """
    rows: list[tuple] = []
    columns = set(frame.columns)
    if {"sbp", "dbp"} <= columns:
        sbp, dbp = frame["sbp"].astype("float64"), frame["dbp"].astype("float64")
        for i in np.flatnonzero((sbp.notna() & dbp.notna() & (dbp >= sbp)).to_numpy()):
            rows.append((frame.index[i], "dbp", _shown(frame["dbp"].iloc[i]),
                         f"{RULES['dbp_below_sbp']} (sbp {_fmt(sbp.iloc[i])})"))
        for i in np.flatnonzero((sbp.isna() != dbp.isna()).to_numpy()):
            missing = "dbp" if dbp.isna().iloc[i] else "sbp"
            rows.append((frame.index[i], missing, None, f"is blank while {'sbp' if missing == 'dbp' else 'dbp'} is "
                                                        f"given: {RULES['bp_pair']}"))
    if {"bmi", "weight_kg", "height_cm"} <= columns:
        bmi = frame["bmi"].astype("float64")
        computed = frame["weight_kg"].astype("float64") / (frame["height_cm"].astype("float64") / 100) ** 2
        bad = bmi.notna() & computed.notna() & ((bmi - computed).abs() > _BMI_TOLERANCE)
        for i in np.flatnonzero(bad.to_numpy()):
            rows.append((frame.index[i], "bmi", _shown(frame["bmi"].iloc[i]),
                         f"{RULES['bmi_agrees']} (weight / height squared is {computed.iloc[i]:.1f})"))
    if {"hba1c", "hba1c_mmol_mol"} <= columns:
        given = frame["hba1c_mmol_mol"].astype("float64")
        exact = hba1c_to_ifcc(frame["hba1c"].astype("float64"))
        bad = (given.isna() != exact.isna()) | ((given - exact).abs() > 1e-6).fillna(False)
        for i in np.flatnonzero(bad.to_numpy()):
            rows.append((frame.index[i], "hba1c_mmol_mol", _shown(frame["hba1c_mmol_mol"].iloc[i]),
                         f"must be (hba1c - {_IFCC['add']}) x {_IFCC['divide_by']} exactly"
                         + ("" if pd.isna(exact.iloc[i]) else f" ({exact.iloc[i]:.4f})")))
    return rows
