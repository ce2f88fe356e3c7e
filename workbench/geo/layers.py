"""What a community map draws: one row per community with its boundary and its map measures.

:func:`map_frame` joins the need (:func:`workbench.geo.need.need_by_community`), the access
(:func:`workbench.geo.access.access_by_community`) and the blind spots
(:func:`workbench.geo.blind_spots.blind_spots`) to the boundaries. The static map
(:func:`workbench.geo_plots.community_map`) and the interactive widget
(:class:`workbench.ui.community_map.CommunityMap`) both draw this frame, so they show the same numbers.

Examples
--------
>>> MAP_MEASURES
('screen_positive', 'tier_2_3', 'median_distance_m', 'blind_spot_rank')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.params import TABLES, Instance, Interval, Options, validate_params

__all__ = ["MAP_MEASURES", "map_frame"]

#: The map measures (columns of :func:`map_frame`), in the order a chooser offers them.
MAP_MEASURES = ("screen_positive", "tier_2_3", "median_distance_m", "blind_spot_rank")


@validate_params({"tables": TABLES, "geography": Instance("workbench.geo.geography.Geography",
                                                           name="a workbench.geo.geography.Geography"),
                  "lang": Options("zh", "en"), "min_count": Interval(int, 1, None)})
def map_frame(tables, geography, *, homes=None, lang: str = "en", min_count: int = 5,
              standard: str = "china_2020_census"):
    """One row per community of the map: its name, boundary and map measures.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables (stored scores and decisions).
    geography : workbench.geo.geography.Geography
        Boundaries and service points (:func:`~workbench.geo.geography.sample_geography`,
        :func:`~workbench.geo.geography.site_geography`).
    homes : GeoDataFrame, optional
        A home per resident (:func:`~workbench.geo.geography.read_homes`); default
        ``geography.homes``. Without homes the distance measures and the blind spots are blank.
    lang : {"zh", "en"}
        Language of ``label``.
    min_count : int
        Small counts hidden (:func:`~workbench.geo.need.need_by_community`).
    standard : str
        Standard population of the age-standardised columns.

    Returns
    -------
    GeoDataFrame
        In the geography's CRS, sorted by community: ``community``, ``label`` (the name in
        ``lang``), ``geometry``, then the map measures :data:`MAP_MEASURES`:
        ``screen_positive`` and ``tier_2_3`` (empirical-Bayes smoothed rates in %, NaN when
        hidden for small counts), ``median_distance_m`` (straight line to the nearest service
        point), ``blind_spot_rank`` (1 = first blind spot; NaN when not a blind spot); and for
        details: ``n_screened``, ``screen_positive_adjusted``, ``tier_2_3_adjusted``
        (age-standardised %, NaN when hidden), ``share_far`` (% of homes beyond the programme's
        ``far_m``). ``attrs``: ``need``, ``access``, ``blind_spots`` (the tables behind it),
        ``min_count``, ``far_m``, ``lang``.

    Raises
    ------
    workbench.geo.geography.GeoDataError
        Residents of a community that is not on the map.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.geo.geography import sample_geography, sample_homes
    >>> g = sample_geography()
    >>> frame = map_frame(load_sample(), g, homes=sample_homes(g), lang="zh")
    >>> frame[["community", "label", "blind_spot_rank"]].head(3)
       community label  blind_spot_rank
    0  ageing-01  老城社区              NaN
    1   rural-01   东山乡              2.0
    2   rural-02   西河乡              1.0
    """
    from workbench.geo.access import access_by_community, nearest_service, settings
    from workbench.geo.blind_spots import blind_spots
    from workbench.geo.geography import GeoDataError
    from workbench.geo.need import need_by_community

    areas = geography.communities
    on_map = set(areas["community"])
    lives = tables.residents["community"].dropna()
    off_map = sorted(set(lives) - on_map)
    if off_map:
        raise GeoDataError([("residents", None, "community", c, f"has {int((lives == c).sum())} residents but no "
                             "boundary on the map") for c in off_map], context="the map frame")
    need = need_by_community(tables, standard=standard, min_count=min_count)
    homes = geography.homes if homes is None else homes
    s = settings()
    out = areas[["community", "name_zh" if lang == "zh" else "name_en", "geometry"]].rename(
        columns={"name_zh": "label", "name_en": "label"}).copy()

    def column(measure: str, value: str) -> pd.Series:
        rows = need[need["measure"] == measure].set_index("community")[value]
        return (rows * 100).reindex(out["community"]).to_numpy(float)

    out["screen_positive"] = column("screen_positive", "smoothed")
    out["tier_2_3"] = column("tier_2_3", "smoothed")
    if homes is not None and len(homes):
        access = access_by_community(nearest_service(homes, geography.service_points, kinds=s["distance"]["kinds"]),
                                     communities=sorted(on_map))
        spots = blind_spots(need, access)
        out["median_distance_m"] = access.set_index("community")["median_distance_m"].reindex(out["community"]).to_numpy(float)
        rank = spots.set_index("community")["blind_spot_rank"].astype("Float64").astype(float)
        out["blind_spot_rank"] = rank.reindex(out["community"]).to_numpy(float)
        share_far = (access.set_index("community")["share_far"] * 100).reindex(out["community"]).to_numpy(float)
    else:
        access = spots = None
        out["median_distance_m"] = np.nan
        out["blind_spot_rank"] = np.nan
        share_far = np.full(len(out), np.nan)
    out["n_screened"] = need[need["measure"] == "screen_positive"].set_index("community")["n"].reindex(
        out["community"]).astype("Int64").to_numpy()
    out["screen_positive_adjusted"] = column("screen_positive", "adjusted")
    out["tier_2_3_adjusted"] = column("tier_2_3", "adjusted")
    out["share_far"] = share_far
    out = out.reset_index(drop=True)
    out.attrs.update(need=need, access=access, blind_spots=spots, min_count=min_count,
                     far_m=s["distance"]["far_m"], lang=lang)
    return out
