"""From registry-shaped tables to analysis-ready frames."""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from workbench.scoring import score_all

__all__ = ["referral_scores"]


def referral_scores(*, screenings: pd.DataFrame, followups: pd.DataFrame, referrals: pd.DataFrame,
                    instruments: Iterable[str] = ("phq9", "gad7")) -> pd.DataFrame:
    """Scored questionnaires per referral: the screening that led to it, then its reviews.

    The screening that led to a referral is the resident's screening on the referral date
    (``assessed_on == referred_on``); it is the referral's baseline. Follow-up reviews carry the
    ``referral_id`` already. Scores follow each questionnaire's declaration (missing answers
    are never zero).

    Returns
    -------
    DataFrame
        One row per administered form: ``resident_id``, ``referral_id``, ``assessed_on``,
        ``baseline`` (bool) and ``{instrument}_score`` for each instrument, sorted by referral
        and date; ready for :func:`workbench.outcomes.referral_outcomes`,
        :func:`workbench.outcomes.change` and :func:`workbench.outcomes.registry_flags`.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> s = load_sample()
    >>> scores = referral_scores(screenings=s.screenings, followups=s.followups, referrals=s.referrals)
    >>> int(scores["baseline"].sum()) == len(s.referrals)
    True
    """
    instruments = list(instruments)
    keys = ["resident_id", "referral_id", "assessed_on"]
    links = referrals[["referral_id", "resident_id", "referred_on"]].rename(columns={"referred_on": "assessed_on"})
    baseline = screenings.assign(assessed_on=pd.to_datetime(screenings["assessed_on"])).merge(
        links.assign(assessed_on=pd.to_datetime(links["assessed_on"])), on=["resident_id", "assessed_on"],
        how="inner", validate="one_to_one")
    reviews = followups.assign(assessed_on=pd.to_datetime(followups["assessed_on"]))
    forms = pd.concat([baseline.assign(baseline=True), reviews.assign(baseline=False)], ignore_index=True)
    scores = score_all(forms, instruments=instruments)
    out = forms[keys + ["baseline"]].join(scores[[f"{i}_score" for i in instruments]])
    return out.sort_values(["referral_id", "assessed_on", "baseline"], ascending=[True, True, False],
                           ignore_index=True)
