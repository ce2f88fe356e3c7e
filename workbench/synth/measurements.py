"""Step ``measurements``: the chronic-disease follow-up of residents with hypertension and/or
diabetes (blood pressure, heart rate, glucose, HbA1c, body size, lipids, smoking, medication
adherence, adverse reactions, complications, alarm symptoms), their own devices' readings,
``residents.ckd`` and the length of each hospital stay (``events.days``).

The course of every reading follows the resident's latent depression on the day (the trait
that drives their PHQ-9 answers, with the stepped-care course, the natural history and the
trial intervention: :func:`workbench.synth.history.latent_on`) through medication adherence:
depression lowers adherence, and poorer adherence raises blood pressure and glucose; the trial's
intervention lowers depression and supports adherence (:func:`workbench.synth.trial.
intervention_profile`). Every number, its source or its calibration, is in the
``measurements`` section of ``params.yaml``.

Random streams (key 19, :mod:`workbench.synth.engine`): the per-resident draws come from the
step's stream; scheduled visit ``k`` (0 = the baseline visit on the screening day) and its
recheck from sub-stream ``(19, 1, k)``, the ``visits.before`` visits of the year before the
screening (the residents were managed before the mental-health programme reached them) from
``(19, 4, -k)``; device readings of follow-up year ``y`` from
``(19, 2, y)``; hospital stays starting in year ``y`` from ``(19, 3, y)``. So the readings up to
a date do not depend on ``follow_up_end``, and the tables generated before this step keep
their rows for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import nbinom

from .engine import Draft, register
from .frames import _date
from .history import latents_on
from .trial import intervention_profile

MEASUREMENTS_KEY = 19
VISITS, DEVICES, STAYS, BEFORE = 1, 2, 3, 4
ADHERENCE = ("regular", "intermittent", "none")
SMOKING = ("never", "former", "current")
SETTINGS = ("clinic", "home", "device")
CLINIC, HOME, DEVICE = 0, 1, 2
YEAR_DAYS = 365
STAY_SLOTS = 4            # uniforms per resident and year for the stays starting in it
NUMERIC = ("sbp", "dbp", "heart_rate", "fasting_glucose", "random_glucose", "hba1c", "weight_kg",
           "height_cm", "bmi", "waist_cm", "total_cholesterol", "ldl")
FLAGS = ("adverse_reaction", "complication", "alarm_symptoms")
# Normal and uniform draws per reading (columns of the per-visit matrices).
N_NORMAL, N_UNIFORM = 10, 12
#: Bounds a drawn value is clipped to: physiological limits well inside the plausible ranges
#: declared in workbench/data/measurements.yaml (so the tables always validate).
def _policy_cuts() -> dict[str, float]:
    """The general control targets and the danger values of the default chronic-care policy
    (``workbench/policies/chronic_default.yaml``: each number declared once, with its source),
    which raise the chance of a complication or alarm symptoms at a visit."""
    from workbench.chronic_policy import load_chronic_policy

    pol = load_chronic_policy("default")
    general = next(t for t in pol.conditions["hypertension"].targets if t.age_at_least is None).below
    danger = pol.danger_values
    return {"sbp": general["sbp"], "dbp": general["dbp"],
            "glucose": pol.conditions["diabetes"].targets[0].below["fasting_glucose"],
            "sbp_high": danger["sbp_high"].at_least, "dbp_high": danger["dbp_high"].at_least,
            "glucose_high": danger["glucose_high"].at_least}


CLIP = {"sbp": (70, 260), "dbp": (40, 150), "heart_rate": (40, 150), "glucose": (2.0, 33.0),
        "hba1c": (4.0, 18.0), "weight_kg": (30.0, 200.0), "height_cm": (135.0, 200.0),
        "bmi": (16.0, 45.0), "waist_cm": (50.0, 160.0), "total_cholesterol": (2.0, 12.0),
        "ldl": (0.5, 9.0)}


def _people(draft: Draft, who: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Lasting per-resident values of the managed residents ``who`` (row indices)."""
    mp, r = draft.params["measurements"], draft.residents
    m = len(who)
    z = rng.standard_normal((m, 9))
    u = rng.random((m, 5))
    female = r["female"][who]
    age = draft.work["age_years"][who].astype(np.float64)
    body, sm = mp["body"], mp["smoking"]
    height = (np.where(female, body["height_mean"]["female"], body["height_mean"]["male"])
              + body["height_sd"] * z[:, 5]
              + body["height_per_decade_over_50"] * np.maximum(age - 50, 0) / 10)
    height = np.clip(height, *CLIP["height_cm"])
    bmi = np.clip(body["bmi_mean"] + body["bmi_sd"] * z[:, 6], *CLIP["bmi"])
    current = np.where(female, sm["current"]["female"], sm["current"]["male"])
    former = np.where(female, sm["former"]["female"], sm["former"]["male"])
    smoking = np.where(u[:, 0] < current, 2, np.where(u[:, 0] < current + former, 1, 0))
    hyp, dia = r["hypertension"][who], r["diabetes"][who]
    dev, ck = mp["device"], mp["ckd"]
    eta = (ck["intercept"] + ck["age_per_decade"] * (age - 60) / 10 + ck["diabetes"] * dia
           + ck["both"] * (hyp & dia))
    return {
        "who": who, "hyp": hyp, "dia": dia, "female": female,
        "adherence": mp["adherence"]["person_sd"] * z[:, 0],
        "sbp": mp["sbp"]["person_sd"] * z[:, 1],
        "dbp": mp["dbp"]["person_sd"] * z[:, 2],
        "hr": mp["heart_rate"]["person_sd"] * z[:, 3],
        "glucose": np.where(dia, mp["glucose"]["person_sd"], mp["glucose"]["no_diabetes_sd"]) * z[:, 4],
        "height": height, "bmi": bmi,
        "waist": (np.where(female, body["waist_intercept"]["female"], body["waist_intercept"]["male"])
                  + body["waist_per_bmi"] * bmi + body["waist_noise_sd"] * z[:, 7]),
        "total_cholesterol": mp["lipids"]["total_mean"] + mp["lipids"]["total_sd"] * z[:, 8],
        "smoking": smoking,
        "bp_monitor": hyp & (u[:, 1] < dev["p_bp_monitor"]),
        "glucose_meter": dia & (u[:, 2] < dev["p_glucose_meter"]),
        "ckd": u[:, 3] < expit(eta),
        "ckd_known": u[:, 4] < ck["p_recorded"],
    }


