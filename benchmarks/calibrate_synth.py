"""Calibrate and report the synthetic-community generator (workbench.synth).

    python benchmarks/calibrate_synth.py                    # report the targets at n=50,000
    python benchmarks/calibrate_synth.py --solve            # solve the baseline constants
    python benchmarks/calibrate_synth.py --solve-followup   # solve the trajectory constants
    python benchmarks/calibrate_synth.py --solve-trial      # solve the RCT effect constants
    python benchmarks/calibrate_synth.py --events           # event and death rates, 5 years
    python benchmarks/calibrate_synth.py --solve-measurements  # solve the follow-up constants
    python benchmarks/calibrate_synth.py --solve-smd        # solve the SMD register constants
    python benchmarks/calibrate_synth.py --solve-literacy   # solve the literacy intercept

``--solve`` prints the constants to copy into workbench/synth/params.yaml (they are not written
automatically, so the comments there stay as they are). Targets (DESIGN.md service model):

- hypertension 27.5% and diabetes 11.9% of adults (solved exactly, by expectation);
- anxiety or depression (PHQ-9 >= 10 or GAD-7 >= 10): 42% with a chronic condition, 18% without;
- lonely (UCLA-3 >= 6): 35% of residents aged 60+, 58% of those living alone.

Follow-up targets (brief; published-scale NHS Talking Therapies results), among referrals that
finished treatment (>= 2 attended treatment contacts) with a paired score (first = baseline
screening, last = last review; REFERENCE.md "Change and outcome metrics"): recovery ~50%
(45-55%), reliable improvement ~65% (60-70%), reliable deterioration ~7% (5-10%); about a third
"not improving" at week 8; 15-25% of ended referrals dropped out.

RCT targets (service model): in the 12-month RCT of chronic patients, anxiety or depression
(PHQ-9 >= 10 or GAD-7 >= 10 at the 12-month assessment) about 32% lower (relative) in the
intervention arm than in usual care, and ER visits in the 12 months after enrolment about 27%
lower (visits per participant, intention to treat).

Chronic-disease follow-up targets (REFERENCE.md "Chronic disease follow-up", programme claims),
among hypertensive trial participants: BP controlled (< 140/90 mmHg; < 150/90 at 80+ without
diabetes or CKD) before the programme (the latest face-to-face reading in the 365 days before
enrolment) ~56%, and at 12 months (the latest face-to-face reading in the 365 days after
enrolment) ~76% in the intervention arm (claims: 77% "after", 75% "with psychological care
added") and ~55% in usual care; fasting glucose < 7.0 mmol/L of diabetic participants before
enrolment ~56% (a calibration choice: no programme figure); the odds of non-adherence (intermittent or none) of depressed (PHQ-9 >= 10) vs other
managed residents at the baseline visit 1.76 (Grenard 2011, J Gen Intern Med 26:1175).

Severe-mental-disorder targets (REFERENCE.md "Severe mental disorders", national figures of 2018;
denominator the patients registered at the month-end, the 12 months to it, as
workbench.smd.indicators counts them, averaged over the 12 month-ends of the last follow-up
year): managed 94.9 %, regularly managed (>= 4 risk-assessed follow-ups) 82.7 %, on medication
81.3 %, regular medication 41.8 % (at the latest follow-up); registered about 5 per 1,000
residents (issue 16: 4-6).

Literacy target (service model, INDICATORS.md X4: 35 % -> 70 %): 35 % of the residents asked the
programme's literacy questions at their screening (with answers recorded) answer at least
``literacy.pass_share`` x ``n_asked`` correctly.
"""

from __future__ import annotations

import argparse
import copy

import numpy as np
import pandas as pd
import pingouin as pg

import workbench
from scipy.optimize import brentq

from workbench.synth import _params
from workbench.synth.conditions import CONDITIONS, probability
from workbench.synth.core import generate
from workbench.synth._params import COMMUNITY_TYPES

