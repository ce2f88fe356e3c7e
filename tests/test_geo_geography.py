"""Geography as data (workbench.geo.geography, workbench.geo.sample_data): the sample's synthetic
boundaries, service points and homes, and the checks on a site's files, each with a hostile input
that names the table, row, column, value and rule."""

from __future__ import annotations

import base64
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from workbench.geo import sample_data
from workbench.geo.geography import (GeoDataError, Geography, read_basemap, read_geography, read_homes,
                                     sample_geography, sample_homes, site_geography)
from workbench.sample import SAMPLE_DIR, SAMPLE_SEED

GEO = SAMPLE_DIR / "geo"
SQUARE = [[[0, 0], [1000, 0], [1000, 1000], [0, 1000], [0, 0]]]


def square(x0: float, y0: float, size: float = 1000.0) -> list:
    x0, y0 = 500_000 + x0, 3_300_000 + y0
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


def write_geojson(path, features, *, crs: str | None = "urn:ogc:def:crs:EPSG::4547"):
    """A FeatureCollection written by hand (so broken inputs stay broken)."""
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def area(community, coords, zh="甲", en="A"):
    return ({"community": community, "name_zh": zh, "name_en": en}, {"type": "Polygon", "coordinates": coords})


def point(pid, x, y, kind="health_station", zh="站", en="Station"):
    return ({"point_id": pid, "kind": kind, "name_zh": zh, "name_en": en},
            {"type": "Point", "coordinates": [500_000 + x, 3_300_000 + y]})


@pytest.fixture
def good(tmp_path):
    b = write_geojson(tmp_path / "b.geojson", [area("a", square(0, 0)), area("b", square(1000, 0), "乙", "B")])
    s = write_geojson(tmp_path / "s.geojson", [point("p1", 500, 500), point("p2", 1500, 500, "hospital")])
    return b, s


def problems_of(err) -> list[tuple]:
    return [tuple(r) for r in err.value.problems[["table", "row", "column", "value", "rule"]].itertuples(index=False)]


# --- the sample ---------------------------------------------------------------------------------

def test_sample_geography_is_projected_contiguous_and_never_overlapping():
    g = sample_geography()
    assert g.crs.to_epsg() == 4547 and g.crs.is_projected
    communities = pd.read_csv(SAMPLE_DIR / "communities.csv", encoding="utf-8-sig")["community"]
    assert sorted(g.communities["community"]) == sorted(communities)
    polys = dict(zip(g.communities["community"], g.communities.geometry))
    names = sorted(polys)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert polys[a].intersection(polys[b]).area < 1e-6, (a, b)
    union = shapely.union_all(list(polys.values()))
    assert union.geom_type == "Polygon" and len(union.interiors) == 0   # one piece, no gaps
    km2 = {k: v.area / 1e6 for k, v in polys.items()}
    assert max(km2[c] for c in ("urban-01", "urban-02", "urban-03")) < 5 < km2["ageing-01"] < 100
    assert min(km2["rural-01"], km2["rural-02"]) > 100
    # each service point is where the layout says; every kind is there
    joined = gpd.sjoin(g.service_points, g.communities[["community", "geometry"]], predicate="within")
    where = dict(zip(joined["point_id"], joined["community"]))
    assert where["H-01"] == "urban-01" and where["HS-06"] == "rural-02" and where["HS-05"] == "rural-01"
    assert set(g.service_points["kind"]) == {"health_station", "counselling_room", "hospital"}


