"""The community map of the quality app in a real browser, offline (issue 18), in Chinese and
English: the six sample communities are drawn as areas named in the page's language, choosing
another measure changes the legend, clicking a community shows every value of it, and the page
asks nothing of any host but the local server (any other request fails the test).

The server is started here as ``make run`` starts it on the sample registry (``WORKBENCH_DB``
unset; ``WORKBENCH_SAMPLE_DB`` a copy of the sample registry), so it is the server that points the
apps at the sample's map (``WORKBENCH_GEO``); it serves the quality app only, acting as analyst
Zhou.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest
from conftest import ANALYST, REPO, App, _serve, copy_registry, offline_app

from workbench.geo.legend import map_measures
from workbench.ui.community_map import map_word

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def map_server(tmp_path_factory):
    from workbench.sample import prepare_registry, sample_registry_url

    base = tmp_path_factory.mktemp("map")
    (base / "root" / "notebooks" / "apps").mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / "apps" / "quality.ipynb", base / "root" / "notebooks" / "apps")
    sample_url = sample_registry_url()
    prepare_registry(sample_url)  # filled once per machine, then reused
    registry_url = copy_registry(sample_url, base / "registry.sqlite")
    yield from _serve(base / "root", registry_url, base / "server.log", user=ANALYST, sample=True)


@pytest.fixture
def open_quality(map_server, browser):
    """``open_quality(lang)`` -> :class:`App`: the quality app once its map has drawn its areas;
    every request to another host is aborted and recorded."""
    contexts = []

    def open_(lang: str) -> App:
        url = map_server.url(map_server.app_path("quality"), lang=lang)
        context, app = offline_app(browser, map_server.base, url, viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = app.page
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_function("document.querySelectorAll('.wb-quality-map path.wb-map-area').length >= 6")
        app.render_seconds = time.perf_counter() - start
        return app

    yield open_
    for context in contexts:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_quality_app_draws_the_six_communities_offline(open_quality, lang, tmp_path):
    from workbench.geo.geography import sample_geography

    areas = sample_geography().communities
    names = dict(zip(areas["community"], areas[f"name_{lang}"]))
    app = open_quality(lang)
    page = app.page
    print(f"map drawn {app.render_seconds:.1f} s after the page was asked for ({lang})")
    section = page.locator(".wb-quality-map")
    assert section.locator("h2").inner_text().strip() == map_word("map_section_title", lang)
    drawn = section.locator("path.wb-map-area")
    assert drawn.count() == 6
    communities = drawn.evaluate_all("ps => ps.map(p => p.dataset.community)")
    assert sorted(communities) == sorted(names)
    # each area is named in the page's language, with its value, on hover and for a screen reader
    titles = drawn.evaluate_all("ps => ps.map(p => [p.dataset.community, p.querySelector('title').textContent, "
                                "p.getAttribute('aria-label')])")
    for community, title, aria in titles:
        assert title == aria and title.startswith(f"{names[community]}: ")
    labels = section.locator("text.wb-map-label").evaluate_all(
        "ts => ts.map(t => [t.textContent, t.getAttribute('visibility') !== 'hidden'])")
    assert sorted(text for text, _ in labels) == sorted(names.values())
    # a name is written where it fits (the two large rural areas at least); the rest on hover
    assert {text for text, shown in labels if shown} >= {names["rural-01"], names["rural-02"]}
    assert section.locator(".wb-map-point").count() >= 3 and section.locator(".wb-map-kinds li").count() >= 2

    # another measure: the legend's heading and classes change
    legend = section.locator(".wb-map-legend")
    before = legend.inner_text()
    first = drawn.first.get_attribute("fill")
    chooser = section.get_by_label(map_word("map_measure", lang))
    measures = chooser.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert measures == [m for m in map_measures() if m in measures] and len(measures) >= 2
    other = "median_distance_m" if "median_distance_m" in measures else measures[1]
    chooser.select_option(value=other)
    page.wait_for_function("([el, before]) => el.innerText !== before", arg=[legend.element_handle(), before])
    assert other != measures[0] and legend.inner_text() != before
    if other == "median_distance_m":
        assert ("公里" if lang == "zh" else "km") in legend.inner_text()
    assert drawn.first.get_attribute("fill") != first or drawn.first.get_attribute("fill").startswith("url(")

    # a click: every value of that community, the measure shown marked
    target = "rural-01"
    # at the point where its name is written (inside the area; a service point may sit at the
    # middle of its bounding box and take the click)
    area = section.locator(f"path.wb-map-area[data-community='{target}']")
    x, y = section.locator(f"text.wb-map-label[data-community='{target}']").evaluate(
        "(t) => { const p = new DOMPoint(+t.getAttribute('x'), +t.getAttribute('y'))"
        ".matrixTransform(t.ownerSVGElement.getScreenCTM()); const r = t.ownerSVGElement.querySelector("
        "`path[data-community='${t.dataset.community}']`).getBoundingClientRect(); return [p.x - r.left, p.y - r.top]; }")
    area.click(position={"x": x, "y": y})
    heading = section.locator(".wb-map-details-heading")
    heading.wait_for()
    assert heading.inner_text().strip() == map_word("map_details_of", lang).format(community=names[target])
    rows = section.locator(".wb-map-values tr").evaluate_all("rs => rs.map(r => r.dataset.measure)")
    assert rows[:len(measures)] == measures and len(rows) > len(measures)  # then screened, age-standardised ...
    shown = section.locator(f".wb-map-values tr[data-measure='{other}'] td").inner_text().strip()
    title = section.locator(f"path.wb-map-area[data-community='{target}'] title").text_content()
    assert title == f"{names[target]}: {shown}" and not re.fullmatch(r"0(\.0)?\s*(%|km|公里)?", shown)
    # the keyboard: Escape clears, Enter chooses
    area.press("Escape")
    heading.wait_for(state="detached")
    area.press("Enter")
    heading.wait_for()
    section.screenshot(path=str(tmp_path / f"map-{lang}.png"))  # what the manager sees
    assert page.locator(".wb-quality-map h3").count() == 0  # the board's <h3>s stay its category headings
    assert app.problems() == []
    assert app.external_requests == []
