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
the SVG view box with y flipped (north up), so the browser only draws. The measures' names,
units, value words, classes and colours are those of the report map: both come from
:mod:`workbench.geo.legend` (declared once in ``workbench/data/geo_measures.yaml``); the widget's
own words (buttons, hints) are in ``workbench/i18n/community_map.yaml``. A basemap is possible
only from a local image the site supplies (:func:`workbench.geo.geography.read_basemap`: a PNG
and its bounds in the map CRS, embedded as a data URI), never from a tile URL.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Mapping

import anywidget
import pandas as pd
import traitlets

from workbench._errors import RowProblemsError
from workbench.geo.legend import HATCH, declaration, legend_word, map_legend, map_measures, value_text
from workbench.geo.legend import is_blank as _blank
from workbench.instruments import LANG
from workbench.params import Optional, Predicate, check, validate_params

__all__ = ["CommunityMap", "MapDataError", "map_word"]

TEXTS = Path(__file__).resolve().parents[1] / "i18n" / "community_map.yaml"
#: Width of the SVG view box (its height follows the map's shape, at most :data:`MAX_HEIGHT`).
WIDTH, MAX_HEIGHT, PAD = 600.0, 640.0, 12.0


class MapDataError(RowProblemsError):
    """A map frame or service points that cannot be drawn (each problem names row, column, value, rule)."""

    table = "frame"


@functools.lru_cache(maxsize=None)
def _texts() -> dict:
    """The widget's words (``community_map.yaml``), checked: each in zh and en exactly."""
    from workbench._declarations import load_yaml

    texts = load_yaml(TEXTS.read_text(encoding="utf-8"))["texts"]
    for key, entry in texts.items():
        if set(entry) != {"zh", "en"} or any(not str(entry[lang]).strip() for lang in ("zh", "en")):
            # e.g. an unquoted ", " in a {...}
            raise ValueError(f"community_map.yaml: texts.{key} must have a text in zh and en exactly; got {entry}")
    return texts


def map_word(key: str, lang: str) -> str:
    """A word of the map widget in ``lang``.

    >>> map_word("map_title", "zh"), map_word("map_title", "en")
    ('社区地图', 'Community map')
    """
    return _texts()[key][lang]


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
    for m in measures + [d for d in declaration()["details"] if d in frame.columns]:
        if not (pd.api.types.is_numeric_dtype(frame[m]) or frame[m].isna().all()):
            problems.append((None, m, str(frame[m].dtype), "must be numbers (a blank is NaN)"))
    if missing:
        raise MapDataError(problems, context="the map frame")
    declared = declaration()["measures"]
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
        A local image from :func:`workbench.geo.geography.read_basemap` (a site's
        ``Geography.basemap``).

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
        kinds = declaration()["kinds"]
        if service_points is not None:
            _check_points(service_points, kinds)
            if service_points.crs != frame.crs:
                service_points = service_points.to_crs(frame.crs)
        super().__init__()
        self._frame = pd.DataFrame(frame.drop(columns="geometry")).reset_index(drop=True)
        self._labels = {c: str(x) for c, x in zip(self._frame["community"], self._frame["label"])}
        self._present = present
        self._extra = [d for d in declaration()["details"] if d in frame.columns]
        far = frame.attrs.get("far_m")
        self._far_km = None if _blank(far) else f"{float(far) / 1000:,.{1 if float(far) % 1000 else 0}f}"
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
        declared = declaration()
        f = self._frame
        styles = {}
        for m in self._present:
            drawn = map_legend(f[m].astype(float).tolist(), measure=m, lang=lang)
            note = "map_rank_note" if declared["measures"][m]["classes"] == "rank" else "map_classes_note"
            styles[m] = {
                "fill": dict(zip(f["community"], drawn.fills)),
                "text": dict(zip(f["community"], drawn.texts)),
                "heading": drawn.heading,
                # the hatched swatch is drawn by the script from "blank"
                "legend": [{"colour": colour, "label": words} for colour, words in drawn.items if colour != HATCH],
                "blank": drawn.blank,
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
            self.texts = {"map_services": legend_word("services", lang)} | {
                k: map_word(k, lang) for k in ("map_title", "map_measure", "map_legend", "map_details_hint",
                                               "map_close", "map_areas", "map_zoom_in", "map_zoom_out",
                                               "map_zoom_reset")}

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
