"""The 28 quality indicators in a real browser (issue 16), in Chinese and English: the quality
board (the published app, acting as analyst Zhou) shows all 28 under the six category headings,
draws the control chart of the indicator chosen and shows its definition on demand; the monthly
report opened from disk shows all 28 with a control chart each. Any request to a host other than
the local server (or, for the report, any request at all beyond the file) fails the test."""

from __future__ import annotations

import html
import re

import pytest

from workbench import quality, quality_view
from workbench.i18n import t

pytestmark = pytest.mark.slow

CHART = "C1"  # the indicator charted after choosing it


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_board_shows_all_28_by_category_and_a_control_chart(open_app, lang):
    spec = quality.load_indicators()
    app = open_app("quality", lang=lang, wait_for=".wb-app", analyst=True)
    page = app.page
    page.wait_for_selector(".wb-quality table.wb-table")
    headings = [h.strip() for h in page.locator(".wb-quality h3").all_inner_texts()]
    assert headings == [spec.categories[c][lang] for c in quality.CATEGORIES]
    titles = [r.strip() for r in page.locator(".wb-quality table.wb-table tbody th").all_inner_texts()]
    assert titles == [quality_view.title(i, lang) for i in spec.indicators] and len(titles) == 28
    # the status is written out, not told by colour alone
    statuses = page.locator(".wb-quality table.wb-table tbody tr.wb-alert").all_inner_texts()
    assert all(t("alert_marker", lang) in s for s in statuses)
    # a control chart is drawn (an embedded image that loaded), then the one of the indicator chosen
    page.locator("figure.wb-chart img").first.wait_for()
    title = quality_view.title(spec.indicator(CHART), lang)
    page.get_by_label(t("quality_chart_of", lang)).select_option(label=title)
    image = page.locator(f"figure.wb-chart img[alt*='{title}']")
    image.wait_for()
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    # the definition on demand: numerator, denominator and source as declared
    page.get_by_role("button", name=t("quality_definition", lang)).click()
    page.wait_for_selector("dl.wb-definition")
    words = page.inner_text("dl.wb-definition")
    ind = spec.indicator(CHART)
    assert ind.numerator[lang] in words and ind.denominator[lang] in words and ind.source.split()[0] in words
    assert app.problems() == [] and app.external_requests == []


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from workbench.report import write_quality_report
    from workbench.sample import load_sample

    folder = tmp_path_factory.mktemp("report")
    tables = load_sample()
    return {lang: write_quality_report(tables, month="2025-12", out=folder / f"quality-{lang}.html", lang=lang)
            for lang in ("zh", "en")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_monthly_report_shows_all_28_with_a_chart_each_and_fetches_nothing(browser, reports, lang):
    spec = quality.load_indicators()
    path = reports[lang]
    context = browser.new_context(locale="zh-CN")
    requests, errors = [], []

    def route(route_):
        if route_.request.url == path.as_uri():
            route_.continue_()
        else:  # an image, font or stylesheet from anywhere else: refused and recorded
            requests.append(route_.request.url)
            route_.abort()

    try:
        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.title() == f"{'服务质量报告' if lang == 'zh' else 'Service quality report'} 2025-12"
        headings = [h.strip() for h in page.locator("h2[id]").all_inner_texts()]
        # the alerts, the six categories, then the community map (issue 18; here: none configured)
        assert headings[1:-1] == [spec.categories[c][lang] for c in quality.CATEGORIES]
        assert page.locator("h2[id]").last.get_attribute("id") == "community-map"
        sections = page.locator("section.indicator")
        assert sections.count() == 28
        assert [h.strip() for h in page.locator("section.indicator h3").all_inner_texts()] == \
            [quality_view.title(i, lang) for i in spec.indicators]
        # every chart is an embedded image that the browser decoded
        drawn = page.eval_on_selector_all("section.indicator img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, "
                                                                   "i.src.slice(0, 22), i.alt])")
        assert drawn and all(ok and width > 100 and src == "data:image/png;base64," and alt
                             for ok, width, src, alt in drawn)
        charted = page.eval_on_selector_all("section.indicator", "s => s.filter(x => x.querySelector('img')).length")
        no_chart = page.locator(f"section.indicator:has-text('{t('quality_no_chart', lang)}')").count()
        assert charted + no_chart == 28
        # each alert line says noise or signal
        items = page.locator("ul.alerts li").all_inner_texts()
        signals = [t(k, lang).split("{")[0][:6] for k in ("signal_common_cause", "signal_special_cause_concern",
                                                          "signal_special_cause_improvement", "signal_too_few")]
        assert items and all(any(s in i for s in signals) for i in items)
        text = page.inner_text("body")
        assert not re.search(r"Traceback|Error|错误", text)
        assert requests == [] and errors == []
        # and the counts shown are never 1-4
        counts = [html.unescape(c).strip() for c in page.locator("td.count").all_inner_texts()]
        assert all(c in ("<5", "—") or float(c.replace(",", "")) == 0 or float(c.replace(",", "")) >= 5 for c in counts)
    finally:
        context.close()
