"""Geography as data: community boundaries and service points read from a site's files and checked.

A site supplies its community boundaries and its service points as GeoJSON or a shapefile
(read with pyogrio through GeoPandas); :func:`read_geography` refuses them, naming every
problem at once (:class:`GeoDataError`: table, row, column, value, rule), when

- a geometry is missing, empty, of the wrong kind (boundaries: polygons; service points: points)
  or invalid (a self-intersecting "bow tie", a ring that does not close ...: GEOS's reason);
- no CRS is declared (a shapefile without ``.prj``), or the CRS is geographic (degrees of
  longitude and latitude) and no ``to_crs`` says which projected CRS to measure distances in,
  or a file said to be in degrees holds coordinates that cannot be degrees;
- a community or service-point id is blank or repeated, a name (``name_zh``, ``name_en``) is
  blank, a service point's ``kind`` is not one of :data:`KINDS`;
- two communities overlap (more than :data:`OVERLAP_M2` square metres): a home would belong to both;
- a community of the registry (``communities``) is not on the map, or the map has a community
  the registry does not know.

Rows are numbered as features in the file, from 1. A GeoJSON file without a ``crs`` member is
read as RFC 7946 says, in WGS 84 longitude/latitude (EPSG:4326), so it needs ``to_crs``.
Distances everywhere in :mod:`workbench.geo` are straight lines in the projected CRS, in metres.

Examples
--------
>>> g = sample_geography()
>>> g.crs.to_string(), len(g.communities), len(g.service_points)
('EPSG:4547', 6, 9)
"""

from __future__ import annotations

import base64
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from workbench._errors import RowProblemsError
from workbench.params import Predicate, validate_params

__all__ = ["COMMUNITY_COLUMNS", "Geography", "GeoDataError", "KINDS", "OVERLAP_M2", "POINT_COLUMNS",
           "read_basemap", "read_geography", "read_homes", "sample_geography", "sample_homes", "site_geography"]

#: Properties every community boundary has.
COMMUNITY_COLUMNS = ("community", "name_zh", "name_en")
#: Properties every service point has.
POINT_COLUMNS = ("point_id", "kind", "name_zh", "name_en")
#: Kinds of service point.
KINDS = ("health_station", "counselling_room", "hospital")
#: Overlap between two communities tolerated (m²): digitising slivers below this are ignored.
OVERLAP_M2 = 1.0
#: Environment variable naming a site's geography folder (:func:`site_geography`).
ENV = "WORKBENCH_GEO"


class GeoDataError(RowProblemsError):
    """Geography that cannot be used; names every problem (table, row, column, value, rule)."""

    table = "boundaries"

    def __init__(self, problems: list[tuple], *, context: str = "the geography"):
        super().__init__(problems, context=context)


@dataclass
class Geography:
    """Community boundaries and service points in one projected CRS (metres).

    Attributes
    ----------
    communities : GeoDataFrame
        One row per community: ``community``, ``name_zh``, ``name_en``, ``geometry`` (polygons).
    service_points : GeoDataFrame
        ``point_id``, ``kind`` (:data:`KINDS`), ``name_zh``, ``name_en``, ``geometry`` (points).
    crs : pyproj.CRS
        The CRS of both (projected, metres).
    homes : GeoDataFrame, optional
        A home point per resident (:func:`read_homes`), when the site supplies them.
    basemap : dict, optional
        A local image drawn under the communities (:func:`read_basemap`: ``href``, a PNG data
        URI, and ``bounds`` in :attr:`crs`), when the site supplies one. Never a tile URL.
    """

    communities: object
    service_points: object
    crs: object
    homes: object = field(default=None)
    basemap: dict | None = field(default=None)

    def __repr__(self) -> str:
        return (f"Geography({len(self.communities)} communities, {len(self.service_points)} service points, "
                f"{self.crs.to_string()}{'' if self.homes is None else f', {len(self.homes)} homes'}"
                f"{'' if self.basemap is None else ', a basemap'})")


_PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == _PNG


#: Where a basemap image lies in the map's CRS.
_BOUNDS = Predicate(lambda b: len(b) == 4 and all(isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
                                                 and math.isfinite(x) for x in b) and b[0] < b[2] and b[1] < b[3],
                   "(min x, min y, max x, max y) with min < max")


@validate_params({"image": Predicate(_is_png, "a PNG file"), "bounds": _BOUNDS})
def read_basemap(image, *, bounds) -> dict:
    """A local basemap: the PNG file ``image`` embedded as a data URI, drawn over ``bounds`` =
    (min x, min y, max x, max y) in the map's CRS. Never a URL: nothing is fetched to draw it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> png = pathlib.Path(tempfile.mkdtemp()) / "base.png"
    >>> _ = png.write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + b"0" * 8)
    >>> base = read_basemap(png, bounds=(0, 0, 10, 10))
    >>> base["href"][:22], base["bounds"]
    ('data:image/png;base64,', [0.0, 0.0, 10.0, 10.0])
    """
    data = Path(image).read_bytes()
    return {"href": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "bounds": [float(x) for x in bounds]}


def _site_basemap(folder: Path) -> dict | None:
    """``basemap.png`` with its ``basemap.json`` (``{"bounds": [min x, min y, max x, max y]}``), both or none."""
    image, about = folder / "basemap.png", folder / "basemap.json"
    if not image.is_file() and not about.is_file():
        return None
    problems, bounds = [], None
    if not image.is_file():
        problems.append(("basemap", None, "basemap.png", None, "is missing: basemap.json gives the bounds of the "
                         "image basemap.png beside it"))
    elif not _is_png(image):
        problems.append(("basemap", None, "basemap.png", None, "is not a PNG file"))
    if not about.is_file():
        problems.append(("basemap", None, "basemap.json", None, "is missing: basemap.png needs its bounds in the "
                         'map\'s CRS, {"bounds": [min x, min y, max x, max y]}'))
    else:
        try:
            bounds = json.loads(about.read_text(encoding="utf-8"))
        except ValueError as err:
            problems.append(("basemap", None, "basemap.json", None, f"is not valid JSON ({err})"))
        else:
            bounds = bounds.get("bounds") if isinstance(bounds, dict) else None
            if not _BOUNDS.accepts(bounds):
                problems.append(("basemap", None, "bounds", bounds, "must be [min x, min y, max x, max y] in the "
                                 "map's CRS with min < max"))
    if problems:
        raise GeoDataError(problems, context="the basemap")
    return read_basemap(image, bounds=tuple(bounds))


def _read(path, table: str):
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{table}: no file {path}")
    return gpd.read_file(path, engine="pyogrio")


def _value(v):
    return v.item() if isinstance(v, np.generic) else v


def _check_crs(frame, table: str, to_crs, problems: list) -> object:
    """The frame in a projected CRS, or None after adding the problem."""
    crs = frame.crs
    if crs is None:
        problems.append((table, None, "crs", None, "no CRS is declared (a shapefile needs its .prj; a GeoJSON its "
                                                   "crs member): say which CRS the coordinates are in"))
        return None
    if crs.is_geographic:
        bounds = frame.geometry.bounds
        if len(frame) and ((bounds[["minx", "maxx"]].abs() > 180).any().any()
                           or (bounds[["miny", "maxy"]].abs() > 90).any().any()):
            problems.append((table, None, "crs", crs.to_string(),
                             "coordinates are not degrees of longitude/latitude although the file says so (a GeoJSON "
                             "without a crs member is read as WGS 84): declare the file's real CRS"))
            return None
        if to_crs is None:
            problems.append((table, None, "crs", crs.to_string(),
                             "is geographic (degrees): distances need a projected CRS in metres; give to_crs "
                             "(e.g. 'EPSG:4547')"))
            return None
    if to_crs is not None:
        import pyproj

        target = pyproj.CRS.from_user_input(to_crs)
        if not target.is_projected:
            problems.append((table, None, "to_crs", target.to_string(), "must be a projected CRS (metres)"))
            return None
        return frame.to_crs(target)
    if not crs.is_projected:
        problems.append((table, None, "crs", crs.to_string(), "must be a projected CRS (metres)"))
        return None
    return frame


