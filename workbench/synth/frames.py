"""Turn the follow-up part of a :class:`~workbench.synth.engine.Draft` into DataFrames.

The ``follow_up_end`` cut is applied here: contacts and reviews after it are left out, and a
referral whose last contact falls after it is still open (``ended_on`` and ``end_reason``
blank).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from .contacts import END_REASONS, KINDS
from .engine import Draft

REFERRAL_COLUMNS = ("referral_id", "resident_id", "referred_on", "tier", "rule", "ended_on",
                    "end_reason")
CONTACT_COLUMNS = ("contact_id", "resident_id", "referral_id", "contact_on", "kind", "attended")
FOLLOWUP_COLUMNS = ("resident_id", "referral_id", "contact_id", "assessed_on", "week", "mode",
                    "language")


def ids(prefix: str, n: int) -> np.ndarray:
    """``prefix`` + 1-based numbers zero-padded to at least 7 digits (object array).

    Examples
    --------
    >>> ids("F", 3).tolist()
    ['F0000001', 'F0000002', 'F0000003']
    """
    width = max(7, len(str(n)))
    numbers = np.arange(1, n + 1, dtype=np.int64)
    text = np.empty((n, width + 1), dtype=np.uint8)     # ASCII bytes, one row per id
    text[:, 0] = ord(prefix)
    for position in range(width):
        text[:, width - position] = (numbers // 10 ** position) % 10 + ord("0")
    return text.view(f"S{width + 1}").ravel().astype(str).astype(object)


def categorical(codes: np.ndarray, categories: Iterable[str]) -> pd.Categorical:
    """A categorical from integer codes (-1 = missing)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int32), categories=list(categories))


def _date(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[ns]")


def follow_up_frames(draft: Draft, resident_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """``referrals``, ``contacts`` and ``followups`` DataFrames, cut at ``follow_up_end``."""
    ref, c, f = draft.referrals, draft.contacts, draft.followups
    models = draft.params["_derived"]["item_models"]
    end = draft.follow_up_end
    referral_ids = ids("F", len(ref["resident"]))
    rid = resident_ids[ref["resident"]]

    ended_on = ref["referred_on"] + ref["end_day"].astype("timedelta64[D]")
    open_ = ended_on > end
    referrals = pd.DataFrame({
        "referral_id": referral_ids,
        "resident_id": rid,
        "referred_on": _date(ref["referred_on"]),
        "tier": pd.array(ref["tier"], dtype="Int8"),
        "rule": categorical(ref["rule_code"], ref["rule_labels"]),
        "ended_on": _date(np.where(open_, np.datetime64("NaT"), ended_on)),
        "end_reason": categorical(np.where(open_, -1, ref["end_reason"]), END_REASONS),
    })

    contact_on = ref["referred_on"][c["referral"]] + c["day"].astype("timedelta64[D]")
    keep = contact_on <= end
    contact_ids = ids("C", int(keep.sum()))
    contacts = pd.DataFrame({
        "contact_id": contact_ids,
        "resident_id": rid[c["referral"][keep]],
        "referral_id": referral_ids[c["referral"][keep]],
        "contact_on": _date(contact_on[keep]),
        "kind": categorical(c["kind"][keep], KINDS),
        "attended": c["attended"][keep],
    })

    position = np.cumsum(keep) - 1                    # contact row -> row in `contacts`
    kept = f["assessed_on"] <= end
    columns: dict[str, Any] = {
        "resident_id": rid[f["referral"][kept]],
        "referral_id": referral_ids[f["referral"][kept]],
        "contact_id": contact_ids[position[f["contact"][kept]]],
        "assessed_on": _date(f["assessed_on"][kept]),
        "week": f["week"][kept].astype(np.int64),
        "mode": categorical(f["interviewer"][kept], ["self", "interviewer"]),
        "language": categorical(f["english"][kept], ["zh", "en"]),
    }
    for name, values in f["answers"].items():
        values = np.asfortranarray(values[kept])
        blank = np.asfortranarray(f["blank"][name][kept])
        for j, col in enumerate(models[name].columns):
            columns[col] = pd.arrays.IntegerArray(values[:, j], blank[:, j])
    return {"referrals": referrals, "contacts": contacts, "followups": pd.DataFrame(columns)}
