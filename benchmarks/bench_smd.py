"""Severe mental disorders at city scale (issue 16): classify 1,000,000 follow-ups; the register's
indicators and the due list for 6,000 registered patients in a city of 1,000,000 residents.

Follow-ups are synthetic (seeded), in the contract's columns and types (workbench.smd), in no
particular order: risk grades mostly 0 with every grade present and 6 % blank, the answers mostly
well with every value present and a few percent blank, a fifth by phone.

- ``classify``: ``--followups`` follow-ups of ``--followups / 10`` residents;
- ``indicators``: ``--residents`` residents in 200 communities, ``--registered`` of them on the
  register (6 per 1,000: the national 2018 prevalence is 4.3), registered over 2015-2025, 2 % of
  them left; about one follow-up every 2-3 months over 2024-2025; the indicators by community and
  month for the 12 months of 2025;
- ``due_list`` for the same register on 2026-01-01.

The time is the best of ``--repeat`` runs (wall clock); peak memory is the process's resident
set size after each step (psutil). Writes ``benchmarks/results/smd.md`` and ``smd.csv``.

    python benchmarks/bench_smd.py [--followups 1000000] [--residents 1000000] [--registered 6000] [--repeat 3]
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

HERE = Path(__file__).resolve().parent


def _pick(rng, values, n, p=None, blank=0.0):
    out = np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]
    out[rng.random(n) < blank] = None
    return pd.array(out, dtype="string")


def followups(resident_ids: np.ndarray, n: int, *, seed: int = 2, start: str = "2024-01-01", days: int = 730) -> pd.DataFrame:
    """About ``n`` follow-ups of the residents (repeated resident-days dropped), in no particular order."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, len(resident_ids), n)
    day = (np.datetime64(start, "D") + rng.integers(0, days, n)).astype("datetime64[ns]")
    grade = rng.choice(6, n, p=[0.7, 0.1, 0.08, 0.06, 0.04, 0.02])
    frame = pd.DataFrame({
        "followup_id": pd.array(np.char.add("F", np.arange(n).astype(str)), dtype="string"),
        "resident_id": pd.array(np.asarray(resident_ids, dtype=object)[who], dtype="string"),
        "followed_on": day,
        "mode": _pick(rng, ["face_to_face", "phone"], n, p=[0.8, 0.2]),
        "risk_grade": pd.arrays.IntegerArray(grade.astype(np.int8), rng.random(n) < 0.06),
        "symptoms": _pick(rng, ["remitted", "residual", "marked"], n, p=[0.7, 0.22, 0.08], blank=0.03),
        "insight": _pick(rng, ["full", "partial", "none"], n, p=[0.7, 0.22, 0.08], blank=0.03),
        "social_function": _pick(rng, ["fair", "poor"], n, p=[0.75, 0.25], blank=0.03),
        "adverse_reaction": _pick(rng, ["none", "mild", "acute"], n, p=[0.85, 0.13, 0.02], blank=0.02),
        "physical_illness": _pick(rng, ["none", "mild", "serious"], n, p=[0.8, 0.17, 0.03], blank=0.02),
    })
    on_med = rng.random(n) < 0.8
    regularity = np.where(on_med, np.where(rng.random(n) < 0.55, "regular", "intermittent"), "none").astype(object)
    regularity[rng.random(n) < 0.03] = None
    frame["on_medication"] = pd.array(np.where(rng.random(n) < 0.02, None, on_med), dtype="boolean")
    frame["medication_regularity"] = pd.array(regularity, dtype="string")
    frame["outcome"] = _pick(rng, ["stable", "basically_stable", "unstable"], n, p=[0.6, 0.3, 0.1], blank=0.05)
    frame["referred"] = pd.array(rng.random(n) < 0.05, dtype="boolean")
    frame["recorded_by"] = pd.array(np.char.add("staff", rng.integers(0, 300, n).astype(str)), dtype="string")
    return frame.drop_duplicates(["resident_id", "followed_on"], ignore_index=True)


