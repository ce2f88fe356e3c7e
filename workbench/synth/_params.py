"""Load and check the generator's parameters (``params.yaml``).

The parameters are plain data; this module turns them into numpy arrays and checks them when
they are loaded (an unordered threshold list or a correlation matrix that is not positive
definite fails here, naming the key, before any data are drawn).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from workbench.instruments import get_instrument
from workbench._declarations import load_yaml

PARAMS_PATH = Path(__file__).with_name("params.yaml")

COMMUNITY_TYPES = ("urban", "rural", "ageing")


@dataclass(frozen=True)
class ItemModel:
    """Graded-response parameters of one instrument, joined to its declaration.

    The answer ranges, item numbers, reverse-keyed and sex-specific items come from the
    questionnaire's declaration (``workbench/instruments/{id}.yaml``); ``a`` (items,) and ``b``
    (items x thresholds, increasing rows) from ``params.yaml``. Main items come first, then the
    supplementary ones (never part of the total); ``lo``/``hi`` give each item's range.
    """

    instrument: str
    trait: str
    numbers: tuple[int, ...]
    lo: tuple[int, ...]
    hi: tuple[int, ...]
    a: np.ndarray
    b: tuple[np.ndarray, ...]
    reverse: tuple[int, ...]
    sex_only: dict[int, str]
    n_main: int

    @property
    def min(self) -> int:
        """Lowest answer of the main items."""
        return self.lo[0]

    @property
    def max(self) -> int:
        """Highest answer of the main items."""
        return self.hi[0]

    @property
    def columns(self) -> list[str]:
        """Column names ``{instrument}_{n}`` in item order."""
        return [f"{self.instrument}_{k}" for k in self.numbers]


def _fail(key: str, rule: str, value: Any) -> None:
    raise ValueError(f"params.yaml: '{key}' must be {rule}. Got {value!r} instead.")


def _check_probability(key: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        _fail(key, "a probability in [0, 1]", value)


def _item_model(name: str, spec: Mapping[str, Any]) -> ItemModel:
    try:
        inst = get_instrument(name)
    except Exception as exc:   # noqa: BLE001 - reported with the key that asked for it
        _fail(f"instruments.{name}", "a declared questionnaire id (workbench/instruments)",
              f"{name} ({exc})")
    numbers = [item.n for item in inst.items]
    lo, hi = [inst.response_min] * len(numbers), [inst.response_max] * len(numbers)
    a, b = list(spec["a"]), [list(row) for row in spec["b"]]
    if len(a) != len(numbers) or len(b) != len(numbers):
        _fail(f"instruments.{name}.a/b", f"one entry per declared item ({len(numbers)})", (a, b))
    declared_sup = {int(sup["n"]): sup for sup in inst.supplementary_items}
    for k, sup in (spec.get("supplementary") or {}).items():
        if int(k) not in declared_sup:
            _fail(f"instruments.{name}.supplementary", f"declared supplementary items "
                  f"{sorted(declared_sup)}", k)
        numbers.append(int(k))
        lo.append(int(declared_sup[int(k)]["min"]))
        hi.append(int(declared_sup[int(k)]["max"]))
        a.append(sup["a"])
        b.append(list(sup["b"]))
    for j, (aj, bj) in enumerate(zip(a, b)):
        if not aj > 0:
            _fail(f"instruments.{name}.a[{j}]", "positive", aj)
        if len(bj) != hi[j] - lo[j]:
            _fail(f"instruments.{name}.b[{j}]",
                  f"{hi[j] - lo[j]} thresholds (declared answers {lo[j]}-{hi[j]})", bj)
        if any(x >= y for x, y in zip(bj, bj[1:])):
            _fail(f"instruments.{name}.b[{j}]", "strictly increasing", bj)
    sex_only = {item.n: str(item.applies_to["sex"]) for item in inst.items
                if "sex" in item.applies_to}
    return ItemModel(
        instrument=name, trait=spec["trait"], numbers=tuple(numbers), lo=tuple(lo),
        hi=tuple(hi), a=np.asarray(a, dtype=float),
        b=tuple(np.asarray(row, dtype=float) for row in b),
        reverse=tuple(int(k) for k in inst.reverse_keyed), sex_only=sex_only,
        n_main=len(inst.items),
    )


def check(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check a parameter mapping and return it with derived numpy arrays added.

    The derived entries live under the key ``"_derived"``: ``item_models`` (name ->
    :class:`ItemModel`), ``correlation`` (array), ``means`` (traits x covariates array).
    """
    p = copy.deepcopy(dict(params))
    shares = p["communities"]["type_shares"]
    if set(shares) != set(COMMUNITY_TYPES) or abs(sum(shares.values()) - 1) > 1e-9:
        _fail("communities.type_shares", f"shares of {COMMUNITY_TYPES} summing to 1", shares)
    age = p["age"]
    lower, upper, weights = age["group_lower"], age["group_upper"], age["census_millions"]
    if not (len(lower) == len(upper) == len(weights)) or lower[0] < 18:
        _fail("age", "groups of equal length starting at 18 or above", age)
    if any(u != l2 for u, l2 in zip(upper, lower[1:])) or any(l >= u for l, u in zip(lower, upper)):
        _fail("age.group_lower/group_upper", "contiguous, non-empty intervals", (lower, upper))
    for key in ("sex.p_female", "lives_alone.p"):
        section, name = key.split(".")
        for v in p[section][name]:
            _check_probability(key, v)
        if len(p[section][name]) != len(p[section]["age_breaks"]) + 1:
            _fail(key, "one value per age band (len(age_breaks) + 1)", p[section][name])
    traits = p["latent"]["traits"]
    corr = np.asarray(p["latent"]["correlation"], dtype=float)
    if corr.shape != (len(traits), len(traits)) or not np.allclose(corr, corr.T) \
            or not np.allclose(np.diag(corr), 1.0):
        _fail("latent.correlation", "a symmetric matrix with unit diagonal, one row per trait",
              corr.tolist())
    try:
        np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        _fail("latent.correlation", "positive definite", corr.tolist())
    covariates = p["latent"]["covariates"]
    means = np.zeros((len(traits), len(covariates)))
    for i, trait in enumerate(traits):
        row = p["latent"]["means"][trait]
        if set(row) != set(covariates):
            _fail(f"latent.means.{trait}", f"one effect per covariate {covariates}", row)
        means[i] = [row[c] for c in covariates]
    cond = p["conditions"]
    for name, value in cond["target_prevalence"].items():
        _check_probability(f"conditions.target_prevalence.{name}", value)
        if not {"intercept", "age_per_decade", "age_per_decade_sq", "male"} <= set(cond[name]):
            _fail(f"conditions.{name}", "a mapping with intercept, age_per_decade, "
                  "age_per_decade_sq and male", cond[name])
    models = {name: _item_model(name, spec) for name, spec in p["instruments"].items()}
    for name, model in models.items():
        if model.trait not in traits:
            _fail(f"instruments.{name}.trait", f"one of {traits}", model.trait)
    _check_follow_up(p, traits, models)
    _check_long_term(p, traits)
    _check_satisfaction(p["satisfaction"])
    _check_measurements(p["measurements"])
    _check_smd(p["smd"])
    _check_pathways(p)
    p["_derived"] = {"item_models": models, "correlation": corr, "means": means}
    return p


