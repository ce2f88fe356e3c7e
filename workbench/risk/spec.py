"""The risk model's specification as declared data: :func:`load_spec` reads and checks it.

A model spec (``workbench/risk/<id>.yaml``) says what is predicted (the outcome, with the
thresholds read from :mod:`workbench.outcomes`' ``thresholds.yaml``, never copied), for whom
(the population), from what (the predictors, each with its kind, its zh/en label and where it is
read), the risk bands (programme settings) and what the model is never (not a suicide-risk
score). Every key is checked when the file is loaded; every problem is reported at once, each
naming its key (:class:`SpecError`).

Examples
--------
>>> spec = load_spec("not_improving")
>>> spec.id, spec.version, spec.outcome.id
('not_improving', '1.1', 'not_improving_12w')
>>> spec.outcome.from_week, spec.outcome.to_week, spec.outcome.phq9_below, spec.outcome.min_fall
(8, 12, 10.0, 0.5)
>>> spec.band([0.05, 0.2, 0.5]).tolist()
['low', 'medium', 'high']
>>> spec.min_observed["rows"], spec.min_observed["events"]
(100, 10)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench._declarations import LANGUAGES, read_yaml

__all__ = ["KINDS", "SOURCES", "ModelSpec", "Outcome", "Predictor", "SpecError", "load_spec"]

_DIR = Path(__file__).resolve().parent
#: Kinds of predictor: how the pipeline prepares it.
KINDS = ("numeric", "binary", "category")
#: Where a predictor is read from, and the keys each needs (besides name, kind, en, zh).
SOURCES = {"screening_score": ("instrument",), "resident": ("column",), "community": ("column",),
           "measurement": ("column", "days"), "history": ("table",), "wearable": ("days",)}
_HISTORY_TABLES = ("decisions", "referrals", "events")
_BAND_NAMES = ("low", "medium", "high")


class SpecError(ValueError):
    """A model spec that breaks a rule; the message lists every problem, each with its key."""


@dataclass(frozen=True)
class Outcome:
    """The outcome: its id, instrument, the thresholds read from ``thresholds.yaml`` and texts
    (``text['en'|'zh']``; ``source`` the citation in English, ``source_text['en'|'zh']`` in both)."""

    id: str
    instrument: str
    definition: str
    window: str
    from_week: int
    to_week: int
    phq9_below: float
    min_fall: float
    thresholds_version: str
    source: str
    text: Mapping[str, str]
    source_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Predictor:
    """One predictor: ``name``, ``kind`` (:data:`KINDS`), where it is read (``source`` among
    :data:`SOURCES`, with its settings in ``options``) and its labels (``label['en'|'zh']``)."""

    name: str
    kind: str
    source: str
    label: Mapping[str, str]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """A validated model spec (build it with :func:`load_spec`). Every text shown to people is
    a mapping with a non-empty ``en`` and ``zh`` (``name``, ``population``, ``how_to_choose``,
    ``never``, the outcome's text and source, each predictor's label, and each ``excluded``
    entry's ``what`` and ``why``: ``spec.excluded[0]["why"]["zh"]``).

    ``min_observed``: the rule that leaves a predictor out of a fit (:func:`workbench.risk.models.fit`):
    ``rows`` and ``events`` (whole numbers >= 1), ``text['en'|'zh']`` (why) and
    ``source['en'|'zh']`` (the citations)."""

    id: str
    version: str
    name: Mapping[str, str]
    outcome: Outcome
    tiers: tuple[int, ...]
    population: Mapping[str, str]
    predictors: tuple[Predictor, ...]
    excluded: tuple[Mapping[str, Mapping[str, str]], ...]
    medium_from: float
    high_from: float
    how_to_choose: Mapping[str, str]
    never: Mapping[str, str]
    path: Path
    min_observed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Predictor names in declared order (the columns of ``ModelFrame.X``)."""
        return [p.name for p in self.predictors]

    def of_kind(self, kind: str) -> list[str]:
        """Names of the predictors of one kind, in declared order."""
        return [p.name for p in self.predictors if p.kind == kind]

    def label(self, name: str, lang: str = "en") -> str:
        """The label of a predictor in ``lang``.

        >>> load_spec().label("lives_alone", "zh")
        '独居'
        """
        for p in self.predictors:
            if p.name == name:
                return p.label[lang]
        raise KeyError(f"{name!r} is not a predictor of {self.id}@{self.version}; choose among {self.names}")

    @property
    def model_id(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    def band(self, risk: Any) -> pd.Series:
        """The band of each risk: ``low`` below ``medium_from``, ``high`` from ``high_from``,
        ``medium`` between; blank where the risk is blank."""
        r = pd.Series(risk, dtype="Float64")
        values = np.where(r.isna(), None, np.where(r.fillna(0) >= self.high_from, "high",
                                                   np.where(r.fillna(0) >= self.medium_from, "medium", "low")))
        return pd.Series(values, index=r.index, dtype="string")

    def predictors_table(self, lang: str = "en") -> pd.DataFrame:
        """One row per predictor: ``name, kind, source, label`` (in ``lang``), ``details``.

        >>> load_spec().predictors_table().iloc[0].tolist()
        ['phq9_total', 'numeric', 'screening_score', 'PHQ-9 total at screening', 'instrument=phq9']
        """
        return pd.DataFrame({"name": [p.name for p in self.predictors], "kind": [p.kind for p in self.predictors],
                             "source": [p.source for p in self.predictors],
                             "label": [p.label[lang] for p in self.predictors],
                             "details": [", ".join(f"{k}={v}" for k, v in p.options.items()) for p in self.predictors]})


def _text(raw: Mapping, where: str, problems: list[str]) -> dict[str, str]:
    out = {}
    for lang in LANGUAGES:
        value = raw.get(lang) if isinstance(raw, Mapping) else None
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{lang}: must be a non-empty {lang} text, got {value!r}")
            value = ""
        out[lang] = value
    return out


def _thresholds(definition: Any, window: Any, problems: list[str]) -> dict[str, Any]:
    """The outcome's numbers, read from workbench.outcomes' thresholds (never copied here)."""
    from workbench.outcomes import thresholds

    t = thresholds()
    out: dict[str, Any] = {"thresholds_version": t.version, "from_week": 0, "to_week": 0, "phq9_below": np.nan,
                           "min_fall": np.nan}
    if definition != "not_improving":
        problems.append(f"outcome.definition: must be 'not_improving' (a section of "
                        f"workbench/outcomes/thresholds.yaml the dataset can compute), got {definition!r}")
    else:
        out.update(phq9_below=t.not_improving_phq9_below, min_fall=t.not_improving_min_fall)
    if window != "psychiatric_review":
        problems.append(f"outcome.window: must be 'psychiatric_review' (weeks from_week..to_week of "
                        f"workbench/outcomes/thresholds.yaml), got {window!r}")
    else:
        out.update(from_week=t.review_from_week, to_week=t.review_to_week)
        if definition == "not_improving" and t.review_from_week < t.not_improving_from_week:
            problems.append(f"outcome.window: starts at week {t.review_from_week}, before not_improving.from_week "
                            f"{t.not_improving_from_week}")
    return out


def _predictor(raw: Any, i: int, problems: list[str]) -> Predictor | None:
    where = f"predictors[{i}]"
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping with name, kind, from, en, zh, got {raw!r}")
        return None
    name, kind, source = raw.get("name"), raw.get("kind"), raw.get("from")
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(f"{where}.name: must be a snake_case identifier, got {name!r}")
    else:
        where = f"predictors[{i}] ({name})"
    if kind not in KINDS:
        problems.append(f"{where}.kind: must be one of {list(KINDS)}, got {kind!r}")
    if source not in SOURCES:
        problems.append(f"{where}.from: must be one of {list(SOURCES)}, got {source!r}")
    label = _text(raw, where, problems)
    options = {k: v for k, v in raw.items() if k not in ("name", "kind", "from", "en", "zh")}
    for key in SOURCES.get(source, ()):
        if key not in options:
            problems.append(f"{where}.{key}: is required for a predictor read from {source!r}")
    if "days" in options and (isinstance(options["days"], bool) or not isinstance(options["days"], int)
                              or options["days"] < 1):
        problems.append(f"{where}.days: must be a whole number of days >= 1, got {options['days']!r}")
    if source == "history":
        if options.get("table") not in _HISTORY_TABLES:
            problems.append(f"{where}.table: must be one of {list(_HISTORY_TABLES)}, got {options.get('table')!r}")
        kinds = options.get("kinds")
        if options.get("table") == "events" and (not isinstance(kinds, list) or not kinds):
            problems.append(f"{where}.kinds: events need a non-empty list of event kinds, got {kinds!r}")
    if source == "wearable" and ("column" in options) == ("indicator" in options):
        problems.append(f"{where}: a wearable predictor needs either column (a wearable_days feature) or "
                        f"indicator: no_data, got {sorted(options)}")
    if source == "wearable" and "indicator" in options and options["indicator"] != "no_data":
        problems.append(f"{where}.indicator: must be 'no_data', got {options['indicator']!r}")
    if source == "screening_score":
        from workbench.instruments import instrument_ids

        if options.get("instrument") not in instrument_ids():
            problems.append(f"{where}.instrument: must be one of {list(instrument_ids())}, got {options.get('instrument')!r}")
        if options.get("instrument") == "phq9" and options.get("column", "score") != "score":
            problems.append(f"{where}: only the PHQ-9 total may be a predictor (item answers are excluded)")
    if kind == "category" and source not in ("community", "resident"):
        problems.append(f"{where}.kind: a category must be read from a resident or community column")
    if not isinstance(name, str) or kind not in KINDS or source not in SOURCES:
        return None
    return Predictor(name=name, kind=kind, source=source, label=label, options=options)


def _min_observed(raw: Any, problems: list[str]) -> dict[str, Any]:
    """The ``min_observed`` section: ``rows``, ``events`` (whole numbers >= 1), its text and source."""
    if not isinstance(raw, Mapping):
        problems.append("min_observed: must be a mapping with rows, events, en, zh and source (en, zh): the rule "
                        f"that leaves a predictor recorded for too few referrals out of a fit, got {raw!r}")
        raw = {}
    out: dict[str, Any] = {}
    for key in ("rows", "events"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"min_observed.{key}: must be a whole number >= 1, got {value!r}")
            value = 0
        out[key] = value
    out["text"] = _text(raw, "min_observed", problems)
    out["source"] = _text(raw.get("source"), "min_observed.source", problems)
    unknown = sorted(set(raw) - {"rows", "events", "en", "zh", "source"})
    if unknown:
        problems.append(f"min_observed: unknown key(s) {unknown}")
    return out


def _fraction(raw: Mapping, key: str, problems: list[str]) -> float:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        problems.append(f"bands.{key}: must be a risk strictly between 0 and 1, got {value!r}")
        return np.nan
    return float(value)


def load_spec(name_or_path: str | Path = "not_improving") -> ModelSpec:
    """Read and check a model spec: a shipped id (``workbench/risk/<id>.yaml``) or a file path.

    Parameters
    ----------
    name_or_path : str or Path
        ``"not_improving"`` (the shipped spec) or a path to a YAML file of the same shape.

    Returns
    -------
    ModelSpec

    Raises
    ------
    SpecError
        Listing every problem, each naming its key (``bands.high_from``, ``predictors[3] (age).kind`` ...).

    Examples
    --------
    >>> s = load_spec()
    >>> s.tiers, s.medium_from < s.high_from, "phq9_item_9" in s.names
    ((2, 3), True, False)
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.yaml"
    >>> _ = bad.write_text("id: x\\nversion: 1\\n")
    >>> load_spec(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    workbench.risk.spec.SpecError: bad.yaml: ... problem(s) in the model spec:
    - version: must be a non-empty string such as "1.0", got 1
    ...
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = _DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in _DIR.glob("*.yaml"))
        raise SpecError(f"No model spec {str(name_or_path)!r}: give a file path or one of {shipped}.")
    raw = read_yaml(path, SpecError)
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path.name}: must be a mapping of sections, got {type(raw).__name__}")
    p: list[str] = []
    spec_id, version = raw.get("id"), raw.get("version")
    if not isinstance(spec_id, str) or not spec_id.isidentifier():
        p.append(f"id: must be a snake_case identifier, got {spec_id!r}")
    if not isinstance(version, str) or not version.strip():
        p.append(f"version: must be a non-empty string such as \"1.0\", got {version!r}")
    name = _text(raw.get("name"), "name", p)

    o = raw.get("outcome") if isinstance(raw.get("outcome"), Mapping) else {}
    if not o:
        p.append("outcome: must be a mapping (id, instrument, definition, window, source, en, zh)")
    if not isinstance(o.get("id"), str) or not str(o.get("id")).strip():
        p.append(f"outcome.id: must be a non-empty string, got {o.get('id')!r}")
    if o.get("instrument") != "phq9":
        p.append(f"outcome.instrument: must be 'phq9' (the MHIP definition reads PHQ-9), got {o.get('instrument')!r}")
    if o.get("last_in_window") is not True:
        p.append(f"outcome.last_in_window: must be true (the last PHQ-9 of the window), got {o.get('last_in_window')!r}")
    source = _text(o.get("source"), "outcome.source", p)  # the citation, in en and zh
    numbers = _thresholds(o.get("definition"), o.get("window"), p)
    outcome = Outcome(id=str(o.get("id")), instrument=str(o.get("instrument")), definition=str(o.get("definition")),
                      window=str(o.get("window")), source=source["en"], text=_text(o, "outcome", p),
                      source_text=source, **numbers)

    pop = raw.get("population") if isinstance(raw.get("population"), Mapping) else {}
    if pop.get("referred_at") != "screening":
        p.append(f"population.referred_at: must be 'screening', got {pop.get('referred_at')!r}")
    tiers = pop.get("tiers")
    if (not isinstance(tiers, list) or not tiers
            or any(isinstance(t, bool) or t not in (1, 2, 3) for t in tiers) or len(set(tiers)) != len(tiers)):
        p.append(f"population.tiers: must be a list of distinct tiers among 1, 2, 3, got {tiers!r}")
        tiers = []
    population = _text(pop, "population", p)

    raw_pred = raw.get("predictors")
    if not isinstance(raw_pred, list) or not raw_pred:
        p.append("predictors: must be a non-empty list")
        raw_pred = []
    predictors = [q for i, r in enumerate(raw_pred) if (q := _predictor(r, i, p)) is not None]
    seen: set[str] = set()
    for q in predictors:
        if q.name in seen:
            p.append(f"predictors: {q.name!r} is declared twice")
        seen.add(q.name)
        if "item" in q.name or "self_harm" in q.name:
            p.append(f"predictors ({q.name}): item answers and the self-harm flag are never predictors")

    excluded = []
    if not isinstance(raw.get("excluded", []), list):
        p.append(f"excluded: must be a list of {{what: {{en, zh}}, why: {{en, zh}}}}, got {raw.get('excluded')!r}")
    for i, e in enumerate(raw.get("excluded", []) if isinstance(raw.get("excluded", []), list) else []):
        if not isinstance(e, Mapping) or set(e) != {"what", "why"}:
            p.append(f"excluded[{i}]: must be a mapping with exactly what and why (each with en and zh), got {e!r}")
            continue
        excluded.append({k: _text(e[k], f"excluded[{i}].{k}", p) for k in ("what", "why")})

    bands = raw.get("bands") if isinstance(raw.get("bands"), Mapping) else {}
    if not bands:
        p.append("bands: must be a mapping with medium_from, high_from and how_to_choose")
    medium, high = _fraction(bands, "medium_from", p), _fraction(bands, "high_from", p)
    if medium == medium and high == high and not medium < high:
        p.append(f"bands.high_from: {high} must be above medium_from {medium}")
    how = _text(bands.get("how_to_choose"), "bands.how_to_choose", p)
    min_observed = _min_observed(raw.get("min_observed"), p)
    never = _text(raw.get("never"), "never", p)
    if never["en"] and "not a suicide-risk score" not in never["en"]:
        p.append("never.en: must say plainly that this is not a suicide-risk score")
    unknown = sorted(set(raw) - {"id", "version", "name", "outcome", "population", "predictors", "excluded",
                                 "bands", "never", "min_observed"})
    if unknown:
        p.append(f"{', '.join(unknown)}: unknown section(s)")
    if p:
        raise SpecError(f"{path.name}: {len(p)} problem(s) in the model spec:\n" + "\n".join(f"- {x}" for x in p))
    return ModelSpec(id=spec_id, version=version, name=name, outcome=outcome, tiers=tuple(int(t) for t in tiers),
                     population=population, predictors=tuple(predictors), excluded=tuple(excluded),
                     medium_from=medium, high_from=high, how_to_choose=how, never=never, path=path,
                     min_observed=min_observed)


def _as_spec(spec: "str | Path | ModelSpec") -> ModelSpec:
    """A spec given by id, path or object."""
    return spec if isinstance(spec, ModelSpec) else load_spec(spec)


def check_names(spec: ModelSpec, names: Sequence[str]) -> None:
    """Raise :class:`SpecError` unless ``names`` are exactly the spec's predictors, in order."""
    if list(names) != spec.names:
        raise SpecError(f"The frame's predictors {list(names)} are not those of {spec.model_id} {spec.names}.")