def _check_geometries(frame, table: str, kinds: tuple[str, ...], problems: list) -> None:
    import shapely

    for i, geom in enumerate(frame.geometry, start=1):
        if geom is None:
            problems.append((table, i, "geometry", None, "is missing"))
        elif geom.is_empty:
            problems.append((table, i, "geometry", "EMPTY", "is empty"))
        elif geom.geom_type not in kinds:
            problems.append((table, i, "geometry", geom.geom_type, f"must be a {' or '.join(kinds)}"))
        elif not geom.is_valid:
            problems.append((table, i, "geometry", geom.geom_type,
                             f"is not a valid geometry: {shapely.is_valid_reason(geom)} (repair it, e.g. "
                             "shapely.make_valid, and check the result)"))


def _check_columns(frame, table: str, columns: Iterable[str], key: str, problems: list) -> bool:
    absent = [c for c in columns if c not in frame.columns]
    for c in absent:
        problems.append((table, None, c, None, f"is absent: every feature needs {', '.join(columns)}"))
    if absent:
        return False
    text = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    for c in columns:
        for i, v in enumerate(text[c], start=1):
            if v is None or not str(v).strip():
                problems.append((table, i, c, _value(v), "is blank"))
    ids = text[key].map(lambda v: None if v is None else str(v).strip())
    seen: dict[str, int] = {}
    for i, v in enumerate(ids, start=1):
        if v:
            if v in seen:
                problems.append((table, i, key, v, f"repeats the {key} of row {seen[v]}: each one once"))
            else:
                seen[v] = i
    return True


def _check_overlaps(frame, problems: list) -> None:
    import shapely

    geoms = frame.geometry.to_numpy()
    ok = np.array([g is not None and not g.is_empty and g.is_valid for g in geoms])
    tree = shapely.STRtree(np.where(ok, geoms, None))
    left, right = tree.query(np.where(ok, geoms, None), predicate="intersects")
    for a, b in zip(left, right):
        if a < b:
            area = shapely.intersection(geoms[a], geoms[b]).area
            if area > OVERLAP_M2:
                problems.append(("boundaries", int(b) + 1, "geometry", str(frame["community"].iloc[b]),
                                 f"overlaps community {frame['community'].iloc[a]!s} (row {int(a) + 1}) by "
                                 f"{area:,.0f} m²: a community's area must not overlap another's"))


def _registry_names(communities) -> list[str] | None:
    if communities is None:
        return None
    if isinstance(communities, pd.DataFrame):
        if "community" not in communities.columns:
            raise ValueError("communities: a table of communities needs a 'community' column")
        values = communities["community"]
    else:
        values = pd.Series(list(communities), dtype=object)
    return sorted({str(v) for v in values.dropna()})


