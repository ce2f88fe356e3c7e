"""Step ``referral``: the baseline tier from the stepped-care policy, and who is referred.

The tier is the one the registry's save path decides (:mod:`workbench.records`: the baseline
screening stored, scored and decided with the residents' chronic conditions), so the synthetic
referrals follow whichever policy the community is generated with, exactly as the decisions of
:meth:`Community.tables <workbench.synth.core.Community.tables>` do. Residents at tier 2 or 3 are
referred on the day of their screening; tier 1 (and residents whose screening could not be
scored) are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._checks import fail
from .conditions import CONDITIONS
from .engine import Draft, register

REFERRED_TIERS = (2, 3)


def check_policy(value: Any, param: str, caller: str):
    """A stepped-care policy: a shipped id, a policy YAML file or a loaded ``Policy``."""
    from workbench.policy import Policy, load_policy, policy_ids

    rule = (f"a stepped-care policy: a shipped policy id among {policy_ids()}, the path of a "
            "policy YAML file or a workbench.Policy")
    if not isinstance(value, (str, Path, Policy)):
        fail(param, caller, rule, value)
    try:
        return load_policy(value)
    except Exception as exc:   # noqa: BLE001 - reported with the parameter that brought it
        detail = str(exc.args[0]) if exc.args else str(exc)
        fail(param, caller, f"{rule} ({detail})".replace("\n", " "), value)


def baseline_frame(draft: Draft, instruments: list[str]) -> pd.DataFrame:
    """The baseline screening (items of ``instruments``) joined with the condition flags."""
    models = draft.params["_derived"]["item_models"]
    columns: dict[str, Any] = {"assessed_on": draft.screenings["assessed_on"]}
    for name in instruments:
        if name not in draft.instruments:
            continue
        values, blank = draft.work["answers"][name], draft.work["blank"][name]
        for j, col in enumerate(models[name].columns):
            columns[col] = pd.arrays.IntegerArray(values[:, j].copy(), blank[:, j].copy())
    columns.update({c: draft.residents[c] for c in CONDITIONS})
    return pd.DataFrame(columns)


@register("referral", key=None, needs=("skip_logic", "conditions", "schedule"))
def referral(draft: Draft, rng: None) -> None:
    """Referrals of the residents at tier 2 or 3: resident index, tier, rule, urgency and the
    policy's days to the first contact (``next_contact_due`` - screening date)."""
    from workbench.records import assessments_from_forms, decide_screenings, score_assessments

    policy = draft.policy
    forms = baseline_frame(draft, list(policy.instruments))
    forms.insert(0, "resident_id", np.arange(draft.n).astype(str))
    people = pd.DataFrame({"resident_id": forms["resident_id"],
                           "sex": np.where(draft.residents["female"], "female", "male"),
                           **{c: draft.residents[c] for c in CONDITIONS}})
    shaped = assessments_from_forms(forms, purpose="screening", instruments=list(policy.instruments))
    scores = score_assessments(shaped, people)
    decided = decide_screenings(shaped, scores, people, by="admin", at=pd.Timestamp("2000-01-01"), policy=policy)
    # back to one row per resident, in resident order (a resident with nothing answered has no decision)
    screened = decided.set_index(decided["resident_id"].astype(int)).reindex(np.arange(draft.n))
    screened["rule"] = screened["rule"].astype("category")
    screened["urgent"] = screened["urgent"].astype("boolean").fillna(False).astype(bool)
    tier = screened["tier"].to_numpy(dtype="float64", na_value=np.nan)
    resident = np.flatnonzero(np.isin(tier, REFERRED_TIERS))
    referred_on = draft.screenings["assessed_on"][resident]
    due = screened["next_contact_due"].to_numpy().astype("datetime64[D]")[resident]
    rule = screened["rule"]
    if not isinstance(rule.dtype, pd.CategoricalDtype):
        rule = rule.astype("category")
    draft.referrals.update(
        resident=resident,
        tier=tier[resident].astype(np.int8),
        rule_code=rule.cat.codes.to_numpy()[resident].astype(np.int32),
        rule_labels=[str(c) for c in rule.cat.categories],
        urgent=screened["urgent"].to_numpy(dtype=bool)[resident],
        referred_on=referred_on,
        due_days=np.maximum((due - referred_on).astype(np.int64), 0),
        policy=policy.label,
    )
    referral_of = np.full(draft.n, -1, dtype=np.int64)
    referral_of[resident] = np.arange(len(resident))
    draft.work["referral_of"] = referral_of