def test_sample_homes_one_per_resident_inside_their_community():
    homes = sample_homes()
    residents = pd.read_csv(SAMPLE_DIR / "residents.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(homes["resident_id"]) == sorted(residents["resident_id"])
    merged = homes.merge(residents[["resident_id", "community"]], on="resident_id", suffixes=("", "_registry"))
    assert (merged["community"] == merged["community_registry"]).all()
    polys = dict(zip(sample_geography().communities["community"], sample_geography().communities.geometry))
    assert all(polys[c].covers(p) for c, p in zip(homes["community"], homes.geometry))


def test_the_generator_is_deterministic_and_writes_the_committed_files(tmp_path):
    residents = pd.read_csv(SAMPLE_DIR / "residents.csv", dtype=str, encoding="utf-8-sig")
    sample_data.write_geo_sample(residents, tmp_path, seed=SAMPLE_SEED)
    for name in ("communities.geojson", "service_points.geojson", "homes.csv", "README.md"):
        assert (tmp_path / name).read_bytes() == (GEO / name).read_bytes(), name
    assert "synthetic" in (GEO / "README.md").read_text(encoding="utf-8").lower()
    other = sample_data.community_polygons(seed=SAMPLE_SEED + 1)
    assert not other["urban-01"].equals(sample_data.community_polygons(seed=SAMPLE_SEED)["urban-01"])


# --- a site's files: what is accepted -----------------------------------------------------------

def test_good_files_read_with_a_registry_table(good):
    b, s = good
    g = read_geography(b, s, communities=pd.DataFrame({"community": ["a", "b"], "community_type": ["urban", "rural"]}))
    assert isinstance(g, Geography) and g.crs.to_epsg() == 4547
    assert g.communities["community"].tolist() == ["a", "b"] and g.service_points["kind"].tolist() == [
        "health_station", "hospital"]
    assert "2 communities, 2 service points, EPSG:4547" in repr(g)


def test_a_shapefile_reads_like_geojson(tmp_path, good):
    b, s = good
    gpd.read_file(b).to_file(tmp_path / "b.shp")
    gpd.read_file(s).to_file(tmp_path / "s.shp")
    g = read_geography(tmp_path / "b.shp", tmp_path / "s.shp", communities=["a", "b"])
    assert g.crs.to_epsg() == 4547 and len(g.communities) == 2


# --- hostile inputs -----------------------------------------------------------------------------

def test_a_bow_tie_polygon_is_refused_with_geos_reason(tmp_path, good):
    _, s = good
    bow = [[[500_000, 3_300_000], [501_000, 3_301_000], [501_000, 3_300_000], [500_000, 3_301_000],
            [500_000, 3_300_000]]]
    b = write_geojson(tmp_path / "bow.geojson", [area("a", square(0, 0)), area("b", bow)])
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s)
    (table, row, column, value, rule), = problems_of(err)
    assert (table, row, column, value) == ("boundaries", 2, "geometry", "Polygon")
    assert "Self-intersection" in rule


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_missing_crs_is_refused(tmp_path, good):
    b, s = good
    frame = gpd.read_file(b)
    frame.set_crs(None, allow_override=True).to_file(tmp_path / "noprj.shp")
    assert not (tmp_path / "noprj.prj").exists()
    with pytest.raises(GeoDataError) as err:
        read_geography(tmp_path / "noprj.shp", s)
    assert [p[:4] for p in problems_of(err)] == [("boundaries", None, "crs", None)]
    assert "no CRS is declared" in problems_of(err)[0][4]


def test_metres_in_a_geojson_without_crs_are_not_taken_for_degrees(tmp_path, good):
    _, s = good
    b = write_geojson(tmp_path / "b.geojson", [area("a", square(0, 0))], crs=None)   # RFC 7946: WGS 84
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s)
    (table, row, column, value, rule), = problems_of(err)
    assert (table, column, value) == ("boundaries", "crs", "EPSG:4326") and "are not degrees" in rule


def test_longitude_latitude_needs_to_crs_then_is_projected(tmp_path, good):
    b, s = good
    lonlat = gpd.read_file(b).to_crs("EPSG:4490")   # CGCS2000 geographic
    lonlat.to_file(tmp_path / "ll.geojson")
    with pytest.raises(GeoDataError) as err:
        read_geography(tmp_path / "ll.geojson", s)
    (table, row, column, value, rule), = problems_of(err)
    assert (table, column, value) == ("boundaries", "crs", "EPSG:4490") and "give to_crs" in rule
    g = read_geography(tmp_path / "ll.geojson", s, to_crs="EPSG:4547")
    assert g.crs.to_epsg() == 4547
    assert g.communities.geometry.iloc[0].area == pytest.approx(1e6, rel=1e-6)   # back to a 1 km square
    with pytest.raises(GeoDataError) as err:
        read_geography(tmp_path / "ll.geojson", s, to_crs="EPSG:4326")
    assert {p[2] for p in problems_of(err)} == {"to_crs"}


