"""Time and peak memory of workbench.synth.community at 10^3 ... 10^6 residents (baseline and
follow-up: referrals, contacts, reviews).

    python benchmarks/bench_synth.py [--sizes 1000,10000,100000,1000000]

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


CASES = {"synth community (7 instruments)": (_setup, _run)}

CHILD = """
import json, resource, time
from workbench.synth import community
t = time.perf_counter()
c = community({n}, seed=20261126)
elapsed = time.perf_counter() - t
frames = sum(f.memory_usage(deep=True).sum() for f in (c.residents, c.screenings, c.latent,
                                                       c.referrals, c.contacts, c.followups))
print(json.dumps({{"n": {n}, "seconds": round(elapsed, 2), "referrals": len(c.referrals),
                  "contacts": len(c.contacts), "followups": len(c.followups),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "frames_mb": round(frames / 2**20)}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    args = ap.parse_args()
    print(f"{'n':>9} {'seconds':>8} {'peak RSS MB':>12} {'frames MB':>10} {'referrals':>10} "
          f"{'contacts':>10} {'followups':>10}")
    for n in (int(x) for x in args.sizes.split(",")):
        out = subprocess.run([sys.executable, "-c", CHILD.format(n=n)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out)
        print(f"{r['n']:>9} {r['seconds']:>8} {r['peak_rss_mb']:>12} {r['frames_mb']:>10} "
              f"{r['referrals']:>10} {r['contacts']:>10} {r['followups']:>10}")


if __name__ == "__main__":
    main()
