"""Access to services: the nearest service point of each resident's home, and a summary per community.

Distances are **straight lines** in the map's projected CRS (metres), not travel along roads or
travel time: a resident across a river or a hill is farther than the number says. Read a
distance as "at least this far". The settings ("far" means more than ``far_m`` metres; which
kinds of service point count) are programme settings declared in
``workbench/data/geo_blind_spots.yaml`` (:func:`settings`).

Examples
--------
>>> import pandas as pd
>>> homes = pd.DataFrame({"resident_id": ["a", "b"], "community": ["c1", "c1"], "x": [0.0, 30.0], "y": [0.0, 40.0]})
>>> points = pd.DataFrame({"point_id": ["p"], "kind": ["hospital"], "x": [0.0], "y": [0.0]})
>>> nearest_service(homes, points)
  resident_id community point_id      kind  distance_m
0           a        c1        p  hospital         0.0
1           b        c1        p  hospital        50.0
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from workbench._declarations import load_yaml

__all__ = ["SETTINGS", "access_by_community", "nearest_service", "settings"]

#: The programme settings of access and blind spots.
SETTINGS = Path(__file__).resolve().parent.parent / "data" / "geo_blind_spots.yaml"


@lru_cache(maxsize=1)
def settings() -> dict:
    """The programme settings (``workbench/data/geo_blind_spots.yaml``), checked.

    Examples
    --------
    >>> settings()["distance"]["far_m"]
    5000
    """
    from workbench.geo.geography import KINDS
    from workbench.geo.need import MEASURES

    s = load_yaml(SETTINGS.read_text(encoding="utf-8"))
    problems = []
    far = s.get("distance", {}).get("far_m")
    if not isinstance(far, (int, float)) or isinstance(far, bool) or far <= 0:
        problems.append(f"distance.far_m must be a number of metres > 0, got {far!r}")
    kinds = s.get("distance", {}).get("kinds")
    if not kinds or any(k not in KINDS for k in kinds):
        problems.append(f"distance.kinds must be some of {list(KINDS)}, got {kinds!r}")
    if s.get("need", {}).get("measure") not in MEASURES:
        problems.append(f"need.measure must be one of {list(MEASURES)}")
    if s.get("need", {}).get("value") not in ("smoothed", "adjusted"):
        problems.append("need.value must be smoothed or adjusted")
    rule = s.get("rule", {})
    for key in ("min_need_ratio", "min_far_share"):
        v = rule.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            problems.append(f"rule.{key} must be a number >= 0, got {v!r}")
    if problems:
        raise ValueError(f"{SETTINGS.name}: " + "; ".join(problems))
    return s


def _xy(frame, what: str) -> np.ndarray:
    if "x" in frame.columns and "y" in frame.columns:
        return frame[["x", "y"]].to_numpy(float)
    if hasattr(frame, "geometry"):
        geom = frame.geometry
        return np.column_stack([geom.x.to_numpy(float), geom.y.to_numpy(float)])
    raise ValueError(f"{what}: needs x and y columns (metres in the map's CRS) or point geometries")


def nearest_service(homes, service_points, *, kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """The nearest service point to each home, and its straight-line distance in metres.

    Parameters
    ----------
    homes : DataFrame or GeoDataFrame
        ``resident_id``, ``community`` and the home as ``x``, ``y`` or a point geometry
        (:func:`workbench.geo.geography.read_homes`).
    service_points : DataFrame or GeoDataFrame
        ``point_id``, ``kind`` and ``x``, ``y`` or point geometries, in the same CRS.
    kinds : sequence of str, optional
        Only service points of these kinds (e.g. ``["health_station"]``); default all.

    Returns
    -------
    DataFrame
        One row per home: ``resident_id``, ``community``, ``point_id``, ``kind``, ``distance_m``.
        When two points are equally near, the one first by ``point_id``.

    Notes
    -----
    Euclidean distance in the projected CRS, found with a shapely ``STRtree``
    (``query_nearest``). Two GeoDataFrames in different CRSs are refused (reproject first).

    Examples
    --------
    >>> homes = pd.DataFrame({"resident_id": ["a"], "community": ["c"], "x": [0.0], "y": [0.0]})
    >>> points = pd.DataFrame({"point_id": ["p2", "p1"], "kind": ["hospital", "health_station"],
    ...                        "x": [3.0, 0.0], "y": [4.0, 5.0]})
    >>> nearest_service(homes, points)["point_id"].tolist()             # both 5 m away: first by id
    ['p1']
    >>> nearest_service(homes, points, kinds=["hospital"])["distance_m"].tolist()
    [5.0]
    """
    import shapely

    crs_h, crs_p = getattr(homes, "crs", None), getattr(service_points, "crs", None)
    if crs_h is not None and crs_p is not None and crs_h != crs_p:
        raise ValueError(f"nearest_service: homes ({crs_h.to_string()}) and service points ({crs_p.to_string()}) are "
                         "in different CRSs; reproject one (to_crs) first")
    points = service_points
    if kinds is not None:
        unknown = sorted(set(kinds) - set(service_points["kind"]))
        if unknown:
            raise ValueError(f"nearest_service: no service point of kind {unknown} (kinds present: "
                             f"{sorted(set(service_points['kind']))})")
        points = service_points[service_points["kind"].isin(list(kinds))]
    if not len(points):
        raise ValueError("nearest_service: there are no service points")
    points = points.sort_values("point_id", kind="stable").reset_index(drop=True)
    here, there = _xy(homes, "homes"), _xy(points, "service_points")
    if not np.isfinite(here).all():
        raise ValueError("nearest_service: some homes have no coordinates (check them with read_homes)")
    tree = shapely.STRtree(shapely.points(there))
    (home_i, point_i), dist = tree.query_nearest(shapely.points(here), all_matches=True, return_distance=True)
    best = pd.DataFrame({"home": home_i, "point": point_i, "d": dist}).sort_values(["home", "point"])
    best = best.drop_duplicates("home")   # all equally near; the first by point_id (points sorted)
    out = pd.DataFrame({
        "resident_id": homes["resident_id"].to_numpy(object)[best["home"]],
        "community": (homes["community"].to_numpy(object)[best["home"]] if "community" in homes.columns
                      else np.full(len(best), None, dtype=object)),
        "point_id": points["point_id"].to_numpy(object)[best["point"]],
        "kind": points["kind"].to_numpy(object)[best["point"]],
        "distance_m": best["d"].to_numpy(float)})
    return out.reset_index(drop=True)


def access_by_community(nearest: pd.DataFrame, *, far_m: float | None = None,
                        communities: Sequence[str] | None = None) -> pd.DataFrame:
    """Distance to the nearest service point, summarised per community.

    Parameters
    ----------
    nearest : DataFrame
        :func:`nearest_service`'s output.
    far_m : float, optional
        A home more than this many metres from its nearest service point is "far"; default the
        programme setting ``distance.far_m`` (:func:`settings`).
    communities : sequence of str, optional
        Communities to report even when no home is in them (their numbers blank).

    Returns
    -------
    DataFrame
        One row per community: ``community``, ``n`` (homes), ``median_distance_m``,
        ``p90_distance_m`` (90th percentile, linear interpolation), ``max_distance_m``,
        ``far`` (homes more than ``far_m`` away), ``share_far``, ``far_m``. ``attrs``:
        ``far_m`` and ``distance`` ("straight line").

    Examples
    --------
    >>> near = pd.DataFrame({"community": ["a", "a", "a", "b"], "distance_m": [100.0, 6000.0, 300.0, 50.0]})
    >>> access_by_community(near, far_m=5000)[["community", "n", "median_distance_m", "p90_distance_m", "far", "share_far"]]
      community  n  median_distance_m  p90_distance_m  far  share_far
    0         a  3              300.0          4860.0    1   0.333333
    1         b  1               50.0            50.0    0   0.000000
    """
    far_m = settings()["distance"]["far_m"] if far_m is None else far_m
    if not isinstance(far_m, (int, float)) or isinstance(far_m, bool) or not far_m > 0:
        raise ValueError(f"access_by_community: far_m must be a number of metres > 0; got {far_m!r}")
    d = nearest.dropna(subset=["community"])
    g = d.groupby("community", sort=True)["distance_m"]
    out = pd.DataFrame({"n": g.size(), "median_distance_m": g.median(), "p90_distance_m": g.quantile(0.9),
                        "max_distance_m": g.max(), "far": g.apply(lambda v: int((v > far_m).sum()))})
    if communities is not None:
        out = out.reindex(sorted(set(out.index) | set(communities)))
        out["n"] = out["n"].fillna(0).astype(int)
    out["share_far"] = out["far"] / out["n"].where(out["n"] > 0)
    out["far_m"] = far_m
    out = out.rename_axis("community").reset_index()
    out["far"] = pd.array(out["far"], dtype="Int64")
    out.attrs.update(far_m=far_m, distance="straight line")
    return out[["community", "n", "median_distance_m", "p90_distance_m", "max_distance_m", "far", "share_far", "far_m"]]
