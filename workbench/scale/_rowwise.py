"""Scoring and tier assignment, row by row, over every partition of a Dask DataFrame.

Each partition is handed to :func:`workbench.score` or :func:`workbench.screen` as it is, so
the results are those of the pandas functions, row for row.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from workbench.policy import Policy, load_policy
from workbench.scale._compute import ScaleDataError, as_dask, problems_of
from workbench.scoring import ResponseError
from workbench.scoring import score as _score
from workbench.stepped_care import AssignmentError
from workbench.stepped_care import screen as _screen


def _run(function, frame: pd.DataFrame, number, keep: list[str], context: str, fix=None, **kwargs) -> pd.DataFrame:
    try:
        out = function(frame, **kwargs)
    except (ResponseError, AssignmentError) as err:
        raise ScaleDataError(problems_of(err, number), context=context) from None
    if fix is not None:
        out = fix(out)
    return pd.concat([frame[keep], out], axis=1) if keep else out


def _partition(function, context: str, fix=None):
    def apply(frame, keep, kwargs, partition_info=None):
        number = None if partition_info is None else partition_info["number"]
        return _run(function, frame, number, keep, context, fix, **kwargs)
    return apply


def _lazy(data, function, context: str, keep: Sequence[str], fix=None, **kwargs):
    ddf = as_dask(data)
    keep = list(keep)
    absent = [c for c in keep if c not in ddf.columns]
    if absent:
        raise ScaleDataError([(None, c, None, "is absent from the data (listed in 'keep')") for c in absent])
    meta = _run(function, ddf._meta, None, keep, context, fix, **kwargs)
    return ddf.map_partitions(_partition(function, context, fix), keep, kwargs, meta=meta,
                              enforce_metadata=False, align_dataframes=False)


def score(data, instrument: str, *, missing: str | int = "default", missing_codes: Iterable = (),
          keep: Sequence[str] = ()):
    """Score one questionnaire for every row of a partitioned cohort, lazily.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per assessment with the item columns ``{instrument}_{n}``.
    instrument, missing, missing_codes
        As in :func:`workbench.score`.
    keep : sequence of str
        Columns of ``data`` to carry in front of the scores (e.g. ``resident_id``): a Dask
        DataFrame's index is not unique across partitions, so join on a column, not the index.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; the columns of :func:`workbench.score` after ``keep``, partition by partition.
        Compute it, write it (``.to_parquet``) or aggregate it on the scheduler of your choice.

    Raises
    ------
    ScaleDataError
        When computed, if answers cannot be scored: every bad cell of the partition as
        ``(partition, label)``, column, value and rule (``check: rule``). An absent item
        column is reported at once, before anything runs.

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame({"id": ["a", "b"], **{f"gad2_{n}": [1, 3] for n in (1, 2)}})
    >>> score(answers, "gad2", keep=["id"]).compute()
      id  score      band  n_answered  prorated
    0  a    2.0  negative           2     False
    1  b    6.0  positive           2     False
    """
    return _lazy(data, _score, f"the {instrument} answers", keep, instrument=instrument, missing=missing,
                 missing_codes=tuple(missing_codes))


def screen(data, *, policy: str | Policy = "default", missing: str | int = "default",
           missing_codes: Iterable = (), lang: str = "en", keep: Sequence[str] = ()):
    """Score every questionnaire present and suggest a tier for every row of a partitioned
    cohort, lazily, as :func:`workbench.screen`.

    Parameters
    ----------
    data : dask DataFrame, pandas DataFrame or path of a Parquet dataset
        One row per screening: item columns, ``assessed_on`` and the chronic-condition columns
        (see :func:`workbench.assign_tiers`).
    policy, missing, missing_codes, lang
        As in :func:`workbench.screen`; the policy is loaded once, before anything runs.
    keep : sequence of str
        Columns of ``data`` to carry in front (e.g. ``resident_id``, ``duration``, ``event``).

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; ``keep``, then the columns of :func:`workbench.screen` (``policy_version`` is a
        categorical with the policy's one label in every partition).

    Raises
    ------
    ScaleDataError
        When computed, every bad cell of a partition (answers, dates, conditions) as
        ``(partition, label)``, column, value and rule.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({f"phq9_{n}": [1, 2] for n in range(1, 10)})
    >>> data["phq9_9"] = 0
    >>> data["assessed_on"] = pd.Timestamp("2025-06-02")
    >>> screen(data).compute()[["phq9_score", "tier", "rule", "policy_version"]]
       phq9_score  tier             rule policy_version
    0         8.0     1        universal    default@1.1
    1        16.0     2  screen_positive    default@1.1
    """
    loaded = load_policy(policy)
    label = pd.CategoricalDtype([loaded.label])

    def fix(out):
        out["policy_version"] = out["policy_version"].astype(label)
        return out

    return _lazy(data, _screen, "the screenings", keep, fix, policy=loaded, missing=missing,
                 missing_codes=tuple(missing_codes), lang=lang)
