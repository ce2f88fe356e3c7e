"""What a community map's colours and numbers mean: the measures declared once, their classes,
colours, value words and legend, shared by the report map and the app's map.

``workbench/data/geo_measures.yaml`` declares each map measure (the columns of
:func:`workbench.geo.layers.map_frame`): its name and unit in Chinese and English, how a value is
written, its classing rule, its colours and the words of a blank. The static map
(:func:`workbench.geo_plots.community_map`) and the interactive widget
(:class:`workbench.ui.community_map.CommunityMap`) both colour and write a measure through
:func:`map_legend` and :func:`value_text`, so a manager who sees the report and the app sees the
same classes, colours, units and words.

Classes (:func:`class_breaks`): "nice" equal steps of 1, 2, 2.5 or 5 times a power of ten, about
``k`` of them, over the values shown (a value on a boundary belongs to the class above), or one
class per rank. A blank (NaN, None, NA: a count too small to show, no homes, not a blind spot) is
never a class and never written as 0: it is hatched, or drawn in the measure's ``blank_colour``
when the blank is a known "no", and written as the measure's blank words.

Examples
--------
>>> legend = map_legend([8.3, 15.2, float("nan")], measure="screen_positive", lang="en")
>>> legend.heading
'Screen-positive rate (%, empirical-Bayes smoothed)'
>>> legend.items[0], legend.items[-1]
(('#ffffb2', '8.0 to 10.0%'), ('hatch', 'Too few residents: not shown'))
>>> legend.fills[2] is None, value_text(15.2, "screen_positive", "zh")
(True, '15.2%')
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.params import Interval, Options, Predicate, validate_params

__all__ = ["HATCH", "MEASURES_FILE", "MapLegend", "class_breaks", "class_colours", "declaration", "is_blank",
           "legend_word", "map_legend", "map_measures", "measure_heading", "measure_label", "value_text"]

#: The declaration of the map measures.
MEASURES_FILE = Path(__file__).resolve().parents[1] / "data" / "geo_measures.yaml"
#: The colour of a blank drawn hatched (in :attr:`MapLegend.fills` it is None).
HATCH = "hatch"
_LANG = Options("zh", "en")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_SYMBOLS = ("circle", "square", "cross")
_FORMATS = ("percent", "km", "rank", "count")


def _texts_problems(where: str, entry, problems: list[str]) -> None:
    if not isinstance(entry, dict) or any(not str(entry.get(lang, "")).strip() for lang in ("zh", "en")):
        problems.append(f"{where}: needs a text in zh and en")


@functools.lru_cache(maxsize=None)
def declaration() -> dict:
    """``geo_measures.yaml``, checked when read: every problem of the file at once.

    Examples
    --------
    >>> sorted(declaration())
    ['details', 'formats', 'kinds', 'measures', 'words']
    """
    from workbench._declarations import load_yaml

    data = load_yaml(MEASURES_FILE.read_text(encoding="utf-8"))
    problems: list[str] = []
    for group in ("measures", "details", "kinds", "formats", "words"):
        if not isinstance(data.get(group), dict) or not data[group]:
            problems.append(f"{group}: is missing")
    if problems:
        raise ValueError(f"{MEASURES_FILE.name}: " + "; ".join(problems))
    for key, entry in data["formats"].items():
        if set(entry) != {"zh", "en"}:  # e.g. an unquoted ", " in a {...}
            problems.append(f"formats.{key}: must have exactly zh and en; got {sorted(entry)}")
    for key in (*_FORMATS, "range", "heading", "one_class"):
        if key not in data["formats"]:
            problems.append(f"formats.{key}: is missing")
    for group in ("measures", "details"):
        for key, entry in data[group].items():
            _texts_problems(f"{group}.{key}", entry, problems)
            _texts_problems(f"{group}.{key}.blank", entry.get("blank"), problems)
            if "blank_short" in entry:
                _texts_problems(f"{group}.{key}.blank_short", entry["blank_short"], problems)
            if entry.get("format") not in _FORMATS:
                problems.append(f"{group}.{key}.format: {entry.get('format')!r} is not one of {list(_FORMATS)}")
            if not isinstance(entry.get("decimals"), int) or not 0 <= entry["decimals"] <= 3:
                problems.append(f"{group}.{key}.decimals: {entry.get('decimals')!r} is not a whole number 0-3")
    for key, entry in data["measures"].items():
        _texts_problems(f"measures.{key}.unit", entry.get("unit"), problems)
        if entry.get("classes") not in ("nice", "rank"):
            problems.append(f"measures.{key}.classes: {entry.get('classes')!r} is not nice or rank")
        if not Interval(int, 1, 6).accepts(entry.get("k")):
            problems.append(f"measures.{key}.k: {entry.get('k')!r} is not a whole number 1-6")
        palette = entry.get("palette") or []
        if len(palette) < 5 or not all(_COLOUR.fullmatch(str(c)) for c in palette):
            problems.append(f"measures.{key}.palette: needs at least 5 colours written #rrggbb")
        if "blank_colour" in entry and (not _COLOUR.fullmatch(str(entry["blank_colour"]))
                                        or entry["blank_colour"] in palette):
            problems.append(f"measures.{key}.blank_colour: {entry['blank_colour']!r} is not a #rrggbb colour "
                            "outside the palette")
    for key, entry in data["kinds"].items():
        _texts_problems(f"kinds.{key}", entry, problems)
        if entry.get("symbol") not in _SYMBOLS or not _COLOUR.fullmatch(str(entry.get("colour"))):
            problems.append(f"kinds.{key}: needs a symbol in {list(_SYMBOLS)} and a #rrggbb colour")
    for key, entry in data["words"].items():
        _texts_problems(f"words.{key}", entry, problems)
    if problems:
        raise ValueError(f"{MEASURES_FILE.name}: " + "; ".join(problems))
    return data


def map_measures() -> list[str]:
    """The declared map measures, in the order a chooser offers them.

    >>> map_measures()
    ['screen_positive', 'tier_2_3', 'median_distance_m', 'blind_spot_rank']
    """
    return list(declaration()["measures"])


def _columns() -> dict:
    d = declaration()
    return {**d["details"], **d["measures"]}


_MEASURE = Predicate(lambda m: m in declaration()["measures"], lambda: f"one of the map measures {map_measures()}")
_COLUMN = Predicate(lambda m: m in _columns(), lambda: f"a measure or details column of {MEASURES_FILE.name}")


@validate_params({"measure": _COLUMN, "lang": _LANG})
def measure_label(measure: str, lang: str) -> str:
    """The name of ``measure`` (a map measure or a details column).

    >>> measure_label("tier_2_3", "zh"), measure_label("n_screened", "en")
    ('2-3级（需要干预）比例', 'Residents screened')
    """
    return _columns()[measure][lang]


@validate_params({"measure": _MEASURE, "lang": _LANG})
def measure_heading(measure: str, lang: str) -> str:
    """The legend heading of ``measure``: its name and unit.

    >>> measure_heading("median_distance_m", "zh")
    '到最近服务点的距离中位数（公里，直线距离）'
    """
    spec = declaration()["measures"][measure]
    return declaration()["formats"]["heading"][lang].format(label=spec[lang], unit=spec["unit"][lang])


@validate_params({"lang": _LANG})
def legend_word(key: str, lang: str) -> str:
    """A word every map's legend uses (``words`` of ``geo_measures.yaml``) or a service-point kind.

    >>> legend_word("services", "zh"), legend_word("hospital", "en")
    ('服务点', 'Hospital')
    """
    d = declaration()
    return (d["words"].get(key) or d["kinds"][key])[lang]


def is_blank(value) -> bool:
    """True for a value the map leaves blank: None, NaN, NA, NaT (never read as 0).

    >>> is_blank(float("nan")), is_blank(None), is_blank(0.0)
    (True, True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _shown(value: float, measure: str) -> float:
    """The value in the unit shown (metres are shown as km)."""
    return value / 1000 if _columns()[measure]["format"] == "km" else value


@validate_params({"measure": _COLUMN, "lang": _LANG, "short": Options(True, False)})
def value_text(value, measure: str, lang: str, *, short: bool = False) -> str:
    """``value`` of ``measure`` (a map measure or a details column) as every map writes it; a blank
    (NaN, None, NA) is the measure's blank words, never 0 (``short``: its short blank words, for
    a small area of the report map, when it declares them).

    Examples
    --------
    >>> value_text(12.345, "screen_positive", "en"), value_text(float("nan"), "screen_positive", "en")
    ('12.3%', 'Too few residents: not shown')
    >>> value_text(2350.0, "median_distance_m", "zh"), value_text(2, "blind_spot_rank", "zh")
    ('2.4 公里', '第 2 位')
    >>> value_text(0.0, "tier_2_3", "en"), value_text(None, "tier_2_3", "en", short=True)  # a real 0 stays 0
    ('0.0%', 'not shown')
    """
    spec = _columns()[measure]
    if is_blank(value):
        return spec.get("blank_short" if short else "blank", spec["blank"])[lang]
    number = _number(_shown(float(value), measure), int(spec["decimals"]))
    return declaration()["formats"][spec["format"]][lang].format(value=number)


@validate_params({"rule": Options("nice", "rank"), "k": Interval(int, 1, 6)})
def class_breaks(values, *, rule: str = "nice", k: int = 4) -> list[tuple[float, float]]:
    """The classes ``(low, high)`` of a map's colours for ``values`` (blanks ignored).

    ``rule="nice"``: about ``k`` classes of equal width, the width 1, 2, 2.5 or 5 times a power of
    ten (the smallest of these at least a ``k``-th of the range), the first class starting at a
    multiple of the width at or below the smallest value; a value on a boundary belongs to the
    class above, the highest value to the last class. All values equal: one class ``(v, v)``.
    ``rule="rank"``: one class ``(v, v)`` per distinct value, up to 7 (more are grouped as for
    "nice"). No values: no classes.

    Examples
    --------
    >>> class_breaks([8.3, 11.0, 15.2, float("nan")])
    [(8.0, 10.0), (10.0, 12.0), (12.0, 14.0), (14.0, 16.0)]
    >>> class_breaks([5.0, 5.0])
    [(5.0, 5.0)]
    >>> class_breaks([3, 1, 2], rule="rank")
    [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]
    >>> class_breaks([float("nan")])
    []
    """
    v = np.asarray([float(x) for x in values if not is_blank(x)], dtype=float)
    if v.size == 0:
        return []
    distinct = np.unique(v)
    if rule == "rank" and distinct.size <= 7:
        return [(float(x), float(x)) for x in distinct]
    low, high = float(v.min()), float(v.max())
    if high == low:
        return [(low, high)]
    raw = (high - low) / k
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-12))
    start = math.floor(low / step + 1e-9) * step
    n = max(1, math.ceil((high - start) / step - 1e-9))
    return [(float(round(start + i * step, 10)), float(round(start + (i + 1) * step, 10))) for i in range(n)]


