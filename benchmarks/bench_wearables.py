"""Wearable features and alerts for 1,000,000 resident-days (issue 17; goal: under a minute here).

Synthetic minute-level wristband data (``workbench.synth.wearables``: heart rate and steps every worn
minute, RMSSD over 5-minute windows asleep, a sleep episode a night, wear gaps, low-mood episodes)
of ``--residents`` residents over ``--days`` days, in chunks of ``--chunk`` residents. Three
measurements, each labelled in the results:

1. The goal: minute epochs -> daily features (``workbench.wearables.epochs.
   daily_features_from_epochs``, chunk by chunk), then the personal baseline and the alerts
   (``personal_baseline`` with the policy's window, gap and centre + ``apply_alerts``) over all the
   daily rows at once (about 1,000,000).
2. The ingest cost, paid once per upload, not per analysis: long-form readings -> epochs
   (``workbench.wearables.epochs.epochs``) measured on ``--ingest-chunks`` chunks, in readings per
   second, and the time it would take for all the readings of (1) at that rate. For comparison,
   long-form readings -> daily features directly (``daily_features``, the path without epochs) on one
   chunk, and its time for (1) at that rate.
3. Dask: ``workbench.scale._wearables.wearable_days_from_epoch_buckets`` (features, baseline and
   alerts per resident bucket of epochs in Parquet, local threads) at ``--dask-residents``.

Generation is timed apart and not counted. To keep it short, ``--distinct`` chunks are generated
(different seeds) as minute matrices, turned into epochs (``DeviceArrays.to_epochs``) and reused
under new resident ids (the same minutes under other names: the features' work is the same as for
new ones). Peak memory is the resident set size (psutil, sampled every 0.1 s) during each step, and
above what was held before it. ``--profile`` adds the top functions of one chunk of (1). Writes
``benchmarks/results/wearables.md`` and ``wearables.csv``.

    python benchmarks/bench_wearables.py [--residents 11000] [--days 91] [--chunk 100] [--distinct 2]
                                         [--ingest-chunks 2] [--dask-residents 400] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import os
import platform
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_scale import PeakMemory  # noqa: E402

from workbench.synth.wearables import device_arrays  # noqa: E402
from workbench.wearables.alerts import apply_alerts, load_wearable_policy  # noqa: E402
from workbench.wearables.epochs import daily_features_from_epochs, epochs, write_epochs  # noqa: E402
from workbench.wearables.features import daily_features, personal_baseline  # noqa: E402

START = pd.Timestamp("2025-01-01")


def residents(n: int, *, first: int = 0, seed: int = 0) -> pd.DataFrame:
    """``n`` residents aged 60-90 (older residents living alone: the programme's wearers)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"resident_id": [f"R{i:07d}" for i in range(first, first + n)],
                         "age": rng.integers(60, 91, n), "sex": np.where(rng.random(n) < 0.55, "female", "male")})


