"""What every scale-out function shares: reading the data, running on a scheduler, and
aggregating per-partition tables with the bad rows reported as data.

Errors raised inside a worker process travel back to the caller pickled; the analysis
modules' errors (:class:`workbench._errors.RowProblemsError` and its kin) cannot be rebuilt
from their message alone, so partition functions return their problems as data, or raise a
:class:`ScaleDataError`, which pickles whole.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import pandas as pd

from workbench._errors import RowProblemsError

#: Problems kept (and shown in ``.problems``) per call; the message always gives the total.
PROBLEM_LIMIT = 10_000
#: Partial tables combined per task in the aggregation tree.
SPLIT_EVERY = 8


class ScaleDataError(RowProblemsError):
    """Input that cannot be analysed on Dask; names every bad row (row, column, value, rule).

    ``row`` is ``(partition, label)``: the partition number (0, 1, ... in the order of the
    Dask DataFrame, for :func:`workbench.scale.write_cohort` the number in the file name) and
    the row's index label within it. At most ``PROBLEM_LIMIT`` problems are kept; the message
    gives the total.

    Attributes
    ----------
    problems : DataFrame
        ``row, column, value, rule``.
    total : int
        How many problems were found in all.
    """

    def __init__(self, problems: list[tuple], *, context: str = "the data", total: int | None = None):
        self.total = len(problems) if total is None else total
        self._context = context
        shown = context if self.total == len(problems) else f"{context} ({self.total} in all, the first {len(problems)} kept)"
        super().__init__(problems, context=shown)

    def __reduce__(self):
        return (_rebuild_error, (type(self), list(self.problems.itertuples(index=False, name=None)),
                                 self._context, self.total))


def _rebuild_error(cls, problems, context, total):
    return cls(problems, context=context, total=total)


def problems_of(error: Exception, partition: int) -> list[tuple]:
    """The ``(row, column, value, rule)`` problems of an analysis error, rows as ``(partition, label)``."""
    table = error.problems
    rules = table["rule"]
    if "check" in table.columns:  # scoring's ResponseError names the check too
        rules = table["check"].astype(str) + ": " + rules.astype(str)
    return [((partition, row), column, value, rule)
            for row, column, value, rule in zip(table["row"], table["column"], table["value"], rules)]


def as_dask(data, columns: Sequence[str] | None = None):
    """A Dask DataFrame from a Dask DataFrame, a pandas DataFrame or a Parquet path.

    A path (a folder of Parquet files, a file, or a glob) is read with only ``columns``, so a
    wide cohort is never read whole.
    """
    import dask.dataframe as dd

    if isinstance(data, (str, os.PathLike)):
        data = dd.read_parquet(os.fspath(data))
    elif isinstance(data, pd.DataFrame):
        data = dd.from_pandas(data, npartitions=1, sort=False)
    elif not isinstance(data, dd.DataFrame):
        raise TypeError("The 'data' parameter must be a Dask DataFrame, a pandas DataFrame or the path of a "
                        f"Parquet dataset. Got {type(data).__name__} instead.")
    if columns is None:
        return data
    absent = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if absent:
        raise ScaleDataError([(None, c, None, "is absent from the data") for c in absent])
    return data[list(dict.fromkeys(columns))]


def compute(obj, *, client=None):
    """Compute a Dask collection or delayed object on ``client``.

    ``client`` is a ``distributed.Client``, a scheduler address (``"tcp://host:8786"``), or
    None for Dask's current default (the active ``distributed.Client`` if one exists, else the
    local threaded scheduler).
    """
    import dask

    if client is None:
        return dask.compute(obj)[0]
    if isinstance(client, str):
        from distributed import Client

        with Client(client, set_as_default=False) as connected:
            return connected.gather(connected.compute(obj))
    if hasattr(client, "compute") and hasattr(client, "scheduler"):
        return client.gather(client.compute(obj))
    raise TypeError("The 'client' parameter must be a distributed.Client, a scheduler address or None. "
                    f"Got {type(client).__name__} instead.")


def _merge(combine: Callable, limit: int, *partials):
    tables = combine([p[0] for p in partials])
    problems, total = [], 0
    for _, found, count in partials:
        problems.extend(found[:limit - len(problems)])
        total += count
    return tables, problems, total


def aggregate(ddf, per_partition: Callable, combine: Callable, *, client=None, context: str,
              error: type = ScaleDataError) -> Any:
    """Run ``per_partition(frame, number)`` on every partition and combine the results in a tree.

    ``per_partition`` returns ``(table, problems)``; ``combine`` takes a list of tables and
    returns one. Raises ``error`` with every problem (up to ``PROBLEM_LIMIT``) when any
    partition has one, so nothing is analysed half.
    """
    import dask

    limit = PROBLEM_LIMIT

    def run(frame, number):
        table, found = per_partition(frame, number)
        return table, found[:limit], len(found)

    partials = [dask.delayed(run)(part, i) for i, part in enumerate(ddf.to_delayed())]
    if not partials:
        raise ScaleDataError([(None, None, None, "has no partitions")], context=context)
    while len(partials) > 1:
        partials = [dask.delayed(_merge)(combine, limit, *partials[i:i + SPLIT_EVERY])
                    for i in range(0, len(partials), SPLIT_EVERY)]
    table, problems, total = compute(partials[0], client=client)
    if total:
        raise error(problems, context=context, total=total)
    return table


def sum_tables(keys: list[str]) -> Callable:
    """A ``combine`` that concatenates count tables and sums them by ``keys``."""
    def combine(tables):
        tables = [t for t in tables if t is not None]
        if not tables:
            return None
        kept = [t for t in tables if len(t)] or tables[:1]
        joined = pd.concat(kept, ignore_index=True)
        return joined.groupby(keys, sort=False, observed=True, dropna=False).sum().reset_index()
    return combine
