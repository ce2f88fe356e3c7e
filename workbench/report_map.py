"""The "Community map" section of the standalone quality report (:mod:`workbench.report`).

When a geography is configured (:func:`workbench.geo.geography.site_geography`, or a folder given
to ``workbench report quality --geo FOLDER``: its ``folder=``), :func:`map_section`
draws the static community maps (:func:`workbench.geo_plots.community_map`) of
:func:`workbench.geo.layers.map_frame`, the same frame the app's map draws:

- need: the tier 2-3 rate by community (empirical-Bayes smoothed, small counts hidden);
- with homes only: the median straight-line distance to the nearest service point, and the
  blind-spot rank, followed by the ranked blind-spot table with the declared rule in words
  (``workbench/data/geo_blind_spots.yaml``, :func:`workbench.geo.blind_spots.blind_spots`).

Each map is an embedded PNG (a ``data:`` URI, like the report's control charts: the report stays
one file and nothing is fetched) with a text alternative in the report's language that names every
community and its value (a hidden value in the map's blank words, never 0). ``min_count`` is the
report's: :func:`~workbench.geo.layers.map_frame` hides the rates of small counts, and the table
also hides the count of homes far from services (and what would reveal it) when it is from 1 to
``min_count - 1``. Without a geography the section is one line saying no map is configured.

Homes (``homes.csv`` of the folder) are checked against the map (every home inside a community),
not against the resident ids of the tables, which are pseudonyms in an export or a registry read.

Examples
--------
>>> print(map_section(None, None, lang="en"))
<h2 id="community-map">Community map</h2>
<p class="note map-none">No community map: no geography is configured (workbench report quality --geo FOLDER, or the WORKBENCH_GEO folder).</p>
"""

from __future__ import annotations

import html

from workbench.geo.legend import is_blank as _blank
from workbench.params import Interval, Options, validate_params

__all__ = ["MAP_MEASURES", "blind_spot_rows", "map_section"]

#: The report's maps, in order; the last two need homes.
MAP_MEASURES = ("tier_2_3", "median_distance_m", "blind_spot_rank")
_NEED_HOMES = ("median_distance_m", "blind_spot_rank")

_TEXT = {
    "en": {"heading": "Community map",
           "none": "No community map: no geography is configured (workbench report quality --geo FOLDER, or the "
                   "WORKBENCH_GEO folder).",
           "intro": "Where need is high and services are far. Rates are of the residents screened in the data of this "
                    "report; small counts are hidden as in the rest of the report.",
           "no_homes": "No home locations (homes.csv) are configured: distances and blind spots are not shown.",
           "alt": "Map: {title}. {values}. Service points marked by kind.", "sep": "; ", "pair": "{label}: {value}",
           "table": "Blind spots, ranked", "rank": "Rank", "community": "Community", "need": "{measure}",
           "ratio": "Times the overall rate", "far_count": "Residents in need living far (estimate)",
           "verdict": "Verdict", "blind": "blind spot", "not_blind": "not a blind spot",
           "low_need": "need below the threshold", "near": "few homes far", "hidden_need": "not judged: {blank}",
           "no_homes_row": "not judged: no home locations", "hidden": "<{min_count}", "and": ", ",
           "rule": "How blind spots are found (programme settings): a community is a blind spot when its {measure} "
                   "({value}) is {ratio_words} (overall {overall}) and at least {share} of its homes are more than "
                   "{km} km in a straight line from the nearest service point. Communities are listed by the "
                   "estimated number of residents in need living far ({measure} x homes far), largest first; the "
                   "blind spots are numbered 1, 2, ... in that order: No. 1 is the first to send services to. A "
                   "community whose rate is hidden (small counts) or that has no home locations is not judged and "
                   "comes last. A count of homes far from 1 to {last} is hidden with what would reveal it.",
           "at_or_above": "at or above the overall rate", "times": "at least {ratio:g} times the overall rate",
           "smoothed": "empirical-Bayes smoothed", "adjusted": "age-standardised"},
    "zh": {"heading": "社区地图",
           "none": "没有社区地图：未配置地理数据（workbench report quality --geo 文件夹，或 WORKBENCH_GEO 文件夹）。",
           "intro": "看哪些社区需要干预的居民多、离服务点远。比例按本报告数据中已筛查的居民计算；人数少的计数与报告其他部分一样不显示。",
           "no_homes": "未配置住址数据（homes.csv）：不显示距离和服务盲点。",
           "alt": "地图：{title}。{values}。图中按类别标出服务点。", "sep": "；", "pair": "{label}：{value}",
           "table": "服务盲点排名", "rank": "排名", "community": "社区", "need": "{measure}",
           "ratio": "为总体水平的倍数", "far_count": "住得远且需要干预的居民（估计人数）",
           "verdict": "判断", "blind": "服务盲点", "not_blind": "不是盲点",
           "low_need": "需要低于标准", "near": "住得远的居民少", "hidden_need": "无法判断：{blank}",
           "no_homes_row": "无法判断：没有住址数据", "hidden": "<{min_count}", "and": "，",
           "rule": "怎样找出服务盲点（项目设定）：一个社区的{measure}（{value}）{ratio_words}（总体 {overall}），"
                   "且至少{share}的住址离最近服务点的直线距离超过 {km} 公里，即为服务盲点。各社区按住得远且需要干预的"
                   "居民估计人数（{measure} × 住得远的人数）从多到少排列；盲点按此顺序编号，第 1 位最先安排服务。"
                   "比例因人数少不显示或没有住址数据的社区无法判断，排在最后。住得远的人数为 1 至 {last} 时不显示，"
                   "能反推出它的数字一并不显示。",
           "at_or_above": "不低于总体水平", "times": "不低于总体水平的 {ratio:g} 倍",
           "smoothed": "经验贝叶斯平滑", "adjusted": "年龄标化"},
}