def totals(c) -> dict[str, pd.Series]:
    """Totals as the workbench scores them (workbench.score; sex joined for PHQ-15 item 4)."""
    data = c.screenings.merge(c.residents[["resident_id", "sex"]], on="resident_id")
    return {i: workbench.score(data, i)["score"] for i in c.instruments}


def alpha(screenings: pd.DataFrame, instrument: str, model) -> float:
    cols = [f"{instrument}_{k}" for k in model.numbers[: model.n_main]]
    if instrument == "phq15":
        cols.remove("phq15_4")
    items = screenings[cols].astype("float64").dropna()
    for k in model.reverse:
        items[f"{instrument}_{k}"] = model.min + model.max - items[f"{instrument}_{k}"]
    return float(pg.cronbach_alpha(data=items)[0])


def measure(c, params) -> dict[str, float]:
    r, s = c.residents, c.screenings
    models = params["_derived"]["item_models"]
    chronic = r[list(CONDITIONS)].any(axis=1)
    out = {f"prev_{k}": float(r[k].mean()) for k in CONDITIONS}
    out["any_chronic"] = float(chronic.mean())
    t = totals(c)
    if "phq9" in t and "gad7" in t:
        pos = (t["phq9"] >= 10) | (t["gad7"] >= 10)
        known = t["phq9"].notna() | t["gad7"].notna()
        pos = pos.where(known)
        out["depanx_chronic"] = float(pos[chronic].mean())
        out["depanx_other"] = float(pos[~chronic].mean())
    if "ucla3" in t:
        lonely = (t["ucla3"] >= 6).where(t["ucla3"].notna())
        out["lonely_60plus"] = float(lonely[r["age"] >= 60].mean())
        out["lonely_alone"] = float(lonely[r["lives_alone"]].mean())
        out["lonely_all"] = float(lonely.mean())
    for i in c.instruments:
        out[f"alpha_{i}"] = alpha(s, i, models[i])
        out[f"mean_{i}"] = float(t[i].mean())
    if "phq9" in t:
        out["phq9_9_ge1"] = float((s["phq9_9"] >= 1).mean())
        out["phq9_ge10"] = float((t["phq9"] >= 10).mean())
    if "gad7" in t:
        out["gad7_ge10"] = float((t["gad7"] >= 10).mean())
    if "k10" in t:
        out["k10_ge22"] = float((t["k10"] >= 22).mean())
    if "who5" in t:
        out["who5_lt13"] = float((t["who5"] < 13).mean())
    item_cols = [col for i in c.instruments for col in models[i].columns
                 if col not in ("phq9_10", "phq15_4")]
    out["blank_rate"] = float(s[item_cols].isna().to_numpy().mean())
    out["phq9_9_blank"] = float(s["phq9_9"].isna().mean()) if "phq9" in t else np.nan
    out["age_mean"] = float(r["age"].mean())
    out["age_60plus"] = float((r["age"] >= 60).mean())
    out["lives_alone"] = float(r["lives_alone"].mean())
    out["interviewer"] = float((s["mode"] == "interviewer").mean())
    return out


def run(params, n, seed, instruments, follow_up_years=1):
    return generate(n, seed=seed, start=np.datetime64("2025-01-01"),
                    end=np.datetime64("2025-12-31"), instruments=instruments, params=params,
                    follow_up_years=follow_up_years)


