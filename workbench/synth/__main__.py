"""Command line: ``python -m workbench.synth --n 3000 --seed 20261126 --out data_samples``.

Writes the analysis tables of a generated community (:mod:`workbench.tables`: CSV by default,
with the data dictionary and ``tables.json``), read back with :func:`workbench.tables.read`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .core import DEFAULT_INSTRUMENTS, FORMATS, community


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m workbench.synth``."""
    p = argparse.ArgumentParser(
        prog="python -m workbench.synth",
        description="Generate a synthetic community (residents, baseline screenings, the "
                    "referrals, contacts and follow-up reviews of those referred, events, a "
                    "cohort of key patients with waves, a 12-month RCT, a satisfaction survey and the "
                    "chronic-disease follow-up readings of residents with hypertension or diabetes, "
                    "and the severe-mental-disorder register with its follow-ups and rehabilitation ladder). "
                    "The data are synthetic.")
    p.add_argument("--n", type=int, required=True, help="number of residents (100-1000000)")
    p.add_argument("--seed", type=int, default=20261126, help="random seed (default 20261126)")
    p.add_argument("--start", default="2025-01-01", help="first screening date, YYYY-MM-DD")
    p.add_argument("--end", default="2025-12-31", help="last screening date, YYYY-MM-DD")
    p.add_argument("--follow-up-years", type=int, default=1,
                   help="years of follow-up after end, 1-5 (default 1)")
    p.add_argument("--follow-up-end", default=None,
                   help="last day of follow-up, YYYY-MM-DD (default: end + 365 days x "
                        "follow-up years)")
    p.add_argument("--policy", default="default",
                   help="stepped-care policy: shipped id or YAML file (default: %(default)s)")
    p.add_argument("--instruments", default=",".join(DEFAULT_INSTRUMENTS),
                   help="comma-separated instrument ids (default: %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="csv", help="file format (default csv)")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad arguments).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     main(["--n", "100", "--seed", "3", "--out", folder])
    ...     sorted(os.listdir(folder))  # doctest: +NORMALIZE_WHITESPACE
    0
    ['assessments.csv', 'communities.csv', 'consents.csv', 'contacts.csv', 'decisions.csv',
     'dictionary_en.csv', 'dictionary_zh.csv', 'enrolments.csv', 'events.csv',
     'measurements.csv', 'referrals.csv', 'residents.csv', 'scores.csv', 'smd_followups.csv',
     'smd_register.csv', 'smd_rehab.csv', 'surveys.csv', 'tables.json']
    """
    args = parser().parse_args(argv)
    instruments = tuple(i.strip() for i in args.instruments.split(",") if i.strip())
    try:
        c = community(args.n, seed=args.seed, start=args.start, end=args.end,
                      instruments=instruments, follow_up_end=args.follow_up_end,
                      policy=args.policy, follow_up_years=args.follow_up_years)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    c.write(args.out, format=args.format)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
