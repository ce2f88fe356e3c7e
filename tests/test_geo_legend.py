"""The map measures declared once (workbench/data/geo_measures.yaml, workbench.geo.legend): one
classing rule, one way of writing a value, and the report map (workbench.geo_plots) and the app's
map (workbench.ui.community_map) drawing the same classes, colours, units and words for each
measure of the sample."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from functools import lru_cache

import numpy as np
import pytest
from matplotlib.colors import to_hex

from workbench.geo import legend
from workbench.geo.geography import sample_geography, sample_homes
from workbench.geo.layers import MAP_MEASURES, map_frame
from workbench.geo.legend import class_breaks, map_legend, map_measures, value_text
from workbench.geo_plots import community_map
from workbench.sample import load_sample
from workbench.ui.community_map import CommunityMap


def test_class_breaks():
    # nice: about k classes of width 1, 2, 2.5 or 5 x 10^n, from a multiple of the width at or below the lowest
    assert class_breaks([0.4, 1.9]) == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    assert class_breaks([0.4, 9.7]) == [(0.0, 2.5), (2.5, 5.0), (5.0, 7.5), (7.5, 10.0)]
    assert class_breaks([120.0, 980.0, 2630.0]) == [(0.0, 1000.0), (1000.0, 2000.0), (2000.0, 3000.0)]
    assert class_breaks([573.5, 8050.7]) == [(0.0, 2000.0), (2000.0, 4000.0), (4000.0, 6000.0), (6000.0, 8000.0),
                                             (8000.0, 10000.0)]
    assert class_breaks([24.5, 27.2, 33.1], k=2) == [(20.0, 25.0), (25.0, 30.0), (30.0, 35.0)]
    # blanks are never a class (nor 0); all alike is one class; nothing is no class
    assert class_breaks([np.nan, 3.0, None]) == [(3.0, 3.0)] and class_breaks([np.nan]) == []
    # rank: one class per rank, up to 7; more are grouped as for nice
    assert class_breaks([2.0, 1.0, np.nan], rule="rank") == [(1.0, 1.0), (2.0, 2.0)]
    assert class_breaks(list(range(1, 10)), rule="rank") == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0),
                                                             (8.0, 10.0)]
    with pytest.raises(ValueError, match="The 'rule' parameter of class_breaks must be one of 'nice', 'rank'"):
        class_breaks([1.0], rule="quantile")


def test_value_words_and_legend_lines():
    assert value_text(None, "tier_2_3", "zh") == "人数少，不显示"
    assert value_text(0.0, "tier_2_3", "en") == "0.0%"  # a real 0 stays 0
    assert value_text(2350.0, "median_distance_m", "en") == "2.4 km"
    assert value_text(float("nan"), "median_distance_m", "en", short=True) == "no homes"
    assert value_text(np.nan, "share_far", "zh") == "没有住址数据" and value_text(1234, "n_screened", "zh") == "1,234 人"
    # the legend writes class bounds with the decimals they need, in the measure's unit
    drawn = map_legend([120.0, 980.0, 2630.0, np.nan], measure="median_distance_m", lang="zh")
    assert [words for _, words in drawn.items] == ["0.0 至 1.0 公里", "1.0 至 2.0 公里", "2.0 至 3.0 公里", "没有住址数据"]
    assert drawn.items[-1][0] == legend.HATCH and drawn.fills[-1] is None and drawn.blank == "没有住址数据"
    assert [words for _, words in map_legend([40.0, 990.0], measure="median_distance_m", lang="en").items] == \
        ["0.00 to 0.25 km", "0.25 to 0.50 km", "0.50 to 0.75 km", "0.75 to 1.00 km"]
    assert map_legend([], measure="tier_2_3", lang="en").items == []


def test_the_declaration_checks_itself(tmp_path, monkeypatch):
    assert map_measures() == list(MAP_MEASURES)  # the columns map_frame makes
    broken = legend.MEASURES_FILE.read_text(encoding="utf-8").replace("classes: rank", "classes: quantile") \
        .replace("    unit: {zh: 公里，直线距离, en: \"km, straight line\"}\n", "")
    (tmp_path / "geo_measures.yaml").write_text(broken, encoding="utf-8")
    monkeypatch.setattr(legend, "MEASURES_FILE", tmp_path / "geo_measures.yaml")
    legend.declaration.cache_clear()
    try:
        with pytest.raises(ValueError) as err:
            legend.declaration()
        assert "measures.median_distance_m.unit: needs a text in zh and en" in str(err.value)
        assert "measures.blind_spot_rank.classes: 'quantile' is not nice or rank" in str(err.value)
    finally:
        legend.declaration.cache_clear()


# --- the report map and the app's map say the same -------------------------------------------

@lru_cache(maxsize=None)
def sample(lang: str, min_count: int):
    g = sample_geography()
    return map_frame(load_sample(), g, homes=sample_homes(g), lang=lang, min_count=min_count), g


def static_map(fig, frame):
    """What the report map draws: each area's colour (None: hatched) and words, and its legend's
    heading and lines ((colour or "hatch", words); the service points' part apart)."""
    ax = fig.axes[0]
    areas = ax.collections[:len(frame)]  # one collection per community, in the frame's order, then the points
    fills = [None if a.get_hatch() else to_hex(a.get_facecolor()[0]) for a in areas]
    words = {}
    for axis in (ax, *ax.child_axes):                       # the town's small communities in the inset
        for t in axis.texts:
            name, _, value = t.get_text().partition("\n")
            words.setdefault(name, value)
    (box,) = fig.legends
    lines = []
    for handle, text in zip(box.legend_handles, box.get_texts()):
        if hasattr(handle, "get_marker"):
            lines.append((to_hex(handle.get_color()), text.get_text()))
        elif handle.get_hatch():
            lines.append(("hatch", text.get_text()))
        elif handle.get_facecolor()[3] == 0:               # the service points' heading
            lines.append((None, text.get_text()))
        else:
            lines.append((to_hex(handle.get_facecolor()), text.get_text()))
    cut = next(i for i, (colour, _) in enumerate(lines) if colour is None)
    return fills, words, box.get_title().get_text(), lines[:cut], lines[cut:]


@pytest.mark.parametrize("lang,min_count", [("zh", 5), ("en", 5), ("en", 100)])
@pytest.mark.parametrize("measure", MAP_MEASURES)
def test_the_report_map_and_the_app_map_say_the_same(measure, lang, min_count):
    frame, g = sample(lang, min_count)
    fig = community_map(frame, measure=measure, lang=lang, service_points=g.service_points)
    widget = CommunityMap(frame, lang=lang, service_points=g.service_points, measure=measure)
    fills, words, heading, lines, services = static_map(fig, frame)
    style = widget.styles[measure]
    # the same colour for each community (None: hatched, a value hidden)
    assert fills == [style["fill"][c] for c in frame["community"]]
    # the same legend: heading (name and unit), class lines with their colours, the blank's line
    assert heading == style["heading"]
    assert lines == widget.legend(measure)
    # the same value words on the areas as in the app's hover titles (a hidden value: its short words)
    for community, label, value in zip(frame["community"], frame["label"], frame[measure]):
        expected = style["text"][community] if not np.isnan(value) else value_text(value, measure, lang, short=True)
        if style["fill"][community] is not None and np.isnan(value):
            expected = ""                                   # not a blind spot: the grey says so in the legend
        assert words[label] == expected, (community, words[label])
    # the same service-point kinds, words and colours
    assert services == [(None, widget.texts["map_services"])] + [(k["colour"], k["label"]) for k in widget.point_legend]


def test_the_sample_draws_blanks_both_ways():
    """The comparison above meets every kind of legend line on the sample: classes, one class, a
    hatched blank and a blank of its own colour."""
    seen = set()
    for lang, min_count in (("zh", 5), ("en", 5), ("en", 100)):
        frame, _ = sample(lang, min_count)
        for m in MAP_MEASURES:
            drawn = map_legend(frame[m].tolist(), measure=m, lang=lang)
            seen |= {"hatch" if c == legend.HATCH else "grey" if c == "#e8e8e8" else "class" for c, _ in drawn.items}
            seen |= {"one class"} if len(drawn.classes) == 1 else set()
    assert seen == {"hatch", "grey", "class", "one class"}
