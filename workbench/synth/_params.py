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
import yaml

from workbench.instruments import get_instrument

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


@lru_cache(maxsize=1)
def _load_cached() -> dict[str, Any]:
    with PARAMS_PATH.open(encoding="utf-8") as fh:
        return check(yaml.safe_load(fh))


def load() -> dict[str, Any]:
    """Return a (deep) copy of the checked parameters from ``params.yaml``."""
    return copy.deepcopy(_load_cached())


def available_instruments() -> tuple[str, ...]:
    """Instrument ids the generator can answer, in ``params.yaml`` order."""
    return tuple(_load_cached()["instruments"])