def city(residents: int, registered: int, *, seed: int = 3):
    """Residents, a register of ``registered`` of them and about quarterly follow-ups."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("R", np.char.zfill(np.arange(residents).astype(str), 7))
    people = pd.DataFrame({"resident_id": pd.array(ids, dtype="string"),
                           "community": pd.array(np.char.add("C", np.char.zfill(rng.integers(0, 200, residents).astype(str), 3)),
                                                 dtype="string")})
    chosen = np.sort(rng.choice(residents, registered, replace=False))
    registered_on = np.datetime64("2015-01-01", "D") + rng.integers(0, 11 * 365, registered)
    left = rng.random(registered) < 0.02
    left_on = np.where(left, registered_on + rng.integers(30, 3000, registered), np.datetime64("NaT"))
    register = pd.DataFrame({
        "resident_id": pd.array(ids[chosen], dtype="string"),
        "diagnosis": _pick(rng, ["schizophrenia", "schizoaffective", "delusional", "bipolar", "epilepsy_mental",
                                 "intellectual_disability_mental"], registered, p=[0.6, 0.05, 0.05, 0.15, 0.05, 0.1]),
        "diagnosed_on": (registered_on - rng.integers(0, 365, registered)).astype("datetime64[ns]"),
        "registered_on": registered_on.astype("datetime64[ns]"),
        "guardian": _pick(rng, ["parent", "spouse", "child", "sibling", "other", "none"], registered, blank=0.05),
        "consent": pd.array(rng.random(registered) < 0.9, dtype="boolean"),
        "consent_on": registered_on.astype("datetime64[ns]"),
        "left_on": left_on.astype("datetime64[ns]"),
        "left_reason": pd.array(np.where(left, "moved", None), dtype="string"),
    })
    visits = followups(ids[chosen], registered * 9, seed=seed + 1)
    return register, visits, people


def _rss_gib() -> float:
    return psutil.Process().memory_info().rss / 2**30


def _timed(fn, repeat: int):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main(argv=None) -> None:
    from workbench.smd import classify, due_list, indicators

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followups", type=int, default=1_000_000)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--registered", type=int, default=6_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "smd.md")
    args = parser.parse_args(argv)
    rows = []

    start = time.perf_counter()
    ids = np.char.add("R", np.char.zfill(np.arange(max(args.followups // 10, 10)).astype(str), 7))
    visits = followups(ids, args.followups, seed=1)
    print(f"generated {len(visits):,} follow-ups in {time.perf_counter() - start:.0f} s", flush=True)
    took, out = _timed(lambda: classify(visits), args.repeat)
    rows.append({"step": f"classify {len(visits):,} follow-ups", "rows_out": len(out), "seconds": took, "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    del visits, out

    start = time.perf_counter()
    register, visits, people = city(args.residents, args.registered)
    print(f"generated {len(people):,} residents, {len(register):,} registered, {len(visits):,} follow-ups in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    took, out = _timed(lambda: indicators(register, visits, people, start="2025-01", end="2025-12"), args.repeat)
    rows.append({"step": f"indicators by community and month, 12 months ({len(people):,} residents, {len(register):,} "
                         f"registered, {len(visits):,} follow-ups)", "rows_out": len(out), "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    everyone = out[(out["community"] == "all") & (out["month"] == "2025-12")].iloc[0]
    print(f"all, 2025-12: prevalence {everyone['prevalence_per_mille']:.2f} per mille, regular management "
          f"{everyone['regular_management_rate']:.3f}", flush=True)
    took, out = _timed(lambda: due_list(register, visits, today="2026-01-01"), args.repeat)
    rows.append({"step": f"due_list on 2026-01-01 ({len(register):,} registered)", "rows_out": len(out), "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)

    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = frame.round(3).to_markdown(index=False)
    args.out.write_text(
        f"# Severe mental disorders\n\n{dt.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end; `python benchmarks/bench_smd.py --followups {args.followups} "
        f"--residents {args.residents} --registered {args.registered}` (best of {args.repeat}). Synthetic follow-ups in "
        f"no particular order (see the script).\n\n{table}\n", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