def _check_range(key: str, value: Any, low: float = 0) -> None:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) for v in value)
            or not low <= value[0] <= value[1]):
        _fail(key, f"a [low, high] pair with {low} <= low <= high", value)


def _check_follow_up(p: Mapping[str, Any], traits: list[str],
                     models: Mapping[str, ItemModel]) -> None:
    """Check the ``care``, ``trajectory`` and ``followup`` sections."""
    care = p["care"]
    if set(care["tiers"]) != {2, 3}:
        _fail("care.tiers", "settings for tiers 2 and 3 (the referred tiers)", list(care["tiers"]))
    for tier, spec in care["tiers"].items():
        for name in ("p_weekly", "p_dropout"):
            _check_probability(f"care.tiers.{tier}.{name}", spec[name])
        for name in ("first_contact_early", "first_contact_late"):
            if not isinstance(spec[name], int) or spec[name] < 0:
                _fail(f"care.tiers.{tier}.{name}", "a whole number of days >= 0", spec[name])
        _check_range(f"care.tiers.{tier}.treatment_days", spec["treatment_days"], 14)
    for name in ("p_gap", "p_attend_first", "p_attend", "p_attend_review", "p_attend_final",
                 "p_phone_after_missed", "p_phone_answered"):
        _check_probability(f"care.{name}", care[name])
    for name, low in (("gap_days", 28), ("final_after_days", 1), ("phone_after_days", 1),
                      ("dropout_missed_sessions", 1)):
        _check_range(f"care.{name}", care[name], low)
    if not 0 <= care["session_jitter_days"] <= 2:
        _fail("care.session_jitter_days", "0, 1 or 2 (weekly sessions stay in order)",
              care["session_jitter_days"])
    if not 0 <= care["review_jitter_days"] <= 6 or care["review_every_days"] % 7:
        _fail("care.review_every_days/review_jitter_days", "whole weeks and a jitter of 0-6 "
              "days (reviews stay in their week)",
              (care["review_every_days"], care["review_jitter_days"]))
    tp = p["trajectory"]
    for trait in tp["traits"]:
        if trait not in traits or trait not in tp["healthy_level"]:
            _fail("trajectory.traits", f"traits among {traits}, each with a healthy_level",
                  tp["traits"])
    _check_probability("trajectory.p_deteriorate", tp["p_deteriorate"])
    _check_range("trajectory.rise", tp["rise"])
    for name in ("f_sd", "anxiety_f_sd", "tau_lognormal_sd", "occasion_sd"):
        if not tp[name] >= 0:
            _fail(f"trajectory.{name}", ">= 0", tp[name])
    if not tp["tau_days"] > 0:
        _fail("trajectory.tau_days", "> 0", tp["tau_days"])
    fp = p["followup"]
    for name in fp["instruments"]:
        if name not in models:
            _fail("followup.instruments", f"instruments among {list(models)}", fp["instruments"])
    _check_probability("followup.p_interviewer", fp["p_interviewer"])


