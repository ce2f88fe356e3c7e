"""Small groups of quasi-identifiers in an export, and making them large enough (k-anonymity).

Residents who share their community, sex and birth year with fewer than ``k - 1`` others are the
ones an outsider who knows those three facts can single out. :func:`small_groups` counts them;
:func:`anonymise` removes them the way statistical disclosure control tools do (sdcMicro's
``globalRecode`` then ``localSuppression``, ARX's full-domain generalisation with a suppression
limit):

1. *Global recoding*: every birth date is coarsened to a band of birth years, the narrowest band
   of the declared hierarchy (:data:`BIRTH_BANDS`: 1, 5, then 10 years) whose residents in groups
   smaller than ``k`` are at most ``suppression_limit`` of all residents. A coarsened birth date is
   the middle of its band (1 July of the year for 1-year bands, 1 July 1952 for 1950-1954,
   1 January 1955 for 1950-1959).
2. *Local suppression*: the residents still in groups smaller than ``k`` lose their birth date
   (the cell is left blank); those whose (community, sex) group is then still smaller than ``k``
   lose their sex too; those whose community alone is still smaller than ``k`` lose their
   community (:data:`SUPPRESSION_ORDER`). Community and sex are never merged into wider values.

A blank counts as a value of its own (the strict choice: a blank sex does not hide among women and
men, as sdcMicro's default counting would have it), so afterwards every group of published values
that has any non-blank quasi-identifier holds at least ``k`` residents. Residents with every
quasi-identifier blank say nothing about any of them and are counted apart
(``rows_fully_suppressed``). The result depends only on the residents' values, never on row order:
two exports of the same registry are coarsened alike. Every export says what was done
(``disclosure.json``, the export's audit entry and a line of ``workbench export``).
"""

from __future__ import annotations

import math

import pandas as pd

from workbench.params import Interval, Predicate, validate_params

__all__ = ["BIRTH_BANDS", "QUASI_IDENTIFIERS", "SUPPRESSION_ORDER", "anonymise", "band_middle", "small_groups"]

#: The columns an outsider is likely to know about a resident (the birth year from the birth date).
QUASI_IDENTIFIERS = ("community", "sex", "birth_year")

#: The generalisation hierarchy of the birth date: band widths in years, narrowest first. A band
#: of width ``w`` starts on a year divisible by ``w`` (1950-1954, 1950-1959).
BIRTH_BANDS = (1, 5, 10)

#: The columns of ``residents`` blanked by local suppression, first to last (the last kept longest).
SUPPRESSION_ORDER = ("birth_date", "sex", "community")


def _keys(residents: pd.DataFrame, years: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"community": residents["community"].astype("string"),
                         "sex": residents["sex"].astype("string"), "birth_year": years.astype("Int64")},
                        index=residents.index)


def _group_sizes(keys: pd.DataFrame) -> pd.Series:
    """Each row's group size (blanks a value of their own); 0 for rows with every key blank."""
    sizes = keys.groupby(list(keys.columns), dropna=False, observed=True, sort=False)[keys.columns[0]].transform("size")
    return sizes.where(keys.notna().any(axis=1), 0)


@validate_params({"k": Interval(int, 2, None)})
def small_groups(residents: pd.DataFrame, k: int = 5) -> dict:
    """How many residents share their quasi-identifiers (:data:`QUASI_IDENTIFIERS`) with fewer
    than ``k - 1`` others.

    Parameters
    ----------
    residents : DataFrame
        The ``residents`` analysis table (``community``, ``sex``, ``birth_date``), possibly with
        blanks (suppressed cells) and coarsened birth dates (each band has one date, its middle).
    k : int
        The smallest group size accepted (k-anonymity), 5 by default.

    Returns
    -------
    dict
        ``k``, ``quasi_identifiers``, ``groups`` (distinct combinations of published values, a
        blank counting as a value of its own), ``smallest_group`` (0 when there are none),
        ``groups_below_k`` and ``rows_in_groups_below_k``, ``rows_fully_suppressed`` (residents
        with every quasi-identifier blank: in no group) and ``k_anonymous`` (whether every group
        has at least ``k`` residents).

    Examples
    --------
    >>> people = pd.DataFrame({"community": ["A"] * 6 + ["B"] * 2, "sex": ["female"] * 5 + ["male"] * 3,
    ...                        "birth_date": pd.to_datetime(["1950-03-01"] * 8)})
    >>> r = small_groups(people, k=5)
    >>> (r["groups"], r["smallest_group"], r["groups_below_k"], r["rows_in_groups_below_k"], r["k_anonymous"])
    (3, 1, 2, 3, False)
    """
    keys = _keys(residents, pd.to_datetime(residents["birth_date"]).dt.year)
    keys = keys[keys.notna().any(axis=1)]
    sizes = keys.groupby(list(QUASI_IDENTIFIERS), dropna=False, observed=True).size()
    below = sizes[sizes < k]
    return {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "groups": int(len(sizes)),
            "smallest_group": int(sizes.min()) if len(sizes) else 0, "groups_below_k": int(len(below)),
            "rows_in_groups_below_k": int(below.sum()), "rows_fully_suppressed": int(len(residents) - len(keys)),
            "k_anonymous": bool(len(below) == 0)}