def follow_up_measure(c) -> dict[str, float]:
    """Follow-up metrics straight from their definitions (REFERENCE.md), per referral."""
    ref, con, fu = c.referrals, c.contacts, c.followups
    ended = ref["end_reason"].notna()
    out = {"referred": len(ref) / len(c.residents),
           "dropout": float((ref["end_reason"] == "dropped_out")[ended].mean())}
    treated = con[con["attended"] & (con["kind"] == "treatment")].groupby("referral_id").size()
    finished = treated.reindex(ref["referral_id"]).fillna(0).to_numpy() >= 2
    base = c.screenings.set_index("resident_id").loc[ref["resident_id"]].reset_index()
    b_phq = workbench.score(base, "phq9")["score"].to_numpy()
    b_gad = workbench.score(base, "gad7")["score"].to_numpy()
    f = pd.DataFrame({"referral_id": fu["referral_id"], "on": fu["assessed_on"],
                      "week": fu["week"], "phq": workbench.score(fu, "phq9")["score"],
                      "gad": workbench.score(fu, "gad7")["score"]})
    f = f.sort_values(["referral_id", "on"])
    last = f.groupby("referral_id").last().reindex(ref["referral_id"])
    l_phq, l_gad = last["phq"].to_numpy(), last["gad"].to_numpy()
    paired = finished & ~np.isnan(l_phq + l_gad + b_phq + b_gad)
    case0, case1 = (b_phq >= 10) | (b_gad >= 8), (l_phq >= 10) | (l_gad >= 8)
    d_phq, d_gad = l_phq - b_phq, l_gad - b_gad
    worse = (d_phq >= 6) | (d_gad >= 4)
    better = ((d_phq <= -6) & ~(d_gad >= 4)) | ((d_gad <= -4) & ~(d_phq >= 6))
    out["finished"] = float(finished.mean())
    out["paired_of_finished"] = float(paired.sum() / finished.sum())
    out["recovery"] = float((case0 & ~case1)[paired].sum() / (paired & case0).sum())
    out["reliable_improvement"] = float(better[paired].mean())
    out["reliable_deterioration"] = float(worse[paired].mean())
    out["reliable_recovery"] = float((case0 & ~case1 & better)[paired].sum()
                                     / (paired & case0).sum())
    week8 = f[f["week"].between(8, 12) & f["phq"].notna()].groupby("referral_id").first()
    p8 = week8["phq"].reindex(ref["referral_id"]).to_numpy()
    at8 = (b_phq >= 10) & ~np.isnan(p8)
    out["not_improving_w8"] = float((~((p8 < 10) | (p8 <= 0.5 * b_phq)))[at8].mean())
    out["response_w8"] = float((p8 <= 0.5 * b_phq)[at8].mean())
    first = con.groupby("referral_id")["contact_on"].transform("min")
    soon = con[(con["contact_on"] > first) & con["attended"]
               & (con["contact_on"] <= first + pd.Timedelta(days=28))]
    out["no_contact_by_w4"] = 1 - soon["referral_id"].nunique() / len(ref)
    out["contacts_per_referral"] = len(con) / len(ref)
    out["missed_share"] = float(1 - con["attended"].mean())
    out["reviews_per_referral"] = len(fu) / len(ref)
    return out


FOLLOWUP_TARGETS = {"reliable_improvement": ("f_mean", 0.65, (0.3, 1.5)),
                    "recovery": ("anxiety_f_shift", 0.50, (-1.0, 0.3)),
                    "reliable_deterioration": ("p_deteriorate", 0.07, (0.0, 0.2))}


def solve_followup(n: int, seed: int) -> None:
    """Alternate 1-D solves of the three [calibrated] trajectory constants."""
    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    tp = raw["trajectory"]

    def metric(name, key, x):
        tp[key] = x
        return follow_up_measure(run(_params.check(raw), n, seed, ("phq9", "gad7")))[name]

    for _ in range(3):
        for name, (key, target, (lo, hi)) in FOLLOWUP_TARGETS.items():
            tp[key] = round(brentq(lambda x: metric(name, key, x) - target, lo, hi,
                                   xtol=1e-3 * (hi - lo)), 3)
            print(f"  {key}: {tp[key]}", flush=True)
    print("trajectory:", {k: tp[k] for k, *_ in FOLLOWUP_TARGETS.values()})