def _check_number(key: str, value: Any, low: float | None = None, high: float | None = None,
                  *, whole: bool = False, open_low: bool = False) -> None:
    ok = isinstance(value, int) if whole else isinstance(value, (int, float))
    ok = ok and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        kind = "a whole number" if whole else "a number"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if open_low else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        _fail(key, " ".join([kind, " and ".join(bounds)]).strip(), value)


def _check_months(key: str, value: Any) -> None:
    if (not isinstance(value, list) or not value
            or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in value)
            or any(a >= b for a, b in zip(value, value[1:]))):
        _fail(key, "a non-empty, strictly increasing list of whole months > 0", value)


def _check_long_term(p: Mapping[str, Any], traits: list[str]) -> None:
    """Check the ``natural_history``, ``loss_to_follow_up``, ``maintenance``, ``events``,
    ``trial`` and ``cohort`` sections."""
    from workbench.registry.schema import EVENT_KINDS

    from .conditions import CONDITIONS

    hp = p["natural_history"]
    if not hp["traits"] or any(t not in traits for t in hp["traits"]) \
            or len(set(hp["traits"])) != len(hp["traits"]):
        _fail("natural_history.traits", f"distinct traits among {traits}", hp["traits"])
    _check_probability("natural_history.transient_share", hp["transient_share"])
    for name in ("reversion_days", "fluctuation_days"):
        _check_number(f"natural_history.{name}", hp[name], 0, open_low=True)
    _check_number("natural_history.components", hp["components"], 1, 50, whole=True)
    _check_number("natural_history.anxiety_correlation", hp["anxiety_correlation"], -1, 1)

    lp = p["loss_to_follow_up"]
    _check_number("loss_to_follow_up.rate_per_year", lp["rate_per_year"], 0)
    if len(lp["age_factor"]) != len(lp["age_breaks"]) + 1:
        _fail("loss_to_follow_up.age_factor", "one value per age band (len(age_breaks) + 1)",
              lp["age_factor"])
    for v in lp["age_factor"]:
        _check_number("loss_to_follow_up.age_factor", v, 0)
    _check_probability("loss_to_follow_up.p_lost_at_dropout", lp["p_lost_at_dropout"])

    mp = p["maintenance"]
    _check_number("maintenance.every_days", mp["every_days"], 7)
    _check_number("maintenance.jitter_days", mp["jitter_days"], 0, mp["every_days"] / 2 - 1,
                  whole=True)
    _check_number("maintenance.review_every", mp["review_every"], 1, whole=True)
    for name in ("p_visit", "p_attend"):
        _check_probability(f"maintenance.{name}", mp[name])

    ep = p["events"]
    # the mental-health crises of residents in care and psychiatric discharges come from the
    # ``crises`` section (workbench/synth/pathways.py), not from a hazard here
    hazard_kinds = [k for k in EVENT_KINDS if k not in ("psychiatric_emergency", "psychiatric_discharge")]
    if set(ep["kinds"]) != set(hazard_kinds):
        _fail("events.kinds", f"one entry per registry event kind drawn from a hazard {hazard_kinds}",
              list(ep["kinds"]))
    for kind, spec in ep["kinds"].items():
        key = f"events.kinds.{kind}"
        _check_number(f"{key}.rate_at_60", spec["rate_at_60"], 0, open_low=True)
        _check_number(f"{key}.background", spec.get("background", 0.0), 0)
        _check_number(f"{key}.male_hr", spec["male_hr"], 0, open_low=True)
        for name in ("age_per_decade", "depression"):
            _check_number(f"{key}.{name}", spec[name], -5, 5)
        hr = spec["condition_hr"]
        if set(hr) != set(CONDITIONS) or not all(
                isinstance(v, (int, float)) and v > 0 for v in hr.values()):
            _fail(f"{key}.condition_hr", f"a positive hazard ratio for each of {list(CONDITIONS)}",
                  hr)
    for name in ("cardiovascular_hospitalised", "cardiovascular_fatal_28d", "crisis_er_visit",
                 "crisis_hospitalised"):
        _check_probability(f"events.{name}", ep[name])

    tp = p["trial"]
    if not isinstance(tp["study"], str) or not tp["study"]:
        _fail("trial.study", "a non-empty study id", tp["study"])
    _check_number("trial.participants", tp["participants"], 0, whole=True)
    _check_number("trial.per_residents", tp["per_residents"], 1, whole=True)
    bs = tp["block_size"]
    if not isinstance(bs, int) or isinstance(bs, bool) or bs < 2 or bs % 2:
        _fail("trial.block_size", "an even whole number >= 2 (1:1 randomisation)", bs)
    _check_months("trial.months", tp["months"])
    if 12 not in tp["months"]:
        _fail("trial.months", "months including 12 (the trial's primary outcome)", tp["months"])
    te = tp["effect"]
    _check_number("trial.effect.latent_shift", te["latent_shift"], -3, 3)
    for name in ("build_days", "fade_days", "er_rate_ratio"):
        _check_number(f"trial.effect.{name}", te[name], 0, open_low=True)
    cp = p["cohort"]
    if not isinstance(cp.get("study"), str) or not cp["study"] or cp["study"] == tp["study"]:
        _fail("cohort.study", "a non-empty study id other than the trial's", cp.get("study"))
    _check_number("cohort.key_patients", cp["key_patients"], 0, whole=True)
    _check_number("cohort.full_size_from_n", cp["full_size_from_n"], 1, whole=True)
    _check_months("cohort.wave_months", cp["wave_months"])
    for section, spec in (("trial", tp), ("cohort", cp)):
        low, high = spec["window_days"] if isinstance(spec["window_days"], list) else (1, 0)
        if not (isinstance(low, int) and isinstance(high, int) and -60 <= low <= high <= 60):
            _fail(f"{section}.window_days", "a [low, high] pair of whole days in [-60, 60]",
                  spec["window_days"])
        for name in ("p_missed", "p_interviewer"):
            _check_probability(f"{section}.{name}", spec[name])


