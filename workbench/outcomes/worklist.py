"""A staff member's follow-up list: who is urgent, due today, overdue, not improving at week 8,
or due a psychiatric case review, on a given date."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.outcomes._inputs import as_day
from workbench.params import Date, validate_params
from workbench.outcomes.registry import registry_flags

__all__ = ["FOLLOW_UP_COLUMNS", "follow_up_interval", "follow_up_list"]

FOLLOW_UP_COLUMNS = ["resident_id", "name", "phone", "community", "tier", "rule", "decided_on", "referral_id",
                     "week", "last_contact_on", "next_contact_due", "urgent", "due_today", "overdue", "days_overdue",
                     "not_improving", "psychiatric_review_due", "baseline_phq9", "latest_phq9", "needs_review"]


def follow_up_interval(decisions: pd.DataFrame, *, policy: Any = "default") -> pd.Series:
    """Days from an attended contact to the next one: the policy's ``next_contact`` rules applied
    to each decision's tier, rule and psychological status, without its urgency (urgency is met
    by the first contact).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"tier": [3, 2, 1, 1], "rule": ["self_harm", "screen_positive", "universal", "universal"],
    ...                   "service_cell": ["A-clinical", "none-clinical", "B-subclinical", "none-normal"]})
    >>> follow_up_interval(d).tolist()
    [3, 14, 90, 365]
    """
    from workbench.policy import evaluate, load_policy

    policy = load_policy(policy)
    status = decisions["service_cell"].astype("string").str.split("-", n=1).str[1]
    work = pd.DataFrame({"tier": decisions["tier"].astype("Int8"), "urgent": False,
                         "rule": decisions["rule"].astype("string"), "psych_status": status}, index=decisions.index)
    choice = np.full(len(work), -1, dtype=np.int64)
    for k, (cond, _) in enumerate(policy.next_contact):
        choice[(choice == -1) & evaluate(cond, work, policy)] = k
    days = np.array([d for _, d in policy.next_contact], dtype=np.int64)
    return pd.Series(days[choice], index=decisions.index, name="interval_days")


@validate_params({"on": Date()})
def follow_up_list(data: Any, *, on: Any, policy: Any = "default") -> pd.DataFrame:
    """Everyone on a follow-up list on the date ``on``, most pressing first.

    Parameters
    ----------
    data : FollowUpData
        :meth:`workbench.registry.Registry.follow_up_data` (or the same five tables):
        ``residents``, tier ``decisions``, ``referrals``, ``contacts`` (``status`` attended,
        missed or planned) and PHQ-9 ``scores``.
    on : date
        The working day (required: there is no hidden "today"). Anything dated later is ignored.
    policy : str, path or Policy
        Gives the contact interval after an attended contact (:func:`follow_up_interval`).

    Returns
    -------
    DataFrame
        One row per resident whose latest decision (on or before ``on``) is tier 2 or 3 or
        urgent or needs review, unless a referral of theirs ended after that decision and by
        ``on`` (the episode of care is closed); and everyone with a referral open on ``on``.
        Columns
        :data:`FOLLOW_UP_COLUMNS`. Definitions:

        - ``next_contact_due``: the decision's due date until an attended contact on or after
          the decision's date, then the last attended contact plus :func:`follow_up_interval`.
        - ``urgent``: the decision is urgent (e.g. a self-harm answer) and nobody has attended
          the resident since.
        - ``due_today`` / ``overdue`` / ``days_overdue``: ``next_contact_due`` equal to / before
          ``on``.
        - ``not_improving``, ``psychiatric_review_due``, ``week``, ``baseline_phq9``,
          ``latest_phq9``: those of the open referral (:func:`registry_flags`; Washington MHIP).

        Sorted: urgent, overdue (longest first), due today, review due, not improving, then by
        due date.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.registry.store import FollowUpData
    >>> res = pd.DataFrame({"resident_id": ["r1", "r2"], "name": ["Li", "Wang"], "phone": ["1", "2"],
    ...                     "community": ["c", "c"]})
    >>> dec = pd.DataFrame({"resident_id": ["r1", "r2"], "assessed_on": pd.to_datetime(["2025-03-01", "2025-03-10"]),
    ...                     "tier": [2, 3], "rule": ["screen_positive", "self_harm"], "urgent": [False, True],
    ...                     "needs_review": [False, False], "service_cell": ["none-clinical", "A-clinical"],
    ...                     "next_contact_due": pd.to_datetime(["2025-03-15", "2025-03-10"]),
    ...                     "decided_at": pd.to_datetime(["2025-03-01", "2025-03-10"], utc=True)})
    >>> con = pd.DataFrame({"contact_id": ["c1"], "resident_id": ["r1"], "referral_id": [None],
    ...                     "contact_on": pd.to_datetime(["2025-03-14"]), "kind": ["treatment"],
    ...                     "status": ["attended"], "note": [None]})
    >>> empty_refs = pd.DataFrame(columns=["referral_id", "resident_id", "referred_on", "tier", "ended_on"])
    >>> scores = pd.DataFrame(columns=["resident_id", "assessed_on", "score"])
    >>> data = FollowUpData(res, dec, empty_refs, con, scores)
    >>> follow_up_list(data, on="2025-03-28")[["resident_id", "urgent", "next_contact_due", "overdue", "days_overdue"]]
      resident_id  urgent next_contact_due  overdue  days_overdue
    0          r2    True       2025-03-10     True            18
    1          r1   False       2025-03-28    False             0
    """
    day = as_day(on, "follow_up_list", "on")
    residents, decisions, referrals, contacts, scores = (data.residents, data.decisions, data.referrals,
                                                         data.contacts, data.scores)
    decisions = decisions[pd.to_datetime(decisions["assessed_on"]) <= day].copy()
    decisions["assessed_on"] = pd.to_datetime(decisions["assessed_on"])
    latest = (decisions.sort_values(["resident_id", "decided_at", "assessed_on"], kind="stable")
              .groupby("resident_id", sort=True).tail(1).set_index("resident_id"))

    attended = contacts[(contacts["status"] == "attended")].copy()
    attended["contact_on"] = pd.to_datetime(attended["contact_on"])
    attended = attended[attended["contact_on"] <= day]
    last_seen = attended.groupby("resident_id")["contact_on"].max()

    refs = referrals.copy()
    for column in ("referred_on", "ended_on"):
        refs[column] = pd.to_datetime(refs[column])
    open_refs = refs[(refs["referred_on"] <= day) & (refs["ended_on"].isna() | (refs["ended_on"] > day))]

    ended = refs[refs["ended_on"].notna() & (refs["ended_on"] <= day)].groupby("resident_id")["ended_on"].max()
    closed = ended.reindex(latest.index).ge(latest["assessed_on"]).fillna(False).astype(bool)
    wanted = latest.index[((latest["tier"].fillna(0).astype(int) >= 2) | latest["urgent"].astype(bool)
                           | latest["needs_review"].astype(bool)) & ~closed]
    ids = sorted(set(wanted) | set(open_refs["resident_id"]))
    out = pd.DataFrame({"resident_id": ids})
    basic = residents.set_index("resident_id").reindex(ids)
    for column in ("name", "phone", "community"):
        out[column] = basic[column].to_numpy() if column in basic else None
    dec = latest.reindex(ids)
    out["tier"] = dec["tier"].astype("Int8").to_numpy()
    out["rule"] = dec["rule"].to_numpy()
    out["decided_on"] = dec["assessed_on"].to_numpy()
    out["needs_review"] = dec["needs_review"].fillna(False).astype(bool).to_numpy()
    seen = last_seen.reindex(ids)
    out["last_contact_on"] = seen.to_numpy()
    seen_since = (seen.notna() & dec["assessed_on"].notna() & (seen >= dec["assessed_on"])).to_numpy()
    out["urgent"] = dec["urgent"].fillna(False).astype(bool).to_numpy() & ~seen_since

    due = pd.to_datetime(dec["next_contact_due"]).to_numpy()
    has_decision = dec["tier"].notna().to_numpy() | dec["rule"].notna().to_numpy()
    if has_decision.any():
        interval = follow_up_interval(dec[has_decision].reset_index(), policy=policy).to_numpy()
        after = seen.to_numpy()[has_decision] + pd.to_timedelta(interval, unit="D").to_numpy()
        due_dec = due[has_decision]
        due[has_decision] = np.where(seen_since[has_decision], after, due_dec)
    out["next_contact_due"] = pd.to_datetime(due)

    if len(open_refs):
        scored = scores.copy()
        scored["assessed_on"] = pd.to_datetime(scored["assessed_on"])
        linked = scored.merge(open_refs[["referral_id", "resident_id", "referred_on"]], on="resident_id")
        linked = linked[(linked["assessed_on"] >= linked["referred_on"]) & (linked["assessed_on"] <= day)]
        ref_contacts = attended[attended["referral_id"].notna()].assign(attended=True)
        flags = registry_flags(linked.rename(columns={"score": "phq9_score"})[["referral_id", "assessed_on", "phq9_score"]],
                               ref_contacts[["referral_id", "contact_on", "attended"]],
                               open_refs[["referral_id", "resident_id", "referred_on", "ended_on"]], on=day)
        flags = flags.sort_values("referred_on").groupby("resident_id").tail(1).set_index("resident_id").reindex(ids)
        for column in ("referral_id", "week", "baseline_phq9", "latest_phq9"):
            out[column] = flags[column].to_numpy()
        for column in ("not_improving", "psychiatric_review_due"):
            out[column] = flags[column].astype("boolean").fillna(False).astype(bool).to_numpy()
        missing_due = out["next_contact_due"].isna().to_numpy()
        out.loc[missing_due, "next_contact_due"] = pd.to_datetime(flags["referred_on"]).to_numpy()[missing_due]
    else:
        out["referral_id"], out["week"] = None, pd.array([pd.NA] * len(out), dtype="Int64")
        out["baseline_phq9"] = out["latest_phq9"] = np.nan
        out["not_improving"] = out["psychiatric_review_due"] = False
    out["week"] = pd.array(out["week"], dtype="Int64")
    out["due_today"] = (out["next_contact_due"] == day).to_numpy()
    out["overdue"] = (out["next_contact_due"] < day).fillna(False).to_numpy(dtype=bool)
    out["days_overdue"] = np.where(out["overdue"], (day - out["next_contact_due"]).dt.days, 0).astype("int64")
    order = out.assign(_u=~out["urgent"], _o=-out["days_overdue"], _t=~out["due_today"],
                       _r=~out["psychiatric_review_due"], _n=~out["not_improving"])
    order = order.sort_values(["_u", "_o", "_t", "_r", "_n", "next_contact_due", "resident_id"], kind="stable")
    return order[FOLLOW_UP_COLUMNS].reset_index(drop=True)
