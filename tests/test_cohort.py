"""referral_scores: a referral's baseline is the screening that led to it, then its reviews."""

import numpy as np
import pandas as pd

from workbench.cohort import referral_scores


def _phq9(values):
    return {f"phq9_{n}": v for n, v in enumerate(values, start=1)}


def _gad7(values):
    return {f"gad7_{n}": v for n, v in enumerate(values, start=1)}


def test_baseline_is_the_screening_on_the_referral_date_and_blanks_are_not_zero():
    screenings = pd.DataFrame([
        {"resident_id": "R1", "assessed_on": "2025-01-10", **_phq9([2] * 9), **_gad7([1] * 7)},   # referred
        {"resident_id": "R2", "assessed_on": "2025-01-11", **_phq9([0] * 9), **_gad7([0] * 7)},   # tier 1
    ])
    referrals = pd.DataFrame({"referral_id": ["F1"], "resident_id": ["R1"], "referred_on": ["2025-01-10"]})
    followups = pd.DataFrame([
        {"resident_id": "R1", "referral_id": "F1", "assessed_on": "2025-02-07",
         **_phq9([1, 1, 1, 1, 1, 1, 1, np.nan, 0]), **_gad7([np.nan] * 7)},
    ])
    out = referral_scores(screenings=screenings, followups=followups, referrals=referrals)
    assert out["referral_id"].tolist() == ["F1", "F1"]
    assert out["baseline"].tolist() == [True, False]
    # PHQ-9 18 at baseline (9 x 2); review: 7 over 8 answered -> 7 x 9 / 8 = 7.875 -> 8 (APA prorating)
    assert out["phq9_score"].tolist() == [18, 8]
    # GAD-7 7 at baseline; the review's GAD-7 was not answered: unknown, never 0
    assert out["gad7_score"].iloc[0] == 7 and np.isnan(out["gad7_score"].iloc[1])