def _check_satisfaction(sp: Mapping[str, Any]) -> None:
    """Check the ``satisfaction`` section (survey delays, response, rating model)."""
    for name in ("after_days", "after_days_dropout"):
        v = sp[name]
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)
                and 0 <= v[0] <= v[1] <= 120):
            _fail(f"satisfaction.{name}", "a [low, high] pair of whole days in [0, 120]", v)
    for name in ("p_respond", "p_respond_dropout"):
        _check_probability(f"satisfaction.{name}", sp[name])
    for name in ("intercept", "completed", "improvement"):
        _check_number(f"satisfaction.{name}", sp[name], -10, 10)
    cuts = sp["cuts"]
    if not (isinstance(cuts, list) and len(cuts) == 4
            and all(isinstance(x, (int, float)) for x in cuts)
            and all(a < b for a, b in zip(cuts, cuts[1:]))):
        _fail("satisfaction.cuts", "4 increasing numbers (ratings 1-5)", cuts)


def _check_measurements(mp: Mapping[str, Any]) -> None:
    """Check the ``measurements`` section (follow-up visits, the course of the readings)."""
    key = "measurements"
    vp = mp["visits"]
    _check_number(f"{key}.visits.before", vp["before"], 0, 8, whole=True)
    _check_number(f"{key}.visits.every_days", vp["every_days"], 28, 366)
    _check_number(f"{key}.visits.jitter_days", vp["jitter_days"], 0, vp["every_days"] / 4, whole=True)
    low, high = vp["recheck_days"] if isinstance(vp["recheck_days"], list) else (0, -1)
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high
            and high < vp["every_days"] / 2 - vp["jitter_days"]):
        _fail(f"{key}.visits.recheck_days", "a [low, high] pair of whole days >= 1, before the next "
              "scheduled visit (high < every_days / 2 - jitter_days)", vp["recheck_days"])
    for name in ("p_missed", "p_recheck"):
        _check_probability(f"{key}.visits.{name}", vp[name])
    _check_number(f"{key}.visits.missed_depression", vp["missed_depression"], -5, 5)
    if len(vp["p_home"]) != len(vp["home_age_breaks"]) + 1:
        _fail(f"{key}.visits.p_home", "one value per age band (len(home_age_breaks) + 1)", vp["p_home"])
    for v in vp["p_home"]:
        _check_probability(f"{key}.visits.p_home", v)
    if not isinstance(vp["measured_by"], str) or not vp["measured_by"]:
        _fail(f"{key}.visits.measured_by", "a non-empty user name", vp["measured_by"])
    ap = mp["adherence"]
    for name in ("intercept", "depression", "trial_shift"):
        _check_number(f"{key}.adherence.{name}", ap[name], -10, 10)
    for name in ("person_sd", "cut"):
        _check_number(f"{key}.adherence.{name}", ap[name], 0, 10, open_low=name == "cut")
    states = {"regular", "intermittent", "none"}
    for section, shift in (("sbp", "shift"), ("glucose", "log_shift")):
        values = mp[section][shift]
        if set(values) != states or values["regular"] != 0 or not (
                0 <= values["intermittent"] <= values["none"]):
            _fail(f"{key}.{section}.{shift}", "regular 0 <= intermittent <= none (poorer adherence, "
                  "higher readings)", values)
    for section, names in (("sbp", ("person_sd", "noise_sd")), ("dbp", ("person_sd", "noise_sd")),
                           ("heart_rate", ("person_sd", "noise_sd")),
                           ("glucose", ("person_sd", "noise_sd", "no_diabetes_sd")), ("hba1c", ("sd",)),
                           ("body", ("height_sd", "height_noise_sd", "bmi_sd", "weight_noise_sd",
                                     "waist_noise_sd", "waist_visit_sd")),
                           ("device", ("per_year",)), ("stay", ("size",))):
        for name in names:
            _check_number(f"{key}.{section}.{name}", mp[section][name], 0, 100, open_low=name == "size")
    for name in ("intercept", "no_hypertension"):
        _check_number(f"{key}.sbp.{name}", mp["sbp"][name], 80, 200)
    for name in ("intercept", "no_diabetes"):
        _check_number(f"{key}.glucose.{name}", mp["glucose"][name], 2, 30)
    _check_number(f"{key}.stay.mean_days", mp["stay"]["mean_days"], 1, 365, open_low=True)
    _check_number(f"{key}.hba1c.adag_slope", mp["hba1c"]["adag_slope"], 0, 10, open_low=True)
    _check_number(f"{key}.hba1c.adag_intercept", mp["hba1c"]["adag_intercept"], -10, 10)
    for section, name in (("glucose", "p_fasting"), ("glucose", "p_random_at_home"),
                          ("glucose", "p_fasting_no_diabetes"), ("hba1c", "p"), ("body", "p_measured"),
                          ("body", "p_waist"), ("lipids", "p_yearly"), ("smoking", "p_recorded"),
                          ("answers", "p_adherence_recorded"), ("answers", "p_adverse_reaction"),
                          ("answers", "p_complication"), ("answers", "p_alarm"),
                          ("answers", "p_alarm_danger"), ("device", "p_bp_monitor"),
                          ("device", "p_glucose_meter"), ("ckd", "p_recorded")):
        _check_probability(f"{key}.{section}.{name}", mp[section][name])
    sm = mp["smoking"]
    for sex in ("female", "male"):
        if not 0 <= sm["current"][sex] + sm["former"][sex] <= 1:
            _fail(f"{key}.smoking", f"current + former <= 1 for {sex}", sm)