def _levels(draft: Draft, p: dict[str, np.ndarray], rows: np.ndarray, on: np.ndarray,
            u_adherence: np.ndarray) -> dict[str, np.ndarray]:
    """The state on day ``on`` of managed residents ``rows`` (indices into ``p``): latent mood,
    adherence (0 regular, 1 intermittent, 2 none), expected SBP and log fasting glucose."""
    mp = draft.params["measurements"]
    ap, sp, gp = mp["adherence"], mp["sbp"], mp["glucose"]
    who = p["who"][rows]
    mood = latents_on(draft, ["depression", "anxiety"], who, on)
    profile = intervention_profile(draft, who, on)
    eta = (ap["intercept"] + p["adherence"][rows] - ap["depression"] * mood["depression"]
           + ap["trial_shift"] * profile)
    z = eta + logit(np.clip(u_adherence, 1e-12, 1 - 1e-12))
    state = np.where(z > 0, 0, np.where(z > -ap["cut"], 1, 2)).astype(np.int8)
    age = draft.work["age_years"][who] + (on - draft.screenings["assessed_on"][who].astype(
        "datetime64[D]")).astype(np.float64) / 365.25
    hyp, dia = p["hyp"][rows], p["dia"][rows]
    sbp_shift = np.asarray([sp["shift"][a] for a in ADHERENCE])[state]
    sbp = (np.where(hyp, sp["intercept"] + sbp_shift, sp["no_hypertension"])
           + sp["age_per_decade"] * (age - 60) / 10 + p["sbp"][rows])
    g_shift = np.asarray([gp["log_shift"][a] for a in ADHERENCE])[state]
    log_glucose = (np.where(dia, np.log(gp["intercept"]) + g_shift, np.log(gp["no_diabetes"]))
                   + p["glucose"][rows])
    return {"depression": mood["depression"], "anxiety": mood["anxiety"], "state": state,
            "eta": eta, "age": age, "sbp": sbp, "log_glucose": log_glucose}


