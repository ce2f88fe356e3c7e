"""Step ``smd``: the severe-mental-disorder register of the community, its follow-ups and the
community rehabilitation ladder (tables ``smd_register``, ``smd_followups``, ``smd_rehab``).

Who is registered, when, how often staff follow them and what they record are parameters (the
``smd`` section of ``params.yaml``, each with its source or marked as a calibration choice); the
rules are the SMD policy's: every follow-up is classified when it is "saved" by
:func:`workbench.smd.classify` with the default policy (``suggested_outcome``, ``rule``,
``policy_version``), staff record an outcome (mostly the suggestion) and the next follow-up is
due as the policy says for it. So the sample holds what the registry would hold had staff used
the follow-up form.

The window opens one year before ``start`` (so the 12-month indicators of the first screening
month have a full year) and ends at ``follow_up_end``; nothing after death, leaving the register
or ``follow_up_end``.

Random streams (key 20, :mod:`workbench.synth.engine`): the per-resident draws (who is
registered, when, the diagnosis, the habits) from the step's stream, over every resident, and
the draws of the ``k``-th follow-up of every candidate patient from sub-stream ``(20, 1, k)``.
The candidates (the patients registered before the window, and those whose registration date
falls before ``end`` + 5 years) do not depend on ``follow_up_end``, so the rows up to a date do
not either, and the tables generated before this step keep their rows for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from workbench import smd as rules

from .engine import Draft, register
from .frames import _date

SMD_KEY = 20
ROUNDS = 1
YEAR = 365.25
#: Candidates are registered before ``end`` + this many days (5 years: the longest follow-up).
HORIZON_DAYS = 5 * 365
STABLE, BASIC, UNSTABLE = (rules.STABILITIES.index(s) for s in ("stable", "basically_stable", "unstable"))
ITEMS = tuple(rules.ITEM_VALUES)
LATENT_ITEMS = ("symptoms", "insight", "social_function")


def _cuts(shares) -> np.ndarray:
    """Cut points on a standard normal scale giving the ordered ``shares``."""
    return norm.ppf(np.cumsum(np.asarray(shares, dtype=float))[:-1].clip(0, 1))


def _ordinal(latent: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return np.searchsorted(cuts, latent, side="right").astype(np.int64)


def _days(x: np.ndarray) -> np.ndarray:
    return np.floor(x).astype(np.int64).astype("timedelta64[D]")


def _after(days: np.ndarray, unit: str, count: int) -> np.ndarray:
    """``days`` plus an interval of the policy (``("days", 14)``, ``("months", 3)``), as the
    policy reads it (calendar months: 31 January + 3 months = 30 April)."""
    if unit == "days":
        return days + np.timedelta64(count, "D")
    return (pd.DatetimeIndex(_date(days)) + pd.DateOffset(months=count)).to_numpy().astype("datetime64[D]")


def _register(draft: Draft, rng: np.random.Generator) -> dict[str, Any]:
    """Who is (or becomes) registered, and the register's columns (one entry per candidate)."""
    rp = draft.params["smd"]["register"]
    n = draft.n
    window = np.datetime64(draft.start, "D") - np.timedelta64(365, "D")
    u = rng.random((n, 2))
    # exactly round(p_prevalent x n) residents (the smallest draws): the register's size is a
    # calibration target, not left to chance in a small sample
    prevalent = np.zeros(n, dtype=bool)
    k = int(round(rp["p_prevalent"] * n))
    if k:
        prevalent[np.argpartition(u[:, 0], k - 1)[:k]] = True
    arrival = window + _days(rng.exponential(YEAR / rp["incidence_per_year"], n))
    horizon = np.datetime64(draft.end, "D") + np.timedelta64(HORIZON_DAYS, "D")
    who = np.flatnonzero(prevalent | (arrival <= horizon))
    m = len(who)
    z = rng.random((m, 12))
    born = np.asarray(draft.residents["birth_date"], dtype="datetime64[D]")[who]
    earliest = born + _days(np.full(m, rp["min_age"] * YEAR))
    before = window - _days(z[:, 0] * rp["years_registered"] * YEAR) - np.timedelta64(1, "D")
    registered_on = np.where(prevalent[who], np.maximum(before, np.minimum(earliest, window - np.timedelta64(1, "D"))),
                             arrival[who])
    diagnosed_on = registered_on - _days(z[:, 1] * rp["diagnosed_years_before"] * YEAR)
    diagnosed_on = np.maximum(diagnosed_on, np.minimum(earliest, registered_on))
    disorders = list(rp["disorders"])
    diagnosis = np.searchsorted(np.cumsum([rp["disorders"][d] for d in disorders])[:-1], z[:, 2], side="right")
    guardians = list(rp["guardians"])
    guardian = np.searchsorted(np.cumsum([rp["guardians"][g] for g in guardians])[:-1], z[:, 3], side="right")
    moved_on = (np.maximum(registered_on, window)
                + _days(-np.log1p(-z[:, 4]) * YEAR / rp["moved_per_year"]))
    death_on = draft.work["death_on"][who]
    left_on = np.minimum(moved_on, death_on)
    return {
        "who": who, "prevalent": prevalent[who], "registered_on": registered_on,
        "diagnosed_on": diagnosed_on, "diagnosed_known": z[:, 5] >= rp["p_diagnosed_blank"],
        "diagnosis": np.asarray([rules.DISORDERS.index(d) for d in disorders])[diagnosis],
        "guardian": np.asarray([rules.GUARDIANS.index(g) for g in guardians])[guardian],
        "guardian_known": z[:, 6] >= rp["p_guardian_blank"],
        "consent": z[:, 7] < rp["p_consent"], "consent_known": z[:, 8] >= rp["p_consent_blank"],
        "left_on": left_on, "died": death_on <= moved_on,
        "u": z[:, 9:],
    }


