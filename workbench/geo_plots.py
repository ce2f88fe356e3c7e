"""Static community maps for reports: a classed choropleth of one map measure, in Chinese or English.

The map draws :func:`workbench.geo.layers.map_frame` (the same frame the interactive widget
draws): each community coloured by the class of its value, hatched and labelled when its value
is hidden for small counts, its name and value written on it, service points marked by kind, a
legend that says what the colour means and in which unit, a scale bar in km and the notes a
reader needs (smoothing, straight-line distances, the blind-spot rule). The measures' names,
units, classes, colours, value and blank words and the service-point kinds are those of the
app's map: both come from :mod:`workbench.geo.legend` (``workbench/data/geo_measures.yaml``).
The figure's own words (title, scale bar, notes) are in ``workbench/i18n/geo.yaml``; Chinese is
drawn with the CJK font of :mod:`workbench._fonts`. No basemap and nothing fetched: the figure
is made from the frame alone.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd

from workbench._declarations import load_yaml
from workbench._fonts import _font_for
from workbench.geo.legend import (HATCH, declaration, is_blank, legend_word, map_legend, map_measures,
                                  measure_label, value_text)
from workbench.params import Options, validate_params

__all__ = ["community_map", "figure_word"]

_WORDS = Path(__file__).with_name("i18n") / "geo.yaml"
#: matplotlib markers of the declared symbols of the service-point kinds.
_MARKERS = {"circle": "o", "square": "s", "cross": "P"}
_HATCH = "////"


@functools.lru_cache(maxsize=1)
def _words() -> dict:
    data = load_yaml(_WORDS.read_text(encoding="utf-8"))["figure"]
    for key, texts in data.items():
        missing = [lang for lang in ("zh", "en") if not str(texts.get(lang, "")).strip()]
        if missing:
            raise ValueError(f"geo.yaml: figure.{key} has no text in {missing}")
    return data


def figure_word(key: str, lang: str) -> str:
    """A word of the static map's figure (``workbench/i18n/geo.yaml``: title, scale bar, notes).

    Examples
    --------
    >>> figure_word("scale", "zh").format(km=2), figure_word("title", "en").format(label="Blind-spot rank")
    ('2 公里', 'Blind-spot rank, by community')
    """
    return _words()[key][lang]


def _scale_length(width_m: float) -> float:
    """A nice scale-bar length (km) about a fifth of the map's width."""
    for km in (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if km * 1000 >= width_m / 6:
            return km
    return 100


def _small_areas(frame) -> list[bool]:
    """Communities too small to label on the whole map (the side of a square of their area is under
    a tenth of the map's span)."""
    x0, y0, x1, y1 = frame.total_bounds
    span = max(x1 - x0, y1 - y0)
    if span <= 0:
        return [False] * len(frame)
    small = [math.sqrt(g.area) < span / 10 for g in frame.geometry]
    return small if not all(small) else [False] * len(frame)


def _kinds():
    """``(kind, marker, colour)`` of the declared service-point kinds."""
    return [(kind, _MARKERS[k["symbol"]], k["colour"]) for kind, k in declaration()["kinds"].items()]


def _draw(ax, frame, colours, texts, service_points, *, labelled) -> None:
    """Areas (hatched when None), their names and values, and the service points, on ``ax``."""
    import geopandas as gpd
    from matplotlib import patheffects

    for geom, colour in zip(frame.geometry, colours):
        gpd.GeoSeries([geom]).plot(ax=ax, facecolor="white" if colour is None else colour, edgecolor="#444444",
                                   linewidth=0.8, hatch=_HATCH if colour is None else None)
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for text, geom, show in zip(texts, frame.geometry, labelled):
        if show:
            p = geom.representative_point()
            ax.text(p.x, p.y, text, ha="center", va="center", fontsize=8, path_effects=halo, zorder=5, clip_on=True)
    if service_points is not None and len(service_points):
        for kind, marker, colour in _kinds():
            pts = service_points[service_points["kind"] == kind]
            if len(pts):
                ax.scatter(pts.geometry.x, pts.geometry.y, marker=marker, s=46, color=colour, edgecolor="white",
                           linewidth=0.8, zorder=6)


@validate_params({"measure": Options(*map_measures()), "lang": Options("zh", "en")})
def community_map(frame, *, measure: str, lang: str = "en", service_points=None, title: str | None = None):
    """A classed choropleth of one map measure, for a report.

    Parameters
    ----------
    frame : GeoDataFrame
        :func:`workbench.geo.layers.map_frame` (``community``, ``label``, ``geometry``, the measure).
    measure : {"screen_positive", "tier_2_3", "median_distance_m", "blind_spot_rank"}
        The column to colour by (:func:`workbench.geo.legend.map_measures`).
    lang : {"zh", "en"}
        Language of every word on the map (the labels are the frame's ``label``).
    service_points : GeoDataFrame, optional
        ``kind`` and point geometries (``Geography.service_points``), marked by kind.
    title : str, optional
        Instead of the measure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One map axis; ``fig.legends`` has the legend. Made without pyplot (nothing global is
        changed but the CJK font, once); save it with ``fig.savefig``.

    Notes
    -----
    Classes, colours, the legend's words and the values written on the areas are
    :func:`workbench.geo.legend.map_legend` of the measure, exactly as the app's map
    (:class:`workbench.ui.community_map.CommunityMap`) draws them: rates (in %) and distances (in
    km) in nice equal steps, light = low; when every community has the same value (e.g.
    smoothing found no difference beyond chance) one class that says so; blind spots one class
    per rank (1 darkest) and the other communities grey. A hidden value is drawn white and
    hatched, with the measure's short blank words written on it, never 0.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.geo.geography import sample_geography, sample_homes
    >>> from workbench.geo.layers import map_frame
    >>> g = sample_geography()
    >>> frame = map_frame(load_sample(), g, homes=sample_homes(g))
    >>> fig = community_map(frame, measure="median_distance_m", service_points=g.service_points)
    >>> fig.axes[0].get_title()
    'Median distance to the nearest service point, by community'
    """
    _font_for(lang)
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    missing = [c for c in ("community", "label", "geometry", measure) if c not in frame.columns]
    if missing:
        raise ValueError(f"community_map: the frame has no column {missing} (make it with workbench.geo.layers.map_frame)")
    values = pd.to_numeric(frame[measure], errors="coerce").astype(float).tolist()
    drawn = map_legend(values, measure=measure, lang=lang)
    colours = drawn.fills
    # an area says its name and value (a hidden one in short words); a blank drawn in a colour of
    # its own (not a blind spot) only its name: the legend says what the colour means
    texts = [label if is_blank(v) and colour is not None else f"{label}\n{value_text(v, measure, lang, short=True)}"
             for label, v, colour in zip(frame["label"], values, colours)]
    fig = Figure(figsize=(9.5, 6.6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(title or figure_word("title", lang).format(label=measure_label(measure, lang)), fontsize=13)
    handles = [Patch(facecolor="white", edgecolor="#444444", hatch=_HATCH, label=words) if colour == HATCH
               else Patch(facecolor=colour, edgecolor="#555555", label=words) for colour, words in drawn.items]
    small = _small_areas(frame)
    _draw(ax, frame, colours, texts, service_points, labelled=[not s for s in small])
    if any(small):
        # the small communities (a town centre) again, enlarged in an inset, labelled there
        sx0, sy0, sx1, sy1 = frame[small].total_bounds
        half = 0.58 * max(sx1 - sx0, sy1 - sy0)   # a square view with a margin
        cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
        sx0, sy0, sx1, sy1 = cx - half, cy - half, cx + half, cy + half
        inset = ax.inset_axes([0.72, 0.0, 0.28, 0.34])
        inset.set_xticks([]), inset.set_yticks([])
        inset.set_aspect("equal")
        _draw(inset, frame, colours, texts, service_points, labelled=small)
        inset.set_xlim(sx0, sx1), inset.set_ylim(sy0, sy1)
        inset.set_xlabel(""), inset.set_ylabel("")
        for spine in inset.spines.values():
            spine.set_edgecolor("#555555")
        ax.indicate_inset([sx0, sy0, sx1 - sx0, sy1 - sy0], inset, edgecolor="#555555")
    if service_points is not None and len(service_points):
        point_handles = [Line2D([], [], marker=marker, color=colour, markeredgecolor="white", linestyle="",
                                markersize=9, label=legend_word(kind, lang))
                         for kind, marker, colour in _kinds() if (service_points["kind"] == kind).any()]
        if point_handles:
            handles.append(Patch(facecolor="none", edgecolor="none", label=legend_word("services", lang)))
            handles += point_handles
    fig.legend(handles=handles, title=drawn.heading, loc="outside right upper", fontsize=8, title_fontsize=9,
               frameon=False)
    x0, y0, x1, y1 = frame.total_bounds
    km = _scale_length(x1 - x0)
    bx, by = x0 + 0.02 * (x1 - x0), y0 - 0.03 * (y1 - y0)
    ax.plot([bx, bx + km * 1000], [by, by], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(bx + km * 500, by + 0.012 * (y1 - y0), figure_word("scale", lang).format(km=f"{km:g}"),
            ha="center", va="bottom", fontsize=8)
    notes = []
    if measure in ("screen_positive", "tier_2_3"):
        notes.append(figure_word("note_rates", lang).format(min_count=frame.attrs.get("min_count", 5)))
    if measure in ("median_distance_m", "blind_spot_rank"):
        notes.append(figure_word("note_distance", lang))
    if measure == "blind_spot_rank":
        from workbench.geo.access import settings

        s = settings()
        notes.append(figure_word("note_blind", lang).format(
            share=f"{s['rule']['min_far_share']:.0%}", km=f"{s['distance']['far_m'] / 1000:g}"))
    fig.text(0.01, 0.005, "\n".join(notes), fontsize=7.5, color="#333333", ha="left", va="bottom", wrap=True)
    return fig