def _class_of(value: float, classes: list[tuple[float, float]]) -> int:
    found = 0
    for i, (low, _) in enumerate(classes):
        if value >= low - 1e-9:
            found = i
    return found


@validate_params({"measure": _MEASURE, "n": Interval(int, 0, None)})
def class_colours(measure: str, n: int) -> list[str]:
    """The colours of ``n`` classes of ``measure``, lowest class first: spread over the palette
    (one class: its middle-dark colour); a reversed palette gives the darkest to the lowest value.

    >>> class_colours("tier_2_3", 3), class_colours("blind_spot_rank", 2)
    (['#f2f0f7', '#9e9ac8', '#4a1486'], ['#a63603', '#fdae6b'])
    """
    spec = declaration()["measures"][measure]
    colours = list(spec["palette"])
    if n == 0:
        return []
    picked = [colours[3]] if n == 1 else [colours[round(i * (len(colours) - 1) / (n - 1))] for i in range(n)]
    return picked[::-1] if spec.get("reverse") else picked


def _decimals_for(classes, measure: str) -> int:
    """Enough decimals to tell the class boundaries apart (at least the measure's own)."""
    decimals = int(declaration()["measures"][measure]["decimals"])
    for low, high in classes:
        if low == high:  # one value (a rank, or every community alike): written as values are
            continue
        for x in (low, high):
            shown = _shown(x, measure)
            while decimals < 3 and abs(round(shown, decimals) - shown) > 1e-9:
                decimals += 1
    return decimals