def _habits(draft: Draft, reg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Lasting per-patient values: how they are followed, their severity and medication habits."""
    sp = draft.params["smd"]
    fp, mp = sp["followup"], sp["medication"]
    u, m = reg["u"], len(reg["who"])
    rng = draft.rng(SMD_KEY, 0)
    z = rng.standard_normal((m, 3))
    kind = np.where(u[:, 0] < fp["p_unreachable"], 0, np.where(u[:, 0] < fp["p_unreachable"] + fp["p_irregular"], 1, 2))
    window = np.datetime64(draft.start, "D") - np.timedelta64(365, "D")
    first = np.where(reg["registered_on"] < window, window + _days(u[:, 1] * 91),
                     reg["registered_on"] + _days(u[:, 2] * 15))
    return {"kind": kind, "first": first, "person": fp["person_sd"] * z[:, 0], "visit": fp["visit_sd"] * z[:, 1],
            "on_med": rng.random(m) < mp["p_on_medication"],
            "regular": mp["regular_intercept"] + mp["regular_person_sd"] * z[:, 2],
            "rehab": rng.random((m, 10))}


def _classify(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """The default SMD policy's suggestion for the follow-ups ``rows`` (workbench.smd.classify)."""
    n = len(rows["on"])
    frame = {"followup_id": pd.array([f"q{k}" for k in range(n)], dtype="string"),
             "resident_id": pd.array(rows["patient"].astype(str), dtype="string"),
             "followed_on": _date(rows["on"]),
             "risk_grade": pd.arrays.IntegerArray(np.maximum(rows["risk_grade"], 0).astype(np.int8),
                                                  rows["risk_grade"] < 0)}
    for item, values in rules.ITEM_VALUES.items():
        code = rows[item]
        frame[item] = pd.array(np.where(code >= 0, np.asarray(values, dtype=object)[np.maximum(code, 0)], None),
                               dtype="string")
    return rules.classify(pd.DataFrame(frame), policy="default")


def _followups(draft: Draft, reg: dict[str, Any], h: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every follow-up of the window, in rounds (round k = each patient's k-th follow-up)."""
    sp = draft.params["smd"]
    fp, mp = sp["followup"], sp["medication"]
    pol = rules.load_smd_policy("default")
    m = len(reg["who"])
    end = np.datetime64(draft.follow_up_end, "D")
    stop = np.minimum(end, reg["left_on"] - np.timedelta64(1, "D"))
    cuts = {"risk_grade": _cuts(fp["share"]["risk_grade"]),
            **{i: _cuts([fp["share"][i][v] for v in rules.ITEM_VALUES[i]]) for i in ITEMS}}
    scale = np.sqrt(fp["person_sd"] ** 2 + fp["visit_sd"] ** 2 + fp["item_noise_sd"] ** 2)
    on, visit = h["first"].copy(), h["visit"].copy()
    reachable = h["kind"] > 0
    parts = []
    k = 0
    while True:
        active = np.flatnonzero(reachable & (on <= stop) & (on >= reg["registered_on"]))
        if k:
            visit = fp["rho"] * visit + np.sqrt(1 - fp["rho"] ** 2) * fp["visit_sd"] * z_next
        rng = draft.rng(SMD_KEY, ROUNDS, k)
        z = rng.standard_normal((m, 6))
        u = rng.random((m, 14))
        z_next = rng.standard_normal(m)
        if not active.size:
            break
        a = active
        s = h["person"][a] + visit[a]
        row: dict[str, np.ndarray] = {"patient": a, "on": on[a]}
        row["risk_grade"] = _ordinal((s + fp["item_noise_sd"] * z[a, 0]) / scale, cuts["risk_grade"])
        for j, item in enumerate(LATENT_ITEMS):
            row[item] = _ordinal((s + fp["item_noise_sd"] * z[a, 1 + j]) / scale, cuts[item])
        on_med = h["on_med"][a] ^ (u[a, 0] < mp["p_switch"])
        row["adverse_reaction"] = np.where(on_med, _ordinal(norm.ppf(u[a, 1]), cuts["adverse_reaction"]), 0)
        row["physical_illness"] = _ordinal(norm.ppf(u[a, 2]), cuts["physical_illness"])
        for j, item in enumerate(("risk_grade", *ITEMS)):
            row[item] = np.where(u[a, 3 + j] < fp["p_blank"], -1, row[item])
        med_known = u[a, 9] >= fp["p_blank"]
        regular = h["regular"][a] + np.log(u[a, 10] / (1 - u[a, 10])) > 0
        row["on_medication"] = np.where(med_known, on_med.astype(np.int8), -1)
        row["regularity"] = np.where(~med_known, -1, np.where(on_med, np.where(regular, 0, 1), 2))
        row["mode"] = (u[a, 11] >= fp["p_face_to_face"]).astype(np.int8)
        c = _classify(row)
        suggested = c["stability"].cat.codes.to_numpy().astype(np.int64)
        due = c["next_due"].to_numpy().astype("datetime64[D]")
        # what staff record
        change = (suggested >= 0) & (suggested != UNSTABLE) & (u[a, 12] < fp["p_change"])
        outcome = np.where(change, np.where(suggested == STABLE, BASIC, STABLE), suggested)
        judged = (s + fp["item_noise_sd"] * z[a, 4]) / scale
        guess = np.where(judged > cuts["symptoms"][1], UNSTABLE,
                         np.where(judged > cuts["social_function"][0], BASIC, STABLE))
        outcome = np.where(suggested < 0, np.where(u[a, 13] < fp["p_judged_without_suggestion"], guess, -1), outcome)
        for stab_id, stab in pol.stability.items():
            sel = outcome == rules.STABILITIES.index(stab_id)
            if sel.any():
                own = _after(on[a][sel], *pol.intervals[stab.follow_up])
                due[sel] = np.minimum(due[sel], own)
        refer = c["refer"].to_numpy()
        row["referred"] = np.where(refer, (z[a, 5] < norm.ppf(fp["p_referred"])).astype(np.int8), 0)
        row.update(suggested=suggested, rule=c["rule"].cat.codes.to_numpy().astype(np.int64), outcome=outcome,
                   next_due=due)
        parts.append(row)
        # when the next follow-up happens
        gap = (due - on[a]).astype(np.int64)
        early = np.floor(u[a, 7] * (np.minimum(fp["early_days"], gap // 4) + 1)).astype(np.int64)
        low, high = fp["late_days"]
        late = low + np.floor(u[a, 8] * (high - low + 1)).astype(np.int64)
        nxt = np.where(h["kind"][a] == 1, due + late.astype("timedelta64[D]"), due - early.astype("timedelta64[D]"))
        on[a] = np.maximum(nxt, on[a] + np.timedelta64(fp["min_gap_days"], "D"))
        k += 1
    if not parts:
        return {}
    out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((out["on"], out["patient"]))
    return {name: values[order] for name, values in out.items()}


def _rehab(draft: Draft, reg: dict[str, Any], h: dict[str, np.ndarray],
           fu: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Steps on the rehabilitation ladder after the first referral of the window."""
    hp = draft.params["smd"]["rehab"]
    end = np.datetime64(draft.follow_up_end, "D")
    empty = {"patient": np.zeros(0, np.int64), "level": np.zeros(0, np.int8),
             "entered_on": np.zeros(0, "datetime64[D]"), "left_on": np.zeros(0, "datetime64[D]")}
    if not fu or not fu["referred"].any():
        return empty
    ref = np.flatnonzero(fu["referred"] == 1)
    first = ref[np.r_[True, fu["patient"][ref][1:] != fu["patient"][ref][:-1]]]
    patient, referred_on = fu["patient"][first], fu["on"][first]
    u = h["rehab"][patient]
    go = u[:, 0] < hp["p_after_referral"]
    patient, referred_on, u = patient[go], referred_on[go], u[go]
    low, high = hp["discharge_days"]
    entered = referred_on + (low + np.floor(u[:, 1] * (high - low + 1))).astype(np.int64).astype("timedelta64[D]")
    stop = np.minimum(end, reg["left_on"][patient])
    rows = {"patient": [], "level": [], "entered_on": [], "left_on": []}
    on = entered
    moving = on <= stop
    nat = np.datetime64("NaT", "D")
    for level in range(1, 6):
        here = np.flatnonzero(moving)
        if not here.size:
            break
        step = (level < 5) & (u[here, 2 + min(level - 1, 3)] < hp["p_step"])
        dwell = np.floor(-np.log1p(-u[here, min(5 + level, 9)] * 0.999999) * hp["level_mean_days"]).astype(np.int64) + 1
        leave = on[here] + dwell.astype("timedelta64[D]")
        # a patient who leaves the register leaves the ladder that day; after follow_up_end: not known
        gone = reg["left_on"][patient[here]] <= end
        until = np.where(step & (leave <= stop[here]), leave, np.where(gone, reg["left_on"][patient[here]], nat))
        rows["patient"].append(patient[here])
        rows["level"].append(np.full(here.size, level, np.int8))
        rows["entered_on"].append(on[here])
        rows["left_on"].append(until)
        moving = np.zeros_like(moving)
        moving[here] = step & (leave <= stop[here])
        on = on.copy()
        on[here] = leave
    if not rows["patient"]:
        return empty
    out = {k: np.concatenate(v) for k, v in rows.items()}
    order = np.lexsort((out["entered_on"], out["patient"]))
    return {k: v[order] for k, v in out.items()}


@register("smd", key=SMD_KEY, needs=("events",))
def smd(draft: Draft, rng: np.random.Generator) -> None:
    """The SMD register, its follow-ups and the rehabilitation ladder."""
    reg = _register(draft, rng)
    end = np.datetime64(draft.follow_up_end, "D")
    h = _habits(draft, reg)
    fu = _followups(draft, reg, h)
    draft.tables["smd"] = {"register": reg, "followups": fu, "rehab": _rehab(draft, reg, h, fu),
                           "on_register": (reg["registered_on"] <= end) & (reg["registered_on"] < reg["left_on"])}


def _codes(values: tuple, code: np.ndarray) -> Any:
    return pd.array(np.where(code >= 0, np.asarray(values, dtype=object)[np.maximum(code, 0)], None), dtype="string")


def smd_frames(draft: Draft, resident_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """The three SMD tables as DataFrames of the analysis tables' columns, without the
    ``followup_id`` and ``rehab_id`` (added with the analysis tables)."""
    t = draft.tables["smd"]
    reg, fu, rh = t["register"], t["followups"], t["rehab"]
    by = draft.params["smd"]["recorded_by"]
    end = np.datetime64(draft.follow_up_end, "D")
    keep = np.flatnonzero(t["on_register"])
    left = reg["left_on"][keep] <= end
    nat = np.datetime64("NaT", "D")
    register = pd.DataFrame({
        "resident_id": resident_ids[reg["who"][keep]],
        "diagnosis": _codes(rules.DISORDERS, reg["diagnosis"][keep]),
        "diagnosed_on": _date(np.where(reg["diagnosed_known"][keep], reg["diagnosed_on"][keep], nat)),
        "registered_on": _date(reg["registered_on"][keep]),
        "guardian": _codes(rules.GUARDIANS, np.where(reg["guardian_known"][keep], reg["guardian"][keep], -1)),
        "consent": pd.array(np.where(reg["consent_known"][keep], reg["consent"][keep], None), dtype="boolean"),
        "consent_on": _date(np.where(reg["consent_known"][keep] & reg["consent"][keep],
                                     reg["registered_on"][keep], nat)),
        "left_on": _date(np.where(left, reg["left_on"][keep], nat)),
        "left_reason": _codes(rules.LEFT_REASONS, np.where(left, np.where(reg["died"][keep], 1, 0), -1)),
        "recorded_by": pd.array([by] * len(keep), dtype="string"),
    })
    pol = rules.load_smd_policy("default")
    if not fu:                                # nobody followed: the columns, no rows
        fu = {name: np.zeros(0, np.int64) for name in ("patient", "risk_grade", "mode", "on_medication", "regularity",
                                                        "suggested", "rule", "outcome", "referred", *ITEMS)}
        fu.update(on=np.zeros(0, "datetime64[D]"), next_due=np.zeros(0, "datetime64[D]"))
    n = len(fu["on"])
    grade = fu["risk_grade"]
    followups = pd.DataFrame({
        "resident_id": resident_ids[reg["who"][fu["patient"]]],
        "followed_on": _date(fu["on"]),
        "mode": _codes(rules.MODES, fu["mode"].astype(np.int64)),
        "risk_grade": pd.arrays.IntegerArray(np.maximum(grade, 0).astype(np.int8), grade < 0),
        **{item: _codes(values, fu[item]) for item, values in rules.ITEM_VALUES.items()},
        "on_medication": pd.array(np.where(fu["on_medication"] >= 0, fu["on_medication"] == 1, None), dtype="boolean"),
        "medication_regularity": _codes(rules.REGULARITY, fu["regularity"]),
        "suggested_outcome": _codes(rules.STABILITIES, fu["suggested"]),
        "rule": _codes(tuple(r.id for r in pol.rules), fu["rule"]),
        "outcome": _codes(rules.STABILITIES, fu["outcome"]),
        "referred": pd.array(fu["referred"].astype(bool), dtype="boolean"),
        "next_due": _date(fu["next_due"]),
        "policy_version": pd.array([pol.version] * n, dtype="string"),
        "recorded_by": pd.array([by] * n, dtype="string"),
    })
    rehab = pd.DataFrame({
        "resident_id": resident_ids[reg["who"][rh["patient"]]],
        "level": pd.array(rh["level"], dtype="Int8"),
        "entered_on": _date(rh["entered_on"]),
        "left_on": _date(rh["left_on"]),
        "recorded_by": pd.array([by] * len(rh["patient"]), dtype="string"),
    })
    return {"smd_register": register, "smd_followups": followups, "smd_rehab": rehab}
