"""The 28 quality indicators for a city of about 1,000,000 residents over 12 months (issue 16; goal
under 30 s here).

The city is the sample community (``data_samples/``: 3,000 residents with every analysis table:
screenings, decisions, referrals, contacts, events, measurements, the SMD register, surveys,
literacy answers) copied ``--copies`` times (334 copies: 1,002,000 residents), each copy with its
own identifiers, its communities spread over ``--groups`` x 6 communities (34 x 6 = 204), so every
table keeps the sample's distributions and dates. Steps, each the best of ``--repeat`` runs (wall
clock), peak memory the process's resident set size after each step (psutil):

- ``validate``: the checks of every declared rule (``Tables.validate``), once, as reading the tables
  from a registry or an export does;
- ``compute, first``: every indicator for every community and ``all``, for the 12 months 2025-07
  to 2026-06, with each month's control-chart reading (``quality.compute``, on the checked
  tables), the first time: it builds the stored scores side by side (``Tables.scores_wide``),
  which the tables keep for every later analysis;
- ``compute again``: the same, the wide score table already built (best of ``--repeat``);
- ``compute, no control charts`` (``spc=False``);
- each measure on its own (``--per-measure``).

Writes ``benchmarks/results/quality.md`` and ``quality.csv``.

    python benchmarks/bench_quality.py [--copies 334] [--groups 34] [--repeat 2] [--per-measure]
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
#: Identifier columns made unique per copy.
IDS = ("resident_id", "assessment_id", "decision_id", "referral_id", "contact_id", "event_id", "measurement_id",
       "followup_id", "rehab_id", "enrolment_id", "survey_id", "literacy_id", "consent_id")


def city(copies: int, groups: int):
    """The sample's analysis tables copied ``copies`` times (identifiers prefixed with the copy,
    communities suffixed with the copy modulo ``groups``)."""
    from workbench.sample import load_sample
    from workbench.tables import TABLES, Tables

    sample = load_sample()
    frames = {}
    for name in TABLES:
        f = sample[name]
        if name == "communities":
            frames[name] = pd.concat([f.assign(community=f["community"] + f"-{g:02d}") for g in range(groups)],
                                     ignore_index=True)
            continue
        k = np.repeat(np.arange(copies), len(f))
        big = f.iloc[np.tile(np.arange(len(f)), copies)].reset_index(drop=True)
        prefix = pd.Series(np.char.add(np.char.mod("%04d", k), "-"), dtype="string")
        for c in big.columns:
            if c in IDS:
                big[c] = (prefix + big[c]).where(big[c].notna())
        if "community" in big.columns:
            suffix = pd.Series(np.char.mod("-%02d", k % groups), dtype="string")
            big["community"] = (big["community"] + suffix).where(big["community"].notna())
        frames[name] = big
    return Tables(attrs=dict(sample.attrs), **frames)


def _rss_gib() -> float:
    return psutil.Process().memory_info().rss / 2**30


def _timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv=None) -> None:
    from workbench import quality as q

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=334)
    parser.add_argument("--groups", type=int, default=34)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--per-measure", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality.md")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    tables = city(args.copies, args.groups)
    from workbench.tables import TABLES

    sizes = ", ".join(f"{name} {len(tables[name]):,}" for name in TABLES if len(tables[name]))
    print(f"built the city in {time.perf_counter() - start:.0f} s: {sizes}", flush=True)
    months = [m for m in q.default_months(tables) if "2025-07" <= m <= "2026-06"]
    rows = []
    took, _ = _timed(tables.validate, 1)
    rows.append({"step": "validate (every declared rule, once when read)", "rows_out": None, "seconds": took,
                 "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    n = len(q.load_indicators().indicators)
    took, out = _timed(lambda: q.compute(tables, months=months), 1)
    what = f"{n} indicators x {out['community'].nunique()} communities (with all) x {len(months)} months"
    rows.append({"step": f"compute, first on the checked tables: {what}, with control charts", "rows_out": len(out),
                 "seconds": took, "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    took, out = _timed(lambda: q.compute(tables, months=months), args.repeat)
    rows.append({"step": "compute again (the tables' wide score table, built by the first, reused)",
                 "rows_out": len(out), "seconds": took, "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    took, out = _timed(lambda: q.compute(tables, months=months, spc=False), args.repeat)
    rows.append({"step": "compute without control charts", "rows_out": len(out), "seconds": took, "rss_gib": _rss_gib()})
    print(rows[-1], flush=True)
    if args.per_measure:
        derived = q._Derived(tables)
        for ind in q.load_indicators().indicators:
            asked = q._before(months, q.RISE_MONTHS) if ind.alert and ind.alert[0] == "rise_above" else months
            start = time.perf_counter()
            q.MEASURES[ind.measure].function(derived, months=asked, **ind.parameters)
            rows.append({"step": f"measure {ind.id} ({ind.measure}), shared frames cached", "rows_out": None,
                         "seconds": time.perf_counter() - start, "rss_gib": _rss_gib()})
            print(rows[-1], flush=True)

    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = frame.round(3).to_markdown(index=False)
    args.out.write_text(
        f"# Quality indicators at city scale\n\n{dt.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} "
        f"cores, load average {os.getloadavg()[0]:.1f} at the end; `python benchmarks/bench_quality.py --copies "
        f"{args.copies} --groups {args.groups}` (best of {args.repeat}). The sample community copied {args.copies} "
        f"times: {sizes}. Goal: the indicators for 1,000,000 residents over 12 months under 30 s.\n\n{table}\n",
        encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