def trial_measure(c) -> dict[str, float]:
    """RCT effects straight from their definitions: anxiety or depression (PHQ-9 >= 10 or GAD-7
    >= 10; known when either is scored) at the 12-month assessment, and ER visits per
    participant in the 12 months after enrolment, intervention vs usual care."""
    enrol = c.enrolments.set_index("resident_id")
    a = c.trial_assessments[c.trial_assessments["month"] == 12]
    phq, gad = (workbench.score(a, i)["score"].to_numpy() for i in ("phq9", "gad7"))
    known = ~(np.isnan(phq) & np.isnan(gad))
    positive = pd.Series(((phq >= 10) | (gad >= 10))[known],
                         index=a["resident_id"].to_numpy()[known])
    arm = enrol.loc[positive.index, "arm"].astype(str)
    p = positive.groupby(arm.to_numpy()).mean()
    e = c.events[(c.events["kind"] == "er_visit") & c.events["resident_id"].isin(enrol.index)]
    start = enrol.loc[e["resident_id"], "enrolled_on"].to_numpy()
    days = (e["event_on"].to_numpy() - start) / np.timedelta64(1, "D")
    in_year = e[(days > 0) & (days <= 365)]
    visits = in_year.groupby(enrol.loc[in_year["resident_id"], "arm"].astype(str).to_numpy()).size()
    size = enrol["arm"].astype(str).value_counts()
    rate = visits / size
    return {"participants": float(len(enrol)), "assessed_12m": float(len(a) / len(enrol)),
            "anxdep_usual_care": float(p["usual_care"]),
            "anxdep_intervention": float(p["intervention"]),
            "anxdep_reduction": float(1 - p["intervention"] / p["usual_care"]),
            "er_per_person_usual_care": float(rate["usual_care"]),
            "er_per_person_intervention": float(rate["intervention"]),
            "er_reduction": float(1 - rate["intervention"] / rate["usual_care"])}


TRIAL_TARGETS = {"anxdep_reduction": ("latent_shift", 0.32, (0.0, 2.0)),
                 "er_reduction": ("er_rate_ratio", 0.27, (0.3, 1.2))}


def solve_trial(n: int, seed: int) -> None:
    """1-D solves of the two [calibrated] trial constants (the shift first: it moves both)."""
    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    te = raw["trial"]["effect"]

    def metric(name, key, x):
        te[key] = x
        return trial_measure(run(_params.check(raw), n, seed, ("phq9", "gad7")))[name]

    for name, (key, target, (lo, hi)) in TRIAL_TARGETS.items():
        te[key] = round(brentq(lambda x: metric(name, key, x) - target, lo, hi,
                               xtol=1e-3 * (hi - lo)), 3)
        print(f"  {key}: {te[key]}", flush=True)
    print("trial.effect:", {k: te[k] for k, *_ in TRIAL_TARGETS.values()})


def bp_controlled(m: pd.DataFrame, residents: pd.DataFrame) -> pd.Series:
    """BP controlled (REFERENCE.md): SBP < 140 and DBP < 90; < 150/90 from age 80 for residents
    without diabetes or (recorded) chronic kidney disease. NA without a reading."""
    r = residents.set_index("resident_id")
    birth = r.loc[m["resident_id"], "birth_date"].to_numpy()
    age = (pd.to_datetime(m["measured_on"]).to_numpy() - birth) / np.timedelta64(1, "D") / 365.25
    relaxed = ((age >= 80) & ~r.loc[m["resident_id"], "diabetes"].to_numpy()
               & ~r.loc[m["resident_id"], "ckd"].fillna(False).to_numpy().astype(bool))
    limit = np.where(relaxed, 150, 140)
    sbp, dbp = m["sbp"].astype("float64").to_numpy(), m["dbp"].astype("float64").to_numpy()
    out = pd.Series((sbp < limit) & (dbp < 90), index=m.index, dtype="boolean")
    return out.mask(np.isnan(sbp) | np.isnan(dbp))