def _check_shares(key: str, shares: Mapping[str, Any], names: tuple) -> None:
    """A mapping from exactly ``names`` to probabilities that sum to 1."""
    if not isinstance(shares, Mapping) or set(shares) != set(names):
        _fail(key, f"a mapping with exactly the keys {list(names)}", shares)
    for name, v in shares.items():
        _check_probability(f"{key}.{name}", v)
    if abs(sum(float(v) for v in shares.values()) - 1) > 1e-9:
        _fail(key, "shares that sum to 1", shares)


def _check_smd(sp: Mapping[str, Any]) -> None:
    """Check the ``smd`` section (register, follow-ups, medication, rehabilitation ladder)."""
    from workbench import smd

    key = "smd"
    if not isinstance(sp.get("recorded_by"), str) or not sp["recorded_by"]:
        _fail(f"{key}.recorded_by", "a non-empty user name", sp.get("recorded_by"))
    rp = sp["register"]
    for name in ("p_prevalent", "p_guardian_blank", "p_consent", "p_consent_blank", "p_diagnosed_blank"):
        _check_probability(f"{key}.register.{name}", rp[name])
    for name in ("incidence_per_year", "moved_per_year"):
        _check_number(f"{key}.register.{name}", rp[name], 0, 1, open_low=True)
    _check_number(f"{key}.register.years_registered", rp["years_registered"], 0, 60, open_low=True)
    _check_number(f"{key}.register.diagnosed_years_before", rp["diagnosed_years_before"], 0, 40)
    _check_number(f"{key}.register.min_age", rp["min_age"], 0, 17, whole=True)
    _check_shares(f"{key}.register.disorders", rp["disorders"], smd.DISORDERS)
    _check_shares(f"{key}.register.guardians", rp["guardians"], smd.GUARDIANS)
    fp = sp["followup"]
    for name in ("p_unreachable", "p_irregular", "p_face_to_face", "p_blank", "p_change",
                 "p_judged_without_suggestion", "p_referred"):
        _check_probability(f"{key}.followup.{name}", fp[name])
    if fp["p_unreachable"] + fp["p_irregular"] > 1:
        _fail(f"{key}.followup", "p_unreachable + p_irregular <= 1",
              {"p_unreachable": fp["p_unreachable"], "p_irregular": fp["p_irregular"]})
    _check_range(f"{key}.followup.late_days", fp["late_days"], 0)
    _check_number(f"{key}.followup.early_days", fp["early_days"], 0, 60, whole=True)
    _check_number(f"{key}.followup.min_gap_days", fp["min_gap_days"], 1, 14, whole=True)
    for name in ("person_sd", "visit_sd", "item_noise_sd"):
        _check_number(f"{key}.followup.{name}", fp[name], 0, 10)
    _check_number(f"{key}.followup.rho", fp["rho"], 0, 1)
    share = fp["share"]
    grades = share.get("risk_grade") if isinstance(share, Mapping) else None
    if not isinstance(grades, list) or len(grades) != len(smd.GRADES):
        _fail(f"{key}.followup.share.risk_grade", "a list of 6 shares (grades 0-5)", grades)
    _check_shares(f"{key}.followup.share.risk_grade", dict(enumerate(grades)), tuple(range(6)))
    for item, values in smd.ITEM_VALUES.items():
        _check_shares(f"{key}.followup.share.{item}", share.get(item), values)
    mp = sp["medication"]
    for name in ("p_on_medication", "p_switch"):
        _check_probability(f"{key}.medication.{name}", mp[name])
    _check_number(f"{key}.medication.regular_intercept", mp["regular_intercept"], -10, 10)
    _check_number(f"{key}.medication.regular_person_sd", mp["regular_person_sd"], 0, 10)
    hp = sp["rehab"]
    for name in ("p_after_referral", "p_step"):
        _check_probability(f"{key}.rehab.{name}", hp[name])
    _check_range(f"{key}.rehab.discharge_days", hp["discharge_days"], 0)
    _check_number(f"{key}.rehab.level_mean_days", hp["level_mean_days"], 1, 3650)


