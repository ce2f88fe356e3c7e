"""Outcome thresholds as versioned data: load ``thresholds.yaml`` and check every value.

Every number the outcome functions use lives in ``thresholds.yaml`` beside this file, each group
with a ``source``. The file is validated completely when it is loaded (on import), and every
problem is reported at once, naming its key.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from workbench._declarations import read_yaml

__all__ = ["JTParameters", "OutcomeConfigError", "Thresholds", "load_thresholds", "thresholds"]

_PATH = Path(__file__).resolve().parent / "thresholds.yaml"
_JT_INSTRUMENTS = ("phq9", "gad7")


class OutcomeConfigError(ValueError):
    """The thresholds file breaks a rule; the message lists every problem with its key."""


@dataclass(frozen=True)
class JTParameters:
    """Jacobson-Truax parameters of one instrument (``None`` where not declared)."""

    instrument: str
    reliability: float
    functional_mean: float
    functional_sd: float
    clinical_mean: float
    clinical_sd: float | None


@dataclass(frozen=True)
class Thresholds:
    """A validated thresholds declaration (build it with :func:`load_thresholds`)."""

    version: str
    response_min_fall: float
    remission_below: Mapping[str, float]
    baseline_caseness: Mapping[str, float]
    not_improving_from_week: int
    not_improving_phq9_below: float
    not_improving_min_fall: float
    review_from_week: int
    review_to_week: int
    no_contact_days: int
    tt_min_treatment_contacts: int
    tt_caseness: Mapping[str, float]
    tt_reliable_change: Mapping[str, float]
    cms159_index_above: float
    cms159_remission_below: float
    cms159_months: int
    cms159_window_days: int
    jt_critical_z: float
    jt: Mapping[str, JTParameters]
    raw: Mapping[str, Any]
    path: Path

    def table(self) -> pd.DataFrame:
        """Every declared value with its key and source, one row each.

        Examples
        --------
        >>> from workbench.outcomes import thresholds
        >>> t = thresholds().table()
        >>> t.loc[t["key"] == "talking_therapies.caseness.gad7.at_least", "value"].item()
        8
        """
        rows: list[dict[str, Any]] = []

        def walk(node: Any, path: str, source: str | None) -> None:
            if isinstance(node, Mapping):
                source = node.get("source", source)
                for key, value in node.items():
                    if key != "source":
                        walk(value, f"{path}.{key}" if path else str(key), source)
            elif path != "version":
                rows.append({"key": path, "value": node, "source": source})

        walk(self.raw, "", None)
        out = pd.DataFrame({"key": [r["key"] for r in rows],
                            "value": pd.Series([r["value"] for r in rows], dtype=object),
                            "source": [r["source"] for r in rows]})
        out.attrs["version"] = self.version
        return out


_MISSING = object()


def _get(raw: Any, path: str, problems: list[str]) -> Any:
    """The value at a dotted key, or ``_MISSING`` (recorded as a problem)."""
    node = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            problems.append(f"{path}: is missing")
            return _MISSING
        node = node[part]
    return node


def _number(raw: Any, path: str, problems: list[str], *, lo: float | None = None,
            hi: float | None = None, lo_open: bool = False, whole: bool = False,
            optional: bool = False) -> Any:
    """A checked number at ``path``; ``None`` (with a problem recorded) when it breaks a rule."""
    value = _get(raw, path, problems)
    if value is _MISSING:
        return None
    if value is None:
        if not optional:
            problems.append(f"{path}: must be a number, got null")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.append(f"{path}: must be a finite number, got {value!r}")
        return None
    if whole and value != int(value):
        problems.append(f"{path}: must be a whole number, got {value!r}")
        return None
    if lo is not None and (value <= lo if lo_open else value < lo):
        problems.append(f"{path}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
        return None
    if hi is not None and value > hi:
        problems.append(f"{path}: must be <= {hi}, got {value!r}")
        return None
    return int(value) if whole else float(value)


def _source(raw: Any, path: str, problems: list[str]) -> None:
    value = _get(raw, f"{path}.source", problems)
    if value is not _MISSING and (not isinstance(value, str) or not value.strip()):
        problems.append(f"{path}.source: must be a non-empty citation, got {value!r}")


def _per_instrument(raw: Any, key: str, field: str, problems: list[str]) -> dict[str, float]:
    """``key: {<instrument>: {<field>: number, source: ...}}``: the numbers by instrument, each
    with its source; every problem named."""
    out: dict[str, float] = {}
    section = _get(raw, key, problems)
    if section is not _MISSING and (not isinstance(section, Mapping) or not section):
        problems.append(f"{key}: must map instrument ids to {{{field}, source}}, got {section!r}")
    if isinstance(section, Mapping):
        for inst in section:
            out[inst] = _number(raw, f"{key}.{inst}.{field}", problems, lo=0.0, lo_open=True)
            _source(raw, f"{key}.{inst}", problems)
    return out


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read and validate a thresholds file (default: the shipped ``thresholds.yaml``).

    Raises
    ------
    OutcomeConfigError
        Listing every problem, each naming its key (e.g. ``response.min_fall``).

    Examples
    --------
    >>> t = load_thresholds()
    >>> t.version, t.response_min_fall, t.tt_caseness["gad7"], t.baseline_caseness["phq9"]
    ('1.1', 0.5, 8.0, 10.0)
    """
    path = _PATH if path is None else Path(path)
    raw = read_yaml(path, OutcomeConfigError)
    if not isinstance(raw, Mapping):
        raise OutcomeConfigError(f"{path}: must be a mapping of sections, got {type(raw).__name__}")
    p: list[str] = []
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        p.append(f"version: must be a non-empty string such as \"1.0\", got {version!r}")
    for section in ("response", "not_improving", "psychiatric_review", "no_contact", "cms159",
                    "jacobson_truax", "talking_therapies.finished",
                    "talking_therapies.reliable_improvement"):
        _source(raw, section, p)

    fraction = dict(lo=0.0, hi=1.0, lo_open=True)
    response = _number(raw, "response.min_fall", p, **fraction)
    remission = _per_instrument(raw, "remission", "below", p)
    baseline = _per_instrument(raw, "baseline_caseness", "at_least", p)
    for inst in remission:
        if inst not in baseline:
            p.append(f"remission.{inst}: has no baseline_caseness.{inst}.at_least (remission applies only "
                     "to those at caseness at baseline)")
    ni_week = _number(raw, "not_improving.from_week", p, lo=1, whole=True)
    ni_below = _number(raw, "not_improving.phq9_below", p, lo=0.0, lo_open=True)
    ni_fall = _number(raw, "not_improving.min_fall", p, **fraction)
    rv_from = _number(raw, "psychiatric_review.from_week", p, lo=0, whole=True)
    rv_to = _number(raw, "psychiatric_review.to_week", p, lo=0, whole=True)
    if rv_from is not None and rv_to is not None and rv_to < rv_from:
        p.append(f"psychiatric_review.to_week: {rv_to} must not be before from_week {rv_from}")
    nc_days = _number(raw, "no_contact.days", p, lo=1, whole=True)
    tt_min = _number(raw, "talking_therapies.finished.min_treatment_contacts", p, lo=1, whole=True)
    caseness, rc = {}, {}
    for inst in _JT_INSTRUMENTS:
        caseness[inst] = _number(raw, f"talking_therapies.caseness.{inst}.at_least", p, lo=0.0, lo_open=True)
        _source(raw, f"talking_therapies.caseness.{inst}", p)
        rc[inst] = _number(raw, f"talking_therapies.reliable_change.{inst}.points", p, lo=0.0, lo_open=True)
        _source(raw, f"talking_therapies.reliable_change.{inst}", p)
    c_index = _number(raw, "cms159.index_above", p, lo=0.0)
    c_rem = _number(raw, "cms159.remission_below", p, lo=0.0, lo_open=True)
    c_months = _number(raw, "cms159.months", p, lo=1, whole=True)
    c_days = _number(raw, "cms159.window_days", p, lo=0, whole=True)
    z = _number(raw, "jacobson_truax.critical_z", p, lo=0.0, lo_open=True)
    jt: dict[str, JTParameters] = {}
    for inst in _JT_INSTRUMENTS:
        key = f"jacobson_truax.instruments.{inst}"
        r = _number(raw, f"{key}.reliability.value", p, lo=0.0, hi=1.0, lo_open=True)
        if r == 1.0:
            p.append(f"{key}.reliability.value: must be below 1 (S_diff would be 0), got 1.0")
        values = [_number(raw, f"{key}.{grp}.{stat}", p, lo=0.0, lo_open=stat == "sd",
                          optional=stat == "sd" and grp == "clinical")
                  for grp in ("functional", "clinical") for stat in ("mean", "sd")]
        for part in ("reliability", "functional", "clinical"):
            _source(raw, f"{key}.{part}", p)
        if values[0] is not None and values[2] is not None and values[2] <= values[0]:
            p.append(f"{key}.clinical.mean: {values[2]} must exceed functional.mean {values[0]} "
                     "(the workbench's scales are lower-is-better)")
        jt[inst] = JTParameters(inst, r, *values)
    if p:
        raise OutcomeConfigError(f"{path}: {len(p)} problem(s) in the outcome thresholds:\n"
                                 + "\n".join(f"- {line}" for line in p))
    return Thresholds(
        version=version, response_min_fall=response, remission_below=remission,
        baseline_caseness=baseline,
        not_improving_from_week=ni_week, not_improving_phq9_below=ni_below,
        not_improving_min_fall=ni_fall, review_from_week=rv_from, review_to_week=rv_to,
        no_contact_days=nc_days, tt_min_treatment_contacts=tt_min, tt_caseness=caseness,
        tt_reliable_change=rc, cms159_index_above=c_index, cms159_remission_below=c_rem,
        cms159_months=c_months, cms159_window_days=c_days, jt_critical_z=z, jt=jt, raw=raw,
        path=path)


@functools.lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    """The shipped thresholds, loaded and validated once (on import of :mod:`workbench.outcomes`)."""
    return load_thresholds()