def measurements_measure(c) -> dict[str, float]:
    """Chronic-disease follow-up figures straight from their definitions (module docstring)."""
    r, m = c.residents, c.measurements
    visits = m[m["setting"] != "device"].copy()
    visits["bp_ok"] = bp_controlled(visits, r)
    visits["glucose_ok"] = (visits["fasting_glucose"] < 7.0).astype("boolean")
    enrol = c.enrolments.set_index("resident_id")
    on_trial = visits[visits["resident_id"].isin(enrol.index)].copy()
    on_trial["arm"] = enrol.loc[on_trial["resident_id"], "arm"].astype(str).to_numpy()
    since = (on_trial["measured_on"] - enrol.loc[on_trial["resident_id"], "enrolled_on"].to_numpy()).dt.days
    hyp = r.set_index("resident_id")["hypertension"]
    dia = r.set_index("resident_id")["diabetes"]
    out: dict[str, float] = {}
    for name, condition, column in (("bp", hyp, "bp_ok"), ("glucose", dia, "glucose_ok")):
        rows = on_trial[condition.loc[on_trial["resident_id"]].to_numpy() & on_trial[column].notna()]
        base = rows[since.loc[rows.index] == 0]
        out[f"{name}_control_enrolment"] = float(base[column].astype(float).mean())
        latest = {}
        for when, (lo, hi) in (("before", (-365, -1)), ("12m", (1, 365))):
            year = rows[since.loc[rows.index].between(lo, hi)]
            latest[when] = year.sort_values("measured_on").groupby("resident_id").last()
        out[f"{name}_control_before"] = float(latest["before"][column].astype(float).mean())
        for arm in ("usual_care", "intervention"):
            for when in ("before", "12m"):
                last = latest[when]
                out[f"{name}_control_{when}_{arm}"] = float(last.loc[last["arm"] == arm, column].astype(float).mean())
    # Mood and adherence at the baseline visit (the screening day) of every managed resident.
    screen = c.screenings.set_index("resident_id")["assessed_on"]
    first = visits[visits["measured_on"].to_numpy() == screen.loc[visits["resident_id"]].to_numpy()]
    first = first[first["adherence"].notna()]
    phq = workbench.score(c.screenings, "phq9").set_index(c.screenings["resident_id"])["score"]
    depressed = (phq.loc[first["resident_id"]] >= 10).to_numpy()
    known = phq.loc[first["resident_id"]].notna().to_numpy()
    poor = (first["adherence"] != "regular").to_numpy()
    odds = [poor[known & d].mean() / (1 - poor[known & d].mean()) for d in (depressed, ~depressed)]
    out["nonadherence_or_depressed"] = float(odds[0] / odds[1])
    out["regular_share"] = float(1 - poor.mean())
    out["none_share"] = float((first["adherence"] == "none").mean())
    for state in ("regular", "intermittent", "none"):
        rows = first[(first["adherence"] == state) & hyp.loc[first["resident_id"]].to_numpy()]
        out[f"sbp_mean_{state}"] = float(rows["sbp"].astype(float).mean())
    managed = r["hypertension"] | r["diabetes"]
    t = totals(c)
    pos = ((t["phq9"] >= 10) | (t["gad7"] >= 10)).where(t["phq9"].notna() | t["gad7"].notna())
    out["depanx_managed"] = float(pos[managed.to_numpy()].mean())
    per = visits.groupby("resident_id").size().reindex(r.loc[managed, "resident_id"], fill_value=0)
    out["visits_per_managed"] = float(per.mean())
    out["device_share"] = float((m["setting"] == "device").mean())
    known_ckd = r.loc[managed, "ckd"]
    out["ckd_recorded"] = float(known_ckd.notna().mean())
    out["ckd_of_recorded"] = float(known_ckd.dropna().astype(bool).mean())
    # Hospital days and ER visits in the 12 months after enrolment, per participant.
    e = c.events[c.events["resident_id"].isin(enrol.index)]
    days = (e["event_on"] - enrol.loc[e["resident_id"], "enrolled_on"].to_numpy()).dt.days
    e = e[days.between(1, 365)]
    arm = enrol["arm"].astype(str)
    size = arm.value_counts()
    stays = e[e["kind"] == "hospitalisation"]
    for a in ("usual_care", "intervention"):
        mine = stays[arm.loc[stays["resident_id"]].to_numpy() == a]
        out[f"hospital_days_{a}"] = float(mine["days"].astype(float).sum() / size[a])
        out[f"mean_stay_{a}"] = float(mine["days"].astype(float).mean())
    return out