def _check_pathways(p: Mapping[str, Any]) -> None:
    """Check the sections of the quality indicators' data (``referral_source``,
    ``hospital_referral``, ``psychiatric_review``, ``crises``, ``literacy``)."""
    from workbench.tables import REFERRAL_SOURCES

    rs = p["referral_source"]
    _check_shares("referral_source.shares", rs["shares"], REFERRAL_SOURCES)
    _check_probability("referral_source.p_blank", rs["p_blank"])
    hp = p["hospital_referral"]
    for name in ("p_not_reported", "p_booked", "p_fast_track", "p_seen", "p_rescheduled"):
        _check_probability(f"hospital_referral.{name}", hp[name])
    for name in ("fast_track_days", "rescheduled_days"):
        _check_range(f"hospital_referral.{name}", hp[name], 0)
    _check_number("hospital_referral.usual_wait_median_days", hp["usual_wait_median_days"], 1, 365)
    _check_number("hospital_referral.usual_wait_log_sd", hp["usual_wait_log_sd"], 0, 3)
    pr = p["psychiatric_review"]
    _check_probability("psychiatric_review.p_done", pr["p_done"])
    _check_range("psychiatric_review.after_days", pr["after_days"], 0)
    cp = p["crises"]
    rates = cp["rate_per_1000_years"]
    if not isinstance(rates, Mapping) or set(rates) != {2, 3}:
        _fail("crises.rate_per_1000_years", "rates for tiers 2 and 3 (the referred tiers)", rates)
    for tier, rate in rates.items():
        _check_number(f"crises.rate_per_1000_years.{tier}", rate, 0, 1000)
    _check_number("crises.urgent_hr", cp["urgent_hr"], 0, 100, open_low=True)
    for name in ("p_emergency", "p_admitted", "p_within_7", "p_later", "p_visit", "p_attend"):
        _check_probability(f"crises.{name}", cp[name])
    if cp["p_within_7"] + cp["p_later"] > 1:
        _fail("crises", "p_within_7 + p_later <= 1", {"p_within_7": cp["p_within_7"], "p_later": cp["p_later"]})
    _check_number("crises.stay_median_days", cp["stay_median_days"], 1, 365)
    _check_number("crises.stay_log_sd", cp["stay_log_sd"], 0, 3)
    _check_range("crises.stay_days", cp["stay_days"], 1)
    if cp["stay_days"][1] > 3650:
        _fail("crises.stay_days", "at most 3650 days (events.days)", cp["stay_days"])
    lp = p["literacy"]
    if not isinstance(lp["questionnaire"], str) or not lp["questionnaire"]:
        _fail("literacy.questionnaire", "a non-empty questionnaire id", lp["questionnaire"])
    _check_number("literacy.n_asked", lp["n_asked"], 1, 127, whole=True)
    _check_number("literacy.pass_share", lp["pass_share"], 0, 1, open_low=True)
    for name in ("p_asked", "p_blank", "p_asked_after_care"):
        _check_probability(f"literacy.{name}", lp[name])
    for name in ("intercept", "age_per_decade", "female", "care_gain"):
        _check_number(f"literacy.{name}", lp[name], -10, 10)
    _check_number("literacy.person_sd", lp["person_sd"], 0, 10)
    types = lp["community_type"]
    if not isinstance(types, Mapping) or set(types) != set(COMMUNITY_TYPES):
        _fail("literacy.community_type", f"one effect per community type {list(COMMUNITY_TYPES)}", types)
    for name, v in types.items():
        _check_number(f"literacy.community_type.{name}", v, -10, 10)


@lru_cache(maxsize=1)
def _load_cached() -> dict[str, Any]:
    with PARAMS_PATH.open(encoding="utf-8") as fh:
        return check(load_yaml(fh.read()))


def load() -> dict[str, Any]:
    """Return a (deep) copy of the checked parameters from ``params.yaml``."""
    return copy.deepcopy(_load_cached())


def available_instruments() -> tuple[str, ...]:
    """Instrument ids the generator can answer, in ``params.yaml`` order."""
    return tuple(_load_cached()["instruments"])
