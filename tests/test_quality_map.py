"""The quality board's community map section (workbench.ui.quality_map) on the sample: the map
draws workbench.geo.layers.map_frame of the same tables, in both languages, keeps the measure
and the community chosen through a language switch and a Refresh, and without a configured
geography (or with one that cannot be read) the section says so in one sentence."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from workbench.geo.geography import GeoDataError, sample_geography, sample_homes
from workbench.geo.layers import MAP_MEASURES, map_frame
from workbench.sample import SAMPLE_DIR, load_sample
from workbench.geo.legend import map_measures, value_text
from workbench.ui.community_map import map_word
from workbench.ui.quality import QualityBoard
from workbench.ui.quality_map import QualityMap, load_geography

TODAY = dt.date(2025, 9, 30)


@pytest.fixture(scope="module")
def sample():
    g = sample_geography()
    g.homes = sample_homes(g)
    return load_sample(), g


def test_the_widget_offers_the_measures_the_map_frame_has():
    assert map_measures() == list(MAP_MEASURES)


def test_the_map_shows_the_map_frame_of_the_same_tables(sample):
    tables, g = sample
    section = QualityMap(tables, lang="zh", geography=g)
    m = section.map
    frame = map_frame(tables, g, lang="zh")
    assert sorted(a["community"] for a in m.areas) == sorted(frame["community"]) and len(m.areas) == 6
    assert {a["label"] for a in m.areas} == set(g.communities["name_zh"])
    for row in frame.itertuples():
        for measure in MAP_MEASURES:
            assert m.styles[measure]["text"][row.community] == value_text(getattr(row, measure), measure, "zh")
    # the blind spots: ranked first, the others said not to be one (not hatched as too few)
    assert m.styles["blind_spot_rank"]["text"]["rural-02"] == "第 1 位"
    assert m.styles["blind_spot_rank"]["text"]["urban-01"] == "不是盲点"
    assert len(m.points) == len(g.service_points)
    assert section.message.value == ""


def test_the_language_and_a_refresh_keep_the_measure_and_the_community(sample):
    tables, g = sample
    reads = []

    def read():
        reads.append(1)
        return tables

    board = QualityBoard.from_tables(tables, lang="zh", today=TODAY, reload=read, with_map=True, geography=g)
    section = board.map_section
    assert section in board.children and section.heading.value == f"<h2>{map_word('map_section_title', 'zh')}</h2>"
    section.map.measure, section.map.selected = "median_distance_m", "rural-01"
    board.set_language("en")
    m = section.map
    assert (m.lang, m.measure, m.selected) == ("en", "median_distance_m", "rural-01")
    assert {a["label"] for a in m.areas} == set(g.communities["name_en"])
    assert m.details["rural-01"]["heading"] == "Values for Dongshan township"
    board.reload()
    assert reads == [1] and section.map is not m  # drawn again from the new read
    assert (section.map.measure, section.map.selected, section.map.lang) == ("median_distance_m", "rural-01", "en")


def test_without_homes_no_distance_and_no_blind_spots_are_offered(sample):
    tables, g = sample
    plain = sample_geography()
    m = QualityMap(tables, lang="en", geography=plain).map
    assert [mid for mid, _ in m.measures] == ["screen_positive", "tier_2_3"]
    assert plain.homes is None and g.homes is not None


def test_without_a_geography_the_section_says_so_plainly(sample):
    tables, _ = sample
    section = QualityMap(tables, lang="zh", geography=None)
    assert section.map is None and section.holder.children == ()
    assert section.message.text == map_word("map_no_geography", "zh") and "wb-info" in section.message.value
    section.set_language("en")
    assert section.message.text == map_word("map_no_geography", "en")
    board = QualityBoard.from_tables(tables, lang="en", today=TODAY, with_map=True, geography=None)
    assert board.map_section.message.text.startswith("No community map")
    assert QualityBoard.from_tables(tables, lang="en", today=TODAY).map_section is None  # the map is asked for


def test_a_geography_that_does_not_fit_is_one_sentence(sample, caplog):
    tables, g = sample
    section = QualityMap(tables, lang="en", geography=GeoDataError([("communities", 1, "community", "x", "bad")]))
    assert section.map is None and section.message.text == map_word("map_unavailable", "en")
    small = sample_geography()
    small.communities = small.communities[small.communities["community"] != "rural-02"]
    with caplog.at_level("ERROR", logger="workbench.ui"):
        section = QualityMap(tables, lang="zh", geography=small)
    assert section.map is None and section.message.text == map_word("map_unavailable", "zh")
    assert "rural-02" in caplog.text  # the details in the server log, not on the page


def test_load_geography_reads_workbench_geo(sample, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_GEO", str(SAMPLE_DIR / "geo"))
    g = load_geography()
    assert sorted(g.communities["community"]) == sorted(sample_geography().communities["community"])
    assert g.homes is not None and len(g.homes) == 3000
    assert g.basemap is None  # the sample has none
    # a local basemap beside the boundaries: embedded, drawn under the communities
    folder = tmp_path / "geo"
    shutil.copytree(SAMPLE_DIR / "geo", folder)
    (folder / "basemap.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    x0, y0, x1, y1 = g.communities.total_bounds
    (folder / "basemap.json").write_text(json.dumps({"bounds": [x0, y0, x1, y1]}), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_GEO", str(folder))
    local = load_geography()
    assert local.basemap["href"].startswith("data:image/png;base64,")
    drawn = QualityMap(sample[0], lang="en", geography=local).map
    assert drawn.basemap["width"] > 0 and drawn.basemap["href"] == local.basemap["href"]
    monkeypatch.setenv("WORKBENCH_GEO", str(tmp_path / "nowhere"))
    assert isinstance(load_geography(), FileNotFoundError)
    monkeypatch.delenv("WORKBENCH_GEO")
    assert load_geography() is None
