"""Access to services (workbench.geo.access): nearest service point at known straight-line
distances, ties, kinds, the summary per community, and the sample's town and townships."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from workbench.geo.access import access_by_community, nearest_service, settings
from workbench.geo.geography import sample_geography, sample_homes


def homes_at(*xy, community="c"):
    return pd.DataFrame({"resident_id": [f"r{i}" for i in range(len(xy))], "community": community,
                         "x": [p[0] for p in xy], "y": [p[1] for p in xy]})


POINTS = pd.DataFrame({"point_id": ["hs", "cr", "h"], "kind": ["health_station", "counselling_room", "hospital"],
                       "x": [0.0, 1000.0, 0.0], "y": [0.0, 0.0, 5000.0]})


def test_known_distances_pythagoras():
    homes = homes_at((300, 400), (1000, 120), (0, 4000), (600, 800))
    got = nearest_service(homes, POINTS)
    assert got["point_id"].tolist() == ["hs", "cr", "h", "cr"]
    # 3-4-5; 120 straight above cr; 1000 below h; (600, 800): 1000 from hs, hypot(400, 800) from cr
    assert got["distance_m"].tolist() == pytest.approx([500.0, 120.0, 1000.0, np.hypot(400, 800)], abs=1e-9)
    assert got.columns.tolist() == ["resident_id", "community", "point_id", "kind", "distance_m"]


def test_kinds_restrict_the_service_points():
    homes = homes_at((300, 400))
    assert nearest_service(homes, POINTS, kinds=["hospital"])["distance_m"].tolist() == pytest.approx(
        [np.hypot(300, 4600)])
    assert nearest_service(homes, POINTS, kinds=["counselling_room", "hospital"])["point_id"].tolist() == ["cr"]
    with pytest.raises(ValueError, match="no service point of kind \\['van'\\]"):
        nearest_service(homes, POINTS, kinds=["van"])


def test_equally_near_points_the_first_by_id():
    points = pd.DataFrame({"point_id": ["b", "a", "c"], "kind": "health_station", "x": [10.0, -10.0, 0.0],
                           "y": [0.0, 0.0, 50.0]})
    got = nearest_service(homes_at((0, 0), (0, 0)), points)
    assert got["point_id"].tolist() == ["a", "a"] and got["distance_m"].tolist() == [10.0, 10.0]


def test_geodataframes_in_one_crs_or_refused():
    homes = gpd.GeoDataFrame({"resident_id": ["r"], "community": ["c"]}, geometry=[shapely.Point(0, 30)],
                             crs="EPSG:4547")
    points = gpd.GeoDataFrame({"point_id": ["p"], "kind": ["hospital"]}, geometry=[shapely.Point(40, 0)],
                              crs="EPSG:4547")
    assert nearest_service(homes, points)["distance_m"].tolist() == [50.0]
    with pytest.raises(ValueError, match="different CRSs"):
        nearest_service(homes, points.set_crs("EPSG:4549", allow_override=True))
    with pytest.raises(ValueError, match="no coordinates"):
        nearest_service(homes_at((np.nan, 1.0)), POINTS)


def test_summary_per_community_with_far_strictly_more_than_far_m():
    near = pd.DataFrame({"community": ["a"] * 4 + ["b"] * 2,
                         "distance_m": [100.0, 200.0, 5000.0, 5000.1, 10.0, 30.0]})
    out = access_by_community(near, far_m=5000, communities=["a", "b", "empty"])
    a, b, empty = (out.set_index("community").loc[k] for k in ("a", "b", "empty"))
    assert (a["n"], a["median_distance_m"], a["far"], a["share_far"]) == (4, 2600.0, 1, 0.25)   # 5000 is not "more"
    assert a["p90_distance_m"] == pytest.approx(5000 + 0.7 * 0.1)            # linear interpolation
    assert (b["n"], b["median_distance_m"], b["far"], b["share_far"]) == (2, 20.0, 0, 0.0)
    assert empty["n"] == 0 and pd.isna(empty["median_distance_m"]) and pd.isna(empty["far"])   # blank, not 0 km
    assert out["median_distance_m"].dtype == float and out["share_far"].isna().tolist() == [False, False, True]
    assert out.attrs == {"far_m": 5000, "distance": "straight line"}
    assert access_by_community(near)["far_m"].iloc[0] == settings()["distance"]["far_m"]
    with pytest.raises(ValueError, match="far_m"):
        access_by_community(near, far_m=0)


def test_the_settings_are_declared_programme_settings():
    s = settings()
    assert s["distance"]["far_m"] == 5000 and set(s["distance"]["kinds"]) == {"health_station", "counselling_room",
                                                                              "hospital"}
    from workbench.geo.access import SETTINGS

    text = SETTINGS.read_text(encoding="utf-8")
    assert text.count("# programme setting") >= 5 and "PROGRAMME SETTINGS, not clinical facts" in text


def test_the_sample_town_is_near_and_the_townships_far():
    g = sample_geography()
    near = nearest_service(sample_homes(g), g.service_points)
    assert len(near) == 3000 and near["distance_m"].ge(0).all()
    out = access_by_community(near).set_index("community")
    assert (out.loc[["urban-01", "urban-02", "urban-03"], "median_distance_m"] < 1000).all()
    assert out.loc["ageing-01", "median_distance_m"] < out.loc["rural-01", "median_distance_m"] < out.loc[
        "rural-02", "median_distance_m"]
    assert out.loc["rural-02", "share_far"] > 0.5 and out.loc["urban-01", "share_far"] == 0
    # the distance is the straight line to the point named
    row = near.iloc[0]
    p = g.service_points.set_index("point_id").loc[row["point_id"], "geometry"]
    h = sample_homes(g).set_index("resident_id").loc[row["resident_id"], "geometry"]
    assert row["distance_m"] == pytest.approx(h.distance(p))
