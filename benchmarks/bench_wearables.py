"""Wearable features and alerts for 1,000,000 resident-days (issue 17; goal: under a minute here).

Synthetic minute-level wristband readings (``workbench.synth.wearables``: heart rate and steps every
worn minute, RMSSD over 5-minute windows asleep, a sleep episode a night, with wear gaps) of
``--residents`` residents over ``--days`` days, in the canonical readings frame (categorical ids,
the form ``daily_features`` reads fastest), processed in chunks of ``--chunk`` residents:

- (a) raw minute-level readings -> daily features (``workbench.wearables.features.daily_features``),
  chunk by chunk; the time is the sum over chunks;
- (b) the personal baseline and the alerts (``personal_baseline`` + ``workbench.wearables.alerts.
  apply_alerts``) over all the daily rows at once (about 1,000,000);
- Dask: ``workbench.scale._wearables.wearable_days`` (features, baseline and alerts per bucket of
  residents over Parquet partitioned by resident bucket, local threads) at ``--dask-residents``.

Generation is timed apart and not counted. To keep it short, ``--distinct`` chunks are generated
(different seeds) and reused with new resident ids (the same readings under other names: the
features' work is the same as for new readings). Peak memory is the process's resident set size
(psutil, sampled every 0.1 s) during each step, and above what was held before it (the cached
readings). ``--profile`` adds the top functions of one chunk of (a). Writes
``benchmarks/results/wearables.md`` and ``wearables.csv``.

    python benchmarks/bench_wearables.py [--residents 11000] [--days 91] [--chunk 100] [--distinct 2]
                                         [--dask-residents 400] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
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
from workbench.wearables.features import daily_features, personal_baseline  # noqa: E402

START = pd.Timestamp("2025-01-01")


def residents(n: int, *, first: int = 0, seed: int = 0) -> pd.DataFrame:
    """``n`` residents aged 60-90 (older residents living alone: the programme's wearers)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"resident_id": [f"R{i:07d}" for i in range(first, first + n)],
                         "age": rng.integers(60, 91, n), "sex": np.where(rng.random(n) < 0.55, "female", "male")})