# Solved in this order, once: adherence.depression moves everything, the trial shift nothing
# before enrolment.
MEASUREMENT_TARGETS = {"nonadherence_or_depressed": (("adherence", "depression"), 1.76, (0.0, 1.5)),
                       "bp_control_before": (("sbp", "intercept"), 0.56, (120.0, 138.0)),
                       "glucose_control_before": (("glucose", "intercept"), 0.56, (5.5, 7.5)),
                       "bp_control_12m_intervention": (("adherence", "trial_shift"), 0.76, (0.5, 5.0))}


def solve_measurements(n: int, seed: int) -> None:
    """1-D solves of the four [calibrated] follow-up constants, in order."""
    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    mp = raw["measurements"]

    def metric(name, key, x):
        mp[key[0]][key[1]] = x
        return measurements_measure(run(_params.check(raw), n, seed, ("phq9", "gad7")))[name]

    for name, (key, target, (lo, hi)) in MEASUREMENT_TARGETS.items():
        mp[key[0]][key[1]] = round(brentq(lambda x: metric(name, key, x) - target, lo, hi,
                                          xtol=1e-3 * (hi - lo)), 3)
        print(f"  {key}: {mp[key[0]][key[1]]}", flush=True)
    print("measurements:", {".".join(k): mp[k[0]][k[1]] for k, *_ in MEASUREMENT_TARGETS.values()})


SMD_RATES = ("prevalence_per_mille", "management_rate", "regular_management_rate", "medication_rate",
             "regular_medication_rate", "stability_rate")


def smd_measure(register: pd.DataFrame, followups: pd.DataFrame, residents: pd.DataFrame,
                months: tuple[str, str] = ("2026-01", "2026-12")) -> dict[str, float]:
    """The register's indicators (workbench.smd.indicators, the definition the workbench reports),
    the mean over the month-ends of ``months``, and follow-ups per patient and year."""
    from workbench import smd

    fu = followups.assign(followup_id=[f"Q{k}" for k in range(len(followups))])
    ind = smd.indicators(register, fu, residents.astype({"community": "string"}), by=("month",),
                         start=months[0], end=months[1])
    out = {name: float(ind[name].mean()) for name in SMD_RATES}
    year = fu[fu["followed_on"].dt.strftime("%Y-%m").between(*months)]
    out["followups_per_patient_year"] = len(year) / float(ind["registered"].mean())
    out["share_grade_3_plus"] = float((fu["risk_grade"].astype("float64") >= 3).mean())
    out["share_stable_suggested"] = float((fu["suggested_outcome"] == "stable").mean())
    return out


# Solved in this order, once: each constant moves its own rate most.
SMD_TARGETS = {"prevalence_per_mille": (("register", "p_prevalent"), 5.0, (0.003, 0.007)),
               "management_rate": (("followup", "p_unreachable"), 0.949, (0.0, 0.15)),
               "regular_management_rate": (("followup", "p_irregular"), 0.827, (0.0, 0.4)),
               "medication_rate": (("medication", "p_on_medication"), 0.813, (0.6, 1.0)),
               "regular_medication_rate": (("medication", "regular_intercept"), 0.418, (-2.0, 2.0))}


def solve_smd(n: int, seed: int) -> None:
    """1-D solves of the [calibrated] SMD constants, in order; only the ``smd`` step is rerun
    (the steps before it are drawn once)."""
    from workbench.synth import engine
    from workbench.synth.frames import ids
    from workbench.synth.smd import SMD_KEY, smd, smd_frames

    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    sp = raw["smd"]
    base = engine.run(engine.Draft(n=n, seed=seed, start=np.datetime64("2025-01-01"), end=np.datetime64("2025-12-31"),
                                   instruments=("phq9", "gad7"), params=_params.load(),
                                   follow_up_end=np.datetime64("2026-12-31"), policy=workbench.load_policy("default")),
                      ("events",))
    rid = ids("R", n)
    residents = pd.DataFrame({"resident_id": rid, "community": np.asarray(base.work["community_code"]).astype(str)})

    def measure():
        base.params = _params.check(copy.deepcopy(raw))
        smd(base, base.rng(SMD_KEY))
        f = smd_frames(base, rid)
        return smd_measure(f["smd_register"], f["smd_followups"], residents)

    def metric(name, key, x):
        sp[key[0]][key[1]] = x
        return measure()[name]

    for name, (key, target, (lo, hi)) in SMD_TARGETS.items():
        sp[key[0]][key[1]] = round(brentq(lambda x: metric(name, key, x) - target, lo, hi,
                                          xtol=1e-3 * (hi - lo)), 4)
        print(f"  {key}: {sp[key[0]][key[1]]}", flush=True)
    print("smd:", {".".join(k): sp[k[0]][k[1]] for k, *_ in SMD_TARGETS.values()})
    print({k: round(v, 4) for k, v in measure().items()})