def blind_spot_rows(frame, *, lang: str, min_count: int) -> list[dict]:
    """The ranked blind-spot table of a :func:`~workbench.geo.layers.map_frame` (its
    ``attrs["blind_spots"]``) in words: one dict per community in rank order with ``community``,
    ``rank``, ``label``, ``need``, ``ratio``, ``share_far``, ``median_distance``, ``far_in_need``,
    ``verdict``. A rate hidden in the frame is the map's blank words; a count of homes far from 1
    to ``min_count - 1`` is ``<min_count``, with the share and the estimate that would reveal it.
    Empty when the frame has no blind-spot table (no homes).

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> from workbench.geo.geography import sample_geography
    >>> from workbench.geo.layers import map_frame
    >>> frame = map_frame(load_sample(), sample_geography(), homes=None)
    >>> blind_spot_rows(frame, lang="en", min_count=5)
    []
    """
    from workbench.geo.legend import value_text

    spots = frame.attrs.get("blind_spots")
    if spots is None:
        return []
    t = _TEXT[lang]
    labels = dict(zip(frame["community"], frame["label"]))
    hidden_need = dict(zip(frame["community"], [_blank(v) for v in frame[spots.attrs.get("measure", "tier_2_3")]]))
    measure = spots.attrs.get("measure", "tier_2_3")
    rows = []
    for _, r in spots.iterrows():
        need = r["need"]
        if _blank(need) or hidden_need.get(r["community"], False):
            need = float("nan")
        far = r["far"]
        small = (not _blank(far) and 1 <= float(far) < min_count) or \
                (not _blank(r["n_homes"]) and 1 <= float(r["n_homes"]) < min_count)
        hide = t["hidden"].format(min_count=min_count)
        if _blank(need):
            verdict = t["hidden_need"].format(blank=value_text(None, measure, lang))
        elif _blank(r["share_far"]):
            verdict = t["no_homes_row"]
        elif bool(r["blind_spot"]):
            verdict = t["blind"]
        else:
            why = [t["low_need"]] if not bool(r["high_need"]) else []
            why += [t["near"]] if not bool(r["far_away"]) else []
            verdict = f"{t['not_blind']}: {t['and'].join(why)}" if lang == "en" else f"{t['not_blind']}：{t['and'].join(why)}"
        rows.append({
            "community": r["community"],
            "rank": "—" if _blank(r["blind_spot_rank"]) else value_text(int(r["blind_spot_rank"]), "blind_spot_rank", lang),
            "label": labels.get(r["community"], r["community"]),
            "need": value_text(need * 100, measure, lang),
            "ratio": "—" if _blank(need) or _blank(r["need_ratio"]) else f"{float(r['need_ratio']):.2f}",
            "share_far": hide if small else value_text(r["share_far"] * 100 if not _blank(r["share_far"]) else None,
                                                       "share_far", lang),
            "median_distance": value_text(r["median_distance_m"], "median_distance_m", lang),
            "far_in_need": "—" if _blank(need) or _blank(r["far_in_need"]) else
                           (hide if small else f"{float(r['far_in_need']):,.0f}"),
            "verdict": verdict,
        })
    return rows


