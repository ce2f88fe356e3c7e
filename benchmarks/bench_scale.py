"""Scale-out benchmarks (workbench.scale on Dask).

Three parts:

- ``CASES`` for the runner (``make bench``): screen and KM + log-rank through
  ``workbench.scale`` on 4 partitions with Dask's local threads, at the runner's sizes, next to
  the pandas cases (the overhead of going through Dask on one machine).
- ``accuracy``: Cox from aggregated counts (exact Efron, piecewise-exponential Poisson)
  against the full subject-level fit (``workbench.survival.cox``) at 10^5 and 10^6 rows:
  log-hazard-ratio differences and standard-error ratios -> ``results/scale_cox.{csv,md}``.
- ``large``: a cohort larger than the workers' memory (default 50 million residents) written
  in partitions by ``synth``, then screen + tier counts, KM + log-rank and Cox over it on a
  ``distributed.LocalCluster`` with a worker memory limit; wall time and the peak resident
  memory of the whole process tree (client, scheduler, nannies, workers; psutil, sampled every
  0.1 s) per step -> ``results/scale_large.{csv,md}``. Takes about half an hour on 2 cores; the
  cohort is deleted afterwards unless ``--keep``.

    python benchmarks/bench_scale.py accuracy [--sizes 100000 1000000]
    python benchmarks/bench_scale.py large [--rows 50000000] [--partition-size 250000]
                                           [--memory-limit 1.5GiB] [--folder /tmp/wb-scale] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stepped_care import _screenings  # noqa: E402
from bench_survival import cohort  # noqa: E402

from workbench import scale, survival  # noqa: E402

PARTITIONS = 4
COX_COVARIATES = ["arm", "x2_positive", "x3_capped"]
LARGE_COX_COVARIATES = ["lives_alone", "hypertension", "diabetes", "chd"]


def _dask(frame: pd.DataFrame):
    import dask.dataframe as dd

    return dd.from_pandas(frame, npartitions=PARTITIONS, sort=False).persist(scheduler="threads")


def _km_logrank(data):
    scale.km(data, duration="time", event="event", group="arm")
    scale.logrank(data, duration="time", event="event", group="arm")


CASES = {
    "scale: screen phq9+gad7 (Dask, 4 partitions)": (
        lambda n: (_dask(_screenings(n)[0]),), lambda data: scale.screen(data).compute(scheduler="threads")),
    "scale: KM + log-rank (Dask, 4 partitions)": (lambda n: (_dask(cohort(n)),), _km_logrank),
}


# --- Cox accuracy ---------------------------------------------------------------------------

def binned_cohort(n: int) -> pd.DataFrame:
    """The survival benchmark's cohort with its continuous and count covariates binned."""
    data = cohort(n)
    return data.assign(x2_positive=(data["x2"] > 0).astype(int), x3_capped=np.minimum(data["x3"], 4))


def accuracy(sizes) -> pd.DataFrame:
    rows = []
    for n in sizes:
        data = binned_cohort(n)
        start = time.perf_counter()
        full = survival.cox(data, duration="time", event="event", covariates=COX_COVARIATES).summary
        full_seconds = time.perf_counter() - start
        for method, intervals in (("efron", None), ("poisson", 5), ("poisson", 20), ("poisson", 100)):
            start = time.perf_counter()
            fit = scale.cox(_dask(data), duration="time", event="event", covariates=COX_COVARIATES, method=method,
                            intervals=intervals or 20, client=None)
            seconds = time.perf_counter() - start
            for covariate in COX_COVARIATES:
                rows.append({"rows": n, "method": method if method == "efron" else f"poisson, {intervals} intervals",
                             "covariate": covariate, "log_hr_full": full.loc[covariate, "coef"],
                             "log_hr_difference": fit.summary.loc[covariate, "coef"] - full.loc[covariate, "coef"],
                             "se_ratio": fit.summary.loc[covariate, "se"] / full.loc[covariate, "se"],
                             "seconds": round(seconds, 3), "seconds_full_fit": round(full_seconds, 3)})
        print(f"Cox accuracy at {n:,} rows done", flush=True)
    return pd.DataFrame(rows)


# --- larger than memory ---------------------------------------------------------------------

