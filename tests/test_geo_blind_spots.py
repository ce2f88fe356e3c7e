"""Blind spots (workbench.geo.blind_spots) by the declared rule, the map frame both maps draw
(workbench.geo.layers.map_frame) and the static map (workbench.geo_plots.community_map): its
words in both languages, Chinese glyphs drawn, no warning."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import io
import logging
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager

from workbench._fonts import CJK_FONTS
from workbench.geo.access import settings
from workbench.geo.blind_spots import blind_spots
from workbench.geo.geography import GeoDataError, sample_geography, sample_homes
from workbench.geo.layers import MAP_MEASURES, map_frame
from workbench.geo.legend import legend_word, measure_heading, measure_label, value_text
from workbench.geo_plots import community_map, figure_word
from workbench.sample import load_sample


def need_table(smoothed, n=100, suppressed=None, b=0.25):
    k = len(smoothed)
    t = pd.DataFrame({"community": [f"c{i}" for i in range(k)], "measure": "tier_2_3", "n": n,
                      "smoothed": smoothed, "adjusted": smoothed,
                      "suppressed": suppressed if suppressed is not None else [False] * k})
    t.attrs["prior"] = {"tier_2_3": {"a": 0.001, "b": b}}
    return t


def access_table(far, n=100, far_m=5000):
    k = len(far)
    t = pd.DataFrame({"community": [f"c{i}" for i in range(k)], "n": n, "far": far,
                      "share_far": np.asarray(far, float) / n, "median_distance_m": 1000.0, "far_m": far_m})
    t.attrs["far_m"] = far_m
    return t


# --- the rule ---------------------------------------------------------------------------------

def test_the_declared_rule_flags_and_ranks():
    # need ratios 1.2, 0.8, 1.0, 1.6; far shares 0.5, 0.9, 0.25, 0.1
    out = blind_spots(need_table([0.30, 0.20, 0.25, 0.40]), access_table([50, 90, 25, 10]))
    by = out.set_index("community").sort_index()
    assert by["need_ratio"].round(6).tolist() == [1.2, 0.8, 1.0, 1.6]
    assert by["far_in_need"].round(6).tolist() == [15.0, 18.0, 6.25, 4.0]
    assert by["high_need"].tolist() == [True, False, True, True]        # >= 1.0 (at the overall rate counts)
    assert by["far_away"].tolist() == [True, True, True, False]         # >= 25 %
    assert out["community"].tolist() == ["c1", "c0", "c2", "c3"]          # by residents in need living far
    assert out["blind_spot"].tolist() == [False, True, True, False]
    assert out["blind_spot_rank"].tolist() == [pd.NA, 1, 2, pd.NA]
    assert out.attrs["overall"] == 0.25 and out.attrs["min_far_share"] == settings()["rule"]["min_far_share"]
    assert "need 0.80 x overall (not high" in out["reason"].iloc[0] and "90% live over 5000 m" in out["reason"].iloc[0]


def test_thresholds_can_be_overridden_and_adjusted_values_used():
    out = blind_spots(need_table([0.30, 0.20, 0.25, 0.40]), access_table([50, 90, 25, 10]), min_need_ratio=0.5,
                      min_far_share=0.05)
    assert out["blind_spot_rank"].tolist() == [1, 2, 3, 4]
    adj = blind_spots(need_table([0.30, 0.20, 0.25, 0.40]), access_table([50, 90, 25, 10]), value="adjusted")
    assert adj.attrs["overall"] == pytest.approx(np.mean([0.30, 0.20, 0.25, 0.40]))   # n-weighted, equal n
    with pytest.raises(ValueError, match="no rows of measure 'screen_positive'"):
        blind_spots(need_table([0.3]), access_table([5]), measure="screen_positive")


def test_hidden_need_is_not_judged_and_comes_last():
    need = need_table([0.30, np.nan, 0.25], suppressed=[False, True, False])
    out = blind_spots(need, access_table([60, 100, 30]))
    assert out["community"].tolist()[-1] == "c1"
    last = out.iloc[-1]
    assert pd.isna(last["blind_spot_rank"]) and not last["blind_spot"] and pd.isna(last["high_need"])
    assert last["reason"] == "need hidden (small counts): not judged"


def test_the_sample_blind_spots():
    g = sample_geography()
    frame = map_frame(load_sample(), g, homes=sample_homes(g))
    spots = frame.attrs["blind_spots"]
    assert spots.loc[spots["blind_spot"], "community"].tolist() == ["rural-02", "rural-01"]
    assert spots["blind_spot_rank"].dropna().tolist() == [1, 2]


# --- the map frame ----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def sample_frame(lang: str, min_count: int = 5):
    g = sample_geography()
    return map_frame(load_sample(), g, homes=sample_homes(g), lang=lang, min_count=min_count)


def test_map_frame_one_row_per_community_with_the_map_measures():
    frame = sample_frame("en")
    assert frame.crs.to_epsg() == 4547 and len(frame) == 6
    assert frame.columns.tolist()[:7] == ["community", "label", "geometry", *MAP_MEASURES]
    assert dict(zip(frame["community"], frame["label"]))["rural-02"] == "Xihe township"
    assert dict(zip(sample_frame("zh")["community"], sample_frame("zh")["label"]))["rural-02"] == "西河乡"
    need = frame.attrs["need"]
    smoothed = need[need["measure"] == "tier_2_3"].set_index("community")["smoothed"] * 100
    assert frame.set_index("community")["tier_2_3"].to_dict() == pytest.approx(smoothed.to_dict())
    assert all(pd.api.types.is_float_dtype(frame[m]) for m in MAP_MEASURES)


def test_map_frame_hides_suppressed_rates_and_needs_every_resident_on_the_map():
    frame = sample_frame("en", 100)      # 98 screen-positive in rural-01 and urban-02: hidden
    by = frame.set_index("community")
    assert np.isnan(by.loc["rural-01", "screen_positive"]) and np.isnan(by.loc["urban-02", "screen_positive"])
    assert np.isnan(by.loc["rural-01", "screen_positive_adjusted"])
    g = sample_geography()
    g.communities = g.communities[g.communities["community"] != "ageing-01"]
    with pytest.raises(GeoDataError, match="ageing-01"):
        map_frame(load_sample(), g)


def test_map_frame_without_homes_has_blank_distances():
    frame = map_frame(load_sample(), sample_geography())
    assert frame["median_distance_m"].isna().all() and frame["blind_spot_rank"].isna().all()
    assert frame["tier_2_3"].notna().all()


# --- the static map ---------------------------------------------------------------------------

def _texts(fig) -> list[str]:
    axes = [a for ax in fig.axes for a in (ax, *ax.child_axes)]      # with the town's inset
    texts = [t.get_text() for ax in axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    for legend in fig.legends:
        texts += [legend.get_title().get_text()] + [t.get_text() for t in legend.get_texts()]
    return texts


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("measure", MAP_MEASURES)
def test_the_static_map_words_glyphs_and_no_warning(measure, lang, caplog):
    g = sample_geography()
    frame = sample_frame(lang, 100)
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")                     # no warning at all (a missing glyph is one)
        fig = community_map(frame, measure=measure, lang=lang, service_points=g.service_points)
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    title = fig.axes[0].get_title()
    assert title == figure_word("title", lang).format(label=measure_label(measure, lang))
    texts = _texts(fig)
    assert measure_heading(measure, lang) in texts
    for kind in ("health_station", "counselling_room", "hospital"):
        assert legend_word(kind, lang) in texts
    for label in frame["label"]:
        assert any(t.startswith(label) for t in texts), label
    if measure in ("screen_positive", "tier_2_3"):
        if frame[measure].isna().any():
            assert value_text(None, measure, lang) in texts       # the hatched swatch in the legend
            assert any(t.endswith("\n" + value_text(None, measure, lang, short=True)) for t in texts)  # on the area
            hatched = [c for ax in fig.axes for c in ax.collections if c.get_hatch()]
            assert hatched
        assert any("Marshall 1991" in t for t in texts)
    if measure == "blind_spot_rank":
        assert value_text(1, measure, lang) in texts
    if lang == "zh":
        font = font_manager.FontProperties(family=matplotlib.rcParams["font.sans-serif"][0])
        assert font.get_name() in CJK_FONTS or matplotlib.rcParams["font.sans-serif"][0] in CJK_FONTS
        assert any("\u4e00" <= ch <= "\u9fff" for ch in title)
    else:
        assert not any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t)


def test_the_static_map_refuses_a_frame_without_the_measure():
    frame = sample_frame("en").drop(columns=["tier_2_3"])
    with pytest.raises(ValueError, match="no column \\['tier_2_3'\\]"):
        community_map(frame, measure="tier_2_3")
