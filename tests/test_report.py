"""The managers' monthly quality report (workbench.report): small counts suppressed with their
complements before anything is rendered (hand-worked tables for each kind of indicator), all 28
indicators grouped by category in zh and en, a small embedded control chart per indicator drawn
from the suppressed counts, the control chart's verdict per community, and a line per alert
saying whether it is noise or a signal."""

import html
import re

import numpy as np
import pandas as pd
import pytest

from workbench import quality, quality_view
from workbench.i18n import t
from workbench.report import quality_html, report_months, suppress_quality, write_quality_report
from workbench.sample import load_sample

MONTH = "2025-12"


def frame(indicator, category, rows, **extra):
    """A result of compute's shape for one indicator and month: rows of (community, numerator,
    denominator, value, status)."""
    out = pd.DataFrame(rows, columns=["community", "numerator", "denominator", "value", "status"])
    out.insert(0, "indicator", indicator)
    out.insert(1, "category", category)
    out.insert(3, "period", "2025-06")
    out["ci_low"], out["ci_high"], out["target"] = out["value"] - 0.01, out["value"] + 0.01, 0.5
    out["variation"], out["rules"] = "common_cause", ""
    for k, v in extra.items():
        out[k] = v
    return out[quality.COLUMNS]


def hidden(s, column):
    return s[column].isna().tolist()


# --- suppression, worked by hand ----------------------------------------------------------------

def test_a_proportions_small_count_is_hidden_with_its_complements():
    # c1 3/20 is the only count 1-4 (primary). Its row then has one hidden cell: the smallest other
    # count of the row, its denominator 20, goes too. The numerator column has one hidden cell
    # (c1's 3): the smallest other numerator, c2's 6, goes; the denominator column has one hidden
    # cell (c1's 20): the smallest other, c2's 20 (first of the tie), goes. Now every row and
    # column has 0 or 2 hidden: c3 and the total (a table of its own, 19/70) stay.
    r = frame("C1", "continuity", [("c1", 3, 20, 0.15, "ok"), ("c2", 6, 20, 0.30, "alert"),
                                   ("c3", 10, 30, 0.333, "alert"), ("all", 19, 70, 0.271, "alert")])
    s = suppress_quality(r)
    assert hidden(s, "numerator") == hidden(s, "denominator") == [True, True, False, False]
    # the value, interval and control-chart words of a hidden row would tell the count: hidden too
    assert hidden(s, "value") == hidden(s, "ci_low") == hidden(s, "variation") == [True, True, False, False]
    assert s.loc[2, "numerator"] == 10 and s.loc[3, "denominator"] == 70 and s.loc[3, "variation"] == "common_cause"
    # c1 ok (15 %) and c2 alert (30 %) would tell on which side of 15 % a hidden value lies: hidden
    assert s["status"].tolist() == ["suppressed", "suppressed", "alert", "alert"] and s.attrs["min_count"] == 5


def test_a_rates_events_are_hidden_not_its_person_years():
    # S2: events are the count. c1 has 2 events (primary); the events column then has one hidden
    # cell, so the smallest other, c2's 7, goes too. Person-years are not people: they stay.
    r = frame("S2", "safety", [("c1", 2, 150.5, 13.3, "ok"), ("c2", 7, 300.0, 23.3, "ok"),
                               ("c3", 9, 410.0, 22.0, "ok"), ("all", 18, 860.5, 20.9, "ok")])
    s = suppress_quality(r)
    assert hidden(s, "numerator") == hidden(s, "value") == [True, True, False, False]
    assert s["denominator"].tolist() == [150.5, 300.0, 410.0, 860.5]


def test_the_kinds_come_from_the_declarations_the_result_was_computed_with(tmp_path):
    # a site's own file declares Z9, a rate like S2; compute records its declarations in the
    # result's attrs, so Z9's person-years stay (as a rate's) without naming the file again
    import yaml

    shipped = yaml.safe_load(quality.load_indicators().path.read_text(encoding="utf-8"))
    s2 = next(i for i in shipped["indicators"] if i["id"] == "S2")
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({**shipped, "indicators": [{**s2, "id": "Z9"}]}, allow_unicode=True),
                    encoding="utf-8")
    r = frame("Z9", "safety", [("c1", 2, 150.5, 13.3, "ok"), ("c2", 7, 300.0, 23.3, "ok"),
                               ("c3", 9, 410.0, 22.0, "ok"), ("all", 18, 860.5, 20.9, "ok")])
    r.attrs["indicators"] = quality.load_indicators(path)
    s = suppress_quality(r)
    assert hidden(s, "numerator") == [True, True, False, False] and not any(hidden(s, "denominator"))
    # without them Z9 is unknown: suppressed as a proportion, so more is hidden, never less
    r.attrs.pop("indicators")
    assert any(hidden(suppress_quality(r), "denominator"))


