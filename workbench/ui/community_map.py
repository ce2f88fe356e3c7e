"""The interactive community map: where need is high and services are far, drawn offline.

:class:`CommunityMap` is an anywidget whose script and styles are inline strings: nothing is
fetched from the internet (no tile server, no CDN), so it works the same in JupyterLab, in a
Voila app and on a machine without a network. It draws the communities of a map frame
(:func:`workbench.geo.layers.map_frame`: one row per community with ``community``, ``label``,
``geometry`` in a projected CRS and one column per map measure) as SVG paths, coloured by classes
of the measure chosen, with a legend (the unit, the classes, and a hatched swatch for a blank:
a suppressed small count is never drawn as 0), service points as markers by kind, a hover title
per community (its name and value), and a details panel with every measure of the community
clicked (``selected``). The areas can be reached with Tab and chosen with Enter (Escape clears);
buttons zoom in and out (a drag then moves the map); a community's name is written on the map
where it fits, and is always in its hover title.

The coordinates are projected in Python: the frame's CRS coordinates (metres) are scaled into
the SVG view box with y flipped (north up), so the browser only draws. The words (zh/en) and the
measures' units, number formats and colours are declared once in
``workbench/i18n/community_map.yaml``. A basemap is possible only from a local image the site
supplies (:func:`read_basemap`: a PNG and its bounds in the map CRS, embedded as a data URI),
never from a tile URL.

Classes: "nice" equal steps (1, 2, 2.5 or 5 times a power of ten, about four classes) over the
values shown, or one class per rank for the blind-spot rank (:func:`class_breaks`).
"""

from __future__ import annotations

import base64
import functools
import json
import math
from pathlib import Path
from typing import Mapping

import anywidget
import numpy as np
import pandas as pd
import traitlets

from workbench._errors import RowProblemsError
from workbench.instruments import LANG
from workbench.params import Interval, Optional, Predicate, check, validate_params

__all__ = ["CommunityMap", "MapDataError", "class_breaks", "map_measures", "map_word", "read_basemap", "value_text"]

TEXTS = Path(__file__).resolve().parents[1] / "i18n" / "community_map.yaml"
#: Width of the SVG view box (its height follows the map's shape, at most :data:`MAX_HEIGHT`).
WIDTH, MAX_HEIGHT, PAD = 600.0, 640.0, 12.0


class MapDataError(RowProblemsError):
    """A map frame or service points that cannot be drawn (each problem names row, column, value, rule)."""

    table = "frame"


@functools.lru_cache(maxsize=None)
def _declared() -> dict:
    """``community_map.yaml``, checked: every text, kind and measure in zh and en."""
    from workbench._declarations import load_yaml

    data = load_yaml(TEXTS.read_text(encoding="utf-8"))
    for group in ("texts", "kinds", "measures", "details", "formats"):
        for key, entry in data[group].items():
            if group in ("texts", "formats") and set(entry) != {"zh", "en"}:  # e.g. an unquoted ", " in a {...}
                raise ValueError(f"community_map.yaml: {group}.{key} must have exactly zh and en; got {sorted(entry)}")
            missing = [lang for lang in ("zh", "en") if not str(entry.get(lang, "")).strip()]
            if missing:
                raise ValueError(f"community_map.yaml: {group}.{key} has no text in {missing}")
    for key, entry in data["measures"].items():
        if entry["format"] not in data["formats"] or entry["classes"] not in ("nice", "rank") \
                or len(entry["palette"]) < 5:
            raise ValueError(f"community_map.yaml: measures.{key} needs a known format, classes nice or rank "
                             "and a palette of at least 5 colours")
    for key, entry in data["details"].items():
        if entry["format"] not in data["formats"]:
            raise ValueError(f"community_map.yaml: details.{key} needs a known format")
    return data


def _spec(column: str) -> dict:
    declared = _declared()
    return declared["measures"].get(column) or declared["details"][column]