class PeakMemory:
    """Peak resident memory of this process and all its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.1):
        import psutil

        self._process, self._interval = psutil.Process(), interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for p in [self._process, *self._process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:   # a process that ended between listing and reading
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(self._interval)

    def reset(self) -> None:
        self.peak = self._total()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def large(rows: int, *, partition_size: int, memory_limit: str, folder: Path, keep: bool, reuse: bool = False,
          previous: Path | None = None) -> pd.DataFrame:
    """Write (or, with ``reuse``, use the cohort already in ``folder``) and analyse it, step by step.

    With ``reuse`` the write step is not run again; its row comes from ``previous`` (an earlier
    ``scale_large.csv`` of the same command) when that has one.
    """
    import dask
    import dask.dataframe as dd
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    reused = reuse and folder.exists() and any(folder.glob("part-*.parquet"))
    if folder.exists() and not reused:
        shutil.rmtree(folder)
    results = []
    if reused and previous is not None and previous.exists():
        earlier = pd.read_csv(previous)
        results += earlier[earlier["step"].str.startswith("write cohort") & (earlier["rows"] == rows)].to_dict("records")
    # no spilling to disk: the point is that nothing needs to be held in memory
    dask.config.set({"distributed.worker.memory.spill": False, "distributed.worker.memory.target": False})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client, PeakMemory() as memory:
        limit_total = 2 * parse_bytes(memory_limit)

        def step(name, work):
            memory.reset()
            start = time.perf_counter()
            out = work()
            seconds = time.perf_counter() - start
            results.append({"step": name, "rows": rows, "seconds": round(seconds, 1),
                            "peak_rss_gib": round(memory.peak / 2**30, 2),
                            "worker_memory_limit_gib": round(limit_total / 2**30, 2)})
            print(f"{name:<55} {seconds:8.1f} s  peak {memory.peak / 2**30:6.2f} GiB", flush=True)
            return out

        if not reused:
            step(f"write cohort ({rows:,} residents, {-(-rows // partition_size)} Parquet files)",
                 lambda: scale.write_cohort(folder, n=rows, partition_size=partition_size, seed=2026, client=client))
        sample = pd.read_parquet(sorted(folder.glob("part-*.parquet"))[0])
        in_memory = sample.memory_usage(deep=True).sum() / len(sample) * rows
        on_disk = sum(f.stat().st_size for f in folder.iterdir())
        tiers = step("screen (score PHQ-9 + GAD-7, assign tiers) -> tier x cell counts",
                     lambda: scale.screen(folder).groupby(["tier", "service_cell"], observed=True, dropna=False)
                     .size(split_out=1).compute())       # a tree reduction, not a shuffle
        step("KM + log-rank by age group (4 groups)",
             lambda: (scale.km(folder, duration="duration", event="event", group="age_group", client=client),
                      scale.logrank(folder, duration="duration", event="event", group="age_group", client=client)))
        efron = step("Cox, 4 binary covariates, exact Efron from counts",
                     lambda: scale.cox(folder, duration="duration", event="event", covariates=LARGE_COX_COVARIATES,
                                       client=client))
        poisson = step("Cox, 4 binary covariates, Poisson (20 intervals)",
                       lambda: scale.cox(folder, duration="duration", event="event",
                                         covariates=LARGE_COX_COVARIATES, method="poisson", client=client))
        rows_read = step("count rows (read one column)", lambda: len(dd.read_parquet(folder, columns=["event"])))
    assert rows_read == rows and int(tiers.sum()) == rows
    table = pd.DataFrame(results)
    table.attrs.update(in_memory_gib=in_memory / 2**30, on_disk_gib=on_disk / 2**30,
                       efron=efron.summary, poisson=poisson.summary, tiers=tiers)
    if not keep:
        shutil.rmtree(folder)
    return table


def _header() -> str:
    import dask

    return (f"Machine: {platform.machine()}, 2 cores, Python {platform.python_version()}, numpy {np.__version__}, "
            f"pandas {pd.__version__}, dask {dask.__version__}\n\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    big = sub.add_parser("large")
    big.add_argument("--rows", type=int, default=50_000_000)
    big.add_argument("--partition-size", type=int, default=250_000)
    big.add_argument("--memory-limit", default="1.5GiB", help="per worker (2 workers)")
    big.add_argument("--folder", type=Path, default=Path("/tmp/workbench-scale-cohort"))
    big.add_argument("--keep", action="store_true", help="keep the cohort folder afterwards")
    big.add_argument("--reuse", action="store_true",
                     help="analyse the cohort already in --folder (keep the write step's row of the last results)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "accuracy":
        table = accuracy(args.sizes)
        table.to_csv(args.out / "scale_cox.csv", index=False)
        shown = table.assign(log_hr_difference=table["log_hr_difference"].map(lambda v: f"{v:.2e}"),
                             se_ratio=table["se_ratio"].map(lambda v: f"{v:.5f}"),
                             log_hr_full=table["log_hr_full"].round(4))
        (args.out / "scale_cox.md").write_text(
            _header() + "Cox from aggregated counts (workbench.scale.cox) vs the full subject-level fit "
            "(workbench.survival.cox, Efron) on the same rows; 4 partitions, local threads.\n\n"
            + shown.to_markdown(index=False) + "\n")
    else:
        table = large(args.rows, partition_size=args.partition_size, memory_limit=args.memory_limit,
                      folder=args.folder, keep=args.keep, reuse=args.reuse, previous=args.out / "scale_large.csv")
        table.to_csv(args.out / "scale_large.csv", index=False)
        notes = (f"2 worker processes (1 thread each), memory limit {args.memory_limit} each, no spilling. "
                 f"The cohort would take {table.attrs['in_memory_gib']:.1f} GiB in pandas "
                 f"({table.attrs['on_disk_gib']:.1f} GiB of Parquet on disk). Peak memory is the resident "
                 "memory of the whole process tree (client + scheduler + nannies + workers).\n\n")
        cox_table = pd.concat({"efron": table.attrs["efron"][["coef", "se"]],
                               "poisson (20 intervals)": table.attrs["poisson"][["coef", "se"]]}, axis=1)
        (args.out / "scale_large.md").write_text(
            _header() + notes + table.to_markdown(index=False) + "\n\nCox at this size (log hazard ratios):\n\n"
            + cox_table.to_markdown(floatfmt=".5f") + "\n")


if __name__ == "__main__":
    main()