@dataclass(frozen=True)
class MapLegend:
    """How one measure is drawn: see :func:`map_legend`.

    Attributes
    ----------
    measure : str
    heading : str
        The legend heading (:func:`measure_heading`).
    classes : list of (float, float)
        :func:`class_breaks` of the values by the measure's declared rule.
    fills : list of str or None
        Per value, in order: its class colour, the measure's ``blank_colour`` for a blank that is
        a known "no", or None for a blank drawn hatched.
    items : list of (str, str)
        The legend's lines ``(colour, words)``: one per class, then the blank's line when a value
        is blank (colour :data:`HATCH` when hatched).
    texts : list of str
        Per value, in order: :func:`value_text`.
    """

    measure: str
    heading: str
    classes: list
    fills: list
    items: list
    texts: list

    @property
    def blank(self) -> str:
        """The words of the hatched swatch ('' when no value is drawn hatched)."""
        return next((words for colour, words in self.items if colour == HATCH), "")


@validate_params({"measure": _MEASURE, "lang": _LANG})
def map_legend(values, *, measure: str, lang: str) -> MapLegend:
    """The classes, the colour of each value and the legend of ``measure`` for ``values`` (one per
    community), in ``lang``: what both maps draw.

    A class's words are its range in the measure's unit with enough decimals to tell the bounds
    apart ("8.0 to 10.0%"); a rank is written as a rank ("No. 1"); when every community has the
    same value (e.g. smoothing found no difference beyond chance) the one class says so.

    Examples
    --------
    >>> map_legend([1.0, float("nan"), 2.0], measure="blind_spot_rank", lang="zh").items
    [('#a63603', '第 1 位'), ('#fdae6b', '第 2 位'), ('#e8e8e8', '不是盲点')]
    >>> map_legend([27.2, 27.2], measure="tier_2_3", lang="en").items
    [('#9e9ac8', 'All communities: 27.2%')]
    """
    d = declaration()
    spec, formats = d["measures"][measure], d["formats"]
    values = [None if is_blank(v) else float(v) for v in values]
    classes = class_breaks(values, rule=spec["classes"], k=spec["k"])
    colours, decimals = class_colours(measure, len(classes)), _decimals_for(classes, measure)
    unit = formats[spec["format"]][lang]
    items = []
    for colour, (low, high) in zip(colours, classes):
        if low != high:
            text = unit.format(value=formats["range"][lang].format(low=_number(_shown(low, measure), decimals),
                                                                   high=_number(_shown(high, measure), decimals)))
        else:
            text = unit.format(value=_number(_shown(low, measure), decimals))
            if spec["classes"] == "nice":
                text = formats["one_class"][lang].format(value=text)
        items.append((colour, text))
    blank_colour = spec.get("blank_colour")
    fills = [blank_colour if v is None else colours[_class_of(v, classes)] for v in values]
    if any(v is None for v in values):
        items.append((blank_colour or HATCH, spec["blank"][lang]))
    return MapLegend(measure=measure, heading=measure_heading(measure, lang), classes=classes, fills=fills,
                     items=items, texts=[value_text(v, measure, lang) for v in values])