def read_geography(boundaries, service_points, *, communities=None, to_crs=None) -> Geography:
    """Read and check a site's community boundaries and service points.

    Parameters
    ----------
    boundaries : path
        GeoJSON or shapefile of community polygons with properties :data:`COMMUNITY_COLUMNS`.
    service_points : path
        GeoJSON or shapefile of points with properties :data:`POINT_COLUMNS`.
    communities : DataFrame or list of str, optional
        The registry's communities (its ``communities`` table, or their ids): every one must be
        on the map and the map may hold no other.
    to_crs : str or pyproj.CRS, optional
        Reproject both layers to this projected CRS (needed when a file is in degrees). Without
        it, service points in another projected CRS than the boundaries are reprojected to the
        boundaries' CRS.

    Returns
    -------
    Geography
        Both layers in one projected CRS; ids and names as text, boundaries sorted by community.

    Raises
    ------
    GeoDataError
        Every problem found (see the module's notes); nothing is returned.

    Examples
    --------
    >>> from workbench.sample import SAMPLE_DIR
    >>> geo = SAMPLE_DIR / "geo"
    >>> g = read_geography(geo / "communities.geojson", geo / "service_points.geojson",
    ...                    communities=["ageing-01", "rural-01", "rural-02", "urban-01", "urban-02", "urban-03"])
    >>> g.communities.columns.tolist(), g.crs.is_projected
    (['community', 'name_zh', 'name_en', 'geometry'], True)
    >>> read_geography(geo / "communities.geojson", geo / "service_points.geojson",
    ...                communities=["urban-01", "urban-02", "urban-03", "rural-01", "rural-02", "ageing-01", "new-01"])
    Traceback (most recent call last):
    ...
    workbench.geo.geography.GeoDataError: the geography: 1 problem; nothing was analysed:
    - boundaries, column 'community': value 'new-01' is a community of the registry but has no boundary on the map
    """
    registry = _registry_names(communities)
    problems: list[tuple] = []
    areas, points = _read(boundaries, "boundaries"), _read(service_points, "service_points")
    _check_geometries(areas, "boundaries", ("Polygon", "MultiPolygon"), problems)
    _check_geometries(points, "service_points", ("Point",), problems)
    has_ids = _check_columns(areas, "boundaries", COMMUNITY_COLUMNS, "community", problems)
    has_points = _check_columns(points, "service_points", POINT_COLUMNS, "point_id", problems)
    if has_points:
        for i, v in enumerate(points["kind"], start=1):
            if pd.notna(v) and str(v).strip() and str(v) not in KINDS:
                problems.append(("service_points", i, "kind", _value(v), f"must be one of {', '.join(KINDS)}"))
    areas_p = _check_crs(areas, "boundaries", to_crs, problems)
    points_p = _check_crs(points, "service_points", to_crs, problems)
    if areas_p is not None and has_ids:
        _check_overlaps(areas_p, problems)
    if registry is not None and has_ids:
        on_map = {str(v).strip() for v in areas["community"].dropna()}
        for i, v in enumerate(areas["community"], start=1):
            if pd.notna(v) and str(v).strip() and str(v).strip() not in registry:
                problems.append(("boundaries", i, "community", _value(v),
                                 f"is not a community of the registry ({', '.join(registry)})"))
        for name in registry:
            if name not in on_map:
                problems.append(("boundaries", None, "community", name,
                                 "is a community of the registry but has no boundary on the map"))
    if problems:
        raise GeoDataError(problems)
    if points_p.crs != areas_p.crs:
        points_p = points_p.to_crs(areas_p.crs)
    areas_p = areas_p[[*COMMUNITY_COLUMNS, "geometry"]].copy()
    points_p = points_p[[*POINT_COLUMNS, "geometry"]].copy()
    for frame, columns in ((areas_p, COMMUNITY_COLUMNS), (points_p, POINT_COLUMNS)):
        for c in columns:
            frame[c] = frame[c].astype(str).str.strip()
    areas_p = areas_p.sort_values("community", kind="stable").reset_index(drop=True)
    points_p = points_p.sort_values("point_id", kind="stable").reset_index(drop=True)
    return Geography(communities=areas_p, service_points=points_p, crs=areas_p.crs)


