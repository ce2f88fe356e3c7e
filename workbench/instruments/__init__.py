"""Questionnaires as data.

Every questionnaire is one YAML declaration in this folder (schema: ``README.md`` beside this
file). A declaration is validated completely when it is loaded, so a broken file fails in the
tests, never on a resident's answers. A new questionnaire is a new file, never new code.

Examples
--------
>>> from workbench.instruments import get_instrument
>>> phq9 = get_instrument("phq9")
>>> phq9.n_items, phq9.score_min, phq9.score_max
(9, 0, 27)
>>> [band.id for band in phq9.bands]
['minimal', 'mild', 'moderate', 'moderately_severe', 'severe']
>>> phq9.item_columns[:3]
['phq9_1', 'phq9_2', 'phq9_3']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from workbench._declarations import LANGUAGES, load_yaml, read_yaml, refuse, texts
from workbench.params import Instance, Options, validate_params

#: The languages of labels and wordings.
LANG = Options(*LANGUAGES)

__all__ = [
    "Band",
    "CriticalItem",
    "Instrument",
    "InstrumentError",
    "Item",
    "LANGUAGES",
    "get_instrument",
    "instrument_ids",
    "load_instrument",
]


_FOLDER = Path(__file__).resolve().parent
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_INTERVAL = re.compile(r"^\s*([\[(])\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*([\])])\s*$")

_TOP_KEYS = {
    "id", "declaration_version", "name", "construct", "timeframe", "instructions", "response",
    "items", "items_from", "reverse_keyed", "supplementary_items", "score", "missing", "bands",
    "screen_positive", "critical_items", "derived", "citation", "licence", "credit", "coding",
}
_REQUIRED = {
    "id", "declaration_version", "name", "construct", "timeframe", "score", "missing", "bands",
    "citation", "licence", "credit",
}


class InstrumentError(ValueError):
    """A questionnaire declaration breaks a rule; the message lists every problem found."""


@dataclass(frozen=True)
class Item:
    """One question: its number, its text per language and who it applies to."""

    n: int
    text: Mapping[str, str]
    applies_to: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Band:
    """A severity band: an interval of total scores with an id and labels."""

    id: str
    lower: float
    upper: float
    lower_closed: bool
    upper_closed: bool
    label: Mapping[str, str]

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the band's interval."""
        above = value >= self.lower if self.lower_closed else value > self.lower
        below = value <= self.upper if self.upper_closed else value < self.upper
        return bool(above and below)

    @property
    def interval(self) -> str:
        """The interval as written in the declaration, e.g. ``[5, 10)``."""
        left = "[" if self.lower_closed else "("
        right = "]" if self.upper_closed else ")"
        return f"{left}{_num(self.lower)}, {_num(self.upper)}{right}"


@dataclass(frozen=True)
class CriticalItem:
    """Items whose answer raises a flag for a person to act on, whatever the total.

    The flag is True when any of ``items`` is answered at least ``at_least`` (or at most
    ``at_most``), False when all of them are answered and none is, and unknown otherwise.
    """

    items: tuple[int, ...]
    flag: str
    at_least: int | None
    at_most: int | None
    message: Mapping[str, str]
    source: str

    def hits(self, answer: float) -> bool:
        """Whether one answer to one of ``items`` raises the flag."""
        if self.at_least is not None:
            return answer >= self.at_least
        return answer <= self.at_most


