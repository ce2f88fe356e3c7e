"""The offline community map widget (workbench.ui.community_map) without a browser: what it sends
(areas projected into the view box with north up, colours, value words, legends, details), the
measure chooser and the selection as traitlets, the language switch, blanks never shown as 0,
refused input named by row, column, value and rule, and a script that fetches nothing."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import traitlets
from shapely.geometry import MultiPolygon, Point, Polygon, box

from workbench.geo.geography import read_basemap
from workbench.ui._community_map_js import CSS, ESM
from workbench.ui.community_map import CommunityMap, MapDataError, map_word

CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres
X0, Y0 = 500_000.0, 3_300_000.0


def frame(lang: str = "en", **measures) -> gpd.GeoDataFrame:
    """Three communities: north (a square with a hole), south-west and south-east (two parts)."""
    north = Polygon([(X0, Y0 + 1000), (X0 + 2000, Y0 + 1000), (X0 + 2000, Y0 + 2000), (X0, Y0 + 2000)],
                    holes=[[(X0 + 900, Y0 + 1400), (X0 + 1100, Y0 + 1400), (X0 + 1100, Y0 + 1600),
                            (X0 + 900, Y0 + 1600)]])
    south_west = box(X0, Y0, X0 + 1000, Y0 + 1000)
    south_east = MultiPolygon([box(X0 + 1000, Y0, X0 + 2000, Y0 + 400), box(X0 + 1500, Y0 + 600, X0 + 2000, Y0 + 1000)])
    names = {"zh": ["北社区", "西南社区", "东南社区"], "en": ["North", "South-west", "South-east"]}
    data = {"community": ["north", "sw", "se"], "label": names[lang], "name_zh": names["zh"], "name_en": names["en"],
            "screen_positive": [8.3, 15.2, np.nan], "tier_2_3": [2.0, np.nan, 3.5],
            "median_distance_m": [450.0, 2350.0, 1200.0], "blind_spot_rank": [3.0, 1.0, 2.0]}
    data.update(measures)
    return gpd.GeoDataFrame(data, geometry=[north, south_west, south_east], crs=CRS)


def points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"point_id": ["hs1", "cr1", "h1"],
                             "kind": ["health_station", "counselling_room", "hospital"],
                             "name_zh": ["北站", "咨询室", "人民医院"], "name_en": ["North station", "Room", "People's Hospital"]},
                            geometry=[Point(X0 + 500, Y0 + 1500), Point(X0 + 1500, Y0 + 200),
                                      Point(X0 + 2500, Y0 + 2500)], crs=CRS)


def numbers(d: str) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]).reshape(-1, 2)


def test_areas_are_projected_into_the_view_box_north_up():
    m = CommunityMap(frame("zh"), lang="zh", service_points=points())
    assert [a["community"] for a in m.areas] == ["north", "sw", "se"]
    assert [a["label"] for a in m.areas] == ["北社区", "西南社区", "东南社区"]
    _, _, width, height = m.view_box
    for a in m.areas:
        xy = numbers(a["d"])
        assert (xy >= 0).all() and (xy[:, 0] <= width).all() and (xy[:, 1] <= height).all()
    north, south = numbers(m.areas[0]["d"]), numbers(m.areas[1]["d"])
    assert north[:, 1].max() <= south[:, 1].min() + 0.01  # north is drawn above (y flipped)
    assert m.areas[0]["d"].count("M") == 2 and m.areas[2]["d"].count("M") == 2  # the hole; the two parts
    # the hospital lies outside the communities: the view box grows to show it, keeping the shape
    hospital = next(p for p in m.points if p["kind"] == "hospital")
    assert hospital["x"] == pytest.approx(width - 12, abs=0.2) and hospital["y"] == pytest.approx(12, abs=0.2)
    assert north[:, 0].max() - north[:, 0].min() == pytest.approx(2 * (north[:, 1].max() - north[:, 1].min()), rel=1e-3)


def test_a_blank_is_hatched_and_written_as_not_shown_never_as_0():
    m = CommunityMap(frame(), lang="en", service_points=points())
    style = m.styles["screen_positive"]
    assert style["fill"]["se"] is None and style["fill"]["north"] and style["fill"]["sw"]
    assert style["text"]["se"] == "Too few residents: not shown"
    assert m.area_title("se") == "South-east: Too few residents: not shown"
    assert m.legend()[-1] == ("hatch", "Too few residents: not shown")
    assert not re.search(r"(?<![\d.])0(\.0)?%", m.to_json())  # no value is written as 0%
    m.selected = "se"
    assert ("Screen-positive rate", "Too few residents: not shown") in m.details_rows()
    assert ("Tier 2-3 (needs care) rate", "3.5%") in m.details_rows()
    json.loads(m.to_json())  # strict JSON: no NaN reaches the browser
    # a measure without blanks has no hatched swatch
    assert all(colour != "hatch" for colour, _ in m.legend("median_distance_m"))


def test_every_value_in_the_hover_titles_and_details():
    m = CommunityMap(frame("zh"), lang="zh")
    assert m.area_title("north") == "北社区: 8.3%"
    assert m.details_rows("sw") == [("筛查阳性率", "15.2%"), ("2-3级（需要干预）比例", "人数少，不显示"),
                                    ("到最近服务点的距离中位数", "2.4 公里"), ("服务盲点排名", "第 1 位")]
    assert m.details["sw"]["heading"] == "西南社区的各项数值"


def test_the_measure_chooser_changes_the_colours_and_the_legend():
    m = CommunityMap(frame(), lang="en", measure="median_distance_m")
    assert [mid for mid, _ in m.measures] == ["screen_positive", "tier_2_3", "median_distance_m", "blind_spot_rank"]
    assert m.measure == "median_distance_m"
    assert [label for _, label in m.legend()] == ["0.0 to 0.5 km", "0.5 to 1.0 km", "1.0 to 1.5 km",
                                                  "1.5 to 2.0 km", "2.0 to 2.5 km"]
    m.measure = "screen_positive"
    assert [label for _, label in m.legend()] == ["8.0 to 10.0%", "10.0 to 12.0%", "12.0 to 14.0%", "14.0 to 16.0%",
                                                  "Too few residents: not shown"]
    assert m.styles["screen_positive"]["fill"]["north"] != m.styles["screen_positive"]["fill"]["sw"]
    assert m.area_title("north") == "North: 8.3%"
    with pytest.raises(traitlets.TraitError, match="not one of the map's measures"):
        m.measure = "no_such_measure"
    with pytest.raises(ValueError, match="The 'measure' parameter of CommunityMap must be None or one of the frame's"):
        CommunityMap(frame().drop(columns="tier_2_3"), lang="en", measure="tier_2_3")


def test_the_blind_spot_rank_is_one_class_per_rank_darkest_first():
    m = CommunityMap(frame(), lang="en", measure="blind_spot_rank")
    assert [label for _, label in m.legend()] == ["No. 1", "No. 2", "No. 3"]
    fill = m.styles["blind_spot_rank"]["fill"]
    darkest = "#a63603"
    assert fill["sw"] == darkest and fill["north"] != darkest
    # a community that is not a blind spot is said so, not hatched as "too few"
    blank = CommunityMap(frame("zh", blind_spot_rank=[1.0, np.nan, 2.0]), lang="zh", measure="blind_spot_rank")
    assert blank.area_title("sw") == "西南社区: 不是盲点"
    # ... and drawn grey (a known "no"), not hatched (a value hidden)
    assert blank.styles["blind_spot_rank"]["fill"]["sw"] == "#e8e8e8"
    assert blank.legend() == [("#a63603", "第 1 位"), ("#fdae6b", "第 2 位"), ("#e8e8e8", "不是盲点")]


def test_selecting_a_community_and_unknown_ones():
    m = CommunityMap(frame(), lang="en")
    assert m.selected is None and m.details_rows() == []
    m.selected = "north"
    assert m.details_rows()[0] == ("Screen-positive rate", "8.3%")
    with pytest.raises(traitlets.TraitError, match="not a community of the map"):
        m.selected = "elsewhere"
    m.selected = None


def test_the_language_switch_keeps_the_measure_and_the_selection():
    m = CommunityMap(frame("zh"), lang="zh", service_points=points(), measure="tier_2_3")
    m.selected = "sw"
    assert m.texts["map_measure"] == "地图显示" and m.point_legend[0]["label"] == "社区卫生服务站"
    m.set_language("en")
    assert (m.lang, m.measure, m.selected) == ("en", "tier_2_3", "sw")
    assert m.texts["map_measure"] == "Show on the map"
    assert [a["label"] for a in m.areas] == ["North", "South-west", "South-east"]  # name_en
    assert m.area_title("sw") == "South-west: Too few residents: not shown"
    assert [k["label"] for k in m.point_legend] == ["Health station", "Counselling room", "Hospital"]
    assert m.points[2]["title"] == "People's Hospital (Hospital)"
    m.set_language("zh", labels={"north": "北"})
    assert m.areas[0]["label"] == "北" and m.texts["map_title"] == "社区地图"


def test_service_points_in_another_crs_are_reprojected():
    wgs = points().to_crs("EPSG:4326")
    a, b = CommunityMap(frame(), lang="en", service_points=points()), CommunityMap(frame(), lang="en",
                                                                                   service_points=wgs)
    assert [(p["x"], p["y"]) for p in a.points] == pytest.approx([(p["x"], p["y"]) for p in b.points], abs=0.2)


def test_refused_input_names_row_column_value_and_rule():
    bad = frame()
    bad.loc[2, "community"] = "north"
    bad.loc[1, "label"] = " "
    bad.loc[0, "geometry"] = Point(X0, Y0)
    with pytest.raises(MapDataError) as err:
        CommunityMap(bad, lang="en")
    rows = err.value.problems[["row", "column", "value", "rule"]].values.tolist()
    assert [0, "geometry", "Point", "must be a polygon"] in rows
    assert [1, "label", " ", "is blank: every community needs its name"] in rows
    assert [2, "community", "north", "repeats a community: one row per community"] in rows
    with pytest.raises(MapDataError, match="a projected CRS in metres"):
        CommunityMap(frame().to_crs("EPSG:4326"), lang="en")
    with pytest.raises(MapDataError, match="is not declared"):
        CommunityMap(frame().set_crs(None, allow_override=True), lang="en")
    with pytest.raises(MapDataError, match="needs at least one of the measures"):
        CommunityMap(frame()[["community", "label", "geometry"]], lang="en")
    wrong = points()
    wrong.loc[1, "kind"] = "pharmacy"
    with pytest.raises(MapDataError) as err:
        CommunityMap(frame(), lang="en", service_points=wrong)
    assert err.value.problems[["table", "row", "column", "value"]].values.tolist() == \
        [["service_points", 1, "kind", "pharmacy"]]
    with pytest.raises(ValueError, match="The 'lang' parameter of CommunityMap"):
        CommunityMap(frame(), lang="fr")


def test_a_local_basemap_only(tmp_path):
    png = tmp_path / "base.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    base = read_basemap(png, bounds=(X0, Y0, X0 + 2000, Y0 + 2000))
    m = CommunityMap(frame(), lang="en", basemap=base)
    assert m.basemap["href"].startswith("data:image/png;base64,")
    assert m.basemap["x"] == pytest.approx(12) and m.basemap["y"] == pytest.approx(12)
    with pytest.raises(ValueError, match="a local image from read_basemap"):
        CommunityMap(frame(), lang="en", basemap={"href": "https://tile.example.org/{z}/{x}/{y}.png"})
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ValueError, match="must be a PNG file"):
        read_basemap(tmp_path / "x.jpg", bounds=(0, 0, 1, 1))


def test_the_script_fetches_nothing():
    for text in (ESM, CSS):
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)
        assert "import " not in text and "fetch(" not in text and "@import" not in text and "url(http" not in text
    assert "export default" in ESM
    assert map_word("map_no_geography", "en").startswith("No community map")