def read_homes(path, geography: Geography, *, residents: pd.DataFrame | None = None):
    """Read and check a home point per resident (``resident_id, x, y`` in the geography's CRS).

    Parameters
    ----------
    path : path or DataFrame
        CSV with ``resident_id``, ``x``, ``y`` (one row per resident), or such a frame.
    geography : Geography
        The communities the homes must lie in (and whose CRS ``x``, ``y`` are in).
    residents : DataFrame, optional
        ``resident_id``, ``community`` of the registry: every home must be a known resident's
        and lie in (or on the edge of) that resident's community.

    Returns
    -------
    GeoDataFrame
        ``resident_id``, ``community`` (the resident's, else the community the home lies in),
        ``x``, ``y``, ``geometry``; sorted by resident.

    Raises
    ------
    GeoDataError
        Blank or repeated resident ids, missing or non-numeric coordinates, a home outside every
        community, a home of an unknown resident, a home outside its resident's community.

    Examples
    --------
    >>> g = sample_geography()
    >>> homes = pd.DataFrame({"resident_id": ["a"], "x": [0.0], "y": [0.0]})
    >>> read_homes(homes, g)
    Traceback (most recent call last):
    ...
    workbench.geo.geography.GeoDataError: the homes: 1 problem; nothing was analysed:
    - homes, row 1, column 'x, y': value '0.0, 0.0' is outside every community of the map
    """
    import geopandas as gpd
    import shapely

    frame = path if isinstance(path, pd.DataFrame) else pd.read_csv(path, dtype={"resident_id": str},
                                                                    encoding="utf-8-sig")
    problems: list[tuple] = []
    absent = [c for c in ("resident_id", "x", "y") if c not in frame.columns]
    if absent:
        raise GeoDataError([("homes", None, c, None, "is absent: homes need resident_id, x, y") for c in absent],
                           context="the homes")
    ids = frame["resident_id"].astype(object).where(frame["resident_id"].notna(), None)
    ids = ids.map(lambda v: None if v is None or not str(v).strip() else str(v).strip())
    x, y = pd.to_numeric(frame["x"], errors="coerce"), pd.to_numeric(frame["y"], errors="coerce")
    seen: dict[str, int] = {}
    for i, v in enumerate(ids, start=1):
        if v is None:
            problems.append(("homes", i, "resident_id", None, "is blank"))
        elif v in seen:
            problems.append(("homes", i, "resident_id", v, f"repeats the resident of row {seen[v]}: one home each"))
        else:
            seen[v] = i
    bad_xy = ~(np.isfinite(x.to_numpy(float)) & np.isfinite(y.to_numpy(float)))
    for i in np.flatnonzero(bad_xy):
        problems.append(("homes", int(i) + 1, "x, y", f"{_value(frame['x'].iloc[i])}, {_value(frame['y'].iloc[i])}",
                         "must be two numbers (metres in the map's CRS)"))
    areas = geography.communities
    xs, ys = np.nan_to_num(x.to_numpy(float)), np.nan_to_num(y.to_numpy(float))
    points = shapely.points(xs, ys)
    tree = shapely.STRtree(areas.geometry.to_numpy())
    which = np.full(len(frame), -1)
    hit_point, hit_area = tree.query(points, predicate="covered_by")
    for p, a in sorted(zip(hit_point, hit_area), reverse=True):  # the first community (sorted) wins on an edge
        which[p] = a
    names = areas["community"].to_numpy(object)
    community = pd.Series(np.where(which >= 0, names[np.maximum(which, 0)], None), dtype=object)
    own = None
    if residents is not None:
        known = residents.assign(resident_id=residents["resident_id"].astype(str)).set_index("resident_id")["community"]
        own = ids.map(known)
        position = {name: k for k, name in enumerate(names)}
        covered = set(zip(hit_point.tolist(), hit_area.tolist()))
        for i, (rid, c) in enumerate(zip(ids, own), start=1):
            if rid is not None and rid not in known.index:
                problems.append(("homes", i, "resident_id", rid, "is not a resident of the registry"))
            elif (rid is not None and pd.notna(c) and not bad_xy[i - 1] and c in position
                  and (i - 1, position[c]) not in covered):
                problems.append(("homes", i, "x, y", f"{xs[i - 1]:.1f}, {ys[i - 1]:.1f}",
                                 f"is outside the resident's community {c} "
                                 f"(it lies in {community.iloc[i - 1] or 'no community of the map'})"))
    for i in np.flatnonzero((which < 0) & ~bad_xy):
        if own is None or pd.isna(own.iloc[i]) or ids.iloc[i] not in seen:
            problems.append(("homes", int(i) + 1, "x, y", f"{xs[i]:.1f}, {ys[i]:.1f}",
                             "is outside every community of the map"))
    if problems:
        raise GeoDataError(problems, context="the homes")
    if own is not None:
        community = own.where(own.notna(), community)
    out = gpd.GeoDataFrame({"resident_id": ids.to_numpy(object), "community": community.to_numpy(object),
                            "x": xs, "y": ys}, geometry=points, crs=geography.crs)
    return out.sort_values("resident_id", kind="stable").reset_index(drop=True)