def _blank(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _reading(draft: Draft, p: dict[str, np.ndarray], rows: np.ndarray, on: np.ndarray,
             setting: np.ndarray, z: np.ndarray, u: np.ndarray, yearly: np.ndarray) -> dict[str, Any]:
    """One face-to-face follow-up of managed residents ``rows`` on ``on`` (clinic or home)."""
    mp = draft.params["measurements"]
    n = len(rows)
    s = _levels(draft, p, rows, on, u[:, 0])
    hyp, dia, state = p["hyp"][rows], p["dia"][rows], s["state"]
    dp, hp, gp, bp = mp["dbp"], mp["heart_rate"], mp["glucose"], mp["body"]
    sbp = np.rint(np.clip(s["sbp"] + mp["sbp"]["noise_sd"] * z[:, 0], *CLIP["sbp"]))
    dbp = (dp["intercept"] + dp["per_sbp"] * (sbp - 140) + dp["age_per_decade"] * (s["age"] - 60) / 10
           + p["dbp"][rows] + dp["noise_sd"] * z[:, 1])
    dbp = np.rint(np.clip(np.minimum(dbp, sbp - dp["min_pulse_pressure"]), *CLIP["dbp"]))
    hr = np.rint(np.clip(hp["mean"] + p["hr"][rows] + hp["anxiety"] * s["anxiety"]
                         + hp["noise_sd"] * z[:, 2], *CLIP["heart_rate"]))
    level = np.exp(s["log_glucose"])
    glucose = np.round(np.clip(level * np.exp(gp["noise_sd"] * z[:, 3]), *CLIP["glucose"]), 1)
    home = setting == HOME
    random_instead = dia & home & (u[:, 2] < gp["p_random_at_home"])
    fasting = np.where(dia, u[:, 1] < gp["p_fasting"], u[:, 1] < gp["p_fasting_no_diabetes"])
    fasting &= ~random_instead
    random_glucose = np.where(random_instead, np.round(np.clip(glucose * gp["random_ratio"], *CLIP["glucose"]), 1),
                              np.nan)
    average = level * gp["random_ratio"]
    ap = mp["hba1c"]
    hba1c = np.round(np.clip((average - ap["adag_intercept"]) / ap["adag_slope"] + ap["sd"] * z[:, 4],
                             *CLIP["hba1c"]), 1)
    hba1c = np.where(dia & (u[:, 3] < mp["hba1c"]["p"]), hba1c, np.nan)
    measured = u[:, 4] < bp["p_measured"]
    height = np.round(p["height"][rows] + bp["height_noise_sd"] * z[:, 5], 1)
    weight = np.round(np.clip(p["bmi"][rows] * (p["height"][rows] / 100) ** 2
                              + bp["weight_noise_sd"] * z[:, 6], *CLIP["weight_kg"]), 1)
    bmi = np.round(weight / (height / 100) ** 2, 1)
    waist = np.round(np.clip(p["waist"][rows] + bp["waist_visit_sd"] * z[:, 7], *CLIP["waist_cm"]), 1)
    lp = mp["lipids"]
    lab = yearly & (u[:, 5] < lp["p_yearly"])
    total = np.clip(p["total_cholesterol"][rows] + lp["noise_sd"] * z[:, 8], *CLIP["total_cholesterol"])
    ldl = np.clip(lp["ldl_per_total"] * total + lp["ldl_sd"] * z[:, 9], *CLIP["ldl"])
    ans = mp["answers"]
    cut = _policy_cuts()
    uncontrolled = (hyp & ((sbp >= cut["sbp"]) | (dbp >= cut["dbp"]))) | (dia & fasting & (glucose >= cut["glucose"]))
    odds = ans["p_complication"] / (1 - ans["p_complication"])
    p_comp = np.where(uncontrolled, expit(np.log(odds * ans["complication_uncontrolled_or"])),
                      ans["p_complication"])
    danger = (sbp >= cut["sbp_high"]) | (dbp >= cut["dbp_high"]) | (dia & fasting & (glucose >= cut["glucose_high"]))
    return {
        "rows": rows, "on": on, "setting": setting.astype(np.int8),
        "sbp": sbp, "dbp": dbp, "heart_rate": hr,
        "fasting_glucose": np.where(fasting, glucose, np.nan), "random_glucose": random_glucose,
        "hba1c": hba1c,
        "weight_kg": np.where(measured, weight, np.nan), "height_cm": np.where(measured, height, np.nan),
        "bmi": np.where(measured, bmi, np.nan),
        "waist_cm": np.where(measured & (u[:, 6] < bp["p_waist"]), waist, np.nan),
        "total_cholesterol": np.where(lab, np.round(total, 2), np.nan),
        "ldl": np.where(lab, np.round(ldl, 2), np.nan),
        "smoking": np.where(u[:, 7] < mp["smoking"]["p_recorded"], p["smoking"][rows], -1).astype(np.int8),
        "adherence": np.where(u[:, 8] < ans["p_adherence_recorded"], state, -1).astype(np.int8),
        "adverse_reaction": (state < 2) & (u[:, 9] < ans["p_adverse_reaction"]),
        "complication": u[:, 10] < p_comp,
        "alarm_symptoms": u[:, 11] < np.where(danger, ans["p_alarm_danger"], ans["p_alarm"]),
        "uncontrolled": uncontrolled,
        "known": np.ones(n, dtype=bool),
    }


def _alive(draft: Draft, who: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Days on which residents ``who`` can be seen: up to follow_up_end, before death and loss."""
    return ((on <= np.datetime64(draft.follow_up_end, "D")) & (on < draft.work["death_on"][who])
            & (on < draft.work["lost_on"][who]))


def _visits(draft: Draft, p: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Scheduled follow-ups (k = 0 on the screening day, never missed; k < 0 in the year before
    it) and their rechecks."""
    vp = draft.params["measurements"]["visits"]
    who = p["who"]
    m = len(who)
    if not m:
        return []
    screen = draft.screenings["assessed_on"].astype("datetime64[D]")[who]
    span = (np.datetime64(draft.follow_up_end, "D") - screen.min()).astype(np.int64)
    n_visits = int(np.ceil((span + vp["jitter_days"]) / vp["every_days"])) + 1
    breaks = np.asarray(vp["home_age_breaks"])
    p_home = np.asarray(vp["p_home"], dtype=float)[np.searchsorted(breaks, draft.work["age_years"][who],
                                                                    side="right")]
    low, high = vp["recheck_days"]
    parts = []
    for k in range(-vp["before"], n_visits):
        rng = draft.rng(MEASUREMENTS_KEY, VISITS, k) if k >= 0 else draft.rng(MEASUREMENTS_KEY, BEFORE, -k)
        z = rng.standard_normal((2, m, N_NORMAL))
        u = rng.random((2, m, N_UNIFORM))
        v = rng.random((m, 3))
        jitter = rng.integers(-vp["jitter_days"], vp["jitter_days"] + 1, size=m)
        later = rng.integers(low, high + 1, size=m)
        offset = 0 if k == 0 else np.rint(vp["every_days"] * k).astype(np.int64) + jitter
        if k < 0:                               # a recheck stays before the screening day
            later = np.minimum(later, -offset - 1)
        on = screen + np.asarray(offset).astype("timedelta64[D]")
        rows = np.flatnonzero(_alive(draft, who, on))
        if k and rows.size:
            mood = latents_on(draft, ["depression"], who[rows], on[rows])["depression"]
            missed = v[rows, 0] < expit(logit(vp["p_missed"]) + vp["missed_depression"] * mood)
            rows = rows[~missed]
        if not rows.size:
            continue
        setting = np.where(v[rows, 1] < p_home[rows], HOME, CLINIC)
        yearly = np.full(len(rows), k % 4 == 0)
        seen = _reading(draft, p, rows, on[rows], setting, z[0, rows], u[0, rows], yearly)
        parts.append(seen)
        again = seen["uncontrolled"] & (v[rows, 2] < vp["p_recheck"])
        back = rows[again]
        back_on = on[back] + later[back].astype("timedelta64[D]")
        ok = _alive(draft, who[back], back_on)
        back, back_on = back[ok], back_on[ok]
        if back.size:
            parts.append(_reading(draft, p, back, back_on, setting[again][ok], z[1, back], u[1, back],
                                  np.zeros(len(back), dtype=bool)))
    return parts


def _devices(draft: Draft, p: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Readings of the residents' own BP monitors and glucose meters (not follow-ups)."""
    mp = draft.params["measurements"]
    dv = mp["device"]
    owners = np.flatnonzero(p["bp_monitor"] | p["glucose_meter"])
    if not owners.size:
        return []
    screen = draft.screenings["assessed_on"].astype("datetime64[D]")[p["who"]]
    span = (np.datetime64(draft.follow_up_end, "D") - screen.min()).astype(np.int64)
    years = int(np.ceil(max(span, 0) / YEAR_DAYS))
    parts = []
    for year in range(years):
        rng = draft.rng(MEASUREMENTS_KEY, DEVICES, year)
        count = rng.poisson(dv["per_year"], size=len(owners))
        rows = np.repeat(owners, count)
        z = rng.standard_normal((len(rows), 4))
        u = rng.random(len(rows))
        offset = YEAR_DAYS * year + 1 + np.floor(YEAR_DAYS * rng.random(len(rows))).astype(np.int64)
        on = screen[rows] + offset.astype("timedelta64[D]")
        keep = _alive(draft, p["who"][rows], on)
        rows, on, z, u = rows[keep], on[keep], z[keep], u[keep]
        if not rows.size:
            continue
        s = _levels(draft, p, rows, on, u)
        dp, hp = mp["dbp"], mp["heart_rate"]
        has_bp = p["bp_monitor"][rows]
        sbp = np.rint(np.clip(s["sbp"] + dv["sbp_offset"] + mp["sbp"]["noise_sd"] * z[:, 0], *CLIP["sbp"]))
        dbp = (dp["intercept"] + dv["dbp_offset"] + dp["per_sbp"] * (sbp - 140)
               + dp["age_per_decade"] * (s["age"] - 60) / 10 + p["dbp"][rows] + dp["noise_sd"] * z[:, 1])
        dbp = np.rint(np.clip(np.minimum(dbp, sbp - dp["min_pulse_pressure"]), *CLIP["dbp"]))
        hr = np.rint(np.clip(hp["mean"] + p["hr"][rows] + hp["anxiety"] * s["anxiety"]
                             + hp["noise_sd"] * z[:, 2], *CLIP["heart_rate"]))
        glucose = np.round(np.clip(np.exp(s["log_glucose"] + mp["glucose"]["noise_sd"] * z[:, 3]),
                                   *CLIP["glucose"]), 1)
        n = len(rows)
        part = {"rows": rows, "on": on, "setting": np.full(n, DEVICE, dtype=np.int8),
                "sbp": np.where(has_bp, sbp, np.nan), "dbp": np.where(has_bp, dbp, np.nan),
                "heart_rate": np.where(has_bp, hr, np.nan),
                "fasting_glucose": np.where(p["glucose_meter"][rows], glucose, np.nan),
                "smoking": np.full(n, -1, dtype=np.int8), "adherence": np.full(n, -1, dtype=np.int8),
                "known": np.zeros(n, dtype=bool)}
        for name in NUMERIC:
            part.setdefault(name, _blank(n))
        for name in FLAGS:
            part[name] = np.zeros(n, dtype=bool)
        parts.append(part)
    return parts


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    names = ("rows", "on", "setting", *NUMERIC, "smoking", "adherence", *FLAGS, "known")
    if not parts:
        empty = {name: np.zeros(0) for name in names}
        empty.update(rows=np.zeros(0, dtype=np.int64), on=np.zeros(0, dtype="datetime64[D]"),
                     setting=np.zeros(0, dtype=np.int8), smoking=np.zeros(0, dtype=np.int8),
                     adherence=np.zeros(0, dtype=np.int8), known=np.zeros(0, dtype=bool),
                     **{f: np.zeros(0, dtype=bool) for f in FLAGS})
        return empty
    out = {name: np.concatenate([part[name] for part in parts]) for name in names}
    order = np.lexsort((out["setting"], out["on"], out["rows"]))
    out = {name: values[order] for name, values in out.items()}
    first = np.ones(len(order), dtype=bool)          # one reading per resident, day and setting
    first[1:] = ((out["rows"][1:] != out["rows"][:-1]) | (out["on"][1:] != out["on"][:-1])
                 | (out["setting"][1:] != out["setting"][:-1]))
    return {name: values[first] for name, values in out.items()}


def _stay_days(draft: Draft, p: dict[str, np.ndarray]) -> np.ndarray:
    """Length of stay of each hospitalisation in ``draft.tables["events"]`` (NaN otherwise)."""
    from .events import CODE

    sp = draft.params["measurements"]["stay"]
    e = draft.tables["events"]
    days = np.full(len(e["resident"]), np.nan)
    stays = np.flatnonzero(e["kind"] == CODE["hospitalisation"])
    if not stays.size:
        return days
    who, on = e["resident"][stays], e["on"][stays]
    screen = draft.screenings["assessed_on"].astype("datetime64[D]")
    offset = (on - screen[who]).astype(np.int64)
    year = (offset - 1) // YEAR_DAYS
    same = np.ones(len(stays), dtype=bool)               # the k-th stay of a resident in a year
    same[1:] = (who[1:] != who[:-1]) | (year[1:] != year[:-1])
    start = np.maximum.accumulate(np.where(same, np.arange(len(stays)), 0))
    slot = (np.arange(len(stays)) - start) % STAY_SLOTS
    u = np.empty(len(stays))
    for y in np.unique(year):
        table = draft.rng(MEASUREMENTS_KEY, STAYS, int(y)).random((draft.n, STAY_SLOTS))
        hit = year == y
        u[hit] = table[who[hit], slot[hit]]
    mood = latents_on(draft, ["depression"], who, on)["depression"]
    not_regular = np.zeros(len(stays))
    position = np.full(draft.n, -1, dtype=np.int64)
    position[p["who"]] = np.arange(len(p["who"]))
    managed = np.flatnonzero(position[who] >= 0)
    if managed.size:
        eta = _levels(draft, p, position[who[managed]], on[managed], np.full(managed.size, 0.5))["eta"]
        not_regular[managed] = 1 - expit(eta)
    mean = (sp["mean_days"] - 1) * np.exp(sp["depression"] * mood + sp["nonadherence"] * not_regular)
    length = 1 + nbinom.ppf(np.maximum(u, 1e-12), sp["size"], sp["size"] / (sp["size"] + mean))
    # Cut at the next admission of the same resident and at death; unknown after follow_up_end.
    nxt = np.full(len(stays), np.iinfo(np.int64).max // 4)
    later = np.flatnonzero(who[1:] == who[:-1])
    nxt[later] = (on[later + 1] - on[later]).astype(np.int64)
    death = (draft.work["death_on"][who] - on).astype(np.int64)
    length = np.minimum(np.minimum(length, nxt), np.maximum(death, 0))
    length = np.minimum(length, 3650)
    ended = on + length.astype(np.int64).astype("timedelta64[D]") <= np.datetime64(draft.follow_up_end, "D")
    days[stays] = np.where(ended, length, np.nan)
    return days


@register("measurements", key=MEASUREMENTS_KEY,
          needs=("events", "loss_to_follow_up", "trial", "natural_history"))
def measurements(draft: Draft, rng: np.random.Generator) -> None:
    """Follow-up readings, device readings, CKD flags and hospital stay lengths."""
    r = draft.residents
    who = np.flatnonzero(r["hypertension"] | r["diabetes"])
    p = _people(draft, who, rng)
    ckd = np.zeros(draft.n, dtype=bool)
    known = np.zeros(draft.n, dtype=bool)
    ckd[who], known[who] = p["ckd"], p["ckd_known"]
    draft.work["ckd"] = {"value": ckd, "known": known}
    rows = _combine(_visits(draft, p) + _devices(draft, p))
    rows["resident"] = p["who"][rows.pop("rows")]
    draft.tables["measurements"] = rows
    draft.tables["events"]["days"] = _stay_days(draft, p)


def hba1c_ifcc(percent: np.ndarray) -> np.ndarray:
    """HbA1c in mmol/mol (IFCC) from % (NGSP/DCCT): ``(percent - 2.15) * 10.929`` exactly as
    ``workbench.measurements.hba1c_to_ifcc`` computes it (the IFCC-NGSP master equation,
    Hoelzel 2004, declared in ``workbench/data/measurements.yaml``)."""
    percent = np.asarray(percent, dtype=np.float64)
    out = np.full(percent.shape, np.nan)
    known = ~np.isnan(percent)
    try:
        from workbench.measurements import hba1c_to_ifcc
    except ImportError:  # the spine module is not there yet: the same formula
        out[known] = (percent[known] - 2.15) * 10.929
    else:
        out[known] = np.asarray(hba1c_to_ifcc(percent[known]), dtype=np.float64)
    return out


def measurement_frame(draft: Draft, resident_ids: np.ndarray) -> pd.DataFrame:
    """The ``measurements`` rows as a DataFrame of the analysis table's columns (without
    ``measurement_id``), ordered by resident, date and setting."""
    m = draft.tables["measurements"]
    by = draft.params["measurements"]["visits"]["measured_by"]
    n = len(m["resident"])
    columns: dict[str, Any] = {
        "resident_id": resident_ids[m["resident"]],
        "measured_on": _date(m["on"]),
        "setting": pd.array(np.asarray(SETTINGS, dtype=object)[m["setting"]], dtype="string"),
        "measured_by": pd.array(np.where(m["known"], by, None), dtype="string"),
    }
    for name in NUMERIC:
        values = m[name]
        if name in ("sbp", "dbp", "heart_rate"):
            blank = np.isnan(values)
            columns[name] = pd.arrays.IntegerArray(np.where(blank, 0, values).astype(np.int16), blank)
        else:
            columns[name] = pd.array(values, dtype="Float64")
        if name == "hba1c":
            ifcc = hba1c_ifcc(values)
            columns["hba1c_mmol_mol"] = pd.array(ifcc, dtype="Float64")
    columns["smoking"] = pd.array(np.where(m["smoking"] >= 0, np.asarray(SMOKING, dtype=object)[
        np.maximum(m["smoking"], 0)], None), dtype="string")
    columns["adherence"] = pd.array(np.where(m["adherence"] >= 0, np.asarray(ADHERENCE, dtype=object)[
        np.maximum(m["adherence"], 0)], None), dtype="string")
    for name in FLAGS:
        columns[name] = pd.array(np.where(m["known"], m[name], None), dtype="boolean")
    return pd.DataFrame(columns, index=pd.RangeIndex(n))
