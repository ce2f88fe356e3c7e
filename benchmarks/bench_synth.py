"""Time and peak memory of workbench.synth.community at 10^3 ... 10^6 residents (baseline,
follow-up: referrals, contacts, reviews; events, cohort waves, the RCT).

    python benchmarks/bench_synth.py [--sizes 1000,10000,100000,1000000] [--years 1,5]

Each size runs in a fresh interpreter so that the peak resident set size (ru_maxrss) is that
of one generation (it includes the ~130 MB of the imported libraries). ``CASES`` has the shape
``benchmarks/run.py`` expects (name -> (setup(n), run(*args))), for ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _setup(n: int) -> tuple[int]:
    return (n,)


def _run(n: int) -> None:
    from workbench.synth import community

    community(n, seed=20261126)


def _setup_5y(n: int) -> tuple[int]:
    return (n,)


def _run_5y(n: int) -> None:
    from workbench.synth import community

    community(n, seed=20261126, follow_up_years=5)


CASES = {"synth community (7 instruments)": (_setup, _run),
         "synth community, 5-year follow-up": (_setup_5y, _run_5y)}

FRAMES = ("residents", "screenings", "latent", "referrals", "contacts", "followups", "events",
          "waves", "enrolments", "trial_assessments")

CHILD = """
import json, resource, time
from workbench.synth import community
t = time.perf_counter()
c = community({n}, seed=20261126, follow_up_years={years})
elapsed = time.perf_counter() - t
frames = sum(getattr(c, f).memory_usage(deep=True).sum() for f in {frames!r})
print(json.dumps({{"n": {n}, "years": {years}, "seconds": round(elapsed, 2),
                  "referrals": len(c.referrals), "contacts": len(c.contacts),
                  "followups": len(c.followups), "events": len(c.events),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "frames_mb": round(frames / 2**20)}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--years", default="1,5", help="follow_up_years values (default 1,5)")
    args = ap.parse_args()
    print(f"{'n':>9} {'years':>5} {'seconds':>8} {'peak RSS MB':>12} {'frames MB':>10} "
          f"{'referrals':>10} {'contacts':>10} {'followups':>10} {'events':>9}")
    for years in (int(y) for y in args.years.split(",")):
        for n in (int(x) for x in args.sizes.split(",")):
            out = subprocess.run([sys.executable, "-c",
                                  CHILD.format(n=n, years=years, frames=FRAMES)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            print(f"{r['n']:>9} {r['years']:>5} {r['seconds']:>8} {r['peak_rss_mb']:>12} "
                  f"{r['frames_mb']:>10} {r['referrals']:>10} {r['contacts']:>10} "
                  f"{r['followups']:>10} {r['events']:>9}", flush=True)


if __name__ == "__main__":
    main()