def _sample_dir() -> Path:
    from workbench.sample import SAMPLE_DIR

    return SAMPLE_DIR


def _sample_residents() -> pd.DataFrame:
    return pd.read_csv(_sample_dir() / "residents.csv", usecols=["resident_id", "community"], dtype=str,
                       encoding="utf-8-sig")


def sample_geography() -> Geography:
    """The sample's synthetic geography (``data_samples/geo``), checked against its communities.

    Examples
    --------
    >>> sample_geography().communities["community"].tolist()
    ['ageing-01', 'rural-01', 'rural-02', 'urban-01', 'urban-02', 'urban-03']
    """
    folder = _sample_dir()
    registry = pd.read_csv(folder / "communities.csv", dtype=str, encoding="utf-8-sig")
    return read_geography(folder / "geo" / "communities.geojson", folder / "geo" / "service_points.geojson",
                          communities=registry)


def sample_homes(geography: Geography | None = None):
    """The sample residents' synthetic homes (:func:`read_homes` of ``data_samples/geo/homes.csv``).

    Examples
    --------
    >>> h = sample_homes()
    >>> len(h), h.columns.tolist()
    (3000, ['resident_id', 'community', 'x', 'y', 'geometry'])
    """
    return read_homes(_sample_dir() / "geo" / "homes.csv", geography or sample_geography(),
                      residents=_sample_residents())


def site_geography(*, folder=None, communities=None, residents: pd.DataFrame | None = None) -> Geography | None:
    """The site's geography from ``folder``, else from the folder named by ``WORKBENCH_GEO``, or
    None when neither is given (``workbench report quality --geo FOLDER`` passes its folder).

    The folder holds ``communities.geojson`` and ``service_points.geojson`` (or ``.shp``
    files of those names), optionally ``homes.csv`` (then in :attr:`Geography.homes`) and
    optionally a local basemap: ``basemap.png`` with ``basemap.json``, ``{"bounds": [min x,
    min y, max x, max y]}`` in the map's CRS (then in :attr:`Geography.basemap`,
    :func:`read_basemap`; one without the other, or bounds that are not a box, is a
    :class:`GeoDataError`).
    ``communities`` and ``residents`` are passed to the checks (:func:`read_geography`,
    :func:`read_homes`).

    Examples
    --------
    >>> import os
    >>> os.environ.pop("WORKBENCH_GEO", None) and None
    >>> site_geography() is None
    True
    """
    named = f"{folder}" if folder else f"{ENV}={os.environ.get(ENV)}"
    folder = folder or os.environ.get(ENV)
    if not folder:
        return None
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{named}: no such folder (it should hold communities.geojson and "
                                "service_points.geojson)")

    def find(stem: str) -> Path:
        for suffix in (".geojson", ".json", ".shp"):
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
        return folder / f"{stem}.geojson"

    g = read_geography(find("communities"), find("service_points"), communities=communities)
    if (folder / "homes.csv").is_file():
        g.homes = read_homes(folder / "homes.csv", g, residents=residents)
    g.basemap = _site_basemap(folder)
    return g