@dataclass(frozen=True)
class Instrument:
    """A validated questionnaire declaration (build it with :func:`load_instrument`)."""

    id: str
    declaration_version: str
    name: Mapping[str, str]
    construct: str
    timeframe: str
    instructions: Mapping[str, str]
    response_min: int
    response_max: int
    response_labels: Mapping[int, Mapping[str, str]]
    items: tuple[Item, ...]
    reverse_keyed: tuple[int, ...]
    supplementary_items: tuple[Mapping[str, Any], ...]
    score_min: int
    score_max: int
    max_missing: int
    missing_source: str
    bands: tuple[Band, ...]
    bands_source: str
    screen_positive: int | None
    screen_positive_source: str | None
    critical_items: tuple[CriticalItem, ...]
    derived: Mapping[str, float]
    citation: str
    licence: str
    credit: str
    coding: str | None
    path: Path

    @property
    def n_items(self) -> int:
        """Number of scored items."""
        return len(self.items)

    @property
    def item_columns(self) -> list[str]:
        """Column names of the scored items, ``{id}_{n}``."""
        return [f"{self.id}_{item.n}" for item in self.items]

    @property
    def supplementary_columns(self) -> list[str]:
        """Column names of questions asked with the instrument but never part of the total."""
        return [f"{self.id}_{sup['n']}" for sup in self.supplementary_items]

    @property
    def band_ids(self) -> list[str]:
        """Band ids in score order."""
        return [band.id for band in self.bands]

    @validate_params({"lang": LANG}, name="Instrument.band_label")
    def band_label(self, band_id: str, lang: str = "en") -> str:
        """The label of a band in ``lang`` (``en`` or ``zh``)."""
        for band in self.bands:
            if band.id == band_id:
                return band.label[lang]
        raise KeyError(f"{self.id} has no band {band_id!r}; its bands are {self.band_ids}")

    @validate_params({"lang": LANG}, name="Instrument.item_text")
    def item_text(self, n: int, lang: str = "en") -> str:
        """The wording of item ``n`` in ``lang``."""
        for item in self.items:
            if item.n == n:
                return item.text[lang]
        raise KeyError(f"{self.id} has no item {n}; its items are 1..{self.n_items}")

    @validate_params({"lang": LANG}, name="Instrument.answer_label")
    def answer_label(self, value: int, lang: str = "en") -> str:
        """The wording of answer ``value`` in ``lang``."""
        return self.response_labels[int(value)][lang]

    def band_of(self, value: float) -> str | None:
        """The id of the band holding a total score, or None outside the score range."""
        for band in self.bands:
            if band.contains(value):
                return band.id
        return None

    def __repr__(self) -> str:
        return (f"Instrument({self.id!r}, items={self.n_items}, "
                f"answers={self.response_min}-{self.response_max}, "
                f"score={self.score_min}-{self.score_max}, bands={self.band_ids})")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def instrument_ids() -> list[str]:
    """Ids of every questionnaire shipped with the package, sorted.

    >>> "gad7" in instrument_ids() and "epds" not in instrument_ids()
    True
    """
    return sorted(p.stem for p in _FOLDER.glob("*.yaml"))


@validate_params({"instrument": Instance(str, Instrument, name="a questionnaire id (str) or an Instrument")})
def get_instrument(instrument: "str | Instrument") -> Instrument:
    """A shipped questionnaire by id (cached), or ``instrument`` itself if already loaded."""
    if isinstance(instrument, Instrument):
        return instrument
    return _load_shipped(instrument)


@functools.lru_cache(maxsize=None)
def _load_shipped(instrument_id: str) -> Instrument:
    path = _FOLDER / f"{instrument_id}.yaml"
    if not path.is_file():
        raise KeyError(f"No questionnaire {instrument_id!r} is declared; "
                       f"the declared ones are {instrument_ids()}")
    return load_instrument(path)


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate one declaration file; raise :class:`InstrumentError` listing every problem.

    Subset questionnaires (``items_from``) take their items, instructions and answers from the
    parent declaration, which is looked up beside ``path`` first, then among the shipped ones.
    """
    path = Path(path)
    raw = read_yaml(path, InstrumentError)
    problems: list[str] = []
    inst = _build(raw, path, problems)
    refuse(path, "declaration", problems, InstrumentError)
    return inst


# --- building and validating ---------------------------------------------------------------

_texts = texts


def _int(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where}: must be a whole number, got {value!r}")
        return None
    return value


def _text(value: Any, where: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: must be a non-empty text")
        return ""
    return value.strip()


def _parent_parts(spec: Any, path: Path, problems: list[str]) -> tuple[dict, list] | None:
    """Instructions/response and selected items of a parent declaration (for ``items_from``)."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("instrument"), str) \
            or not isinstance(spec.get("items"), list):
        problems.append("items_from: must be {instrument: <id>, items: [<item numbers>]}")
        return None
    parent_path = path.parent / f"{spec['instrument']}.yaml"
    if not parent_path.is_file():
        parent_path = _FOLDER / f"{spec['instrument']}.yaml"
    if not parent_path.is_file():
        problems.append(f"items_from.instrument: no declaration {spec['instrument']!r} to take items from")
        return None
    parent = load_yaml(parent_path.read_text(encoding="utf-8"))
    if "items" not in parent:
        problems.append(f"items_from.instrument: {spec['instrument']!r} itself takes its items from another")
        return None
    by_n = {item.get("n"): item for item in parent["items"]}
    chosen = []
    for k, n in enumerate(spec["items"], start=1):
        if n not in by_n:
            problems.append(f"items_from.items: {spec['instrument']} has no item {n!r}")
            continue
        chosen.append({**by_n[n], "n": k})
    return parent, chosen