def test_a_ratio_has_no_counts_to_hide():
    # A4: a programme-level ratio; its community rows are not applicable, its counts blank
    r = frame("A4", "access", [("c1", np.nan, np.nan, np.nan, "not_applicable"),
                               ("all", np.nan, np.nan, 0.85, "ok")])
    s = suppress_quality(r)
    assert s.loc[1, "value"] == 0.85 and s.loc[1, "variation"] == "common_cause"


def test_no_data_rows_are_left_as_they_are():
    r = frame("X4", "experience", [("c1", np.nan, np.nan, np.nan, "no_data"),
                                   ("all", np.nan, np.nan, np.nan, "no_data")], variation=None)
    s = suppress_quality(r)
    assert s["status"].tolist() == ["no_data", "no_data"] and s["value"].isna().all()


def test_a_total_of_one_to_four_is_hidden_too():
    # The 'all' row is a table of its own: 3 self-harm flags of 9 in the month are hidden there.
    # Among the communities, c2's 3/3 is primary (both cells). The numerator column then has one
    # hidden cell and no visible non-zero count, so its first zero (c1's) goes; the denominator
    # column has one hidden cell, so its smallest visible non-zero count (c3's 6) goes. Rows c1 and
    # c3 now have one hidden cell each and only zeros left: those go too (epi.suppress: a zero is a
    # complement only when its line has no visible non-zero count). Everything is hidden.
    r = frame("T1", "timeliness", [("c1", 0, 0, np.nan, "insufficient"), ("c2", 3, 3, 1.0, "insufficient"),
                                   ("c3", 0, 6, 0.0, "insufficient"), ("all", 3, 9, 0.333, "insufficient")])
    s = suppress_quality(r)
    assert hidden(s, "numerator") == hidden(s, "denominator") == hidden(s, "value") == [True] * 4
    # without c2 nothing is small: nothing is hidden
    s = suppress_quality(r.drop(index=1).assign(numerator=[0, 0, 0], denominator=[0, 6, 6]))
    assert not any(hidden(s, "numerator") + hidden(s, "denominator"))


# --- the report on the sample ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def result(sample):
    return quality.compute(sample, months=report_months(sample, month=MONTH))


@pytest.fixture(scope="module")
def reports(result):
    return {lang: quality_html(result, month=MONTH, lang=lang) for lang in ("en", "zh")}


def sections(text):
    """id -> the HTML of each indicator's section."""
    return dict(re.findall(r'<section class="indicator" id="([A-Z]\d)">(.*?)</section>', text, re.S))


