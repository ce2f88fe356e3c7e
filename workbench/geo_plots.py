"""Static community maps for reports: a classed choropleth of one map measure, in Chinese or English.

The map draws :func:`workbench.geo.layers.map_frame` (the same frame the interactive widget
draws): each community coloured by the class of its value, hatched and labelled when its value
is hidden for small counts, its name and value written on it, service points marked by kind, a
legend that says what the colour means and in which unit, a scale bar in km and the notes a
reader needs (smoothing, straight-line distances, the blind-spot rule). Words are in
``workbench/i18n/geo.yaml``; Chinese is drawn with the CJK font of :mod:`workbench._fonts`.
No basemap and nothing fetched: the figure is made from the frame alone.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._declarations import load_yaml
from workbench._fonts import _font_for
from workbench.params import Options, validate_params

__all__ = ["PALETTES", "class_breaks", "community_map", "geo_words"]

_WORDS = Path(__file__).with_name("i18n") / "geo.yaml"
#: Sequential palettes (ColorBrewer, light = low) per measure; blind spots dark = first.
PALETTES = {
    "screen_positive": ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"],
    "tier_2_3": ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"],
    "median_distance_m": ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
    "blind_spot_rank": ["#a50f15", "#de2d26", "#fb6a4a", "#fcae91", "#fee5d9"],
}
_KIND_STYLE = {"health_station": ("o", "#1f4e9c"), "counselling_room": ("s", "#135e1e"), "hospital": ("P", "#a3000b")}
_NOT_SPOT = "#e8e8e8"
_HATCH = "////"


@functools.lru_cache(maxsize=1)
def _words() -> dict:
    data = load_yaml(_WORDS.read_text(encoding="utf-8"))
    for group, entries in data.items():
        for key, texts in entries.items():
            missing = [lang for lang in ("zh", "en") if not str(texts.get(lang, "")).strip()]
            if missing:
                raise ValueError(f"geo.yaml: {group}.{key} has no text in {missing}")
    return data


def geo_words(group: str, key: str, lang: str) -> str:
    """A word of ``workbench/i18n/geo.yaml``.

    Examples
    --------
    >>> geo_words("kinds", "hospital", "zh"), geo_words("words", "suppressed", "en")
    ('医院', 'Too few residents: not shown')
    """
    return _words()[group][key][lang]


def class_breaks(values, *, max_classes: int = 5) -> list[float]:
    """Class boundaries in nice steps (1, 2, 2.5 or 5 x a power of ten) covering ``values``.

    Returns ``[b0, b1, ..., bk]``: class i holds ``b_i <= v < b_{i+1}`` (the last class includes
    its top). All values equal (or one value): ``[v, v]``, one class. No value: ``[]``.

    Examples
    --------
    >>> class_breaks([24.5, 27.2, 33.1])
    [24.0, 26.0, 28.0, 30.0, 32.0, 34.0]
    >>> class_breaks([27.2, 27.2])
    [27.2, 27.2]
    """
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not len(v):
        return []
    lo, hi = float(v.min()), float(v.max())
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):
        return [lo, hi]
    for exponent in range(math.floor(math.log10(hi - lo)) - 2, math.floor(math.log10(hi - lo)) + 2):
        for mult in (1, 2, 2.5, 5):
            step = mult * 10.0 ** exponent
            start, stop = math.floor(lo / step) * step, math.ceil(hi / step) * step
            k = round((stop - start) / step)
            if k <= max_classes:
                return [round(start + i * step, 10) for i in range(max(k, 1) + 1)]
    return [lo, hi]


def _number(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}"


def _value_text(value: float, measure: str, lang: str) -> str:
    if measure == "blind_spot_rank" and (value is None or not np.isfinite(value)):
        return ""
    if value is None or not np.isfinite(value):
        return geo_words("words", "suppressed_short" if measure in ("screen_positive", "tier_2_3") else "no_value", lang)
    if measure == "median_distance_m":
        return geo_words("words", "scale", lang).format(km=_number(value / 1000, 1))
    if measure == "blind_spot_rank":
        return geo_words("words", "rank", lang).format(rank=int(value))
    return f"{value:.1f}%"


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


def _draw(ax, frame, colours, values, measure: str, lang: str, service_points, *, labelled) -> None:
    """Areas (hatched when blank), their names and values, and the service points, on ``ax``."""
    import geopandas as gpd
    from matplotlib import patheffects

    for geom, colour in zip(frame.geometry, colours):
        gpd.GeoSeries([geom]).plot(ax=ax, facecolor="white" if colour is None else colour, edgecolor="#444444",
                                   linewidth=0.8, hatch=_HATCH if colour is None else None)
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for label, geom, v, show in zip(frame["label"], frame.geometry, values, labelled):
        if show:
            p = geom.representative_point()
            ax.text(p.x, p.y, f"{label}\n{_value_text(v, measure, lang)}".rstrip(), ha="center", va="center",
                    fontsize=8, path_effects=halo, zorder=5, clip_on=True)
    if service_points is not None and len(service_points):
        for kind, (marker, colour) in _KIND_STYLE.items():
            pts = service_points[service_points["kind"] == kind]
            if len(pts):
                ax.scatter(pts.geometry.x, pts.geometry.y, marker=marker, s=46, color=colour, edgecolor="white",
                           linewidth=0.8, zorder=6)


@validate_params({"measure": Options("screen_positive", "tier_2_3", "median_distance_m", "blind_spot_rank"),
                  "lang": Options("zh", "en")})
def community_map(frame, *, measure: str, lang: str = "en", service_points=None, title: str | None = None):
    """A classed choropleth of one map measure, for a report.

    Parameters
    ----------
    frame : GeoDataFrame
        :func:`workbench.geo.layers.map_frame` (``community``, ``label``, ``geometry``, the measure).
    measure : {"screen_positive", "tier_2_3", "median_distance_m", "blind_spot_rank"}
        The column to colour by.
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
    Rates (in %) and distances (in km) are classed in nice equal steps (:func:`class_breaks`), at
    most five classes, light = low; when every community has the same value (e.g. smoothing found
    no difference beyond chance) there is one class and the legend says so. A blank value is
    drawn white and hatched, with "not shown" written on it. Blind spots are coloured by rank
    (1 darkest); other communities grey.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.geo.geography import sample_geography, sample_homes
    >>> from workbench.geo.layers import map_frame
    >>> g = sample_geography()
    >>> frame = map_frame(load_sample(), g, homes=sample_homes(g))
    >>> fig = community_map(frame, measure="median_distance_m", service_points=g.service_points)
    >>> fig.axes[0].get_title()
    'Distance from home to the nearest service point'
    """
    _font_for(lang)
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    missing = [c for c in ("community", "label", "geometry", measure) if c not in frame.columns]
    if missing:
        raise ValueError(f"community_map: the frame has no column {missing} (make it with workbench.geo.layers.map_frame)")
    values = pd.to_numeric(frame[measure], errors="coerce").to_numpy(float)
    shown = values / 1000 if measure == "median_distance_m" else values
    fig = Figure(figsize=(9.5, 6.6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(title or geo_words("titles", measure, lang), fontsize=13)
    handles: list = []
    colours: list[str | None] = []
    if measure == "blind_spot_rank":
        ranks = sorted({int(v) for v in values if np.isfinite(v)})
        palette = PALETTES[measure]
        for v in values:
            colours.append(_NOT_SPOT if not np.isfinite(v) else palette[min(ranks.index(int(v)), len(palette) - 1)])
        for r in ranks:
            handles.append(Patch(facecolor=palette[min(ranks.index(r), len(palette) - 1)], edgecolor="#555555",
                                 label=geo_words("words", "rank", lang).format(rank=r)))
        handles.append(Patch(facecolor=_NOT_SPOT, edgecolor="#555555", label=geo_words("words", "not_blind_spot", lang)))
    else:
        breaks = class_breaks(shown)
        decimals = 1
        palette = PALETTES[measure]
        unit = "%" if measure in ("screen_positive", "tier_2_3") else (" 公里" if lang == "zh" else " km")
        if len(breaks) == 2 and breaks[0] == breaks[1]:
            colour = palette[2]
            colours = [colour if np.isfinite(v) else None for v in shown]
            handles.append(Patch(facecolor=colour, edgecolor="#555555", label=geo_words("words", "one_class", lang).format(
                value=f"{_number(breaks[0], decimals)}{unit}")))
        elif breaks:
            k = len(breaks) - 1
            idx = [min(range(len(palette)), key=lambda j: abs(j - i * (len(palette) - 1) / max(k - 1, 1))) for i in range(k)]
            cls_colours = [palette[j] for j in idx]
            for v in shown:
                if not np.isfinite(v):
                    colours.append(None)
                    continue
                i = min(int(np.searchsorted(breaks, v, side="right")) - 1, k - 1)
                colours.append(cls_colours[max(i, 0)])
            for i in range(k):
                handles.append(Patch(facecolor=cls_colours[i], edgecolor="#555555",
                                     label=f"{_number(breaks[i], decimals)} - {_number(breaks[i + 1], decimals)}{unit}"))
        else:
            colours = [None] * len(shown)
    hidden = [c is None for c in colours]
    small = _small_areas(frame)
    _draw(ax, frame, colours, values, measure, lang, service_points, labelled=[not s for s in small])
    if any(small):
        # the small communities (a town centre) again, enlarged in an inset, labelled there
        sx0, sy0, sx1, sy1 = frame[small].total_bounds
        half = 0.58 * max(sx1 - sx0, sy1 - sy0)   # a square view with a margin
        cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
        sx0, sy0, sx1, sy1 = cx - half, cy - half, cx + half, cy + half
        inset = ax.inset_axes([0.72, 0.0, 0.28, 0.34])
        inset.set_xticks([]), inset.set_yticks([])
        inset.set_aspect("equal")
        _draw(inset, frame, colours, values, measure, lang, service_points, labelled=small)
        inset.set_xlim(sx0, sx1), inset.set_ylim(sy0, sy1)
        inset.set_xlabel(""), inset.set_ylabel("")
        for spine in inset.spines.values():
            spine.set_edgecolor("#555555")
        ax.indicate_inset([sx0, sy0, sx1 - sx0, sy1 - sy0], inset, edgecolor="#555555")
    if any(hidden):
        words = "suppressed" if measure in ("screen_positive", "tier_2_3") else "no_value"
        handles.append(Patch(facecolor="white", edgecolor="#444444", hatch=_HATCH, label=geo_words("words", words, lang)))
    if service_points is not None and len(service_points):
        point_handles = [Line2D([], [], marker=marker, color=colour, markeredgecolor="white", linestyle="",
                                markersize=9, label=geo_words("kinds", kind, lang))
                         for kind, (marker, colour) in _KIND_STYLE.items() if (service_points["kind"] == kind).any()]
        if point_handles:
            handles.append(Patch(facecolor="none", edgecolor="none", label=geo_words("words", "services", lang)))
            handles += point_handles
    heading = geo_words("legend", measure, lang)
    fig.legend(handles=handles, title=heading, loc="outside right upper", fontsize=8, title_fontsize=9, frameon=False)
    x0, y0, x1, y1 = frame.total_bounds
    km = _scale_length(x1 - x0)
    bx, by = x0 + 0.02 * (x1 - x0), y0 - 0.03 * (y1 - y0)
    ax.plot([bx, bx + km * 1000], [by, by], color="black", linewidth=3, solid_capstyle="butt")
    ax.text(bx + km * 500, by + 0.012 * (y1 - y0), geo_words("words", "scale", lang).format(km=f"{km:g}"),
            ha="center", va="bottom", fontsize=8)
    notes = []
    if measure in ("screen_positive", "tier_2_3"):
        notes.append(geo_words("words", "note_rates", lang).format(min_count=frame.attrs.get("min_count", 5)))
    if measure in ("median_distance_m", "blind_spot_rank"):
        notes.append(geo_words("words", "note_distance", lang))
    if measure == "blind_spot_rank":
        from workbench.geo.access import settings

        s = settings()
        notes.append(geo_words("words", "note_blind", lang).format(
            share=f"{s['rule']['min_far_share']:.0%}", km=f"{s['distance']['far_m'] / 1000:g}"))
    fig.text(0.01, 0.005, "\n".join(notes), fontsize=7.5, color="#333333", ha="left", va="bottom", wrap=True)
    return fig