def map_word(key: str, lang: str) -> str:
    """A word of the map in ``lang``.

    >>> map_word("map_title", "zh"), map_word("map_title", "en")
    ('社区地图', 'Community map')
    """
    return _declared()["texts"][key][lang]


def map_measures() -> list[str]:
    """The declared map measures, in the chooser's order.

    >>> map_measures()
    ['screen_positive', 'tier_2_3', 'median_distance_m', 'blind_spot_rank']
    """
    return list(_declared()["measures"])


def _blank(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)) or value is pd.NA


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _shown(value: float, measure: str) -> float:
    """The value in the unit shown (metres are shown as km)."""
    return value / 1000 if _spec(measure)["format"] == "km" else value


def value_text(value, measure: str, lang: str) -> str:
    """``value`` of ``measure`` (a map measure or a details column of ``community_map.yaml``) as
    the map writes it; a blank (NaN, None, NA) is the measure's blank words, never 0.

    Examples
    --------
    >>> value_text(12.345, "screen_positive", "en"), value_text(float("nan"), "screen_positive", "en")
    ('12.3%', 'Too few residents: not shown')
    >>> value_text(2350.0, "median_distance_m", "zh"), value_text(2, "blind_spot_rank", "zh")
    ('2.4 公里', '第 2 位')
    """
    spec = _spec(measure)
    if _blank(value):
        return spec["blank"][lang]
    number = _number(_shown(float(value), measure), int(spec["decimals"]))
    return _declared()["formats"][spec["format"]][lang].format(value=number)


