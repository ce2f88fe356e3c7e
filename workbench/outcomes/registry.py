"""Registry flags for a caseload on a given date (collaborative-care registry, MHIP style)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.outcomes._config import thresholds
from workbench.outcomes._inputs import Checker, as_day, unique_ids
from workbench.params import FRAME, Date, validate_params

__all__ = ["registry_flags"]


@validate_params({"assessments": FRAME, "contacts": FRAME, "referrals": FRAME, "on": Date()})
def registry_flags(assessments: pd.DataFrame, contacts: pd.DataFrame, referrals: pd.DataFrame, *,
                   on: Any, referral: str = "referral_id", subject: str = "resident_id",
                   time: str = "assessed_on", contact_time: str = "contact_on",
                   attended: str = "attended", referred_on: str = "referred_on",
                   due: str = "next_contact_due", due_set_on: str = "next_contact_set_on",
                   closed_on: str = "ended_on") -> pd.DataFrame:
    """Flags for every referral open on the date ``on``, for a person to act on.

    Parameters
    ----------
    assessments : DataFrame
        ``referral``, ``time`` (date) and PHQ-9 totals in ``phq9_score`` (or ``score`` with an
        ``instrument`` column). Rows without a referral are ignored; NaN = not scorable.
    contacts : DataFrame
        ``referral``, ``contact_time`` (date) and ``attended`` (True/False). Every attended contact
        of any kind counts; rows without a referral (a follow-up after a discharge) are ignored.
    referrals : DataFrame
        One row per referral: ``referral``, ``subject``, ``referred_on`` and optionally ``tier``,
        ``due`` (next contact due date), ``due_set_on`` (when that due date was set) and
        ``closed_on`` (the date the referral ended, column ``ended_on`` by default as in the
        sample's referrals).
    on : date
        The date the flags are computed for (required: there is no hidden "today"). Data dated
        after ``on`` is ignored.
    referral, subject, time, contact_time, attended, referred_on, due, due_set_on, closed_on : str
        Column names.

    Returns
    -------
    DataFrame
        One row per referral open on ``on`` (referred on or before it, not closed on or before
        it), sorted by referral: ``referral``, ``subject``, ``tier`` (if given), ``referred_on``,
        ``week``, ``first_contact_on``, ``last_contact_on``, ``baseline_phq9``, ``latest_phq9``,
        ``no_contact_by_week_4``, ``not_improving``, ``psychiatric_review_due``,
        ``next_contact_due``, ``overdue``, ``days_overdue``.

    Notes
    -----
    Definitions (thresholds and sources in ``thresholds.yaml``):

    - ``week``: whole weeks since the referral, ``(on - referred_on).days // 7``.
    - ``no_contact_by_week_4`` (Bao 2016, Psychiatr Serv): the clock starts at the first attended
      contact, or at the referral when there is none. True once 28 days have passed on the clock
      with no attended contact after its start and within those 28 days (so: no follow-up
      within 4 weeks of the first contact, or no contact at all 4 weeks after referral).
    - ``not_improving`` (MHIP, Sowa 2018, PMC6063310): week >= 8 and neither the latest PHQ-9 < 10
      nor a fall >= 50% from the referral's baseline (its earliest PHQ-9). A baseline with no
      later score is judged as it stands. NA when the referral has no PHQ-9; False before week 8.
    - ``psychiatric_review_due`` (MHIP): ``not_improving`` and 8 <= week <= 12.
    - ``overdue``: ``next_contact_due`` is before ``on`` and there has been no attended contact
      since the due date was set: after ``due_set_on`` when that column is given, otherwise on or
      after the due date itself (a maintained registry resets the due date at every contact).
      ``days_overdue`` = ``(on - next_contact_due).days`` when overdue, else 0. No due date: not
      overdue.

    Examples
    --------
    >>> import pandas as pd
    >>> refs = pd.DataFrame({"referral_id": ["A", "B"], "resident_id": ["r1", "r2"], "tier": [2, 3],
    ...                      "referred_on": ["2024-01-01", "2024-02-12"],
    ...                      "next_contact_due": ["2024-02-20", "2024-03-01"]})
    >>> a = pd.DataFrame({"referral_id": ["A", "A"], "assessed_on": ["2024-01-01", "2024-02-19"],
    ...                   "phq9_score": [16, 13]})
    >>> c = pd.DataFrame({"referral_id": ["A", "A"], "contact_on": ["2024-01-03", "2024-01-20"],
    ...                   "attended": [True, True]})
    >>> f = registry_flags(a, c, refs, on="2024-03-04")
    >>> f[["referral_id", "week", "latest_phq9", "no_contact_by_week_4"]]
      referral_id  week  latest_phq9  no_contact_by_week_4
    0           A     9         13.0                 False
    1           B     3          NaN                 False
    >>> f[["not_improving", "psychiatric_review_due"]]
       not_improving  psychiatric_review_due
    0           True                    True
    1          False                   False
    >>> f[["referral_id", "next_contact_due", "overdue", "days_overdue"]]
      referral_id next_contact_due  overdue  days_overdue
    0           A       2024-02-20     True            13
    1           B       2024-03-01     True             3
    """
    fn = "registry_flags"
    day = as_day(on, fn, "on")
    chk = Checker(fn)
    for table, frame in (("assessments", assessments), ("contacts", contacts), ("referrals", referrals)):
        chk.frame(frame, table)
    ok = [chk.require(assessments, "assessments", [referral, time]),
          chk.require(contacts, "contacts", [referral, contact_time, attended]),
          chk.require(referrals, "referrals", [referral, subject, referred_on])]
    if not all(ok):
        chk.done()
    ref_ids = chk.ids(referrals, "referrals", referral)
    unique_ids(referrals, referral, "referrals", chk)
    refs = pd.DataFrame({"referral": ref_ids.to_numpy(),
                         "subject": chk.ids(referrals, "referrals", subject).to_numpy(),
                         "referred_on": chk.dates(referrals, "referrals", referred_on).to_numpy()})
    if "tier" in referrals.columns:
        refs["tier"] = referrals["tier"].to_numpy()
    optional = {name: col for name, col in (("due", due), ("set_on", due_set_on), ("closed_on", closed_on))
                if col in referrals.columns}
    for name, col in optional.items():
        refs[name] = chk.dates(referrals, "referrals", col, required=False).to_numpy()
    linked = assessments[assessments[referral].notna()]
    a = pd.DataFrame({"referral": linked[referral].to_numpy(),
                      "on": chk.dates(linked, "assessments", time).to_numpy(),
                      "order": np.arange(len(linked))})
    phq9 = chk.score_column(linked, "assessments", "phq9")
    contacts = contacts[contacts[referral].notna().to_numpy(bool)]  # outside any referral: not its course
    c = pd.DataFrame({"referral": chk.ids(contacts, "contacts", referral).to_numpy(),
                      "on": chk.dates(contacts, "contacts", contact_time).to_numpy(),
                      "attended": chk.flags(contacts, "contacts", attended).to_numpy()})
    chk.done()

    t = thresholds()
    is_open = refs["referred_on"] <= day
    if "closed_on" in refs:
        is_open &= refs["closed_on"].isna() | (refs["closed_on"] > day)
    out = refs[is_open].set_index("referral").sort_index()
    out["week"] = ((day - out["referred_on"]).dt.days // 7).astype("int64")

    seen = c[c["attended"] & (c["on"] <= day)].sort_values("on", kind="stable")
    seen = seen.assign(referred_on=seen["referral"].map(out["referred_on"]))
    seen = seen[seen["referred_on"].notna() & (seen["on"] >= seen["referred_on"])]
    by_ref = seen.groupby("referral")["on"]
    out["first_contact_on"] = by_ref.min().reindex(out.index)
    out["last_contact_on"] = by_ref.max().reindex(out.index)

    a["score"] = phq9.to_numpy()
    a = a[a["score"].notna() & (a["on"] <= day)].sort_values(["referral", "on", "order"], kind="stable")
    scores = a.groupby("referral")["score"]
    out["baseline_phq9"] = scores.first().reindex(out.index)
    out["latest_phq9"] = scores.last().reindex(out.index)

    # no contact by week 4 (Bao 2016): clock from the first attended contact, else the referral
    window = pd.Timedelta(days=t.no_contact_days)
    clock = out["first_contact_on"].fillna(out["referred_on"])
    follow = seen.assign(clock=seen["referral"].map(clock))
    follow = follow[(follow["on"] > follow["clock"]) & (follow["on"] <= follow["clock"] + window)]
    has_follow_up = out.index.isin(follow["referral"].unique())
    out["no_contact_by_week_4"] = ((day >= clock + window) & ~has_follow_up).to_numpy(bool)

    # not improving (MHIP, Sowa 2018)
    base, last = out["baseline_phq9"].to_numpy(float), out["latest_phq9"].to_numpy(float)
    week = out["week"].to_numpy()
    with np.errstate(invalid="ignore"):
        improving = (last < t.not_improving_phq9_below) | (base - last >= t.not_improving_min_fall * base - 1e-9)
    due_week = week >= t.not_improving_from_week
    flag = pd.array(due_week & ~improving, dtype="boolean")
    flag[due_week & np.isnan(last)] = pd.NA
    out["not_improving"] = flag
    in_review = (week >= t.review_from_week) & (week <= t.review_to_week)
    review = flag.copy()
    review[~in_review] = False
    out["psychiatric_review_due"] = review

    # overdue next contact
    if "due" in out:
        # since the due date was set: after due_set_on when known; otherwise on or after the due
        # date itself (a maintained registry resets the due date at every contact)
        start = out["set_on"] if "set_on" in out else pd.Series(pd.NaT, index=out.index)
        since = seen.assign(set_on_=seen["referral"].map(start), due_=seen["referral"].map(out["due"]))
        since = since[np.where(since["set_on_"].notna(), since["on"] > since["set_on_"],
                               since["on"] >= since["due_"])]
        contacted = out.index.isin(since["referral"].unique())
        overdue = (out["due"].notna() & (out["due"] < day) & ~contacted).to_numpy(bool)
        out["next_contact_due"] = out["due"]
        out["overdue"] = overdue
        out["days_overdue"] = np.where(overdue, (day - out["due"]).dt.days.fillna(0), 0).astype("int64")
    else:
        out["next_contact_due"] = pd.NaT
        out["overdue"] = False
        out["days_overdue"] = np.zeros(len(out), dtype="int64")

    columns = ["subject"] + (["tier"] if "tier" in out else []) + [
        "referred_on", "week", "first_contact_on", "last_contact_on", "baseline_phq9", "latest_phq9",
        "no_contact_by_week_4", "not_improving", "psychiatric_review_due", "next_contact_due",
        "overdue", "days_overdue"]
    out = out[columns].rename_axis(referral).reset_index().rename(columns={"subject": subject})
    out.attrs.update(on=day, thresholds_version=t.version)
    return out
