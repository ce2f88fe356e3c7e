"""Write data_rct.csv, the sample trial in wide form, for make_reference.R (run from the repo root).

    .venv/bin/python tests/reference/trial/make_data.py

One row per randomised resident: arm, PHQ-9 and GAD-7 at baseline (the screening on the
enrolment day) and at 6 and 12 months (NaN when not assessed or not scorable: missing answers
are never zero), and the 12-month PHQ-9 response (fall >= 50%) and remission (< 5) as 0/1
(NaN when either score is missing), with the thresholds of ``workbench.outcomes``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

import workbench
from workbench.outcomes import thresholds
from workbench.sample import load_sample

s = load_sample()
e = s.enrolments[["resident_id", "arm", "enrolled_on"]]
base = s.screenings.merge(e, left_on=["resident_id", "assessed_on"], right_on=["resident_id", "enrolled_on"])
base = pd.concat([base[["resident_id"]], workbench.score_all(base)[["phq9_score", "gad7_score"]]], axis=1)
base["month"] = 0
follow = s.trial_assessments
follow = pd.concat([follow[["resident_id", "month"]], workbench.score_all(follow)[["phq9_score", "gad7_score"]]], axis=1)
long = pd.concat([base, follow], ignore_index=True)
wide = long.pivot(index="resident_id", columns="month", values=["phq9_score", "gad7_score"])
wide.columns = [f"{c.split('_')[0]}_{m}" for c, m in wide.columns]
out = e[["resident_id", "arm"]].merge(wide, left_on="resident_id", right_index=True, how="left")
t = thresholds()
ok = out["phq9_0"].notna() & out["phq9_12"].notna()
out["response_12"] = np.where(ok, (out["phq9_0"] - out["phq9_12"] >= t.response_min_fall * out["phq9_0"]), np.nan)
out["remission_12"] = np.where(out["phq9_12"].notna(), out["phq9_12"] < t.remission_below["phq9"], np.nan)
out = out.sort_values("resident_id")[["resident_id", "arm", "phq9_0", "phq9_6", "phq9_12", "gad7_0", "gad7_6",
                                      "gad7_12", "response_12", "remission_12"]]
out.to_csv(Path(__file__).with_name("data_rct.csv"), index=False)