def class_breaks(values, *, rule: str = "nice", k: int = 4) -> list[tuple[float, float]]:
    """The classes ``(low, high)`` of a map's colours for ``values`` (blanks ignored).

    ``rule="nice"``: about ``k`` classes of equal width, the width 1, 2, 2.5 or 5 times a power of
    ten, the first starting at a multiple of the width at or below the smallest value (a value on
    a boundary belongs to the class above; the highest value to the last class). ``rule="rank"``:
    one class per distinct value (up to 7; more are grouped as for "nice"). No values: no classes.

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
    check("class_breaks", "k", k, Interval(int, 1, 6))
    v = np.asarray([float(x) for x in values if not _blank(x)], dtype=float)
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


def _palette(measure: str, n: int) -> list[str]:
    spec = _declared()["measures"][measure]
    colours = list(spec["palette"])
    picked = [colours[3]] if n == 1 else [colours[round(i * (len(colours) - 1) / (n - 1))] for i in range(n)]
    return picked[::-1] if spec.get("reverse") else picked


def _decimals_for(classes, measure: str) -> int:
    """Enough decimals to tell the class boundaries apart (at least the measure's own)."""
    decimals = int(_declared()["measures"][measure]["decimals"])
    for low, high in classes:
        if low == high:  # one value (a rank, or every community alike): written as values are
            continue
        for x in (low, high):
            shown = _shown(x, measure)
            while decimals < 3 and abs(round(shown, decimals) - shown) > 1e-9:
                decimals += 1
    return decimals


def _legend(measure: str, classes, lang: str) -> list[dict]:
    spec, formats = _declared()["measures"][measure], _declared()["formats"]
    colours, decimals = _palette(measure, len(classes)), _decimals_for(classes, measure)
    unit = formats[spec["format"]][lang]
    items = []
    for colour, (low, high) in zip(colours, classes):
        if low == high:
            text = unit.format(value=_number(_shown(low, measure), decimals))
        else:
            text = unit.format(value=formats["range"][lang].format(low=_number(_shown(low, measure), decimals),
                                                                   high=_number(_shown(high, measure), decimals)))
        items.append({"colour": colour, "label": text})
    return items


def read_basemap(image, *, bounds) -> dict:
    """A local basemap for :class:`CommunityMap`: the PNG file ``image`` embedded as a data URI,
    drawn over ``bounds`` = (min x, min y, max x, max y) in the map's CRS. Never a URL.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> png = pathlib.Path(tempfile.mkdtemp()) / "base.png"
    >>> _ = png.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + b"0" * 8)
    >>> read_basemap(png, bounds=(0, 0, 10, 10))["href"][:22]
    'data:image/png;base64,'
    """
    data = Path(image).read_bytes()
    check("read_basemap", "image", str(image), Predicate(lambda _: data[:8] == b"\x89PNG\r\n\x1a\n", "a PNG file"))
    check("read_basemap", "bounds", bounds, Predicate(
        lambda b: len(b) == 4 and all(isinstance(x, (int, float)) and math.isfinite(x) for x in b)
        and b[0] < b[2] and b[1] < b[3], "(min x, min y, max x, max y) with min < max"))
    return {"href": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "bounds": [float(x) for x in bounds]}


def _check_frame(frame) -> list[str]:
    """Every problem of ``frame`` at once (:class:`MapDataError`); returns the measures present."""
    problems = []
    missing = [c for c in ("community", "label", "geometry") if c not in frame.columns]
    problems += [(None, c, None, "is missing: the map needs this column") for c in missing]
    crs = getattr(frame, "crs", None)
    if crs is None:
        problems.append((None, "geometry", None, "is not declared: the map needs a coordinate reference system (frame.set_crs)"))
    elif not crs.is_projected:
        problems.append((None, "geometry", str(crs), "is not a projected CRS in metres (reproject with frame.to_crs)"))
    measures = [m for m in map_measures() if m in frame.columns]
    if not measures:
        problems.append((None, "measure", None, f"is missing: the map needs at least one of the measures {map_measures()}"))
    for m in measures + [d for d in _declared()["details"] if d in frame.columns]:
        if not (pd.api.types.is_numeric_dtype(frame[m]) or frame[m].isna().all()):
            problems.append((None, m, str(frame[m].dtype), "must be numbers (a blank is NaN)"))
    if missing:
        raise MapDataError(problems, context="the map frame")
    declared = _declared()["measures"]
    shown = [m for m in measures if not (declared[m].get("omit_when_all_blank") and frame[m].isna().all())]
    seen = set()
    for row, (community, label, geometry) in enumerate(zip(frame["community"], frame["label"], frame["geometry"])):
        if _blank(community) or not str(community).strip():
            problems.append((row, "community", community, "is blank: every community needs its id"))
        elif community in seen:
            problems.append((row, "community", community, "repeats a community: one row per community"))
        seen.add(community)
        if _blank(label) or not str(label).strip():
            problems.append((row, "label", label, "is blank: every community needs its name"))
        if geometry is None or geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append((row, "geometry", getattr(geometry, "geom_type", geometry), "must be a polygon"))
        elif not geometry.is_valid:
            problems.append((row, "geometry", geometry.geom_type, "is not a valid polygon (repair it, e.g. with shapely.make_valid)"))
    if problems:
        raise MapDataError(problems, context="the map frame")
    return shown or measures[:1]


def _check_points(points, kinds) -> None:
    problems = [(None, c, None, "is missing: service points need this column") for c in ("point_id", "kind", "geometry")
                if c not in points.columns]
    if points.crs is None:
        problems.append((None, "geometry", None, "is not declared: service points need a coordinate reference system"))
    if not problems:
        for row, (kind, geometry) in enumerate(zip(points["kind"], points["geometry"])):
            if kind not in kinds:
                problems.append((row, "kind", kind, f"must be one of {sorted(kinds)}"))
            if geometry is None or geometry.is_empty or geometry.geom_type != "Point":
                problems.append((row, "geometry", getattr(geometry, "geom_type", geometry), "must be a point"))
    if problems:
        raise MapDataError(problems, context="the service points", table="service_points")


def _ring(coords, x0: float, y1: float, scale: float) -> str:
    xy = [f"{PAD + (x - x0) * scale:.1f},{PAD + (y1 - y) * scale:.1f}" for x, y, *_ in coords]
    return "M" + " L".join(xy) + " Z"


def _path(geometry, x0: float, y1: float, scale: float) -> str:
    polygons = getattr(geometry, "geoms", [geometry])
    return " ".join(_ring(ring.coords, x0, y1, scale) for p in polygons for ring in (p.exterior, *p.interiors))


def _label(row: Mapping, lang: str, fallback: str) -> str:
    for key in (f"name_{lang}", "label"):
        if key in row and not _blank(row[key]) and str(row[key]).strip():
            return str(row[key])
    return fallback


from workbench.ui._community_map_js import CSS as _CSS, ESM as _ESM  # noqa: E402 - the script, kept apart


class CommunityMap(anywidget.AnyWidget):
    """The communities of ``frame`` coloured by a measure, with service points, a legend, hover
    titles, a measure chooser and a details panel for the community clicked.

    Parameters
    ----------
    frame : GeoDataFrame
        One row per community: ``community``, ``label`` (its name in ``lang``), ``geometry``
        (polygons in a projected CRS) and one or more map measures (:func:`map_measures`; NaN is
        a blank, drawn hatched and written as the measure's blank words; the distance and the
        blind-spot rank are not offered when blank for every community, i.e. without homes).
        The details columns of ``community_map.yaml`` (``n_screened``, the age-standardised
        rates, ``share_far`` with ``frame.attrs["far_m"]``) are shown in the details panel when
        present. Columns ``name_zh`` and ``name_en``, when present, name the communities after
        a language switch.
    lang : {"zh", "en"}
    service_points : GeoDataFrame, optional
        ``point_id``, ``kind`` (health_station, counselling_room or hospital), ``name_zh`` /
        ``name_en`` and point geometries (reprojected to the frame's CRS).
    measure : str, optional
        The measure shown first (default: the first one in ``frame``).
    basemap : dict, optional
        A local image from :func:`read_basemap`.

    Attributes
    ----------
    measure : str
        The measure shown (the chooser sets it; setting it recolours the map).
    selected : str or None
        The community clicked (its details are shown), or None.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> frame = gpd.GeoDataFrame({"community": ["a", "b"], "label": ["North", "South"],
    ...                           "screen_positive": [12.0, float("nan")]},
    ...                          geometry=[box(0, 1000, 1000, 2000), box(0, 0, 1000, 1000)], crs="EPSG:4547")
    >>> m = CommunityMap(frame, lang="en")
    >>> m.area_title("a"), m.area_title("b")
    ('North: 12.0%', 'South: Too few residents: not shown')
    >>> m.selected = "b"
    >>> m.details_rows("b")
    [('Screen-positive rate', 'Too few residents: not shown')]
    """

    _esm = _ESM
    _css = _CSS
    lang = traitlets.Unicode("zh").tag(sync=True)
    view_box = traitlets.List(traitlets.Float()).tag(sync=True)
    areas = traitlets.List(traitlets.Dict()).tag(sync=True)
    points = traitlets.List(traitlets.Dict()).tag(sync=True)
    point_legend = traitlets.List(traitlets.Dict()).tag(sync=True)
    measures = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    measure = traitlets.Unicode("").tag(sync=True)
    styles = traitlets.Dict().tag(sync=True)
    details = traitlets.Dict().tag(sync=True)
    texts = traitlets.Dict().tag(sync=True)
    basemap = traitlets.Dict(None, allow_none=True).tag(sync=True)
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    @validate_params({"frame": Predicate(lambda f: hasattr(f, "geometry") and isinstance(f, pd.DataFrame),
                                         "a GeoDataFrame (workbench.geo.layers.map_frame)"),
                      "lang": LANG,
                      "service_points": Optional(Predicate(lambda f: hasattr(f, "geometry"), "a GeoDataFrame")),
                      "basemap": Optional(Predicate(lambda b: isinstance(b, Mapping) and "href" in b
                                                    and str(b["href"]).startswith("data:image/png;base64,"),
                                                    "a local image from read_basemap"))},
                     name="CommunityMap")
    def __init__(self, frame, *, lang: str, service_points=None, measure: str | None = None,
                 basemap: Mapping | None = None):
        present = _check_frame(frame)
        check("CommunityMap", "measure", measure, Optional(Predicate(lambda m: m in present,
                                                                     f"one of the frame's measures {present}")))
        kinds = _declared()["kinds"]
        if service_points is not None:
            _check_points(service_points, kinds)
            if service_points.crs != frame.crs:
                service_points = service_points.to_crs(frame.crs)
        super().__init__()
        self._frame = pd.DataFrame(frame.drop(columns="geometry")).reset_index(drop=True)
        self._labels = {c: str(x) for c, x in zip(self._frame["community"], self._frame["label"])}
        self._present = present
        self._extra = [d for d in _declared()["details"] if d in frame.columns]
        far = frame.attrs.get("far_m")
        self._far_km = None if _blank(far) else _number(float(far) / 1000, 1 if float(far) % 1000 else 0)
        self._points = service_points
        x0, y0, x1, y1 = frame.total_bounds
        if service_points is not None and len(service_points):
            px0, py0, px1, py1 = service_points.total_bounds
            x0, y0, x1, y1 = min(x0, px0), min(y0, py0), max(x1, px1), max(y1, py1)
        dx, dy = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        scale = min((WIDTH - 2 * PAD) / dx, (MAX_HEIGHT - 2 * PAD) / dy)
        self._transform = (x0, y1, scale)
        shapes = []
        for community, geometry in zip(self._frame["community"], frame.geometry):
            spot = geometry.representative_point()
            shapes.append({"community": str(community), "d": _path(geometry, x0, y1, scale),
                           "lx": round(PAD + (spot.x - x0) * scale, 1), "ly": round(PAD + (y1 - spot.y) * scale, 1)})
        self._shapes = shapes
        self._basemap = dict(basemap) if basemap is not None else None
        with self.hold_sync():
            self.view_box = [0.0, 0.0, round(dx * scale + 2 * PAD, 1), round(dy * scale + 2 * PAD, 1)]
            self.measure = measure or present[0]
            self.basemap = self._placed_basemap()
            self._write(lang)

    # --- what is sent to the browser -------------------------------------------------------------

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        x0, y1, scale = self._transform
        return round(PAD + (x - x0) * scale, 1), round(PAD + (y1 - y) * scale, 1)

    def _placed_basemap(self) -> dict | None:
        if self._basemap is None:
            return None
        bx0, by0, bx1, by1 = self._basemap["bounds"]
        (left, top), (right, bottom) = self._xy(bx0, by1), self._xy(bx1, by0)
        return {"href": self._basemap["href"], "x": left, "y": top, "width": right - left, "height": bottom - top}

    def _write(self, lang: str) -> None:
        """Every word, colour and value text in ``lang`` (all measures at once: the browser
        switches measure without asking the kernel)."""
        declared = _declared()
        f = self._frame
        styles = {}
        for m in self._present:
            values = f[m].astype(float)
            classes = class_breaks(values, rule=declared["measures"][m]["classes"])
            colours = _palette(m, len(classes))
            spec = declared["measures"][m]
            note = "map_rank_note" if spec["classes"] == "rank" else "map_classes_note"
            styles[m] = {
                "fill": {c: None if _blank(v) else colours[_class_of(float(v), classes)]
                         for c, v in zip(f["community"], values)},
                "text": {c: value_text(v, m, lang) for c, v in zip(f["community"], values)},
                "heading": declared["formats"]["heading"][lang].format(label=spec[lang], unit=spec["unit"][lang]),
                "legend": _legend(m, classes, lang),
                "blank": spec["blank"][lang] if values.isna().any() else "",
                "note": map_word(note, lang)}
        details = {}
        for row in f.to_dict("records"):
            c = str(row["community"])
            rows = [[declared["measures"][m][lang], value_text(row[m], m, lang), m] for m in self._present]
            for d in self._extra:
                label = declared["details"][d][lang]
                if "{far_km}" in label and self._far_km is None:
                    continue
                rows.append([label.format(far_km=self._far_km), value_text(row[d], d, lang), d])
            details[c] = {"heading": map_word("map_details_of", lang).format(community=self._labels[c]), "rows": rows}
        points = []
        if self._points is not None:
            for row, geometry in zip(self._points.drop(columns="geometry").to_dict("records"), self._points.geometry):
                x, y = self._xy(geometry.x, geometry.y)
                kind = declared["kinds"][row["kind"]]
                points.append({"point_id": str(row["point_id"]), "kind": row["kind"], "x": x, "y": y,
                               "symbol": kind["symbol"], "colour": kind["colour"],
                               "title": f"{_label(row, lang, str(row['point_id']))} ({kind[lang]})"})
        kinds = sorted({p["kind"] for p in points}, key=list(declared["kinds"]).index)
        with self.hold_sync():
            self.lang = lang
            self.areas = [{**s, "label": self._labels[s["community"]]} for s in self._shapes]
            self.points = points
            self.point_legend = [{"kind": k, "label": declared["kinds"][k][lang], "symbol": declared["kinds"][k]["symbol"],
                                  "colour": declared["kinds"][k]["colour"]} for k in kinds]
            self.measures = [[m, declared["measures"][m][lang]] for m in self._present]
            self.styles = styles
            self.details = details
            self.texts = {k: map_word(k, lang) for k in ("map_title", "map_measure", "map_legend", "map_services",
                                                         "map_details_hint", "map_close", "map_areas", "map_zoom_in",
                                                         "map_zoom_out", "map_zoom_reset")}

    @traitlets.validate("measure")
    def _valid_measure(self, proposal):
        value = proposal["value"]
        if value not in getattr(self, "_present", [value]):
            raise traitlets.TraitError(f"{value!r} is not one of the map's measures {self._present}")
        return value

    @traitlets.validate("selected")
    def _valid_selected(self, proposal):
        value = proposal["value"]
        if value is not None and value not in getattr(self, "_labels", {value: None}):
            raise traitlets.TraitError(f"{value!r} is not a community of the map {sorted(self._labels)}")
        return value

    # --- Python side -----------------------------------------------------------------------------

    def set_language(self, lang: str, *, labels: Mapping[str, str] | None = None) -> None:
        """Every word in ``lang``; the communities' names from ``labels`` (community -> name),
        else the frame's ``name_<lang>`` column when it has one, else unchanged. The measure
        and the community selected are kept."""
        check("CommunityMap.set_language", "lang", lang, LANG)
        if labels is None and f"name_{lang}" in self._frame.columns:
            labels = dict(zip(self._frame["community"], self._frame[f"name_{lang}"]))
        if labels is not None:
            self._labels = {c: str(labels.get(c, self._labels[c])) for c in self._labels}
        self._write(lang)

    def area_title(self, community: str) -> str:
        """The hover title of ``community`` for the measure shown: its name and value."""
        return f"{self._labels[community]}: {self.styles[self.measure]['text'][community]}"

    def legend(self, measure: str | None = None) -> list[tuple[str, str]]:
        """``(colour, words)`` of the legend of ``measure`` (default: the one shown); the blank's
        hatched swatch is ``("hatch", words)`` when a community has no value."""
        style = self.styles[measure or self.measure]
        return [(i["colour"], i["label"]) for i in style["legend"]] + ([("hatch", style["blank"])]
                                                                        if style["blank"] else [])

    def details_rows(self, community: str | None = None) -> list[tuple[str, str]]:
        """``(measure, value words)`` of every measure of ``community`` (default: the selected one)."""
        community = community or self.selected
        if community is None:
            return []
        return [(label, text) for label, text, _ in self.details[community]["rows"]]

    def to_json(self) -> str:
        """The state sent to the browser, as JSON (strict: a NaN would fail, so none is sent)."""
        return json.dumps({k: getattr(self, k) for k in ("view_box", "areas", "points", "measures", "measure",
                                                          "styles", "details", "texts", "basemap", "selected")},
                          allow_nan=False, ensure_ascii=False)