def _build(raw: Any, path: Path, problems: list[str]) -> Instrument | None:
    if not isinstance(raw, Mapping):
        problems.append("the file must hold a mapping of keys")
        return None
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"{key}: unknown key (allowed: {sorted(_TOP_KEYS)})")
    for key in sorted(_REQUIRED - set(raw)):
        problems.append(f"{key}: required key is missing")
    if ("items" in raw) == ("items_from" in raw):
        problems.append("items: declare exactly one of 'items' or 'items_from'")
        return None
    if problems:
        return None

    inst_id = raw["id"]
    if not isinstance(inst_id, str) or not _IDENT.match(inst_id):
        problems.append(f"id: {inst_id!r} must be a lower-case identifier")
    elif inst_id != path.stem:
        problems.append(f"id: {inst_id!r} must match the file name {path.stem!r}")

    raw_items = raw.get("items")
    instructions_raw, response_raw = raw.get("instructions"), raw.get("response")
    if "items_from" in raw:
        parts = _parent_parts(raw["items_from"], path, problems)
        if parts is None:
            return None
        parent, raw_items = parts
        for key in ("instructions", "response"):
            if key in raw:
                problems.append(f"{key}: comes from items_from; do not declare it again")
        instructions_raw, response_raw = parent.get("instructions"), parent.get("response")

    # answers
    if not isinstance(response_raw, Mapping):
        problems.append("response: must give min, max and labels")
        return None
    rmin = _int(response_raw.get("min"), "response.min", problems)
    rmax = _int(response_raw.get("max"), "response.max", problems)
    labels: dict[int, dict[str, str]] = {}
    if rmin is not None and rmax is not None:
        if rmin >= rmax:
            problems.append(f"response: min {rmin} must be below max {rmax}")
        for i, lab in enumerate(response_raw.get("labels") or []):
            value = lab.get("value") if isinstance(lab, Mapping) else None
            if _int(value, f"response.labels[{i}].value", problems) is None:
                continue
            if not rmin <= value <= rmax:
                problems.append(f"response.labels[{i}].value: {value} is outside {rmin}..{rmax}")
            if value in labels:
                problems.append(f"response.labels[{i}].value: {value} is labelled twice")
            labels[value] = _texts(lab, f"response.labels[{i}]", problems)
        unlabelled = [v for v in range(rmin, rmax + 1) if v not in labels]
        if unlabelled:
            problems.append(f"response.labels: answers {unlabelled} have no label")

    # items
    items: list[Item] = []
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("items: must be a non-empty list")
        return None
    for i, it in enumerate(raw_items):
        if not isinstance(it, Mapping):
            problems.append(f"items[{i}]: must be a mapping with n, en and zh")
            continue
        n = _int(it.get("n"), f"items[{i}].n", problems)
        applies = it.get("applies_to") or {}
        if applies and (set(applies) != {"sex"} or applies["sex"] not in ("female", "male")):
            problems.append(f"items[{i}].applies_to: only {{sex: female}} or {{sex: male}} is supported")
        unknown = set(it) - {"n", "en", "zh", "applies_to"}
        if unknown:
            problems.append(f"items[{i}]: unknown keys {sorted(unknown)}")
        items.append(Item(n=n if n is not None else -1, text=_texts(it, f"items[{i}]", problems),
                          applies_to=dict(applies)))
    numbers = [item.n for item in items]
    if numbers != list(range(1, len(items) + 1)):
        problems.append(f"items: must be numbered 1..{len(items)} in order, got {numbers}")
    k = len(items)

    reverse = raw.get("reverse_keyed") or []
    if not isinstance(reverse, list) or any(n not in numbers for n in reverse) or len(set(reverse)) != len(reverse):
        problems.append(f"reverse_keyed: {reverse!r} must list distinct existing item numbers (1..{k})")
        reverse = []

    supplementary = []
    for i, sup in enumerate(raw.get("supplementary_items") or []):
        where = f"supplementary_items[{i}]"
        n = _int(sup.get("n") if isinstance(sup, Mapping) else None, f"{where}.n", problems)
        if n is not None and n <= k:
            problems.append(f"{where}.n: {n} clashes with a scored item (1..{k})")
        _texts(sup, where, problems)
        resp = sup.get("response") if isinstance(sup, Mapping) else None
        if not isinstance(resp, Mapping) or _int(resp.get("min"), f"{where}.response.min", problems) is None \
                or _int(resp.get("max"), f"{where}.response.max", problems) is None:
            problems.append(f"{where}.response: must give whole-number min and max")
            continue
        sup_labels = {}
        for j, label in enumerate(resp.get("labels") or []):
            value = _int(label.get("value") if isinstance(label, Mapping) else None,
                         f"{where}.response.labels[{j}].value", problems)
            if value is not None:
                sup_labels[value] = _texts(label, f"{where}.response.labels[{j}]", problems)
        if sup_labels and sorted(sup_labels) != list(range(resp["min"], resp["max"] + 1)):
            problems.append(f"{where}.response.labels: must label every answer {resp['min']}..{resp['max']} once")
        supplementary.append({"n": n, "min": resp["min"], "max": resp["max"], "text": {l: sup[l] for l in LANGUAGES},
                              "labels": sup_labels})

    # total score
    score = raw["score"] if isinstance(raw["score"], Mapping) else {}
    smin = _int(score.get("min"), "score.min", problems)
    smax = _int(score.get("max"), "score.max", problems)
    if None not in (smin, smax, rmin, rmax) and (smin, smax) != (k * rmin, k * rmax):
        problems.append(f"score: declared range {smin}-{smax} differs from {k} items x answers "
                        f"{rmin}-{rmax} = {k * rmin}-{k * rmax}")

    # missing items
    missing = raw["missing"] if isinstance(raw["missing"], Mapping) else {}
    max_missing = _int(missing.get("max_missing"), "missing.max_missing", problems)
    if max_missing is not None and not 0 <= max_missing < k:
        problems.append(f"missing.max_missing: {max_missing} must be from 0 to {k - 1}")
    missing_source = _text(missing.get("source"), "missing.source", problems)

    # bands
    bands_raw = raw["bands"] if isinstance(raw["bands"], Mapping) else {}
    bands_source = _text(bands_raw.get("source"), "bands.source", problems)
    bands: list[Band] = []
    for i, b in enumerate(bands_raw.get("intervals") or []):
        where = f"bands.intervals[{i}]"
        if not isinstance(b, Mapping):
            problems.append(f"{where}: must be a mapping with id, interval, en and zh")
            continue
        match = _INTERVAL.match(str(b.get("interval", "")))
        if not isinstance(b.get("id"), str) or not _IDENT.match(b["id"]):
            problems.append(f"{where}.id: {b.get('id')!r} must be a lower-case identifier")
        if not match:
            problems.append(f"{where}.interval: {b.get('interval')!r} must look like '[0, 5)' or '[20, 27]'")
            continue
        lo, hi = float(match.group(2)), float(match.group(3))
        band = Band(id=str(b.get("id")), lower=lo, upper=hi, lower_closed=match.group(1) == "[",
                    upper_closed=match.group(4) == "]", label=_texts(b, where, problems))
        if lo > hi or (lo == hi and not (band.lower_closed and band.upper_closed)):
            problems.append(f"{where}.interval: {band.interval} is empty")
        bands.append(band)
    if not bands:
        problems.append("bands.intervals: at least one band is needed")
    else:
        ids = [b.id for b in bands]
        if len(set(ids)) != len(ids):
            problems.append(f"bands.intervals: band ids must be distinct, got {ids}")
        for prev, nxt in zip(bands, bands[1:]):
            if prev.upper != nxt.lower or prev.upper_closed == nxt.lower_closed:
                problems.append(f"bands.intervals: {prev.id} {prev.interval} and {nxt.id} {nxt.interval} "
                                f"must meet with no gap or overlap")
        if smin is not None and (bands[0].lower != smin or not bands[0].lower_closed):
            problems.append(f"bands.intervals: the first band {bands[0].interval} must start at the "
                            f"score minimum, closed: [{smin}, ...")
        if smax is not None and (bands[-1].upper != smax or not bands[-1].upper_closed):
            problems.append(f"bands.intervals: the last band {bands[-1].interval} must end at the "
                            f"score maximum, closed: ..., {smax}]")

    # screen-positive threshold
    sp = raw.get("screen_positive")
    sp_threshold = sp_source = None
    if sp is not None:
        if not isinstance(sp, Mapping):
            problems.append("screen_positive: must be {threshold, source}")
        else:
            sp_threshold = _int(sp.get("threshold"), "screen_positive.threshold", problems)
            sp_source = _text(sp.get("source"), "screen_positive.source", problems)
            if None not in (sp_threshold, smin, smax) and not smin < sp_threshold <= smax:
                problems.append(f"screen_positive.threshold: {sp_threshold} must lie in ({smin}, {smax}]")

    # critical items
    critical: list[CriticalItem] = []
    for i, c in enumerate(raw.get("critical_items") or []):
        where = f"critical_items[{i}]"
        if not isinstance(c, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        if ("item" in c) == ("items" in c) or ("at_least" in c) == ("at_most" in c):
            problems.append(f"{where}: give exactly one of item/items and one of at_least/at_most")
            continue
        item_ns = [c["item"]] if "item" in c else c["items"]
        if not isinstance(item_ns, list) or not item_ns:
            problems.append(f"{where}.items: must be a non-empty list of item numbers")
            continue
        for item_n in item_ns:
            if _int(item_n, f"{where}.item", problems) is not None and item_n not in numbers:
                problems.append(f"{where}.item: {item_n} is not an item of {inst_id}")
            if item_n in reverse:
                problems.append(f"{where}.item: a critical item must not be reverse-keyed")
        bound_key = "at_least" if "at_least" in c else "at_most"
        bound = _int(c[bound_key], f"{where}.{bound_key}", problems)
        if bound is not None and rmin is not None and rmax is not None:
            if bound_key == "at_least" and not rmin < bound <= rmax:
                problems.append(f"{where}.at_least: {bound} must lie in ({rmin}, {rmax}]")
            if bound_key == "at_most" and not rmin <= bound < rmax:
                problems.append(f"{where}.at_most: {bound} must lie in [{rmin}, {rmax})")
        flag = c.get("flag")
        if not isinstance(flag, str) or not _IDENT.match(flag) or flag in _RESERVED:
            problems.append(f"{where}.flag: {flag!r} must be an identifier other than {sorted(_RESERVED)}")
        unknown = set(c) - {"item", "items", "at_least", "at_most", "flag", "en", "zh", "source"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        critical.append(CriticalItem(items=tuple(item_ns), flag=str(flag),
                                     at_least=bound if bound_key == "at_least" else None,
                                     at_most=bound if bound_key == "at_most" else None,
                                     message=_texts(c, where, problems),
                                     source=_text(c.get("source"), f"{where}.source", problems)))
    flags = [c.flag for c in critical]
    if len(set(flags)) != len(flags):
        problems.append(f"critical_items: flags must be distinct, got {flags}")

    derived: dict[str, float] = {}
    for i, d in enumerate(raw.get("derived") or []):
        name, mult = (d.get("name"), d.get("multiplier")) if isinstance(d, Mapping) else (None, None)
        if not isinstance(name, str) or not _IDENT.match(name) or name in _RESERVED or name in flags:
            problems.append(f"derived[{i}].name: {name!r} must be a new identifier")
        elif isinstance(mult, bool) or not isinstance(mult, (int, float)):
            problems.append(f"derived[{i}].multiplier: must be a number, got {mult!r}")
        else:
            derived[name] = float(mult)

    name = _texts(raw["name"], "name", problems)
    construct = _text(raw["construct"], "construct", problems)
    timeframe = _text(raw["timeframe"], "timeframe", problems)
    instructions = _texts(instructions_raw, "instructions", problems)
    citation = _text(raw["citation"], "citation", problems)
    licence = _text(raw["licence"], "licence", problems)
    credit = _text(raw["credit"], "credit", problems)
    if problems:
        return None
    return Instrument(
        id=inst_id, declaration_version=str(raw["declaration_version"]),
        name=name, construct=construct, timeframe=timeframe, instructions=instructions,
        response_min=rmin, response_max=rmax, response_labels=labels, items=tuple(items),
        reverse_keyed=tuple(sorted(reverse)), supplementary_items=tuple(supplementary),
        score_min=smin, score_max=smax, max_missing=max_missing, missing_source=missing_source,
        bands=tuple(bands), bands_source=bands_source, screen_positive=sp_threshold,
        screen_positive_source=sp_source, critical_items=tuple(critical), derived=derived,
        citation=citation, licence=licence, credit=credit, coding=raw.get("coding"), path=path,
    )


#: Output columns of the scoring engine; flags and derived scores may not take these names.
_RESERVED = {"score", "band", "n_answered", "prorated"}
