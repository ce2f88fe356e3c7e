"""Chronic-disease follow-up at city scale (issue 15): classify 10,000,000 readings; indicators
and the due list for 1,000,000 residents over 12 months.

Readings are synthetic (seeded), in the declared shape of the ``measurements`` and ``residents``
analysis tables and in no particular order (the worst case for the sort by resident and day):
blood pressure around the targets and danger values, fasting glucose (a quarter blank), random
glucose now and then, adverse reactions, complications and alarm symptoms, 20 % device readings
interleaved with clinic and home follow-ups; ages from 30 to 95 (the 80+ target), chronic kidney
disease blank for 30 %.

- ``classify``: ``--readings`` readings of ``--readings / 10`` residents;
- ``indicators``: ``--residents`` residents (hypertension 27.5 %, diabetes 11.9 %, the
  programme's prevalence, DESIGN.md), about quarterly follow-ups of each condition over 2025
  plus device readings, 规范管理率 and 控制率 by community and month for the 12 months of 2025;
- ``due_list`` for the same residents on 2026-01-01.

The time is the best of ``--repeat`` runs (wall clock); peak memory is the process's resident
set size after each step (psutil). Writes ``benchmarks/results/chronic.md`` and ``chronic.csv``.
``CASES`` gives the same work to ``benchmarks/run.py`` (rows = readings).

    python benchmarks/bench_chronic.py [--readings 10000000] [--residents 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from workbench.tables import TABLES, Tables

HERE = Path(__file__).resolve().parent


def residents(n: int, *, seed: int = 1, hypertension: float = 0.5, diabetes: float = 0.3) -> pd.DataFrame:
    """``n`` residents in the declared shape, 200 communities."""
    rng = np.random.default_rng(seed)
    frame = TABLES["residents"].empty()
    ids = pd.array(np.char.add("R", np.char.zfill(np.arange(n).astype(str), 7)), dtype="string")
    data = {"resident_id": ids, "sex": pd.array(np.where(rng.random(n) < 0.5, "female", "male"), dtype="string"),
            "birth_date": pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 365 * 65, n), unit="D"),
            "community": pd.array(np.char.add("C", np.char.zfill(rng.integers(0, 200, n).astype(str), 3)), dtype="string"),
            "lives_alone": rng.random(n) < 0.15, "hypertension": rng.random(n) < hypertension,
            "diabetes": rng.random(n) < diabetes, "chd": np.zeros(n, bool), "stroke": np.zeros(n, bool),
            "copd": np.zeros(n, bool), "asthma": np.zeros(n, bool),
            "ckd": pd.array(np.where(rng.random(n) < 0.3, None, rng.random(n) < 0.1), dtype="boolean")}
    return pd.DataFrame({c: data[c] for c in frame.columns})


def readings(people: pd.DataFrame, n: int, *, seed: int = 2, start: str = "2024-01-01", days: int = 730) -> pd.DataFrame:
    """``n`` readings of ``people`` (fewer after dropping repeated keys), in no particular order."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, len(people), n)
    day = (np.datetime64(start, "D") + rng.integers(0, days, n)).astype("datetime64[ns]")
    setting = np.array(["clinic", "home", "device"])[rng.choice(3, n, p=[0.6, 0.2, 0.2])]
    sbp = (rng.choice([125, 140, 150, 180], n) + rng.integers(-12, 13, n)).astype(np.int64)
    dbp = np.minimum(rng.choice([80, 90, 110], n) + rng.integers(-8, 9, n), sbp - 10)
    no_bp = rng.random(n) < 0.1
    glucose = np.round(rng.choice([6.0, 7.0, 16.7, 3.9], n, p=[0.5, 0.4, 0.05, 0.05]) + rng.normal(0, 0.8, n), 1).clip(1.5, 30)
    frame = pd.DataFrame({
        "measurement_id": pd.array(np.char.add("M", np.arange(n).astype(str)), dtype="string"),
        "resident_id": pd.Series(people["resident_id"].array.take(who)),
        "measured_on": day, "setting": pd.array(setting, dtype="string"),
        "sbp": pd.arrays.IntegerArray(sbp.astype(np.int16), no_bp), "dbp": pd.arrays.IntegerArray(dbp.astype(np.int16), no_bp),
        "fasting_glucose": pd.array(np.where(rng.random(n) < 0.25, np.nan, glucose), dtype="Float64"),
        "random_glucose": pd.array(np.where(rng.random(n) < 0.9, np.nan, glucose + 2), dtype="Float64")})
    for name, p in (("adverse_reaction", 0.05), ("complication", 0.02), ("alarm_symptoms", 0.01)):
        frame[name] = pd.array(np.where(rng.random(n) < 0.05, None, rng.random(n) < p), dtype="boolean")
    frame = frame.drop_duplicates(["resident_id", "measured_on", "setting"], ignore_index=True)
    empty = TABLES["measurements"].empty()
    for column in empty.columns:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=empty[column].dtype)
    return frame[list(empty.columns)]