def literacy_measure(draft) -> float:
    """Share of the literacy answers given at the screening (recorded) that pass."""
    lp, li = draft.params["literacy"], draft.tables["literacy"]
    at_screening = li["on"] == draft.screenings["assessed_on"][li["resident"]]
    known = at_screening & (li["n_correct"] >= 0)
    return float(np.mean(li["n_correct"][known] >= lp["pass_share"] * lp["n_asked"]))


def solve_literacy(n: int, seed: int) -> None:
    """1-D solve of ``literacy.intercept``; only the ``literacy`` step is rerun."""
    from workbench.synth import engine
    from workbench.synth.pathways import LITERACY_KEY, literacy

    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    base = engine.run(engine.Draft(n=n, seed=seed, start=np.datetime64("2025-01-01"), end=np.datetime64("2025-12-31"),
                                   instruments=("phq9", "gad7"), params=_params.load(),
                                   follow_up_end=np.datetime64("2026-12-31"), policy=workbench.load_policy("default")),
                      engine.STEPS["literacy"].needs)

    def metric(x):
        raw["literacy"]["intercept"] = x
        base.params = _params.check(copy.deepcopy(raw))
        literacy(base, base.rng(LITERACY_KEY))
        return literacy_measure(base)

    x = round(brentq(lambda v: metric(v) - LITERACY_TARGET, -5, 5, xtol=1e-4), 3)
    print(f"literacy.intercept: {x} (passing at screening {metric(x):.4f}, target {LITERACY_TARGET})")


LITERACY_TARGET = 0.35


def events_measure(c) -> pd.DataFrame:
    """Events per 1,000 person-years (from the screening to death or follow_up_end) by age
    group at the screening, and overall."""
    r = c.residents.set_index("resident_id")
    screen = c.screenings.set_index("resident_id")["assessed_on"]
    e = c.events
    death = e[e["kind"] == "death"].set_index("resident_id")["event_on"]
    stop = pd.Series(pd.Timestamp(c.follow_up_end), index=r.index)
    stop.loc[death.index] = death
    years = (stop - screen).dt.days / 365.25
    counts = (e.groupby(["resident_id", "kind"], observed=False).size().unstack(fill_value=0)
              .reindex(r.index, fill_value=0))
    group = pd.cut(r["age"], [17, 39, 49, 59, 69, 79, 120]).astype(str)
    table = counts.groupby(group).sum().div(years.groupby(group).sum(), axis=0) * 1000
    table.loc["all"] = counts.sum() / years.sum() * 1000
    return table.round(2)


def expected_prevalence(params, spec) -> float:
    """Exact expected adult prevalence of a condition under the age/sex/community model."""
    ap, sp = params["age"], params["sex"]
    lower, upper = np.array(ap["group_lower"]), np.array(ap["group_upper"])
    band3 = np.searchsorted([40, 60], lower, side="right")
    total = 0.0
    for t in COMMUNITY_TYPES:
        w = np.array(ap["census_millions"]) * np.array(ap["type_multipliers"][t])[band3]
        w = w / w.sum()
        for g in range(len(w)):
            ages = np.arange(lower[g], upper[g])
            pf = np.array(sp["p_female"])[np.searchsorted(sp["age_breaks"], ages, side="right")]
            prev = pf * probability(spec, ages, False) + (1 - pf) * probability(spec, ages, True)
            total += params["communities"]["type_shares"][t] * w[g] * prev.mean()
    return total