def band_middle(years: pd.Series, width: int) -> pd.Series:
    """The published birth date of each birth year in bands of ``width`` years: the middle of the
    band (blank for a blank year).

    >>> band_middle(pd.Series([1950, 1954, None], dtype="Int64"), 5).dt.strftime("%Y-%m-%d").tolist()
    ['1952-07-01', '1952-07-01', nan]
    >>> band_middle(pd.Series([1950, 1959], dtype="Int64"), 10).dt.strftime("%Y-%m-%d").tolist()
    ['1955-01-01', '1955-01-01']
    >>> band_middle(pd.Series([1950], dtype="Int64"), 1).dt.strftime("%Y-%m-%d").tolist()
    ['1950-07-01']
    """
    start = (years.astype("Int64") // width) * width
    months = 6 * width  # half the band, in months from 1 January of its first year
    year, month = start + months // 12, months % 12 + 1
    text = year.astype("string") + f"-{month:02d}-01"
    return pd.to_datetime(text, format="%Y-%m-%d", errors="raise").astype("datetime64[ns]")


def _bands(value) -> bool:
    widths = list(value)
    return (len(widths) > 0 and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths)
            and widths == sorted(set(widths)))


@validate_params({"k": Interval(int, 2, None),
                  "bands": Predicate(_bands, "band widths in years, whole numbers >= 1, narrowest first, each once"),
                  "suppression_limit": Interval(float, 0, 1)})
def anonymise(tables, k: int = 5, *, bands=BIRTH_BANDS, suppression_limit: float = 0.05):
    """The analysis tables with ``residents`` made k-anonymous on community, sex and birth year
    (see the module docstring), and a report of what was done.

    Parameters
    ----------
    tables : workbench.tables.Tables
        Analysis tables (pseudonymised, for an export).
    k : int
        The smallest group size published (at least 2).
    bands : sequence of int
        The birth-band widths tried, narrowest first (:data:`BIRTH_BANDS`).
    suppression_limit : float
        The share of residents whose cells local suppression may blank for a band to be chosen
        (ARX's "suppression limit"; 5 % by default). When no band keeps within it the widest is
        used, suppression still makes the tables k-anonymous, and ``within_limit`` is false.

    Returns
    -------
    (Tables, dict)
        The tables (``attrs``: ``birth_band_years``, ``k_anonymity``, ``anonymisation``) and the
        report: ``k``, ``quasi_identifiers``, ``birth_bands`` (declared), ``birth_band_years``
        (chosen), ``rows_below_k_by_band`` (before suppression, for each band tried),
        ``suppression_limit`` and ``within_limit``, ``residents``, ``cells_suppressed`` (per
        column, in :data:`SUPPRESSION_ORDER`), ``rows_touched`` (residents with a cell blanked),
        ``rows_fully_suppressed``, ``before`` and ``after`` (:func:`small_groups`), ``k_anonymous``.

    Examples
    --------
    Six women of community A born 1950-1954, one man of A born 1951, four men of B born 1960:

    >>> from workbench.tables import Tables
    >>> years = [1950, 1950, 1951, 1952, 1953, 1954, 1951, 1960, 1960, 1960, 1960]
    >>> people = pd.DataFrame({"community": ["A"] * 7 + ["B"] * 4, "sex": ["female"] * 6 + ["male"] * 5,
    ...                        "birth_date": pd.to_datetime([f"{y}-07-01" for y in years])})
    >>> _, r = anonymise(Tables(residents=people), k=5, suppression_limit=0.5)
    >>> r["birth_band_years"], r["rows_below_k_by_band"], r["cells_suppressed"], r["rows_touched"]
    (5, {'1': 11, '5': 5}, {'birth_date': 5, 'sex': 5, 'community': 5}, 5)
    """
    residents = tables.residents
    n = len(residents)
    years = pd.to_datetime(residents["birth_date"]).dt.year.astype("Int64")
    allowed = math.floor(suppression_limit * n + 1e-9)
    tried: dict[str, int] = {}
    width = None
    for w in bands:
        tried[str(w)] = int((_group_sizes(_keys(residents, (years // w) * w)) .between(1, k - 1)).sum())
        if tried[str(w)] <= allowed:
            width = w
            break
    within = width is not None
    width = width if within else list(bands)[-1]

    published = {"community": residents["community"].astype("string").copy(),
                 "sex": residents["sex"].astype("string").copy(), "birth_year": (years // width) * width}
    suppressed = {}
    touched = pd.Series(False, index=residents.index)
    for column in SUPPRESSION_ORDER:
        key = "birth_year" if column == "birth_date" else column
        keys = pd.DataFrame(published, index=residents.index)
        small = _group_sizes(keys).between(1, k - 1) & keys[key].notna()
        published[key] = published[key].mask(small)
        suppressed[column] = int(small.sum())
        touched |= small

    out = residents.copy()
    out["community"] = published["community"]
    out["sex"] = published["sex"]
    out["birth_date"] = band_middle(published["birth_year"], width)
    before, after = small_groups(residents, k), small_groups(out, k)
    report = {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "birth_bands": list(bands),
              "birth_band_years": width, "rows_below_k_by_band": tried, "suppression_limit": suppression_limit,
              "within_limit": within, "residents": n, "cells_suppressed": suppressed,
              "rows_touched": int(touched.sum()), "rows_fully_suppressed": after["rows_fully_suppressed"],
              "before": before, "after": after, "k_anonymous": after["k_anonymous"]}
    described = ("birth dates as 1 July of the birth year" if width == 1 else
                 f"birth dates as the middle of {width}-year bands of birth years")
    blanks = ", ".join(f"{count} {column}" for column, count in suppressed.items() if count) or "no cell"
    attrs = {**tables.attrs, "birth_band_years": width, "k_anonymity": k,
             "anonymisation": f"k = {k} on community, sex and birth year: {described}; {blanks} left blank "
                              f"({report['rows_touched']} resident(s)); see disclosure.json"}
    return type(tables)(attrs=attrs, **{**dict(tables.items()), "residents": out}), report
