"""The quality report's "Community map" section (workbench.report_map, issue 18's static maps in the
report): the need, distance and blind-spot maps embedded as PNG data URIs with alt texts in the
report's language, the ranked blind-spot table with its rule in words, the report's small-count
threshold, a note when no geography is configured, and ``workbench report quality --geo``."""

import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from workbench.geo.geography import GeoDataError, sample_geography, sample_homes, site_geography
from workbench.geo.layers import map_frame
from workbench.geo.legend import value_text
from workbench.report import write_quality_report
from workbench.report_map import MAP_MEASURES, map_section
from workbench.sample import SAMPLE_DIR, load_sample

MONTH = "2025-06"
IMG = re.compile(r'<img src="(data:image/png;base64,[A-Za-z0-9+/=]+)" alt="([^"]*)"')


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def geo():
    g = sample_geography()
    return g, sample_homes(g)


@pytest.fixture(scope="module")
def sections(sample, geo):
    g, homes = geo
    return {lang: map_section(sample, g, homes=homes, lang=lang, min_count=5) for lang in ("zh", "en")}


def names(g, lang):
    return dict(zip(g.communities["community"], g.communities[f"name_{lang}"]))


def alts(text):
    return [html.unescape(alt) for _, alt in IMG.findall(text)]


def table_rows(text):
    """(community, [cell texts]) of the blind-spot table, in order."""
    return [(c, [html.unescape(x) for x in re.findall(r"<td[^>]*>(.*?)</td>", cells)])
            for c, cells in re.findall(r'<tr data-community="([^"]+)">(.*?)</tr>', text)]


def assert_self_contained(text):
    assert not re.search(r"https?://", text, flags=re.I)  # ':' is not a base64 character: no URL hides in an image
    words = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert "//" not in words  # no protocol-relative URL either
    assert not re.search(r"<script|<link|<iframe|@import|url\(", text, flags=re.I)
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', text))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_three_maps_with_alt_texts_in_the_language(sections, geo, lang):
    g, _ = geo
    text = sections[lang]
    assert text.startswith('<h2 id="community-map">') and ("社区地图" if lang == "zh" else "Community map") in text
    images = IMG.findall(text)
    assert len(images) == len(MAP_MEASURES) == 3
    for measure in MAP_MEASURES:
        assert f'id="map-{measure}"' in text
    other = "en" if lang == "zh" else "zh"
    for alt in alts(text):
        assert alt.startswith("地图：" if lang == "zh" else "Map: ")
        assert all(name in alt for name in names(g, lang).values())  # every community, named in the language
        assert not any(name in alt for name in names(g, other).values())
    assert_self_contained(text)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_blind_spot_table_ranks_rural_02_then_rural_01_with_the_rule_in_words(sections, geo, lang):
    g, _ = geo
    rows = table_rows(sections[lang])
    assert [c for c, _ in rows[:2]] == ["rural-02", "rural-01"]
    assert sorted(c for c, _ in rows) == sorted(g.communities["community"])
    label = names(g, lang)
    for k, (community, cells) in enumerate(rows[:2], start=1):
        assert cells[0] == value_text(k, "blind_spot_rank", lang) and cells[1] == label[community]
    assert all(cells[0] == "—" for _, cells in rows[2:])
    rule = re.search(r'<p class="note blind-spot-rule">(.*?)</p>', sections[lang]).group(1)
    words = ("怎样找出服务盲点", "5 公里", "25%") if lang == "zh" else ("How blind spots are found", "5 km", "25%")
    assert all(w in html.unescape(rule) for w in words)


@pytest.mark.parametrize("min_count", [100, 120])
def test_the_reports_min_count_hides_what_the_map_frame_hides(sample, geo, min_count):
    g, homes = geo
    frame = map_frame(sample, g, homes=homes, lang="en", min_count=min_count)
    hidden = set(frame.loc[frame["tier_2_3"].isna(), "community"])
    if min_count == 120:
        assert hidden  # the check below is not empty
    text = map_section(sample, g, homes=homes, lang="en", min_count=min_count)
    blank = value_text(None, "tier_2_3", "en")
    need_alt = alts(text)[0]
    label = names(g, "en")
    for community in frame["community"]:
        assert (f"{label[community]}: {blank}" in need_alt) == (community in hidden)
    for community, cells in table_rows(text):
        assert (cells[2] == blank) == (community in hidden)
        if community in hidden:
            assert cells[0] == "—" and cells[3] == "—" and cells[6] == "—" and "not judged" in cells[7]


def test_the_report_has_the_section_and_stays_one_file(sample, geo, tmp_path):
    g, homes = geo
    out = write_quality_report(sample, month=MONTH, out=tmp_path / "r.html", lang="zh", history=2, geography=g,
                               homes=homes)
    text = out.read_text(encoding="utf-8")
    assert '<h2 id="community-map">社区地图</h2>' in text and len(IMG.findall(text)) >= 3
    assert "没有社区地图" not in text
    assert_self_contained(text)


def test_without_a_geography_the_report_says_no_map_is_configured(sample, tmp_path):
    text = write_quality_report(sample, month=MONTH, out=tmp_path / "r.html", history=1).read_text(encoding="utf-8")
    assert text.count("No community map: no geography is configured") == 1
    assert 'id="map-' not in text and "blind-spots" not in text
    assert map_section(None, None, lang="zh").count("没有社区地图") == 1


def test_a_folder_given_is_read_before_workbench_geo(monkeypatch):
    monkeypatch.setenv("WORKBENCH_GEO", "/nowhere")
    g = site_geography(folder=SAMPLE_DIR / "geo")
    assert len(g.communities) == 6 and len(g.homes) == 3000
    with pytest.raises(FileNotFoundError, match="WORKBENCH_GEO=/nowhere: no such folder"):
        site_geography()


def cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_GEO"}
    return subprocess.run([sys.executable, "-m", "workbench.cli", "report", "quality", "--month", MONTH,
                           "--data", str(SAMPLE_DIR), *args], capture_output=True, text=True, env=env)


def test_the_cli_writes_the_map_from_a_geo_folder(tmp_path):
    done = cli("--out", str(tmp_path / "r.html"), "--geo", str(SAMPLE_DIR / "geo"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<h2 id="community-map">Community map</h2>' in text and 'id="map-blind_spot_rank"' in text
    assert [c for c, _ in table_rows(text)[:2]] == ["rural-02", "rural-01"]
    assert_self_contained(text)


def test_the_cli_refuses_a_broken_geo_folder_and_writes_nothing(tmp_path):
    folder = tmp_path / "geo"
    shutil.copytree(SAMPLE_DIR / "geo", folder)
    path = folder / "communities.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    row = next(k for k, f in enumerate(data["features"], start=1) if f["properties"]["community"] == "rural-02")
    data["features"][row - 1]["properties"]["community"] = "rural-99"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GeoDataError):
        site_geography(folder=folder, communities=load_sample()["communities"])
    done = cli("--out", str(tmp_path / "r.html"), "--geo", str(folder))
    assert done.returncode == 1 and not (tmp_path / "r.html").exists()
    assert f"boundaries, row {row}, column 'community': value 'rural-99' is not a community of the registry" in done.stderr
    assert "column 'community': value 'rural-02' is a community of the registry but has no boundary" in done.stderr