def test_registry_community_missing_from_the_map_and_an_unknown_one(good):
    b, s = good
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s, communities=["a", "c"])
    assert sorted(problems_of(err), key=str) == sorted([
        ("boundaries", 2, "community", "b", "is not a community of the registry (a, c)"),
        ("boundaries", None, "community", "c", "is a community of the registry but has no boundary on the map"),
    ], key=str)


def test_duplicate_ids_blank_names_and_unknown_kinds(tmp_path):
    b = write_geojson(tmp_path / "b.geojson", [area("a", square(0, 0)), area("a", square(1000, 0)),
                                                 area("c", square(2000, 0), zh=" ")])
    s = write_geojson(tmp_path / "s.geojson", [point("p1", 1, 1), point("p1", 2, 2), point("p3", 3, 3, kind="clinic")])
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s)
    got = problems_of(err)
    assert ("boundaries", 2, "community", "a", "repeats the community of row 1: each one once") in got
    assert ("boundaries", 3, "name_zh", " ", "is blank") in got
    assert ("service_points", 2, "point_id", "p1", "repeats the point_id of row 1: each one once") in got
    assert ("service_points", 3, "kind", "clinic", "must be one of health_station, counselling_room, hospital") in got
    assert len(got) == 4


def test_empty_and_missing_geometries_and_wrong_kinds(tmp_path, good):
    _, s = good
    b = write_geojson(tmp_path / "b.geojson", [
        area("a", square(0, 0)),
        ({"community": "b", "name_zh": "乙", "name_en": "B"}, {"type": "Polygon", "coordinates": []}),
        ({"community": "c", "name_zh": "丙", "name_en": "C"}, None),
        ({"community": "d", "name_zh": "丁", "name_en": "D"}, {"type": "Point", "coordinates": [500_000, 3_300_000]})])
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s)
    got = {(p[1], p[2]): p[4] for p in problems_of(err)}
    assert got[(2, "geometry")] == "is empty" and got[(3, "geometry")] == "is missing"
    assert got[(4, "geometry")] == "must be a Polygon or MultiPolygon"


def test_overlapping_communities_are_refused(tmp_path, good):
    _, s = good
    b = write_geojson(tmp_path / "b.geojson", [area("a", square(0, 0)), area("b", square(500, 0))])
    with pytest.raises(GeoDataError) as err:
        read_geography(b, s)
    (table, row, column, value, rule), = problems_of(err)
    assert (table, row, column, value) == ("boundaries", 2, "geometry", "b")
    assert rule.startswith("overlaps community a (row 1) by 500,000 m²")


def test_absent_properties_and_files(tmp_path, good):
    b, s = good
    bare = write_geojson(tmp_path / "bare.geojson", [({"id": "a"}, {"type": "Polygon", "coordinates": square(0, 0)})])
    with pytest.raises(GeoDataError) as err:
        read_geography(bare, s)
    assert {p[2] for p in problems_of(err)} == {"community", "name_zh", "name_en"}
    with pytest.raises(FileNotFoundError, match="service_points"):
        read_geography(b, tmp_path / "nothing.geojson")


# --- homes --------------------------------------------------------------------------------------

def test_homes_outside_their_community_unknown_residents_and_bad_rows(good):
    g = read_geography(*good)
    residents = pd.DataFrame({"resident_id": ["r1", "r2", "r3", "r4"], "community": ["a", "a", "b", "b"]})
    homes = pd.DataFrame({"resident_id": ["r1", "r2", "r9", "r3", "r3", None, "r4"],
                          "x": [500_100, 501_500, 500_200, 501_100, 501_200, 500_300, "n/a"],
                          "y": [3_300_100, 3_300_500, 3_300_200, 3_300_100, 3_300_200, 3_300_300, 3_300_000]})
    with pytest.raises(GeoDataError) as err:
        read_homes(homes, g, residents=residents)
    got = problems_of(err)
    assert ("homes", 2, "x, y", "501500.0, 3300500.0", "is outside the resident's community a (it lies in b)") in got
    assert ("homes", 3, "resident_id", "r9", "is not a resident of the registry") in got
    assert ("homes", 5, "resident_id", "r3", "repeats the resident of row 4: one home each") in got
    assert ("homes", 6, "resident_id", None, "is blank") in got
    assert ("homes", 7, "x, y", "n/a, 3300000", "must be two numbers (metres in the map's CRS)") in got
    assert len(got) == 5


