"""Write the pooled inputs of the federated R checks (run from the repository root):

    .venv/bin/python tests/reference/federated/make_inputs.py
    Rscript tests/reference/federated/make_reference.R

``data_cox.csv``: the sample's dropout endpoint (censor date 2026-12-31; event 1 = dropout, other
ends censored) with the Cox covariates, and each row's site in the two splits (``site_community``,
``site_type``). ``data_logistic.csv``: the risk model's pooled design as the federated
preprocessing builds it (``y`` and the agreed columns, intercept first). The test
(tests/test_federated_analyses.py) checks both files are still what the code builds, then compares
the federated results with R's numbers in ``r_*.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CENSOR = "2026-12-31"
COVARIATES = ["age", "sex=female", "lives_alone"]


def cox_input(tables) -> pd.DataFrame:
    from workbench.federated.pooled import pooled_frame
    from workbench.federated.sites import by_community, by_community_type, split_tables

    out = None
    for column, plan in (("site_community", by_community), ("site_type", by_community_type)):
        f = pooled_frame(split_tables(tables, plan(tables)), endpoint="dropout", censor=CENSOR, group="community",
                         covariates=COVARIATES)
        f = f.rename(columns={"site": column, "sex=female": "female"}).sort_values(
            ["group", "duration", "event", "age", "female", "lives_alone"], kind="stable", ignore_index=True)
        out = f if out is None else out.assign(**{column: f[column]})
    return out[["duration", "event", "age", "female", "lives_alone", "site_community", "site_type"]]


def logistic_input(tables) -> pd.DataFrame:
    from workbench.federated.pooled import pooled_design
    from workbench.federated.sites import by_community, split_tables

    Z, y, prep = pooled_design(split_tables(tables, by_community(tables)))
    return pd.DataFrame(Z, columns=prep["columns"]).assign(y=y.astype(int))[["y", *prep["columns"]]]


if __name__ == "__main__":
    from workbench.sample import load_sample

    t = load_sample()
    cox_input(t).to_csv(HERE / "data_cox.csv", index=False)
    logistic_input(t).to_csv(HERE / "data_logistic.csv", index=False, float_format="%.17g")