def solve(n: int, seed: int) -> None:
    raw = copy.deepcopy(_params.load())
    raw.pop("_derived")
    cond = raw["conditions"]
    print("conditions:")
    for name in CONDITIONS:
        target = cond["target_prevalence"][name]
        spec = dict(cond[name])

        def gap(x):
            spec["intercept"] = x
            return expected_prevalence(raw, spec) - target

        cond[name]["intercept"] = round(brentq(gap, -12, 6, xtol=1e-6), 4)
        print(f"  {name}: intercept {cond[name]['intercept']:.4f}")

    means = raw["latent"]["means"]
    dep, anx, lon = means["depression"], means["anxiety"], means["loneliness"]
    offset_i = anx["intercept"] - dep["intercept"]
    offset_c = anx["any_chronic"] - dep["any_chronic"]

    def metrics(instruments):
        p = _params.check(raw)
        return measure(run(p, n, seed, instruments), p)

    def set_dep(i=None, c=None):
        if i is not None:
            dep["intercept"], anx["intercept"] = i, i + offset_i
        if c is not None:
            dep["any_chronic"], anx["any_chronic"] = c, c + offset_c

    ins = ("phq9", "gad7")
    set_dep(i=brentq(lambda x: (set_dep(i=x), metrics(ins)["depanx_other"] - 0.18)[1],
                     -2, 1.5, xtol=1e-4))
    set_dep(c=brentq(lambda x: (set_dep(c=x), metrics(ins)["depanx_chronic"] - 0.42)[1],
                     -0.5, 2.5, xtol=1e-4))
    print(f"depression: intercept {dep['intercept']:.4f}, any_chronic {dep['any_chronic']:.4f}")
    print(f"anxiety:    intercept {anx['intercept']:.4f}, any_chronic {anx['any_chronic']:.4f}")

    for _ in range(6):   # the two loneliness targets share both constants: alternate
        lon["intercept"] = brentq(
            lambda x: (lon.__setitem__("intercept", x), metrics(("ucla3",))["lonely_60plus"]
                       - 0.35)[1], -3, 2, xtol=1e-4)
        lon["lives_alone"] = brentq(
            lambda x: (lon.__setitem__("lives_alone", x), metrics(("ucla3",))["lonely_alone"]
                       - 0.58)[1], -1, 4, xtol=1e-4)
    print(f"loneliness: intercept {lon['intercept']:.4f}, lives_alone {lon['lives_alone']:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solve", action="store_true")
    ap.add_argument("--solve-followup", action="store_true")
    ap.add_argument("--solve-trial", action="store_true")
    ap.add_argument("--events", action="store_true")
    ap.add_argument("--solve-measurements", action="store_true")
    ap.add_argument("--solve-smd", action="store_true")
    ap.add_argument("--solve-literacy", action="store_true")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    if args.solve:
        solve(max(args.n, 400_000), args.seed)
        return
    if args.solve_followup:
        solve_followup(max(args.n, 200_000), args.seed)
        return
    if args.solve_trial:
        solve_trial(max(args.n, 300_000), args.seed)
        return
    if args.solve_measurements:
        solve_measurements(max(args.n, 200_000), args.seed)
        return
    if args.solve_smd:
        solve_smd(max(args.n, 400_000), args.seed)
        return
    if args.solve_literacy:
        solve_literacy(max(args.n, 200_000), args.seed)
        return
    if args.events:
        params = _params.load()
        print(events_measure(run(params, args.n, args.seed, ("phq9", "gad7"), 5)))
        return
    params = _params.load()
    c = run(params, args.n, args.seed, tuple(params["instruments"]))
    for key, value in {**measure(c, params), **follow_up_measure(c), **trial_measure(c),
                       **measurements_measure(c),
                       **smd_measure(c.smd_register, c.smd_followups, c.residents)}.items():
        print(f"{key:>22s}  {value:.4f}")


if __name__ == "__main__":
    main()
