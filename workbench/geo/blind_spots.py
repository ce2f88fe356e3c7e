"""Blind spots: communities where need is high and services are far, as a ranked table.

The rule is declared, with its thresholds marked as programme settings, in
``workbench/data/geo_blind_spots.yaml`` (:func:`workbench.geo.access.settings`):

1. need: the chosen measure of :func:`workbench.geo.need.need_by_community` (``tier_2_3`` by
   default) and value (``smoothed``, Marshall's empirical Bayes, by default); the **need ratio**
   is a community's need divided by the overall rate of the shown communities (the smoothing's
   prior ``b``, or the n-weighted mean of the values when they are age-standardised);
2. distance: the **share far**, residents whose home is more than ``far_m`` metres (straight
   line) from the nearest service point (:func:`workbench.geo.access.access_by_community`);
3. a community is a **blind spot** when need ratio >= ``min_need_ratio`` AND share far >=
   ``min_far_share``;
4. every community is ordered by the estimated **residents in need living far** (need x
   residents far), largest first, ties by share far then name; blind spots are numbered 1, 2 ...
   in that order (``blind_spot_rank``), the others have no rank.

A community whose need is hidden (small counts) cannot be judged: it is listed last with the
reason, never ranked on a guess.

Examples
--------
>>> import pandas as pd
>>> need = pd.DataFrame({"community": ["a", "b", "c"], "measure": "tier_2_3", "n": [100, 100, 100],
...                      "smoothed": [0.30, 0.20, 0.35], "suppressed": False})
>>> need.attrs["prior"] = {"tier_2_3": {"a": 0.001, "b": 0.25}}
>>> access = pd.DataFrame({"community": ["a", "b", "c"], "n": [100, 100, 100], "far": [60, 90, 10],
...                        "share_far": [0.6, 0.9, 0.1], "median_distance_m": [6000.0, 8000.0, 900.0]})
>>> blind_spots(need, access)[["community", "need_ratio", "far_in_need", "blind_spot", "blind_spot_rank"]]
  community  need_ratio  far_in_need  blind_spot  blind_spot_rank
0         b         0.8         18.0       False             <NA>
1         a         1.2         18.0        True                1
2         c         1.4          3.5       False             <NA>

``b`` and ``a`` both have about 18 residents in need living far (``b`` first: more of it is
far), but only ``a``'s need is at or above the overall 25 %; ``c``'s residents are near.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["blind_spots"]

_COLUMNS = ["community", "measure", "need", "need_ratio", "n_homes", "far", "share_far", "median_distance_m",
            "far_in_need", "high_need", "far_away", "blind_spot", "blind_spot_rank", "reason"]


def blind_spots(need: pd.DataFrame, access: pd.DataFrame, *, measure: str | None = None, value: str | None = None,
                min_need_ratio: float | None = None, min_far_share: float | None = None) -> pd.DataFrame:
    """Rank communities by residents in need living far from services; flag the blind spots.

    Parameters
    ----------
    need : DataFrame
        :func:`workbench.geo.need.need_by_community`'s output.
    access : DataFrame
        :func:`workbench.geo.access.access_by_community`'s output.
    measure, value, min_need_ratio, min_far_share : optional
        Override the programme settings (``need.measure``, ``need.value``,
        ``rule.min_need_ratio``, ``rule.min_far_share`` of ``geo_blind_spots.yaml``).

    Returns
    -------
    DataFrame
        One row per community, in rank order: ``community``, ``measure``, ``need`` (the rate
        used), ``need_ratio``, ``n_homes``, ``far``, ``share_far``, ``median_distance_m``,
        ``far_in_need`` (need x far: residents in need estimated to live far), ``high_need``,
        ``far_away``, ``blind_spot`` (both), ``blind_spot_rank`` (Int64, 1 = first to visit;
        blank when not a blind spot), ``reason`` (in words, English). ``attrs``: the rule used.

    Notes
    -----
    The overall rate is the empirical-Bayes prior mean of the shown communities
    (``need.attrs["prior"][measure]["b"]``) for smoothed values, else the mean of the values
    weighted by ``n``. See the module's notes for the rule.
    """
    from workbench.geo.access import settings

    s = settings()
    measure = measure or s["need"]["measure"]
    value = value or s["need"]["value"]
    min_need_ratio = s["rule"]["min_need_ratio"] if min_need_ratio is None else min_need_ratio
    min_far_share = s["rule"]["min_far_share"] if min_far_share is None else min_far_share
    rows = need[need["measure"] == measure]
    if rows.empty:
        raise ValueError(f"blind_spots: the need table has no rows of measure {measure!r} "
                         f"(it has {sorted(set(need['measure']))})")
    if value not in rows.columns:
        raise ValueError(f"blind_spots: value must be a column of the need table (smoothed or adjusted); got {value!r}")
    shown = rows[rows[value].notna()]
    prior = need.attrs.get("prior", {}).get(measure)
    if value == "smoothed" and prior is not None:
        overall = float(prior["b"])
    else:
        overall = float(np.average(shown[value], weights=shown["n"])) if len(shown) else np.nan
    d = rows[["community", "measure", value]].rename(columns={value: "need"}).merge(
        access[["community", "n", "far", "share_far", "median_distance_m"]].rename(columns={"n": "n_homes"}),
        on="community", how="outer")
    d["measure"] = measure
    d["need_ratio"] = d["need"] / overall if overall > 0 else np.nan
    d["far_in_need"] = d["need"] * pd.to_numeric(d["far"], errors="coerce").astype(float)
    d["high_need"] = (d["need_ratio"] >= min_need_ratio - 1e-12).where(d["need"].notna())
    d["far_away"] = (d["share_far"] >= min_far_share).where(d["share_far"].notna())
    d["high_need"], d["far_away"] = d["high_need"].astype("boolean"), d["far_away"].astype("boolean")
    d["blind_spot"] = (d["high_need"].fillna(False) & d["far_away"].fillna(False)).astype(bool)
    judged = d["need"].notna() & d["share_far"].notna()
    d["_judged"] = ~judged
    d = d.sort_values(["_judged", "far_in_need", "share_far", "community"], ascending=[True, False, False, True],
                      kind="stable", na_position="last").reset_index(drop=True)
    rank = d["blind_spot"].cumsum().where(d["blind_spot"])
    d["blind_spot_rank"] = pd.array(rank.astype("float"), dtype="Int64")

    def reason(r) -> str:
        if pd.isna(r["need"]):
            return "need hidden (small counts): not judged"
        if pd.isna(r["share_far"]):
            return "no homes: distance unknown, not judged"
        need_words = (f"need {r['need_ratio']:.2f} x overall ({'high' if r['high_need'] else 'not high'}; "
                      f"threshold {min_need_ratio:g})")
        far_words = (f"{r['share_far']:.0%} live over {access['far_m'].iloc[0] if 'far_m' in access else '?'} m "
                     f"from a service ({'far' if r['far_away'] else 'not far'}; threshold {min_far_share:.0%})")
        return f"{need_words}; {far_words}"

    d["reason"] = [reason(r) for _, r in d.iterrows()]
    out = d[_COLUMNS]
    out.attrs.update(measure=measure, value=value, overall=overall, min_need_ratio=min_need_ratio,
                     min_far_share=min_far_share, far_m=access.attrs.get("far_m"), settings=str(s.get("version")))
    return out
