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


def _item_columns(columns: dict[str, Any], models: dict, answers: dict, blank: dict,
                  rows: Any = slice(None)) -> None:
    """Add the nullable ``Int8`` item columns of ``answers`` (blank = ``<NA>``) to ``columns``."""
    for name, values in answers.items():
        values = np.asfortranarray(values[rows])
        blanks = np.asfortranarray(blank[name][rows])
        for j, col in enumerate(models[name].columns):
            columns[col] = pd.arrays.IntegerArray(values[:, j], blanks[:, j])


def follow_up_frames(draft: Draft, resident_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """``referrals``, ``contacts`` and ``followups`` DataFrames, cut at ``follow_up_end``.

    Maintenance contacts and reviews (``follow_up_years >= 2``) are merged in after each
    referral's course, with a blank ``referral_id``.
    """
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

    m = draft.tables.get("maintenance") or {"referral": np.zeros(0, dtype=np.int64)}
    n_course, n_maint = len(c["referral"]), len(m["referral"])
    if n_maint:
        owner = np.concatenate([c["referral"], m["referral"]])
        day = np.concatenate([c["day"], m["day"]])
        kind = np.concatenate([c["kind"], m["kind"]])
        attended = np.concatenate([c["attended"], m["attended"]])
        phase = np.repeat(np.array([0, 1], dtype=np.int8), [n_course, n_maint])
        sort = np.lexsort((phase, kind, day, owner))
        owner, day, kind, attended, phase = (x[sort] for x in (owner, day, kind, attended, phase))
        where = np.empty(len(sort), dtype=np.int64)        # source row -> sorted row
        where[sort] = np.arange(len(sort))
    else:
        owner, day, kind, attended = c["referral"], c["day"], c["kind"], c["attended"]
        phase, where = np.zeros(n_course, dtype=np.int8), np.arange(n_course)

    contact_on = ref["referred_on"][owner] + day.astype("timedelta64[D]")
    keep = contact_on <= end
    contact_ids = ids("C", int(keep.sum()))
    linked = referral_ids[owner[keep]]
    if n_maint:
        linked = np.where(phase[keep] == 0, linked, None)
    contacts = pd.DataFrame({
        "contact_id": contact_ids,
        "resident_id": rid[owner[keep]],
        "referral_id": linked,
        "contact_on": _date(contact_on[keep]),
        "kind": categorical(kind[keep], KINDS),
        "attended": attended[keep],
    })

    position = np.cumsum(keep) - 1                    # contact row -> row in `contacts`
    kept = f["assessed_on"] <= end
    if not n_maint:
        columns: dict[str, Any] = {
            "resident_id": rid[f["referral"][kept]],
            "referral_id": referral_ids[f["referral"][kept]],
            "contact_id": contact_ids[position[f["contact"][kept]]],
            "assessed_on": _date(f["assessed_on"][kept]),
            "week": f["week"][kept].astype(np.int64),
            "mode": categorical(f["interviewer"][kept], ["self", "interviewer"]),
            "language": categorical(f["english"][kept], ["zh", "en"]),
        }
        _item_columns(columns, models, f["answers"], f["blank"], kept)
        return {"referrals": referrals, "contacts": contacts,
                "followups": pd.DataFrame(columns)}

    r = m["reviews"]
    course_rows = np.flatnonzero(kept)
    owner_f = np.concatenate([f["referral"][kept], r["referral"]])
    on_f = np.concatenate([f["assessed_on"][kept], r["on"]])
    source = np.concatenate([f["contact"][kept], n_course + r["contact"]])
    phase_f = np.repeat(np.array([0, 1], dtype=np.int8), [len(course_rows), len(r["referral"])])
    order = np.lexsort((phase_f, on_f, owner_f))
    owner_f, on_f, source, phase_f = (x[order] for x in (owner_f, on_f, source, phase_f))
    week = ((on_f - ref["referred_on"][owner_f]).astype(np.int64) // 7)
    columns = {
        "resident_id": rid[owner_f],
        "referral_id": np.where(phase_f == 0, referral_ids[owner_f], None),
        "contact_id": contact_ids[position[where[source]]],
        "assessed_on": _date(on_f),
        "week": week.astype(np.int64),
        "mode": categorical(np.concatenate([f["interviewer"][kept], r["interviewer"]])[order],
                            ["self", "interviewer"]),
        "language": categorical(np.concatenate([f["english"][kept], r["english"]])[order],
                                ["zh", "en"]),
    }
    answers = {k: np.concatenate([f["answers"][k][kept], r["answers"][k]])[order]
               for k in f["answers"]}
    blank = {k: np.concatenate([f["blank"][k][kept], r["blank"][k]])[order] for k in f["answers"]}
    _item_columns(columns, models, answers, blank)
    return {"referrals": referrals, "contacts": contacts, "followups": pd.DataFrame(columns)}


EVENT_COLUMNS = ("event_id", "resident_id", "event_on", "kind")
WAVE_COLUMNS = ("resident_id", "wave", "assessed_on", "mode", "language")
ENROLMENT_COLUMNS = ("resident_id", "study", "arm", "enrolled_on")
TRIAL_ASSESSMENT_COLUMNS = ("resident_id", "study", "month", "assessed_on", "mode", "language")


def _forms_frame(draft: Draft, resident_ids: np.ndarray, rows: dict[str, Any],
                 head: dict[str, Any]) -> pd.DataFrame:
    models = draft.params["_derived"]["item_models"]
    columns: dict[str, Any] = {"resident_id": resident_ids[rows["resident"]], **head,
                               "assessed_on": _date(rows["on"]),
                               "mode": categorical(rows["interviewer"], ["self", "interviewer"]),
                               "language": categorical(rows["english"], ["zh", "en"])}
    _item_columns(columns, models, rows["answers"], rows["blank"])
    return pd.DataFrame(columns)


def study_frames(draft: Draft, resident_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """``events``, ``waves``, ``enrolments`` and ``trial_assessments`` DataFrames (the steps
    have already cut them at death, loss to follow-up and ``follow_up_end``)."""
    from .events import KINDS as EVENT_KINDS
    from .trial import ARMS

    e = draft.tables["events"]
    events = pd.DataFrame({
        "event_id": np.arange(1, len(e["resident"]) + 1, dtype=np.int64),
        "resident_id": resident_ids[e["resident"]],
        "event_on": _date(e["on"]),
        "kind": categorical(e["kind"], EVENT_KINDS),
        "days": pd.arrays.IntegerArray(np.nan_to_num(e["days"]).astype(np.int16), np.isnan(e["days"])),
    })
    w = draft.tables["waves"]
    waves = _forms_frame(draft, resident_ids, w, {"wave": w["wave"].astype(np.int64)})
    en = draft.tables["enrolments"]
    enrolments = pd.DataFrame({
        "resident_id": resident_ids[en["resident"]],
        "study": np.full(len(en["resident"]), en["study"], dtype=object),
        "arm": categorical(en["arm"], ARMS),
        "enrolled_on": _date(en["enrolled_on"]),
    })
    t = draft.tables["trial_assessments"]
    trial = _forms_frame(draft, resident_ids, t, {
        "study": np.full(len(t["resident"]), en["study"], dtype=object),
        "month": t["month"].astype(np.int64)})
    return {"events": events, "waves": waves, "enrolments": enrolments,
            "trial_assessments": trial}
