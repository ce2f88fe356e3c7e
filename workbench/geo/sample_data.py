"""The sample's synthetic geography: community boundaries, service points and a home per resident.

**Synthetic, not a real place.** The six sample communities (``data_samples/communities.csv``)
get made-up boundaries drawn around a made-up town centre, placed in the area of use of a real
projected CRS, EPSG:4547 (CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres), so that the same
code reads a site's real boundaries later. No boundary, name or point is a real one: the shapes
are rings and wedges with seeded wiggles, the names are invented, and the coordinates were picked
to lie inside the CRS's area of use, nothing else.

Layout (what the sample is meant to show):

- ``urban-01..03``: three wedges of a small disc (radius about 1.6 km) round the town centre,
  dense homes, each with a health station; the hospital and a counselling room are in the centre;
- ``ageing-01``: the ring round them (to about 4.2 km), an old quarter, with a health station
  and a counselling room;
- ``rural-01`` and ``rural-02``: the two parts of the wide ring outside (to about 15 km), homes
  in villages; rural-01's health station is in its middle, rural-02's at its town edge, so some
  of rural-02's villages are 10 km or more from any service point.

Everything is drawn from ``numpy.random.default_rng`` seeded by the sample's seed, and written
with plain ``json``/text formatting (coordinates rounded to 0.1 m), so the files are the same
byte for byte on every run (``tests/test_synth.py`` regenerates them with the sample).

Examples
--------
>>> import pandas as pd
>>> residents = pd.DataFrame({"resident_id": ["R1", "R2"], "community": ["urban-01", "rural-02"]})
>>> homes = sample_homes_frame(residents, seed=1)
>>> homes.columns.tolist(), len(homes)
(['resident_id', 'x', 'y'], 2)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

__all__ = ["CENTRE", "COMMUNITY_NAMES", "CRS", "SERVICE_POINTS", "community_polygons", "sample_homes_frame",
           "service_points_frame", "write_geo_sample"]

#: The sample's CRS: CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres; x = easting, y = northing).
CRS = "EPSG:4547"
#: The made-up town centre (easting, northing in :data:`CRS`), inside the CRS's area of use.
CENTRE = (512_000.0, 3_300_000.0)
#: Invented names of the sample communities (zh, en).
COMMUNITY_NAMES = {
    "urban-01": ("东街社区", "East Street"),
    "urban-02": ("西街社区", "West Street"),
    "urban-03": ("南街社区", "South Street"),
    "rural-01": ("东山乡", "Dongshan township"),
    "rural-02": ("西河乡", "Xihe township"),
    "ageing-01": ("老城社区", "Old Town"),
}
#: Mean radius (m) of the town disc, of the ageing ring's outer edge and of the rural edge.
_RADII = (1_600.0, 4_200.0, 15_000.0)
#: Where the wedges split (degrees, counter-clockwise from east): urban and rural.
_URBAN_SPLITS = {"urban-01": (-30, 90), "urban-02": (90, 210), "urban-03": (210, 330)}
_RURAL_SPLITS = {"rural-01": (-110, 100), "rural-02": (100, 250)}
#: Service points: id, kind, zh, en, distance from the centre (m), direction (degrees).
SERVICE_POINTS = (
    ("H-01", "hospital", "县人民医院", "County hospital", 500, 10),
    ("CR-01", "counselling_room", "镇心理咨询室", "Town counselling room", 400, 120),
    ("CR-02", "counselling_room", "老城心理咨询室", "Old Town counselling room", 2_600, 200),
    ("HS-01", "health_station", "东街卫生服务站", "East Street health station", 800, 30),
    ("HS-02", "health_station", "西街卫生服务站", "West Street health station", 900, 150),
    ("HS-03", "health_station", "南街卫生服务站", "South Street health station", 700, 270),
    ("HS-04", "health_station", "老城卫生服务站", "Old Town health station", 2_900, 45),
    ("HS-05", "health_station", "东山乡卫生院", "Dongshan township health centre", 7_500, 0),
    ("HS-06", "health_station", "西河乡卫生院", "Xihe township health centre", 4_800, 175),
)
#: Rural villages: (distance range from the centre in m, number of villages) per community.
_VILLAGES = {"rural-01": ((5_000, 13_000), 6), "rural-02": ((7_000, 14_000), 5)}
_VILLAGE_SD = 350.0
_STEP = 0.1  # metres: coordinates are rounded to this


def _boundary(seed: int):
    """Radius functions r_k(θ) of the three rings: a mean radius with a few seeded wiggles."""
    rng = np.random.default_rng([seed, 18, 1])
    waves = [(rng.uniform(0.03, 0.07, 3), rng.uniform(0, 2 * np.pi, 3)) for _ in _RADII]

    def radius(k: int, degrees: np.ndarray) -> np.ndarray:
        amp, phase = waves[k]
        t = np.radians(degrees)
        return _RADII[k] * (1 + sum(a * np.sin((j + 2) * t + p) for j, (a, p) in enumerate(zip(amp, phase))))

    return radius


def _xy(r: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    t = np.radians(degrees)
    x = np.round((CENTRE[0] + r * np.cos(t)) / _STEP) * _STEP
    y = np.round((CENTRE[1] + r * np.sin(t)) / _STEP) * _STEP
    return np.column_stack([np.round(x, 1), np.round(y, 1)])


def community_polygons(*, seed: int) -> dict[str, shapely.Polygon]:
    """The six sample communities as polygons in :data:`CRS` (touching, never overlapping).

    Examples
    --------
    >>> polys = community_polygons(seed=1)
    >>> sorted(polys)
    ['ageing-01', 'rural-01', 'rural-02', 'urban-01', 'urban-02', 'urban-03']
    >>> all(p.is_valid for p in polys.values()), round(polys["urban-01"].area / 1e6, 1) < 3
    (True, True)
    """
    radius = _boundary(seed)
    ring = np.arange(0, 360, 1.0)

    def arc(k: int, start: int, stop: int) -> np.ndarray:
        step = 1 if stop >= start else -1
        degrees = np.arange(start, stop + step, step, dtype=float) % 360
        return _xy(radius(k, degrees), degrees)

    out: dict[str, shapely.Polygon] = {}
    centre = np.round(np.array([CENTRE]), 1)
    for name, (a, b) in _URBAN_SPLITS.items():
        out[name] = shapely.Polygon(np.vstack([centre, arc(0, a, b)]))
    out["ageing-01"] = shapely.Polygon(_xy(radius(1, ring), ring), holes=[_xy(radius(0, ring), ring)[::-1]])
    for name, (a, b) in _RURAL_SPLITS.items():
        out[name] = shapely.Polygon(np.vstack([arc(2, a, b), arc(1, b, a)]))
    return {k: shapely.orient_polygons(v) for k, v in sorted(out.items())}


def service_points_frame() -> pd.DataFrame:
    """The sample's service points: ``point_id, kind, name_zh, name_en, x, y`` (in :data:`CRS`).

    Examples
    --------
    >>> service_points_frame()["kind"].value_counts().to_dict()
    {'health_station': 6, 'counselling_room': 2, 'hospital': 1}
    """
    rows = []
    for pid, kind, zh, en, r, degrees in SERVICE_POINTS:
        x, y = _xy(np.array([float(r)]), np.array([float(degrees)]))[0]
        rows.append({"point_id": pid, "kind": kind, "name_zh": zh, "name_en": en, "x": float(x), "y": float(y)})
    return pd.DataFrame(rows)


def _inside(poly: shapely.Polygon, xy: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(poly, xy[:, 0], xy[:, 1])


def _uniform(rng, poly: shapely.Polygon, n: int) -> np.ndarray:
    """``n`` points uniform in ``poly`` (rejection from its bounding box), rounded, strictly inside."""
    x0, y0, x1, y1 = poly.bounds
    got = np.empty((0, 2))
    while len(got) < n:
        xy = np.round(np.column_stack([rng.uniform(x0, x1, 4 * n + 8), rng.uniform(y0, y1, 4 * n + 8)]), 1)
        got = np.vstack([got, xy[_inside(poly, xy)]])
    return got[:n]


def _villages(rng, poly: shapely.Polygon, n: int, span: tuple[float, float], k: int) -> np.ndarray:
    """``n`` homes in ``k`` villages whose centres lie ``span`` metres from the town centre."""
    centres = np.empty((0, 2))
    while len(centres) < k:
        r, t = rng.uniform(*span), rng.uniform(0, 360)
        c = np.array([[CENTRE[0] + r * np.cos(np.radians(t)), CENTRE[1] + r * np.sin(np.radians(t))]])
        if _inside(poly, c)[0]:
            centres = np.vstack([centres, c])
    which = rng.integers(0, k, n)
    out = np.empty((n, 2))
    todo = np.arange(n)
    while len(todo):
        xy = np.round(centres[which[todo]] + rng.normal(0, _VILLAGE_SD, (len(todo), 2)), 1)
        ok = _inside(poly, xy)
        out[todo[ok]] = xy[ok]
        todo = todo[~ok]
    return out


def sample_homes_frame(residents: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """A synthetic home per resident inside their community: ``resident_id, x, y`` (in :data:`CRS`).

    Urban and ageing homes are uniform over the community; rural homes are in villages. A resident
    without a sample community gets no home (left out).

    Examples
    --------
    >>> r = pd.DataFrame({"resident_id": ["a", "b", "c"], "community": ["urban-02", "ageing-01", None]})
    >>> sample_homes_frame(r, seed=3)["resident_id"].tolist()
    ['a', 'b']
    """
    polys = community_polygons(seed=seed)
    rng = np.random.default_rng([seed, 18, 2])
    people = residents[["resident_id", "community"]].sort_values("resident_id", kind="stable")
    parts = []
    for name, poly in polys.items():
        ids = people.loc[people["community"] == name, "resident_id"].to_numpy()
        if name in _VILLAGES:
            span, k = _VILLAGES[name]
            xy = _villages(rng, poly, len(ids), span, k)
        else:
            xy = _uniform(rng, poly, len(ids))
        parts.append(pd.DataFrame({"resident_id": ids, "x": xy[:, 0], "y": xy[:, 1]}))
    out = pd.concat(parts, ignore_index=True).sort_values("resident_id", kind="stable").reset_index(drop=True)
    out["resident_id"] = out["resident_id"].astype(str)
    return out


def _number(v: float) -> float | int:
    return round(float(v), 1)


def _collection(name: str, features: list[dict]) -> str:
    """A GeoJSON FeatureCollection with its CRS declared (GDAL's ``crs`` member), one feature a line."""
    head = {"type": "FeatureCollection", "name": name,
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n"features": [\n'
    text += ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    return text + "\n]\n}\n"


def _ring(coords) -> list[list[float]]:
    return [[_number(x), _number(y)] for x, y in coords]


_README = """# Sample geography (synthetic)

**Synthetic: no real boundaries, places or services.** Generated by `workbench/geo/sample_data.py`
with the sample (`python -m workbench.sample`, seed {seed}); the test suite regenerates these
files and checks them byte for byte.

- `communities.geojson`: one polygon per sample community (`community`, `name_zh`, `name_en`);
  invented names; wedges and rings round an invented town centre.
- `service_points.geojson`: health stations, counselling rooms and a hospital (`point_id`, `kind`,
  `name_zh`, `name_en`).
- `homes.csv`: one made-up home point per sample resident (`resident_id`, `x`, `y`), inside the
  resident's community; rural homes are clustered in villages.

CRS: EPSG:4547, CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres (x = easting, y = northing);
the coordinates were only chosen to lie in the CRS's area of use. Distances are straight lines
in metres. Licence: made for this repository and distributed with it, under the same terms; no
third-party data, no attribution needed.
"""


def write_geo_sample(residents: pd.DataFrame, folder: str | Path, *, seed: int) -> Path:
    """Write ``communities.geojson``, ``service_points.geojson``, ``homes.csv`` and ``README.md`` to ``folder``.

    Parameters
    ----------
    residents : DataFrame
        The sample's residents (``resident_id``, ``community``).
    folder : path
        Where to write (created; the four files are replaced).
    seed : int
        The sample's seed.

    Examples
    --------
    >>> import tempfile
    >>> r = pd.DataFrame({"resident_id": ["a"], "community": ["urban-01"]})
    >>> sorted(p.name for p in write_geo_sample(r, tempfile.mkdtemp(), seed=1).iterdir())
    ['README.md', 'communities.geojson', 'homes.csv', 'service_points.geojson']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    features = []
    for name, poly in community_polygons(seed=seed).items():
        zh, en = COMMUNITY_NAMES[name]
        rings = [_ring(poly.exterior.coords), *(_ring(h.coords) for h in poly.interiors)]
        features.append({"type": "Feature", "properties": {"community": name, "name_zh": zh, "name_en": en},
                         "geometry": {"type": "Polygon", "coordinates": rings}})
    (folder / "communities.geojson").write_text(_collection("communities", features), encoding="utf-8", newline="\n")
    points = [{"type": "Feature", "properties": {k: r[k] for k in ("point_id", "kind", "name_zh", "name_en")},
               "geometry": {"type": "Point", "coordinates": [_number(r["x"]), _number(r["y"])]}}
              for r in service_points_frame().to_dict("records")]
    (folder / "service_points.geojson").write_text(_collection("service_points", points), encoding="utf-8",
                                                     newline="\n")
    homes = sample_homes_frame(residents, seed=seed)
    lines = ["resident_id,x,y", *(f"{r},{x:.1f},{y:.1f}" for r, x, y in homes.itertuples(index=False))]
    (folder / "homes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    (folder / "README.md").write_text(_README.format(seed=seed), encoding="utf-8", newline="\n")
    return folder
