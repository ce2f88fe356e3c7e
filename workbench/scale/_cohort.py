"""Writing a synthetic cohort larger than memory: one :func:`workbench.synth.community` per
Parquet file, each with its own derived seed, never more than one partition in memory per task.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.cohort import endpoints
from workbench.scale._compute import compute
from workbench.synth import community
from workbench.params import Interval, sentence, validate_params
from workbench.prevalence import AGE_GROUPS, age_group
from workbench.synth.conditions import CONDITIONS

#: Questionnaires answered in a written cohort (the ones the default policy reads).
INSTRUMENTS = ("phq9", "gad7")
#: The ``age_group`` column's type: the groups declared once in :mod:`workbench.prevalence`
#: (:data:`~workbench.prevalence.AGE_GROUPS`, cut at :data:`~workbench.prevalence.AGE_BREAKS`), as
#: an ordered categorical with all of them in every partition, so partitions agree on the groups.
AGE_GROUP_DTYPE = pd.CategoricalDtype(list(AGE_GROUPS), ordered=True)
_SMALLEST = 100  # the smallest community synth makes


def partition_seed(seed: int, number: int) -> int:
    """The seed of partition ``number``: distinct per partition, derived from ``seed`` alone.

    >>> partition_seed(1, 0) == partition_seed(1, 0), partition_seed(1, 0) == partition_seed(1, 1)
    (True, False)
    """
    state = np.random.SeedSequence([seed, number]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))   # a non-negative int64


def partition_sizes(n: int, partition_size: int) -> list[int]:
    """Rows per partition: as even as possible, at most ``partition_size`` (at least 100 each).

    >>> partition_sizes(2_500, 1_000)
    [834, 833, 833]
    """
    k = max(1, min(-(-n // partition_size), n // _SMALLEST))
    return [n // k + (i < n % k) for i in range(k)]


def cohort_partition(number: int, *, size: int, seed: int, follow_up_years: int = 1) -> pd.DataFrame:
    """One partition of :func:`write_cohort`: residents, their baseline screening and follow-up.

    Returns
    -------
    DataFrame
        One row per resident: ``resident_id`` (``P{number:05d}-R...``, unique over the cohort),
        ``sex``, ``age``, ``age_group`` (the groups of :func:`workbench.prevalence.age_group`,
        ``18-39, 40-49, ... 80+``, as :data:`AGE_GROUP_DTYPE`), ``community_type``,
        ``lives_alone``, the chronic conditions, ``assessed_on``, the PHQ-9 and GAD-7 item
        columns (``Int8``, blank = ``<NA>``), and the endpoint "first crisis or emergency visit"
        from the screening: ``duration`` (days) and ``event`` (1 = crisis or ER visit; 0 =
        censored at death, loss to follow-up or the end of follow-up: a cause-specific event).

    Examples
    --------
    >>> part = cohort_partition(0, size=200, seed=1)
    >>> part.shape, part["resident_id"].iloc[0], sorted(part["event"].unique().tolist())
    ((200, 32), 'P00000-R0000001', [0, 1])
    >>> part["age_group"].cat.categories.tolist()
    ['18-39', '40-49', '50-59', '60-69', '70-79', '80+']
    """
    c = community(size, seed=partition_seed(seed, number), instruments=INSTRUMENTS,
                  follow_up_years=follow_up_years)
    ends = endpoints(_baseline_tables(c), censor_date=c.follow_up_end, which=["crisis_or_er"])
    residents = c.residents
    items = [col for col in c.screenings.columns if col.split("_")[0] in INSTRUMENTS]
    frame = residents[["resident_id", "sex", "age"]].copy()
    frame["age_group"] = age_group(residents["age"]).astype(AGE_GROUP_DTYPE)
    for col in ("community_type", "lives_alone", *CONDITIONS):
        frame[col] = residents[col]
    screenings = c.screenings.set_index("resident_id")
    frame["assessed_on"] = screenings["assessed_on"].reindex(frame["resident_id"]).to_numpy()
    for col in items:
        frame[col] = screenings[col].reindex(frame["resident_id"]).array
    follow = ends.set_index("resident_id")
    frame["duration"] = follow["duration"].reindex(frame["resident_id"]).to_numpy().astype(np.int32)
    frame["event"] = (follow["event"].reindex(frame["resident_id"]).to_numpy() == 1).astype(np.int8)
    frame["resident_id"] = f"P{number:05d}-" + frame["resident_id"].astype(str)
    return frame


def _baseline_tables(c) -> "Tables":
    """The analysis tables the endpoint needs (residents, their baseline screening, events), saved
    as the registry saves them; the rest of :meth:`Community.tables` (reviews, study visits,
    decisions) is not needed here and would triple the time of a partition."""
    from workbench.records import assessments_from_forms
    from workbench.tables import TABLES, Tables

    residents = c.residents
    communities = residents[["community", "community_type"]].drop_duplicates("community")
    screenings = assessments_from_forms(c.screenings, purpose="screening", instruments=INSTRUMENTS)
    screenings["assessment_id"] = pd.array([f"A{k:07d}" for k in range(1, len(screenings) + 1)], dtype="string")
    events = c.events.assign(event_id=[f"V{k:07d}" for k in range(1, len(c.events) + 1)], source=None)
    frames = {"communities": communities, "residents": residents[TABLES["residents"].names],
              "assessments": screenings, "events": events[TABLES["events"].names]}
    from workbench.tables import coerce

    return Tables(attrs={"source": "synth"}, **{name: coerce(name, frame)[0] for name, frame in frames.items()})


def _write_partition(folder: str, number: int, size: int, seed: int, follow_up_years: int) -> int:
    frame = cohort_partition(number, size=size, seed=seed, follow_up_years=follow_up_years)
    frame.to_parquet(os.path.join(folder, f"part-{number:05d}.parquet"), index=False)
    return len(frame)


@validate_params({"n": Interval(int, _SMALLEST, None), "partition_size": Interval(int, _SMALLEST, 1_000_000),
                  "seed": Interval(int, 0, None)})
def write_cohort(path, *, n: int, partition_size: int = 500_000, seed: int = 20261126,
                 follow_up_years: int = 1, client=None) -> pd.DataFrame:
    """Write a synthetic cohort of ``n`` residents as a folder of Parquet files, in partitions.

    Each partition is a :func:`workbench.synth.community` of its own with a seed derived from
    ``seed`` and the partition number (:func:`partition_seed`), generated and written by one
    task, so memory is bounded by a partition (about 1 GB per 500,000 rows while generating)
    whatever ``n`` is. Read it back with ``dask.dataframe.read_parquet(path)`` or pass the
    path to the :mod:`workbench.scale` functions.

    Parameters
    ----------
    path : str or path
        A folder that does not exist or is empty (a cohort is never written over); on a
        cluster of several machines it must be a folder every worker can write to.
    n : int
        Residents, at least 100.
    partition_size : int
        Rows per file, in [100, 1000000] (the partitions are as even as possible and have at
        least 100 rows).
    seed : int
        Non-negative; the same ``n``, ``partition_size`` and ``seed`` give the same files.
    follow_up_years : int
        As in :func:`workbench.synth.community`.
    client : distributed.Client, str or None
        Where to run the tasks (a client, a scheduler address, or None for Dask's default).

    Returns
    -------
    DataFrame
        One row per file: ``partition``, ``file`` (name in ``path``), ``rows``, ``seed``.

    Notes
    -----
    The columns are those of :func:`cohort_partition`. Partitions are independent
    communities (their own community labels and calendars), so a cohort of 50 million is 100
    communities of 500,000, not one city.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_cohort(folder, n=450, partition_size=200, seed=3)
    >>> written[["partition", "file", "rows"]]
       partition                file  rows
    0          0  part-00000.parquet   150
    1          1  part-00001.parquet   150
    2          2  part-00002.parquet   150
    """
    import dask

    n, partition_size, seed = int(n), int(partition_size), int(seed)
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(sentence("write_cohort", "path", "a new or empty folder (a cohort is never written over)",
                                       str(folder)))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = partition_sizes(n, partition_size)
    tasks = [dask.delayed(_write_partition)(str(folder), i, size, seed, follow_up_years)
             for i, size in enumerate(sizes)]
    rows = compute(tasks, client=client)
    return pd.DataFrame({"partition": range(len(sizes)), "file": [f"part-{i:05d}.parquet" for i in range(len(sizes))],
                         "rows": rows, "seed": [partition_seed(seed, i) for i in range(len(sizes))]})