def _rule(frame, lang: str, min_count: int) -> str:
    from workbench.geo.legend import measure_label, value_text

    a, t = frame.attrs["blind_spots"].attrs, _TEXT[lang]
    ratio = float(a["min_need_ratio"])
    ratio_words = t["at_or_above"] if ratio == 1 else t["times"].format(ratio=ratio)
    km = f"{float(a.get('far_m') or frame.attrs['far_m']) / 1000:g}"
    return t["rule"].format(measure=measure_label(a["measure"], lang), value=t.get(a["value"], a["value"]),
                            ratio_words=ratio_words, overall=value_text(float(a["overall"]) * 100, a["measure"], lang),
                            share=f"{float(a['min_far_share']):.0%}", km=km, last=min_count - 1)


def _image(frame, measure: str, *, lang: str, service_points) -> str:
    from workbench._fonts import png_img
    from workbench.geo.legend import measure_label, value_text
    from workbench.geo_plots import community_map, figure_word

    t = _TEXT[lang]
    fig = community_map(frame, measure=measure, lang=lang, service_points=service_points)
    values = t["sep"].join(t["pair"].format(label=label, value=value_text(v, measure, lang))
                           for label, v in zip(frame["label"], frame[measure]))
    title = figure_word("title", lang).format(label=measure_label(measure, lang))
    return png_img(fig, alt=t["alt"].format(title=title, values=values), dpi=80)  # png_img closes the figure


@validate_params({"lang": Options("en", "zh"), "min_count": Interval(int, 1, None)})
def map_section(tables, geography=None, *, homes=None, lang: str = "en", min_count: int = 5) -> str:
    """The report's "Community map" section as HTML (a heading, the maps, the blind-spot table).

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables the report is computed from.
    geography : workbench.geo.geography.Geography, optional
        Boundaries and service points; None: the section is a note that no map is configured.
    homes : GeoDataFrame, optional
        A home per resident; default ``geography.homes``. Without homes only the need map.
    lang : {"en", "zh"}
    min_count : int
        The report's: counts from 1 to ``min_count - 1`` are hidden.

    Returns
    -------
    str
        HTML: ``<h2 id="community-map">``, then per map an ``<img>`` (PNG data URI) with its alt
        text, and with homes the blind-spot table (``table.blind-spots``) and the rule in words.

    Raises
    ------
    workbench.geo.geography.GeoDataError
        Residents of a community that is not on the map (:func:`~workbench.geo.layers.map_frame`).
    """
    t, e = _TEXT[lang], html.escape
    parts = [f"<h2 id=\"community-map\">{e(t['heading'])}</h2>"]
    if geography is None:
        parts.append(f"<p class=\"note map-none\">{e(t['none'])}</p>")
        return "\n".join(parts)
    from workbench.geo.layers import map_frame

    frame = map_frame(tables, geography, homes=homes, lang=lang, min_count=min_count)
    with_homes = frame.attrs.get("blind_spots") is not None
    parts.append(f"<p>{e(t['intro'])}</p>")
    for measure in MAP_MEASURES:
        if measure in _NEED_HOMES and not with_homes:
            continue
        image = _image(frame, measure, lang=lang, service_points=geography.service_points)
        parts.append(f"<div class=\"chart map\" id=\"map-{e(measure)}\">{image}</div>")
    if not with_homes:
        parts.append(f"<p class=\"note map-no-homes\">{e(t['no_homes'])}</p>")
        return "\n".join(parts)
    from workbench.geo.legend import measure_label

    rows = blind_spot_rows(frame, lang=lang, min_count=min_count)
    spots = frame.attrs["blind_spots"].attrs
    measure, far_km = spots["measure"], f"{float(spots.get('far_m') or frame.attrs['far_m']) / 1000:g}"
    columns = [("rank", t["rank"]), ("label", t["community"]), ("need", measure_label(measure, lang)),
               ("ratio", t["ratio"]), ("share_far", measure_label("share_far", lang).format(far_km=far_km)),
               ("median_distance", measure_label("median_distance_m", lang)), ("far_in_need", t["far_count"]),
               ("verdict", t["verdict"])]
    left = ("label", "verdict")
    label = ' class="label"'
    parts.append(f"<h3>{e(t['table'])}</h3><table class=\"blind-spots\"><tr>"
                 + "".join(f"<th{label if k in left else ''}>{e(v)}</th>" for k, v in columns) + "</tr>")
    for row in rows:
        parts.append(f"<tr data-community=\"{e(row['community'])}\">" + "".join(
            f"<td class=\"{'label ' if k == 'verdict' else ''}{k}\">{e(row[k])}</td>" for k, _ in columns) + "</tr>")
    parts.append("</table>")
    parts.append(f"<p class=\"note blind-spot-rule\">{e(_rule(frame, lang, min_count))}</p>")
    return "\n".join(parts)