def chunk_readings(n: int, days: int, seed: int) -> pd.DataFrame:
    """Readings of ``n`` residents over ``days`` days from START (categorical ids), about 10 % of them
    with a low-mood episode after day 40 so the alerts have something to find."""
    people = residents(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    who = rng.choice(n, max(1, n // 10), replace=False)
    begin = rng.integers(41, max(42, days - 14), len(who))
    mood = pd.DataFrame({"resident_id": people["resident_id"].to_numpy()[who],
                         "start": START + pd.to_timedelta(begin, "D"),
                         "end": START + pd.to_timedelta(begin + rng.integers(7, 15, len(who)) - 1, "D"),
                         "severity": 1.0})
    end = START + pd.Timedelta(days=days - 1)
    return device_arrays(people, start=START, end=end, seed=seed, mood=mood).to_readings(strings=False)


def renamed(readings: pd.DataFrame, first: int) -> pd.DataFrame:
    """The same readings under new resident and device ids (codes kept, categories renamed)."""
    ids = readings["resident_id"].cat
    new_ids = [f"R{first + i:07d}" for i in range(len(ids.categories))]
    new_devices = [f"BAND{first + i:09d}" for i in range(len(readings["device_id"].cat.categories))]
    return readings.assign(resident_id=ids.rename_categories(new_ids),
                           device_id=readings["device_id"].cat.rename_categories(new_devices))


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def run(args) -> tuple[pd.DataFrame, dict]:
    n_chunks = -(-args.residents // args.chunk)
    end = (START + pd.Timedelta(days=args.days - 1)).date()
    notes: dict = {}
    rows = []

    start = time.perf_counter()
    cached = [chunk_readings(args.chunk, args.days, seed) for seed in range(min(args.distinct, n_chunks))]
    gen = time.perf_counter() - start
    per_chunk = int(np.mean([len(c) for c in cached]))
    notes["readings_per_chunk"] = per_chunk
    notes["readings_total"] = per_chunk * n_chunks
    notes["cached_gib"] = sum(c.memory_usage(deep=True).sum() for c in cached) / 2**30
    rows.append({"step": f"generate {len(cached)} distinct chunks of {args.chunk} residents x {args.days} days "
                         f"({per_chunk:,} readings each; not counted)", "resident_days": len(cached) * args.chunk * args.days,
                 "seconds": round(gen, 1), "peak_rss_gib": round(_rss() / 2**30, 2), "peak_above_start_gib": None})
    print(rows[-1], flush=True)

    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        daily_features(cached[0], start=START.date(), end=end)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
        notes["profile"] = "\n".join(line for line in text.getvalue().splitlines() if line.strip())

    outputs, seconds = [], 0.0
    before = _rss()
    with PeakMemory() as memory:
        for c in range(n_chunks):
            frame = renamed(cached[c % len(cached)], c * args.chunk)
            t = time.perf_counter()
            outputs.append(daily_features(frame, start=START.date(), end=end))
            seconds += time.perf_counter() - t
            del frame
            if c % 10 == 0:
                print(f"  chunk {c + 1}/{n_chunks}: {seconds:.1f} s so far", flush=True)
    days_n = n_chunks * args.chunk * args.days
    rows.append({"step": f"(a) minute readings -> daily features, {n_chunks} chunks of {args.chunk} residents "
                         f"(~{notes['readings_total'] / 1e9:.2f} billion readings)", "resident_days": days_n,
                 "seconds": round(seconds, 1), "peak_rss_gib": round(memory.peak / 2**30, 2),
                 "peak_above_start_gib": round((memory.peak - before) / 2**30, 2)})
    print(rows[-1], flush=True)

    t = time.perf_counter()
    days = pd.concat(outputs, ignore_index=True)
    notes["concat_seconds"] = time.perf_counter() - t
    del outputs, cached                       # (b) needs the daily rows only
    policy = load_wearable_policy("wearables_default")
    before = _rss()
    with PeakMemory() as memory:
        t = time.perf_counter()
        out = personal_baseline(days, window=policy.baseline_window, min_days=policy.baseline_min_days)
        out = apply_alerts(out, policy=policy)
        seconds_b = time.perf_counter() - t
    rows.append({"step": f"(b) personal baseline + alerts over {len(days):,} daily rows", "resident_days": len(days),
                 "seconds": round(seconds_b, 1), "peak_rss_gib": round(memory.peak / 2**30, 2),
                 "peak_above_start_gib": round((memory.peak - before) / 2**30, 2)})
    print(rows[-1], flush=True)
    notes["alert_states"] = out["alert_state"].value_counts().to_dict()
    notes["flag_days"] = int(out["flag"].sum())
    rows.append({"step": "(a) + (b)", "resident_days": len(days), "seconds": round(seconds + seconds_b, 1),
                 "peak_rss_gib": None, "peak_above_start_gib": None})
    del days, out

    if args.dask_residents:
        from workbench.scale._wearables import wearable_days as dask_days, write_buckets

        folder = Path(tempfile.mkdtemp(prefix="wb-wearables-"))
        try:
            t = time.perf_counter()
            step = args.chunk
            for c in range(-(-args.dask_residents // step)):
                write_buckets(renamed(chunk_readings(step, args.days, 100 + c), c * step), folder,
                              buckets=args.buckets, part=c)
            write_s = time.perf_counter() - t
            before = _rss()
            with PeakMemory() as memory:
                t = time.perf_counter()
                result = dask_days(folder, start=START.date(), end=end)
                dask_s = time.perf_counter() - t
            on_disk = sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 2**30
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        rows.append({"step": f"Dask: generate + write {args.dask_residents} residents in {args.buckets} resident buckets "
                             f"({on_disk:.2f} GiB Parquet; not counted)", "resident_days": args.dask_residents * args.days,
                     "seconds": round(write_s, 1), "peak_rss_gib": None, "peak_above_start_gib": None})
        rows.append({"step": f"Dask: features + baseline + alerts per bucket ({args.buckets} buckets, local threads)",
                     "resident_days": len(result), "seconds": round(dask_s, 1),
                     "peak_rss_gib": round(memory.peak / 2**30, 2),
                     "peak_above_start_gib": round((memory.peak - before) / 2**30, 2)})
        print(rows[-2:], flush=True)
    return pd.DataFrame(rows), notes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=11_000)
    parser.add_argument("--days", type=int, default=91)
    parser.add_argument("--chunk", type=int, default=100, help="residents per chunk of (a)")
    parser.add_argument("--distinct", type=int, default=2, help="distinct generated chunks, reused under new ids")
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
    header = (f"# Wearable features and alerts\n\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, 2 cores, "
              f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, dask "
              f"{dask.__version__}; load average {load:.1f} at the end. `python benchmarks/bench_wearables.py "
              f"--residents {args.residents} --days {args.days} --chunk {args.chunk} --distinct {args.distinct} "
              f"--dask-residents {args.dask_residents}`. Goal: (a) + (b) for 1,000,000 resident-days under a minute.\n\n"
              f"Readings: {notes['readings_total']:,} in all ({notes['readings_per_chunk']:,} a chunk; heart rate and "
              f"steps each worn minute, RMSSD windows, sleep episodes), {notes['cached_gib']:.2f} GiB held for the "
              f"reused chunks. Concatenating the daily rows: {notes['concat_seconds']:.1f} s (not counted). "
              f"Alert states: {notes['alert_states']}; flagged days: {notes['flag_days']:,}.\n\n")
    body = table.to_markdown(index=False) + "\n"
    if "profile" in notes:
        body += "\nOne chunk of (a), cProfile by own time:\n\n```\n" + notes["profile"] + "\n```\n"
    (args.out / "wearables.md").write_text(header + body, encoding="utf-8")
    print(header + body)


if __name__ == "__main__":
    main()
