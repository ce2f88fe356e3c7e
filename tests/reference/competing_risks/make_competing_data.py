"""Write the inputs of make_reference.R: the sample's dropout and remission endpoints (competing
outcomes coded by ``workbench.cohort.endpoints``) at two censoring dates, and a hand-worked set.

Run from the repository root: ``.venv/bin/python tests/reference/competing_risks/make_competing_data.py``,
then ``Rscript tests/reference/competing_risks/make_reference.R``.
"""

from pathlib import Path

import pandas as pd

from workbench import ui
from workbench.sample import load_sample

HERE = Path(__file__).resolve().parent
CENSOR_DATES = ("2026-12-31", "2025-09-30")


def frames() -> pd.DataFrame:
    tables = load_sample()
    parts = []
    for censor in CENSOR_DATES:
        cohort = ui.cohort_frame(tables, censor_date=censor)
        for endpoint in ("dropout", "remission"):
            part = cohort[(cohort["endpoint"] == endpoint) & cohort["tier"].isin([2, 3])]
            parts.append(part[["resident_id", "duration", "event"]].assign(
                dataset=f"{endpoint}_{censor}", tier=part["tier"].astype(int)))
    return pd.concat(parts, ignore_index=True)[["dataset", "resident_id", "tier", "duration", "event"]]


if __name__ == "__main__":
    frames().to_csv(HERE / "data_sample_endpoints.csv", index=False)
