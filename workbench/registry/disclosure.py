"""Small groups of quasi-identifiers in an export: residents who share their community, sex and
birth year with fewer than ``k`` others are the ones an outsider who knows those three facts can
single out. :func:`small_groups` counts them, so that every export says how identifiable it is
(``disclosure.json`` and a line of the export's summary).
"""

from __future__ import annotations

import pandas as pd

from workbench.params import Interval, validate_params

__all__ = ["QUASI_IDENTIFIERS", "small_groups"]

#: The columns an outsider is likely to know about a resident (the birth year from the birth date).
QUASI_IDENTIFIERS = ("community", "sex", "birth_year")


@validate_params({"k": Interval(int, 2, None)})
def small_groups(residents: pd.DataFrame, k: int = 5) -> dict:
    """How many residents share their quasi-identifiers (:data:`QUASI_IDENTIFIERS`) with fewer
    than ``k - 1`` others.

    Parameters
    ----------
    residents : DataFrame
        The ``residents`` analysis table (``community``, ``sex``, ``birth_date``).
    k : int
        The smallest group size accepted (k-anonymity), 5 by default.

    Returns
    -------
    dict
        ``k``, ``quasi_identifiers``, ``groups`` (distinct combinations), ``smallest_group`` (0 when
        there are no residents), ``groups_below_k`` and ``rows_in_groups_below_k``, and
        ``k_anonymous`` (whether every group has at least ``k`` residents).

    Examples
    --------
    >>> people = pd.DataFrame({"community": ["A"] * 6 + ["B"] * 2, "sex": ["female"] * 5 + ["male"] * 3,
    ...                        "birth_date": pd.to_datetime(["1950-03-01"] * 8)})
    >>> r = small_groups(people, k=5)
    >>> (r["groups"], r["smallest_group"], r["groups_below_k"], r["rows_in_groups_below_k"], r["k_anonymous"])
    (3, 1, 2, 3, False)
    """
    years = pd.to_datetime(residents["birth_date"]).dt.year
    keys = pd.DataFrame({"community": residents["community"].astype("string"),
                         "sex": residents["sex"].astype("string"), "birth_year": years.astype("Int64")})
    sizes = keys.groupby(list(QUASI_IDENTIFIERS), dropna=False, observed=True).size()
    below = sizes[sizes < k]
    return {"k": k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "groups": int(len(sizes)),
            "smallest_group": int(sizes.min()) if len(sizes) else 0, "groups_below_k": int(len(below)),
            "rows_in_groups_below_k": int(below.sum()), "k_anonymous": bool(len(below) == 0)}
