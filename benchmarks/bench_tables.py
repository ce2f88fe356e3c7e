"""Reading the analysis tables of a city-sized registry, and exporting them (issue 13).

Generates a synthetic community (``--n`` residents, PHQ-9 and GAD-7 at screening, one year of
follow-up: about 400,000 assessments at 100,000 residents), imports its analysis tables into a
SQLite registry and into a PostgreSQL one (a throw-away server started here, as the tests do),
then times, on each:

- ``Registry.analysis_tables(as_user="admin")`` (goal: under 15 s at 100,000 residents);
- the same, pseudonymised, as an analyst reads it;
- ``workbench export``: the pseudonymised tables written as Parquet and CSV with the dictionary,
  k-anonymous (goal: under 30 s);
- ``workbench audit verify``: the keyed chain and every row of every table checked against its
  logged hash.

On PostgreSQL the analyst's read goes through the database's pseudonymised views (schema
``analyst``), as on the multi-staff set-up.

Peak memory is the process's resident set size after each step (psutil). Writes
``benchmarks/results/tables.md`` and ``tables.csv``.

    python benchmarks/bench_tables.py [--n 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the throw-away PostgreSQL server of the tests


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tables.md")
    args = parser.parse_args(argv)

    from pg_server import PostgresServer

    from workbench.registry.export import export_tables
    from workbench.registry.store import Registry
    from workbench.synth import community

    rows = []
    start = time.perf_counter()
    tables = community(args.n, seed=1, instruments=("phq9", "gad7")).tables()
    made = time.perf_counter() - start
    sizes = {name: len(frame) for name, frame in tables.items()}
    print(f"generated {args.n:,} residents in {made:.1f} s: {sizes}", flush=True)
    server = PostgresServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-tables-") as tmp:
            tmp = Path(tmp)
            # the audit key and checkpoints of these throw-away registries stay in the folder
            os.environ["WORKBENCH_AUDIT_KEY_FILE"] = str(tmp / "audit.key")
            os.environ["WORKBENCH_AUDIT_CHECKPOINTS"] = str(tmp / "audit-checkpoints.jsonl")
            urls = {"SQLite": f"sqlite:///{tmp / 'registry.sqlite'}", "PostgreSQL": server.url_for(server.create_database())}
            for backend, url in urls.items():
                registry = Registry(url)
                registry.init()
                registry.add_user("ana", "analyst", by="admin")
                took, _ = _timed(lambda: registry.import_tables(tables, by="admin"), 1)
                rows.append({"backend": backend, "step": "import the tables (workbench import tables)", "seconds": took,
                             "rss_gib": _rss_gib()})
                print(rows[-1], flush=True)
                took, read = _timed(lambda: registry.analysis_tables(as_user="admin"), args.repeat)
                assert len(read.assessments) == sizes["assessments"]
                rows.append({"backend": backend, "step": "analysis_tables (admin)", "seconds": took, "rss_gib": _rss_gib()})
                print(rows[-1], flush=True)
                key = tmp / "export.key"
                took, _ = _timed(lambda: registry.analysis_tables(as_user="ana", key_file=key), args.repeat)
                rows.append({"backend": backend, "step": "analysis_tables (analyst, pseudonymised)", "seconds": took,
                             "rss_gib": _rss_gib()})
                print(rows[-1], flush=True)
                counter = iter(range(100))
                took, _ = _timed(lambda: export_tables(registry, tmp / f"export-{backend}-{next(counter)}", as_user="ana",
                                                      key_file=key), args.repeat)
                rows.append({"backend": backend, "step": "workbench export (Parquet + CSV + dictionary)",
                             "seconds": took, "rss_gib": _rss_gib()})
                print(rows[-1], flush=True)
                took, report = _timed(registry.verify_audit, 1)
                assert report.ok, report.problem
                rows.append({"backend": backend, "step": f"audit verify ({report.rows_checked:,} rows, every table)",
                             "seconds": took, "rss_gib": _rss_gib()})
                print(rows[-1], flush=True)
                registry.engine.dispose()
    finally:
        server.stop()
    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = frame.round(2).to_markdown(index=False)
    args.out.write_text(
        f"# Analysis tables from a registry\n\n{dt.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores; "
        f"`python benchmarks/bench_tables.py --n {args.n}` (best of {args.repeat}). A synthetic community of "
        f"{args.n:,} residents (PHQ-9 and GAD-7 at screening, one year of follow-up): "
        + ", ".join(f"{name} {count:,}" for name, count in sizes.items())
        + f". Generating it took {made:.0f} s. Goals: analysis_tables under 15 s, export under 30 s.\n\n{table}\n",
        encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
