"""Write data_rct.csv, the sample trial in wide form, for make_reference.R (run from the repo root).

    .venv/bin/python tests/reference/trial/make_data.py [OUT.csv]

One row per randomised resident (``workbench.cohort.trial_frame`` of the sample's analysis
tables): arm, the stored PHQ-9 and GAD-7 scores at baseline (the screening on the enrolment day)
and at the 6- and 12-month visits (NaN when not assessed or not scorable: missing answers are
never zero), and the 12-month PHQ-9 response (fall >= 50%) and remission (< 5) as 0/1, coded by
``workbench.outcomes`` (NaN when a score is missing or the baseline PHQ-9 is below 10: both apply
only to those at caseness at baseline).

The committed data_rct.csv was written from an earlier sample; writing it again from the current
sample changes the data, so run ``make_reference.R`` and ``make_reference_mixed.R`` again after it.
"""

import sys
from pathlib import Path

from workbench.cohort import trial_frame
from workbench.sample import load_sample



def main(argv: list[str]) -> None:
    out = trial_frame(load_sample())
    out = out[["resident_id", "arm", "phq9_0", "phq9_6", "phq9_12", "gad7_0", "gad7_6", "gad7_12", "response_12",
               "remission_12"]]
    target = Path(argv[0]) if argv else Path(__file__).with_name("data_rct.csv")
    out.to_csv(target, index=False)


if __name__ == "__main__":  # not when pytest imports the file to look for doctests
    main(sys.argv[1:])
