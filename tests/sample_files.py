"""The sample community as the files staff import: residents and screenings in the shape of a
spreadsheet (one row per resident / per screening, text cells, blanks missing)."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

__all__ = ["residents_file", "screenings_file"]


@lru_cache(maxsize=1)
def _sample():
    from workbench.sample import load_sample

    return load_sample()


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).where(frame.notna(), None)
    for column in out.columns:
        out[column] = [None if v is None else (v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v))
                       for v in out[column]]
    return out.reset_index(drop=True)


def residents_file(n: int | None = None) -> pd.DataFrame:
    """The sample's residents (with their community's type) as an import file."""
    s = _sample()
    people = s.residents.merge(s.communities, on="community", how="left")
    return _text(people if n is None else people.head(n))


def screenings_file(n: int | None = None, instruments=("phq9", "gad7")) -> pd.DataFrame:
    """The sample's screenings (``instruments`` only) as an import file."""
    forms = _sample().forms(list(instruments), purpose="screening")
    items = [c for c in forms.columns if c.split("_")[0] in instruments]
    forms = forms[["resident_id", "assessed_on", "mode", "language", *items]]
    return _text(forms if n is None else forms.head(n))