def test_homes_outside_the_map_and_on_a_shared_edge(tmp_path, good):
    g = read_geography(*good)
    with pytest.raises(GeoDataError) as err:
        read_homes(pd.DataFrame({"resident_id": ["r1"], "x": [400_000.0], "y": [3_300_000.0]}), g)
    assert problems_of(err) == [("homes", 1, "x, y", "400000.0, 3300000.0", "is outside every community of the map")]
    # a home on the edge between a and b belongs to its resident's community, whichever it is
    edge = pd.DataFrame({"resident_id": ["r1", "r2"], "x": [501_000.0, 501_000.0], "y": [3_300_500.0] * 2})
    h = read_homes(edge, g, residents=pd.DataFrame({"resident_id": ["r1", "r2"], "community": ["a", "b"]}))
    assert h["community"].tolist() == ["a", "b"]
    path = tmp_path / "homes.csv"
    edge.to_csv(path, index=False)
    assert read_homes(path, g)["community"].tolist() == ["a", "a"]   # without a registry: the first on the map


def test_site_geography_from_the_environment(tmp_path, monkeypatch, good):
    monkeypatch.delenv("WORKBENCH_GEO", raising=False)
    assert site_geography() is None
    b, s = good
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "communities.geojson").write_bytes(b.read_bytes())
    (folder / "service_points.geojson").write_bytes(s.read_bytes())
    monkeypatch.setenv("WORKBENCH_GEO", str(folder))
    g = site_geography(communities=["a", "b"])
    assert g.homes is None and len(g.communities) == 2
    pd.DataFrame({"resident_id": ["r1"], "x": [500_500.0], "y": [3_300_500.0]}).to_csv(folder / "homes.csv", index=False)
    assert site_geography().homes["community"].tolist() == ["a"]
    monkeypatch.setenv("WORKBENCH_GEO", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="WORKBENCH_GEO"):
        site_geography()


def test_site_basemap_both_files_or_none(tmp_path, monkeypatch, good):
    b, s = good
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "communities.geojson").write_bytes(b.read_bytes())
    (folder / "service_points.geojson").write_bytes(s.read_bytes())
    monkeypatch.setenv("WORKBENCH_GEO", str(folder))
    assert site_geography().basemap is None and Geography(None, None, None).basemap is None
    png = b"\x89PNG\r\n\x1a\n" + bytes(16)
    (folder / "basemap.png").write_bytes(png)
    with pytest.raises(GeoDataError) as err:                     # an image without its bounds
        site_geography()
    assert problems_of(err)[0][:3] == ("basemap", None, "basemap.json")
    (folder / "basemap.json").write_text(json.dumps({"bounds": [500_000, 3_300_000, 499_000, 3_302_000]}))
    with pytest.raises(GeoDataError, match="must be \\[min x, min y, max x, max y\\]") as err:
        site_geography()
    assert problems_of(err)[0][2:4] == ("bounds", [500_000, 3_300_000, 499_000, 3_302_000])
    (folder / "basemap.json").write_text(json.dumps({"bounds": [500_000, 3_300_000, 502_000, 3_302_000]}))
    g = site_geography()
    assert g.basemap == {"href": "data:image/png;base64," + base64.b64encode(png).decode(),
                         "bounds": [500_000.0, 3_300_000.0, 502_000.0, 3_302_000.0]}
    assert "a basemap" in repr(g)
    (folder / "basemap.png").unlink()                            # bounds without an image
    with pytest.raises(GeoDataError, match="basemap.png"):
        site_geography()
    with pytest.raises(ValueError, match="The 'image' parameter of read_basemap must be a PNG file"):
        read_basemap(folder / "basemap.json", bounds=(0, 0, 1, 1))


def test_sample_rural_homes_are_far_from_town():
    homes = sample_homes()
    centre = np.array(sample_data.CENTRE)
    r = np.hypot(homes["x"] - centre[0], homes["y"] - centre[1])
    assert r[homes["community"].str.startswith("urban")].max() < 2_000
    assert r[homes["community"] == "rural-02"].median() > 6_000