def chunk_arrays(n: int, days: int, seed: int, *, first: int = 0):
    """Minute matrices of ``n`` residents over ``days`` days from START, about 10 % of them with a
    low-mood episode after day 40 so the alerts have something to find."""
    people = residents(n, first=first, seed=seed)
    rng = np.random.default_rng(seed + 1)
    who = rng.choice(n, max(1, n // 10), replace=False)
    begin = rng.integers(41, max(42, days - 14), len(who))
    mood = pd.DataFrame({"resident_id": people["resident_id"].to_numpy()[who],
                         "start": START + pd.to_timedelta(begin, "D"),
                         "end": START + pd.to_timedelta(begin + rng.integers(7, 15, len(who)) - 1, "D"),
                         "severity": 1.0})
    end = START + pd.Timedelta(days=days - 1)
    return device_arrays(people, start=START, end=end, seed=seed, mood=mood)


def renamed(e, names: np.ndarray, first: int):
    """The same epochs under the resident ids ``names[first + i]`` (i: the number of the chunk's
    resident ``R000000i``)."""
    local = pd.Series(e.resident_id).str.slice(1).astype(np.int64).to_numpy()
    return dataclasses.replace(e, resident_id=names[first + local])


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _row(step, days, seconds, memory=None, before=None):
    return {"step": step, "resident_days": days, "seconds": None if seconds is None else round(seconds, 1),
            "peak_rss_gib": None if memory is None else round(memory.peak / 2**30, 2),
            "peak_above_start_gib": None if memory is None else round((memory.peak - before) / 2**30, 2)}


def run(args) -> tuple[pd.DataFrame, dict]:
    n_chunks = -(-args.residents // args.chunk)
    end = (START + pd.Timedelta(days=args.days - 1)).date()
    names = np.array([f"R{i:07d}" for i in range(n_chunks * args.chunk)], dtype=object)
    notes: dict = {}
    rows = []

    t = time.perf_counter()
    arrays = [chunk_arrays(args.chunk, args.days, seed) for seed in range(max(min(args.distinct, n_chunks),
                                                                              args.ingest_chunks))]
    gen = time.perf_counter() - t
    t = time.perf_counter()
    cached = [a.to_epochs() for a in arrays[:args.distinct]]
    to_epochs = time.perf_counter() - t
    notes["epoch_rows_per_chunk"] = int(np.mean([len(c) for c in cached]))
    notes["epochs_gib"] = sum(c.nbytes for c in cached) / 2**30
    rows.append(_row(f"generate {len(arrays)} distinct chunks of {args.chunk} residents x {args.days} days as minute "
                     f"matrices ({gen:.1f} s) and turn {len(cached)} into epochs ({to_epochs:.1f} s; not counted)",
                     len(arrays) * args.chunk * args.days, gen + to_epochs))
    print(rows[-1], flush=True)

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        daily_features_from_epochs(cached[0], start=START.date(), end=end)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
        notes["profile"] = "\n".join(line for line in text.getvalue().splitlines() if line.strip())

    # (1) the goal
    outputs, seconds = [], 0.0
    before = _rss()
    with PeakMemory() as memory:
        for c in range(n_chunks):
            e = renamed(cached[c % len(cached)], names, c * args.chunk)
            t = time.perf_counter()
            outputs.append(daily_features_from_epochs(e, start=START.date(), end=end))
            seconds += time.perf_counter() - t
            del e
            if c % 20 == 0:
                print(f"  chunk {c + 1}/{n_chunks}: {seconds:.1f} s so far", flush=True)
    days_n = n_chunks * args.chunk * args.days
    rows.append(_row(f"(1a) minute epochs -> daily features, {n_chunks} chunks of {args.chunk} residents",
                     days_n, seconds, memory, before))
    print(rows[-1], flush=True)
    t = time.perf_counter()
    days = pd.concat(outputs, ignore_index=True)
    notes["concat_seconds"] = time.perf_counter() - t
    del outputs
    policy = load_wearable_policy("wearables_default")
    before = _rss()
    with PeakMemory() as memory:
        t = time.perf_counter()
        out = personal_baseline(days, window=policy.baseline_window, min_days=policy.baseline_min_days,
                                gap_days=policy.baseline_gap_days, centre=policy.baseline_centre)
        out = apply_alerts(out, policy=policy)
        seconds_b = time.perf_counter() - t
    rows.append(_row(f"(1b) personal baseline ({policy.version}: {policy.baseline_window} days ending "
                     f"{policy.baseline_gap_days} days before) + alerts over {len(days):,} daily rows",
                     len(days), seconds_b, memory, before))
    print(rows[-1], flush=True)
    notes["alert_states"] = out["alert_state"].value_counts().to_dict()
    notes["flag_days"] = int(out["flag"].sum())
    rows.append(_row("(1) = (1a) + (1b): THE GOAL (< 60 s)", len(days), seconds + seconds_b))
    notes["goal_seconds"] = seconds + seconds_b
    del days, out, cached

    # (2) the ingest cost, once per upload
    n_read, t_epochs = 0, 0.0
    for a in arrays[:args.ingest_chunks]:
        readings = a.to_readings(strings=False)
        t = time.perf_counter()
        epochs(readings)
        t_epochs += time.perf_counter() - t
        n_read += len(readings)
        if a is arrays[0]:
            t = time.perf_counter()
            daily_features(readings, start=START.date(), end=end)
            notes["long_form_seconds"] = time.perf_counter() - t
            notes["long_form_readings"] = len(readings)
        del readings
    rate = n_read / t_epochs
    per_day = n_read / (args.ingest_chunks * args.chunk * args.days)
    notes["readings_per_day"] = per_day
    rows.append(_row(f"(2) INGEST, once per upload: long-form readings -> epochs, measured on {args.ingest_chunks} "
                     f"chunks ({n_read:,} readings: {rate / 1e6:.1f} million readings/s)",
                     args.ingest_chunks * args.chunk * args.days, t_epochs))
    rows.append(_row(f"(2) INGEST at that rate for the {days_n:,} resident-days of (1) (~{per_day * days_n / 1e9:.2f} "
                     f"billion readings; extrapolated, not run)", days_n, per_day * days_n / rate))
    long_rate = notes["long_form_readings"] / notes["long_form_seconds"]
    rows.append(_row(f"for comparison: long-form readings -> daily features without epochs, 1 chunk "
                     f"({long_rate / 1e6:.1f} million readings/s)", args.chunk * args.days, notes["long_form_seconds"]))
    rows.append(_row("for comparison: the same for the resident-days of (1) (extrapolated, not run)", days_n,
                     per_day * days_n / long_rate))
    print(rows[-4:], flush=True)
    del arrays

    # (3) Dask over epoch buckets
    if args.dask_residents:
        from workbench.scale._wearables import wearable_days_from_epoch_buckets

        folder = Path(tempfile.mkdtemp(prefix="wb-epochs-"))
        try:
            t = time.perf_counter()
            step = args.chunk
            for c in range(-(-args.dask_residents // step)):
                write_epochs(chunk_arrays(step, args.days, 100 + c, first=c * step).to_epochs(), folder,
                             buckets=args.buckets, part=c)
            write_s = time.perf_counter() - t
            on_disk = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 2**30
            before = _rss()
            with PeakMemory() as memory:
                t = time.perf_counter()
                result = wearable_days_from_epoch_buckets(folder, start=START.date(), end=end)
                dask_s = time.perf_counter() - t
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        n_dask = -(-args.dask_residents // step) * step
        rows.append(_row(f"(3) Dask: generate + write epochs of {n_dask} residents in {args.buckets} resident buckets "
                         f"({on_disk:.2f} GiB Parquet, zstd; not counted)", n_dask * args.days, write_s))
        rows.append(_row(f"(3) Dask: read epochs + features + baseline + alerts per bucket ({args.buckets} buckets, "
                         "local threads)", len(result), dask_s, memory, before))
        print(rows[-2:], flush=True)
    return pd.DataFrame(rows), notes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=11_000)
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--chunk", type=int, default=100, help="residents per chunk")
    parser.add_argument("--distinct", type=int, default=2, help="distinct generated chunks, reused under new ids")
    parser.add_argument("--ingest-chunks", type=int, default=2, help="chunks whose readings -> epochs are timed")
    parser.add_argument("--dask-residents", type=int, default=400)
    parser.add_argument("--buckets", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    table, notes = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "wearables.csv", index=False)
    import dask

    load = os.getloadavg()[0]
    goal = "met" if notes["goal_seconds"] < 60 else "NOT met"
    header = (f"# Wearable features and alerts\n\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, 2 cores (shared), "
              f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, dask "
              f"{dask.__version__}; load average {load:.1f} at the end. `python benchmarks/bench_wearables.py "
              f"--residents {args.residents} --days {args.days} --chunk {args.chunk} --distinct {args.distinct} "
              f"--ingest-chunks {args.ingest_chunks} --dask-residents {args.dask_residents}`.\n\n"
              f"Goal: daily features + personal baseline + alerts for 1,000,000 resident-days under a minute: "
              f"{notes['goal_seconds']:.1f} s from minute epochs, goal {goal}. The epochs are made once, at ingest "
              f"(step 2: {notes['readings_per_day']:,.0f} readings a resident-day); that cost is paid per upload, "
              f"not per analysis, and is shown beside it, not hidden. Epochs: {notes['epoch_rows_per_chunk']:,} rows a "
              f"chunk, {notes['epochs_gib']:.2f} GiB held for the reused chunks. Concatenating the daily rows: "
              f"{notes['concat_seconds']:.1f} s (not counted). Alert states: {notes['alert_states']}; flagged days: "
              f"{notes['flag_days']:,}.\n\n")
    body = table.to_markdown(index=False) + "\n"
    if "profile" in notes:
        body += "\nOne chunk of (1a), cProfile by own time:\n\n```\n" + notes["profile"] + "\n```\n"
    (args.out / "wearables.md").write_text(header + body, encoding="utf-8")
    print(header + body)


if __name__ == "__main__":
    main()
