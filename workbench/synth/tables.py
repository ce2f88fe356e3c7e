"""A generated community as analysis tables (:mod:`workbench.tables`), saved as the registry saves.

The generator simulates the service; this step simulates recording it: every form becomes
assessments and scores through the registry's save path (:mod:`workbench.records`), and each
baseline screening gets the tier decision the policy suggests, confirmed by ``admin`` at noon
(UTC) of the screening day (the sample registry's first user), who is also recorded as having
recorded the contacts. The referrals the generator made
must follow those decisions: a referral whose tier differs from its screening's decision is an
error, not something to smooth over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from workbench.synth.core import Community
    from workbench.tables import Tables

__all__ = ["DECIDED_BY", "community_tables"]

#: Who confirms the suggested tiers of a generated community (the registry's first user).
DECIDED_BY = "admin"


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{k:07d}" for k in range(1, n + 1)]


def _forms(community: "Community", study: str) -> tuple[pd.DataFrame, pd.Series]:
    """Every sitting of the community as wide forms, and the purpose of each."""
    parts, purposes = [], []
    screenings = community.screenings.assign(submission_id=None)
    parts.append(screenings)
    purposes.append(pd.Series("screening", index=screenings.index))
    if community.followups is not None and len(community.followups):
        reviews = community.followups.drop(columns=["contact_id", "week"])
        parts.append(reviews)
        purposes.append(pd.Series("review", index=reviews.index))
    if community.waves is not None and len(community.waves):
        waves = community.waves[community.waves["wave"] > 0]  # wave 0 is the baseline screening itself
        parts.append(waves.rename(columns={"wave": "visit"}).assign(study=study))
        purposes.append(pd.Series("study", index=waves.index))
    if community.trial_assessments is not None and len(community.trial_assessments):
        trial = community.trial_assessments.rename(columns={"month": "visit"})
        parts.append(trial)
        purposes.append(pd.Series("study", index=trial.index))
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    forms = pd.concat([p.set_axis(p.index + o) for p, o in zip(parts, offsets)])
    purpose = pd.concat([p.set_axis(p.index + o) for p, o in zip(purposes, offsets)])
    return forms, purpose


def community_tables(community: "Community") -> "Tables":
    """The analysis tables of a generated community (see the module docstring)."""
    from workbench.records import assessments_from_forms, decide_screenings, score_assessments
    from workbench.synth._params import load
    from workbench.tables import TABLES, Tables, coerce

    study = load()["cohort"]["study"]
    r = community.residents
    communities = (r[["community", "community_type"]].drop_duplicates("community")
                   .sort_values("community", ignore_index=True))
    residents = r[[c for c in TABLES["residents"].names]]
    forms, purpose = _forms(community, study)
    shaped = assessments_from_forms(forms, purpose=purpose, ids=None, table="forms")
    shaped["assessment_id"] = pd.array(_ids("A", len(shaped)), dtype="string")
    scores = score_assessments(shaped, residents)
    sessions = shaped[shaped["purpose"] == "screening"][["resident_id", "assessed_on"]].drop_duplicates()
    noon = (pd.to_datetime(sessions.sort_values(["resident_id", "assessed_on"])["assessed_on"])
            + pd.Timedelta(hours=12)).reset_index(drop=True)
    decisions = decide_screenings(shaped, scores, residents, by=DECIDED_BY, at=noon, policy=community.policy_object or "default",
                                  ids=_ids("D", len(sessions)))
    frames = {"communities": communities, "residents": residents, "assessments": shaped, "scores": scores,
              "decisions": decisions}
    if community.referrals is not None:
        frames["referrals"] = community.referrals.assign(destination=None)
        _check_referrals(frames["referrals"], decisions)
    if community.contacts is not None:
        c = _then(community.contacts, getattr(community, "care_contacts", None))
        c.loc[len(community.contacts):, "contact_id"] = _ids("C", len(c))[len(community.contacts):]   # the next ids
        frames["contacts"] = c.drop(columns=["attended"]).assign(
            status=np.where(c["attended"].astype(bool), "attended", "missed"), recorded_by=DECIDED_BY)
    if community.events is not None:
        e = _then(community.events, getattr(community, "care_events", None))
        frames["events"] = e.assign(event_id=_ids("V", len(e)), source=None)
    enrolments = []
    if community.enrolments is not None and len(community.enrolments):
        enrolments.append(community.enrolments.astype({"arm": "string"}))
    if community.waves is not None and len(community.waves):
        baseline = community.waves[community.waves["wave"] == 0]
        enrolments.append(pd.DataFrame({"resident_id": baseline["resident_id"], "study": study,
                                        "arm": pd.Series(pd.NA, index=baseline.index, dtype="string"),
                                        "enrolled_on": baseline["assessed_on"]}))
    if enrolments:
        e = pd.concat(enrolments, ignore_index=True)
        frames["enrolments"] = e.assign(enrolment_id=_ids("E", len(e)))
    if community.measurements is not None:
        m = community.measurements
        frames["measurements"] = m.assign(measurement_id=_ids("M", len(m)))
    if getattr(community, "smd_register", None) is not None:
        frames["smd_register"] = community.smd_register
        f = community.smd_followups
        frames["smd_followups"] = f.assign(followup_id=_ids("Q", len(f)))
        h = community.smd_rehab
        frames["smd_rehab"] = h.assign(rehab_id=_ids("H", len(h)))
    if getattr(community, "literacy", None) is not None:
        li = community.literacy
        frames["literacy"] = li.assign(literacy_id=_ids("L", len(li)), recorded_by=DECIDED_BY)
    if community.satisfaction is not None and len(community.satisfaction):
        s = community.satisfaction
        frames["surveys"] = s.assign(survey_id=_ids("S", len(s)))
    typed = {}
    for name, frame in frames.items():
        ordered = frame[[c for c in TABLES[name].names if c in frame.columns]].reset_index(drop=True)
        typed[name], problems = coerce(name, ordered)
        if problems:
            raise ValueError(f"synth: the {name} table does not have its declared shape: {problems[:5]}")
    tables = Tables(attrs={"source": "synth", "pseudonymised": False, "seed": community.seed,
                           "n": len(community.residents), "policy": community.policy}, **typed)
    return tables.validate()


def _then(frame: pd.DataFrame, more: pd.DataFrame | None) -> pd.DataFrame:
    """``frame``'s rows, then ``more``'s (its columns among ``frame``'s; ``kind`` as text)."""
    if more is None or not len(more):
        return frame.copy()
    return pd.concat([frame.astype({"kind": object}), more.astype({"kind": object})], ignore_index=True)


def _check_referrals(referrals: pd.DataFrame, decisions: pd.DataFrame) -> None:
    decided = decisions.set_index(["resident_id", "assessed_on"])["tier"]
    key = pd.MultiIndex.from_arrays([referrals["resident_id"].astype("string"),
                                     pd.to_datetime(referrals["referred_on"])])
    tier = decided.reindex(key).to_numpy()
    bad = pd.isna(tier) | (tier != referrals["tier"].to_numpy())
    if bad.any():
        raise RuntimeError(f"synth: {int(bad.sum())} referral(s) do not follow the tier decided on their screening, "
                           f"e.g. {referrals[bad].head(3).to_dict('records')}")