def city(n: int, *, seed: int = 3) -> Tables:
    """``n`` residents at the programme's prevalence, about quarterly follow-ups over 2025."""
    people = residents(n, seed=seed, hypertension=0.275, diabetes=0.119)
    managed = int((people["hypertension"] | people["diabetes"]).sum())
    visits = readings(people[people["hypertension"] | people["diabetes"]].reset_index(drop=True), managed * 6,
                      seed=seed + 1, start="2025-01-01", days=365)
    return Tables(residents=people, measurements=visits)


def _rss_gib() -> float:
    return psutil.Process().memory_info().rss / 2**30


def _timed(fn, repeat: int):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def _classify_case(n: int):
    people = residents(max(n // 10, 10))
    return readings(people, n), people


CASES = {"chronic classify (default policy)": (_classify_case, lambda m, people: __import__("workbench.chronic").chronic.classify(m, people))}


def main(argv=None) -> None:
    from workbench.chronic import classify, due_list, indicators

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "chronic.md")
    args = parser.parse_args(argv)
    rows = []

    start = time.perf_counter()
    m, people = _classify_case(args.readings)
    print(f"generated {len(m):,} readings of {len(people):,} residents in {time.perf_counter() - start:.0f} s", flush=True)
    took, out = _timed(lambda: classify(m, people), args.repeat)
    rows.append({"step": f"classify {len(m):,} readings ({len(people):,} residents)", "rows_out": len(out),
                 "seconds": took, "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    # yardsticks of this machine's speed at the time: two steps classify cannot avoid
    index = pd.Index(people["resident_id"])
    took, _ = _timed(lambda: index.get_indexer(m["resident_id"]), args.repeat)
    rows.append({"step": f"  yardstick: pandas get_indexer of the {len(m):,} resident ids", "rows_out": len(m),
                 "seconds": took, "rss_gib": _rss_gib()})
    keys = np.random.default_rng(0).integers(0, 2**40, len(m))
    took, _ = _timed(lambda: np.argsort(keys), args.repeat)
    rows.append({"step": f"  yardstick: numpy argsort of {len(m):,} random int64", "rows_out": len(m), "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-2:], flush=True)
    del m, people, out

    start = time.perf_counter()
    tables = city(args.residents)
    print(f"generated a city of {args.residents:,} residents, {len(tables['measurements']):,} readings in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    took, out = _timed(lambda: indicators(tables, start="2025-01", end="2025-12"), args.repeat)
    rows.append({"step": f"indicators by community and month, 12 months ({args.residents:,} residents, "
                         f"{len(tables['measurements']):,} readings)", "rows_out": len(out), "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    took, out = _timed(lambda: due_list(tables, today="2026-01-01"), args.repeat)
    rows.append({"step": f"due_list on 2026-01-01 ({args.residents:,} residents)", "rows_out": len(out), "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)

    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = frame.round(2).to_markdown(index=False)
    args.out.write_text(
        f"# Chronic-disease follow-up\n\n{dt.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end; `python benchmarks/bench_chronic.py --readings {args.readings} "
        f"--residents {args.residents}` (best of {args.repeat}). Synthetic readings in no particular order (see the "
        f"script). Goal: a few seconds.\n\n{table}\n", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
