"""CMS159: depression remission at twelve months, per index episode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.outcomes._config import thresholds
from workbench.outcomes._inputs import Checker, as_day
from workbench.params import FRAME, Date, Optional, validate_params

__all__ = ["cms159"]


@validate_params({"assessments": FRAME, "on": Optional(Date())})
def cms159(assessments: pd.DataFrame, *, subject: str = "resident_id", time: str = "assessed_on",
           on: Any = None) -> pd.DataFrame:
    """CMS159 remission at 12 months, one row per index episode.

    Parameters
    ----------
    assessments : DataFrame
        Long assessments with ``subject``, ``time`` (date) and PHQ-9 totals in ``phq9_score`` (or in
        ``score``, with an ``instrument`` column when questionnaires are mixed). NaN = not scorable.
    subject, time : str
        Column names.
    on : date, optional
        Evaluation date. When given, assessments after it are ignored and episodes whose window
        has not closed by then get ``remitted`` NA (not yet known). When None, every window is
        judged on the data as given.

    Returns
    -------
    DataFrame
        One row per episode, sorted by subject and index date: ``subject``, ``index_on``,
        ``index_score``, ``window_start`` and ``window_end`` (index + 12 months -/+ 60 days, both
        included), ``last_on`` and ``last_score`` (the last PHQ-9 in the window; NA if none) and
        ``remitted`` (nullable boolean: last score < 5; no follow-up in the window = False).

    Notes
    -----
    CMS159 (REFERENCE.md; thresholds.yaml ``cms159``): an index PHQ-9 > 9 opens an episode. The
    next episode can only open with a PHQ-9 > 9 after the previous window has ended, so episodes
    never overlap. "12 months" is calendar months (2023-03-15 -> 2024-03-15). Unscored assessments
    are skipped, never read as 0.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"resident_id": ["a", "a", "a", "b"],
    ...                   "assessed_on": ["2023-01-10", "2023-06-01", "2024-01-05", "2023-02-01"],
    ...                   "phq9_score": [15, 9, 4, 12]})
    >>> cms159(d)[["resident_id", "index_on", "window_start", "window_end", "last_score", "remitted"]]
      resident_id   index_on window_start window_end  last_score  remitted
    0           a 2023-01-10   2023-11-11 2024-03-10         4.0      True
    1           b 2023-02-01   2023-12-03 2024-04-01         NaN     False
    """
    fn = "cms159"
    day = None if on is None else as_day(on, fn, "on")
    chk = Checker(fn)
    chk.frame(assessments, "assessments")
    if not chk.require(assessments, "assessments", [subject, time]):
        chk.done()
    ids = chk.ids(assessments, "assessments", subject)
    when = chk.dates(assessments, "assessments", time)
    scores = chk.score_column(assessments, "assessments", "phq9")
    chk.done()

    t = thresholds()
    rows = pd.DataFrame({"subject": ids.to_numpy(), "on": when.to_numpy(), "score": scores.to_numpy(),
                         "order": np.arange(len(assessments))})
    rows = rows[rows["score"].notna()]
    if day is not None:
        rows = rows[rows["on"] <= day]
    rows = rows.sort_values(["subject", "on", "order"], kind="stable")
    months, pad = pd.DateOffset(months=t.cms159_months), pd.Timedelta(days=t.cms159_window_days)
    # Episodes, one round per episode number: each subject's first remaining PHQ-9 > 9 opens an
    # episode, and candidates up to the end of its window are used up.
    candidates = rows[rows["score"] > t.cms159_index_above]
    found = []
    while len(candidates):
        first = candidates.groupby("subject", sort=False).head(1)
        first = first.assign(window_end=first["on"] + months + pad)
        found.append(first)
        end_of = candidates["subject"].map(first.set_index("subject")["window_end"])
        candidates = candidates[candidates["on"] > end_of]
    episodes = (pd.concat(found) if found else rows.iloc[:0].assign(window_end=pd.Series(dtype="datetime64[ns]")))
    episodes = episodes.rename(columns={"on": "index_on", "score": "index_score"})[
        ["subject", "index_on", "index_score", "window_end"]]
    episodes["window_start"] = episodes["index_on"] + months - pad
    # the last scored PHQ-9 on or before the window end; it is in the window if not before its start
    right = rows.sort_values(["on", "order"], kind="stable")[["subject", "on", "score"]].rename(
        columns={"on": "last_on", "score": "last_score"})
    episodes = pd.merge_asof(episodes.sort_values("window_end", kind="stable"), right, left_on="window_end",
                             right_on="last_on", by="subject", direction="backward")
    outside = ~(episodes["last_on"] >= episodes["window_start"])
    episodes.loc[outside, ["last_on", "last_score"]] = [pd.NaT, np.nan]
    episodes["open"] = (episodes["window_end"] > day) if day is not None else False
    out = episodes.sort_values(["subject", "index_on"], kind="stable").reset_index(drop=True)
    columns = ["subject", "index_on", "index_score", "window_start", "window_end", "last_on", "last_score"]
    out = out.astype({"index_on": "datetime64[ns]", "window_start": "datetime64[ns]",
                      "window_end": "datetime64[ns]", "last_on": "datetime64[ns]",
                      "index_score": "float64", "last_score": "float64"})
    remitted = pd.array((out["last_score"] < t.cms159_remission_below).to_numpy(bool), dtype="boolean")
    remitted[out["open"].to_numpy(bool)] = pd.NA
    out = out[columns].assign(remitted=remitted).rename(columns={"subject": subject})
    out.attrs.update(thresholds_version=t.version, on=day)
    return out
