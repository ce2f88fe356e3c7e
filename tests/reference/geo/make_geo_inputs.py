"""Inputs of the R reference for workbench.geo.need: the sample's age-specific counts per community.

Run from the repository root (then ``Rscript tests/reference/geo/make_reference.R``):

    .venv/bin/python tests/reference/geo/make_geo_inputs.py

Writes ``age_counts.csv`` (measure, community, age_group, count, pop: residents with a known
outcome and an age group, from ``workbench.geo.need.need_frame`` of the committed sample) and
``std_pop.csv`` (the China 2020 census summed into the workbench's adult age groups).
tests/test_geo_need.py checks that these files still equal what the sample gives.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def age_counts() -> pd.DataFrame:
    from workbench.geo.need import MEASURES, need_frame
    from workbench.prevalence import AGE_GROUPS
    from workbench.sample import load_sample

    d = need_frame(load_sample())
    rows = []
    for measure in MEASURES:
        known = d.dropna(subset=[measure, "age_group", "community"])
        for (community, group), part in known.groupby(["community", "age_group"], sort=True):
            rows.append({"measure": measure, "community": community, "age_group": group,
                         "count": int(part[measure].sum()), "pop": len(part)})
    out = pd.DataFrame(rows)
    out["age_group"] = pd.Categorical(out["age_group"], categories=list(AGE_GROUPS), ordered=True)
    return out.sort_values(["measure", "community", "age_group"]).reset_index(drop=True)


def std_pop() -> pd.DataFrame:
    from workbench.prevalence import standard_for_age_groups

    s = standard_for_age_groups("china_2020_census")
    return pd.DataFrame({"age_group": s.index, "pop": s.to_numpy().astype("int64")})


if __name__ == "__main__":
    age_counts().to_csv(HERE / "age_counts.csv", index=False, lineterminator="\n")
    std_pop().to_csv(HERE / "std_pop.csv", index=False, lineterminator="\n")