def test_the_report_months_start_at_the_first_screening(sample):
    months = report_months(sample, month=MONTH)
    assert months == [f"2025-{m:02d}" for m in range(1, 13)]  # the sample's screenings start in 2025-01
    assert report_months(sample, month="2026-03", history=6) == ["2025-10", "2025-11", "2025-12", "2026-01",
                                                                 "2026-02", "2026-03"]
    with pytest.raises(ValueError, match="'history' parameter"):
        report_months(sample, month=MONTH, history=0)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_all_28_indicators_grouped_by_category(reports, result, lang):
    text = reports[lang]
    spec = quality.load_indicators()
    found = sections(text)
    assert list(found) == [i.id for i in spec.indicators] and len(found) == 28
    # the six category headings in the service model's order, each followed by its indicators
    heads = [h for h in re.findall(r'<h2 id="([a-z]+)">(.*?)</h2>', text) if h[0] != "alerts"]
    assert heads == [(c, html.escape(spec.categories[c][lang])) for c in quality.CATEGORIES]
    for (category, _), chunk in zip(heads, re.split(r'<h2 id="[a-z]+">', text)[2:]):  # after the alerts
        assert list(sections(chunk)) == [i.id for i in spec.indicators if i.category == category]
    for ind in spec.indicators:
        body = found[ind.id]
        assert f"<h3>{html.escape(quality_view.title(ind, lang))}</h3>" in body
        # the definition: numerator, denominator, alert rule and source as declared
        for words in (ind.numerator[lang], ind.denominator[lang], quality_view.alert_text(ind, lang), ind.source):
            assert html.escape(words) in body, (ind.id, words)
        if (result.loc[result["indicator"] == ind.id, "status"] == "no_data").all():
            assert html.escape(t("quality_no_chart", lang)) in body and "<img" not in body
        else:
            assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{200,}" alt="[^"]+"', body), ind.id


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nothing_is_fetched_and_no_code_is_shown(reports, lang):
    text = reports[lang]
    assert text.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in text
    for needle in ("<script", "<link", "@import", "url(", 'src="http', "href=", "<iframe", "Traceback"):
        assert needle not in text
    assert set(re.findall(r'src="([a-z]+):', text)) == {"data"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_counts_are_suppressed_and_rows_say_their_verdict(reports, result, lang):
    text = reports[lang]
    shown = suppress_quality(result[result["period"] <= MONTH])
    shown = shown[shown["period"] == MONTH]
    spec = quality.load_indicators()
    cells = re.findall(r'<td class="count">([^<]*)</td>', text)
    assert "&lt;5" in cells
    for c in cells:
        assert c in ("&lt;5", "—", "0") or float(c.replace(",", "")) >= 5, c
    all_name = "All communities" if lang == "en" else "全部社区"
    for ind in spec.indicators:
        rows = re.findall(r'<tr class="([a-z_]+)"><td class="label">([^<]*)</td>(.*?)</tr>', sections(text)[ind.id])
        expected = shown[shown["indicator"] == ind.id].set_index("community")
        assert len(rows) == len(expected)
        for css, community, rest in rows:
            r = expected.loc["all" if community == all_name else community]
            words = [html.unescape(w) for w in re.findall(r'<td class="words">([^<]*)</td>', rest)]
            status = html.unescape(re.search(r'<td class="status">([^<]*)</td>', rest).group(1))
            assert css == quality_view.status_class(r["status"], ind)
            assert status == quality_view.status_text(r["status"], ind, lang)
            variation = r["variation"] if isinstance(r["variation"], str) and r["variation"] else None
            assert words[0] == ("—" if variation is None else quality_view.variation_text(variation, lang))
            assert words[1] == quality_view.rules_text(r["rules"], lang)
            if r["status"] in ("ok", "alert") and quality_view.is_missing(r["value"]):
                assert words[0] == "—"  # a hidden count hides the verdict


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_alert_says_whether_it_is_noise_or_a_signal(reports, result, lang):
    shown = suppress_quality(result[result["period"] <= MONTH])
    alerts = shown[(shown["period"] == MONTH) & (shown["status"] == "alert")]
    items = [html.unescape(re.sub(r"<[^>]+>", "", li)) for li in
             re.findall(r"<li>(.*?)</li>", re.search(r'<ul class="alerts">(.*?)</ul>', reports[lang], re.S).group(1))]
    assert len(items) == len(alerts) > 0
    spec = quality.load_indicators()
    lines = set()
    for r in alerts.itertuples():
        ind = spec.indicator(r.indicator)
        where = ("All communities" if lang == "en" else "全部社区") if r.community == "all" else r.community
        line = quality_view.alert_line(ind, community=where, value=r.value, lang=lang, ci_low=r.ci_low,
                                       ci_high=r.ci_high, confidence=1 - shown.attrs.get("alpha", 0.05),
                                       alert=quality.rule_for(shown, ind, r.period)[1])
        lines.add(f"{t('alert_marker', lang)} {line} {quality_view.signal_text(r.variation, r.rules, lang)}")
    assert set(items) == lines
    # the sample's December has at least one alert judged on a chart with limits
    assert alerts["variation"].map(lambda v: isinstance(v, str) and bool(v)).any()


def test_the_charts_are_drawn_from_the_suppressed_counts(result, monkeypatch):
    seen = []
    original = quality_view.chart_signals

    def spy(shown, ind, **kw):
        seen.append((ind.id, kw.get("community"), shown))
        return original(shown, ind, **kw)

    monkeypatch.setattr(quality_view, "chart_signals", spy)
    quality_html(result, month="2025-09", lang="en")
    spec = quality.load_indicators()
    collected = [i.id for i in spec.indicators
                 if not (result.loc[result["indicator"] == i.id, "status"] == "no_data").all()]
    assert [s[0] for s in seen] == collected and {s[1] for s in seen} == {"all"}
    shown = seen[0][2]
    assert shown.attrs["min_count"] == 5 and shown["period"].max() == "2025-09"  # no month after the one reported
    expected = suppress_quality(result[result["period"] <= "2025-09"])
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.reset_index(drop=True))


def test_write_quality_report_computes_the_months_before(tmp_path, sample):
    out = write_quality_report(sample, month="2025-06", out=tmp_path / "r.html", lang="zh", history=3)
    text = out.read_text(encoding="utf-8")
    assert "2025-04至2025-06" in text and "2025-03" not in text.split("<h2", 1)[1].split("</table>")[0]
    assert len(sections(text)) == len(quality.load_indicators().indicators)
    with pytest.raises(ValueError, match="'history' parameter"):
        write_quality_report(sample, month="2025-06", out=tmp_path / "x.html", history=0)
    assert not (tmp_path / "x.html").exists()
