"""The quality board without a browser: every declared indicator grouped by category, the alerts
it marks are quality.alerts(), statuses and control-chart verdicts in words as well as colour,
small counts hidden as in the managers' report, a control chart drawn from what the board shows
(hidden months are gaps) with its legend in the board's language, the definition on demand,
filters and the language switch, and the board on a registry shows a screening saved meanwhile
(with the tier a person decided) after Refresh."""

import datetime as dt
import html
import re

import numpy as np
import pandas as pd
import pytest

from workbench import plots, quality, quality_view, spc, ui
from workbench.i18n import t
from workbench.report import suppress_quality
from workbench.sample import load_sample

#: Twelve months: the fewest that give a control chart limits (workbench/data/spc_rules.yaml).
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.fixture(scope="module")
def result(sample):
    return quality.compute(sample, months=MONTHS)


@pytest.fixture(scope="module")
def suppressed(result):
    return suppress_quality(result)


@pytest.fixture
def board(result, suppressed):
    return ui.QualityBoard(result, lang="en", suppressed=suppressed, dpi=40)


def table_rows(text):
    """(is an alert row, cells) of every body row of the rendered tables."""
    out = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", text):
        for attrs, inner in re.findall(r"<tr([^>]*)>(.*?)</tr>", body):
            cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", inner)]
            out.append(("wb-alert" in attrs, [html.unescape(c) for c in cells]))
    return out


def header(text):
    """The column headers of the first table."""
    head = re.search(r"<thead>(.*?)</thead>", text).group(1)
    return [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', head)]


def shown_alerts(result):
    """The alerts the board shows: those of the result whose counts are not hidden (a hidden row's
    status says "hidden", not on which side of the alert line it lies)."""
    return quality.alerts(suppress_quality(result))


def test_hidden_rows_say_hidden_not_alert(result):
    s = suppress_quality(result)
    hidden = s["numerator"].isna() & result["numerator"].notna() & result["status"].isin(["ok", "alert"])
    assert hidden.any() and (s.loc[hidden, "status"] == "suppressed").all()
    assert (s.loc[~hidden, "status"] == result.loc[~hidden, "status"]).all()
    assert len(quality.alerts(s)) < len(quality.alerts(result))


def cell(board, rows, indicator, column):
    """The cell of ``column`` (a header in the board's language) in ``indicator``'s row."""
    names = header(board.table.value)
    title = quality_view.title(board.spec.indicator(indicator), board.lang)
    found = [cells for _, cells in rows if cells[0] == title]
    assert len(found) == 1, (indicator, len(found))
    return found[0][names.index(column)]


def test_every_declared_indicator_is_shown_grouped_by_category(board, result):
    spec = board.spec
    assert len(spec.indicators) == 28 and len({i.id for i in spec.indicators}) == 28  # INDICATORS.md: A1 .. X4
    board.choose(month="2025-06", community="all")
    text = board.table.value
    # one heading per category, in the service model's order, with the YAML's label
    headings = [html.unescape(h) for h in re.findall(r"<h3[^>]*>(.*?)</h3>", text)]
    present = [c for c in quality.CATEGORIES if any(i.category == c for i in spec.indicators)]
    assert headings == [spec.categories[c]["en"] for c in present] and len(headings) == 6
    # under each heading exactly that category's indicators, in declared order
    for category, section in zip(present, re.split(r"<h3[^>]*>", text)[1:]):
        titles = [cells[0] for _, cells in table_rows(section)]
        assert titles == [quality_view.title(i, "en") for i in spec.indicators if i.category == category]
    assert len(table_rows(text)) == 28
    board.set_language("zh")
    headings = [html.unescape(h) for h in re.findall(r"<h3[^>]*>(.*?)</h3>", board.table.value)]
    assert headings == ["服务可及性", "服务及时性", "干预有效性", "服务连续性", "安全性", "居民满意度"]


def test_alert_rows_are_exactly_quality_alerts_for_the_chosen_month(board, result):
    for month in ("2025-04", "2025-09", "2025-12"):
        board.choose(month=month, community="*")
        expected = shown_alerts(result)
        expected = expected[expected["period"] == month]
        shown = board.alert_rows()
        assert sorted(zip(shown["indicator"], shown["community"])) == sorted(zip(expected["indicator"], expected["community"]))
        rows = table_rows(board.table.value)
        status = header(board.table.value).index(t("status", "en"))
        marked = [cells for alert, cells in rows if alert]
        assert len(marked) == len(expected) > 0
        # marked in words as well as colour: the status cell says so, and only on alert rows
        assert all(cells[status] == "⚠ alert" for cells in marked)
        assert all(cells[status] != "⚠ alert" for alert, cells in rows if not alert)
        assert board.alerts.value.count("<li>") == len(expected)


def test_alerts_across_all_months_and_communities(board, result):
    board.choose(month="*", community="*")
    assert len(board.alert_rows()) == len(shown_alerts(result))
    assert len(board.rows()) == len(result)
    board.choose(only_alerts=True)
    assert len(table_rows(board.table.value)) == len(shown_alerts(result))
    assert all(alert for alert, _ in table_rows(board.table.value))


def test_one_community_shows_its_rows_only(board, result):
    community = sorted(c for c in result["community"].unique() if c != "all")[0]
    board.choose(month="2025-05", community=community)
    rows = board.rows()
    assert set(rows["community"]) == {community} and set(rows["period"]) == {"2025-05"}
    assert len(rows) == result["indicator"].nunique()
    expected = shown_alerts(result)
    expected = expected[(expected["period"] == "2025-05") & (expected["community"] == community)]
    assert list(board.alert_rows()["indicator"]) == [i for i in board.rows()["indicator"] if i in set(expected["indicator"])]


def test_each_status_is_said_in_words(board, result):
    """Every status the result has reads as declared: too few to judge, no data, not applicable,
    report only (an indicator without an alert rule), OK, alert."""
    board.choose(month="*", community="*")
    rows = table_rows(board.table.value)
    names = header(board.table.value)
    status, first = names.index(t("status", "en")), names.index(t("community", "en"))
    shown = board.rows()
    words = {"alert": "⚠ alert", "insufficient": "Too few to judge", "no_data": "No data",
             "not_applicable": "Not applicable", "suppressed": "Hidden (fewer than 5)"}
    assert len(rows) == len(shown)
    for (_, cells), r in zip(rows, shown.itertuples()):
        assert cells[first] == ("All communities (total)" if r.community == "all" else r.community)
        ind = board.spec.indicator(r.indicator)
        expected = words.get(r.status) or ("Report only" if ind.alert is None else "OK")
        assert cells[status] == expected, (r.indicator, r.community, r.period, r.status)
    # the sample has each of them (E4 and X3 are report only; A4 has no community rows)
    assert {"insufficient", "alert", "ok", "not_applicable"} <= set(result["status"])
    assert any(board.spec.indicator(i).alert is None for i in result["indicator"].unique())
    board.set_language("zh")
    assert "数量过少，无法判断" in board.table.value and "不适用" in board.table.value and "仅报告" in board.table.value


def test_the_variation_is_the_control_charts_verdict(board, result):
    """The variation cell of T2 (all communities) is what a p chart of its monthly counts says,
    recomputed here from the counts with workbench.spc, in the declared words."""
    ind = board.spec.indicator("T2")
    rows = result[(result["indicator"] == "T2") & (result["community"] == "all")].sort_values("period")
    usable = rows["status"].isin(["ok", "alert"])
    chart = spc.p_chart(rows["numerator"].where(usable).tolist(), rows["denominator"].where(usable, 0).tolist(),
                        labels=rows["period"].tolist())
    signals = spc.special_causes(chart, direction=ind.direction, target=ind.target)
    expected = signals.points.set_index("label")
    rules = spc.load_rules()
    variation, met = t("variation", "en"), t("spc_rules_met", "en")
    for month in MONTHS:
        board.choose(month=month, community="all")
        rows_shown = table_rows(board.table.value)
        icon = expected.loc[month, "variation"]
        words = rules.variation_label(icon, "en") if isinstance(icon, str) and icon else "— (no control limits)"
        if board.rows().set_index("indicator").loc["T2", "value"] is pd.NA:
            words = "— (no control limits)"  # a hidden count hides the verdict too
        assert cell(board, rows_shown, "T2", variation) == words, month
        said = [rules.rule_label(r, "en") for r in expected.loc[month, "rules"].split(",") if r]
        assert cell(board, rows_shown, "T2", met) == "; ".join(said)
    assert chart.status == "ok"  # twelve months with data: limits, so the test above judged something


def test_small_counts_are_hidden_as_in_the_report(board, suppressed, result):
    board.choose(month="2025-06", community="*")
    shown = board.rows()
    hidden = shown[shown["value"].isna() & shown["status"].isin(["ok", "alert", "insufficient"])
                   & result.loc[shown.index, "value"].notna()]
    assert len(hidden) > 0  # the sample has small communities: some counts are hidden
    report = suppressed.loc[hidden.index]
    assert report["value"].isna().all() and report["variation"].isna().all()
    # every count 1-4 of a proportion's result is hidden on the board
    raw = result.loc[shown.index]
    kinds = raw["indicator"].map(lambda i: board.spec.indicator(i).kind)
    small = raw[(kinds == "proportion") & raw["status"].isin(["ok", "alert", "insufficient"])
                & raw["denominator"].between(1, 4)]
    assert len(small) and shown.loc[small.index, "denominator"].isna().all()
    text = board.table.value
    assert "&lt;5" in text
    for count in re.findall(r"<td>(\d[\d,]*)</td>", text):
        assert not 1 <= int(count.replace(",", "")) <= 4


def test_tables_have_a_caption_and_scoped_headers(board):
    text = board.table.value
    assert text.count('<table class="wb-table"><caption>') == 6
    assert "<caption>Access · Indicators: 2025-12; All communities (total)</caption>" in text
    assert header(text) == ["Indicator", "Numerator", "Denominator", "Value", "95% CI", "Alert rule", "Status",
                            "Variation (control chart)", "Special-cause rules met"]
    assert '<th scope="row">' in text
    board.choose(month="*", community="*")
    assert header(board.table.value)[:3] == ["Indicator", "Community", "Month"]


def test_the_control_chart_is_the_chosen_indicators_from_what_the_board_shows(board, suppressed):
    board.choose(chart="C1", community="all")
    signals = board.chart_signals
    assert signals.chart.kind == "p" and list(signals.points["label"]) == MONTHS
    rows = suppressed[(suppressed["indicator"] == "C1") & (suppressed["community"] == "all")].sort_values("period")
    usable = rows["status"].isin(["ok", "alert"]).to_numpy() & rows["value"].notna().to_numpy()
    assert np.allclose(signals.points["value"].to_numpy(float)[usable], rows["value"].to_numpy(float)[usable])
    assert signals.points["gap"].to_numpy(bool).tolist() == (~usable).tolist()
    img = re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]*)"', board.chart.value)
    title = quality_view.title(board.spec.indicator("C1"), "en")
    assert img and html.unescape(img.group(1)).startswith(
        f"Control chart of {title}, All communities (total), 2025-01 to 2025-12: ")
    # one community: its own months, with the months whose counts are hidden as gaps
    community = "rural-01"
    board.choose(community=community)
    signals = board.chart_signals
    rows = suppressed[(suppressed["indicator"] == "C1") & (suppressed["community"] == community)].sort_values("period")
    hidden = rows["value"].isna().to_numpy()
    assert hidden.any() and signals.points["gap"].to_numpy(bool)[hidden].all()
    assert f"{community}, 2025-01 to 2025-12" in html.unescape(board.chart.value)
    # a programme-level ratio is charted for all communities whatever the community chosen
    board.choose(chart="A4")
    assert board.chart_signals.chart.kind == "xmr" and "All communities (total)" in html.unescape(board.chart.value)


def test_the_charts_legend_and_verdict_are_in_the_boards_language(board, monkeypatch):
    drawn = []

    def keep(fig, *, alt, dpi):
        ax = fig.axes[0]
        drawn.append(([x.get_text() for x in ax.get_legend().get_texts()] if ax.get_legend() else [],
                      [x.get_text() for x in ax.texts]))
        return f'<img alt="{html.escape(alt)}">'

    monkeypatch.setattr(plots, "png_img", keep)
    rules = spc.load_rules()
    board.choose(chart="T2", community="all")  # cached: drawn before the patch
    board.set_language("zh")
    board.set_language("en")
    board._charts.clear()
    board.choose(chart="T1")
    board.choose(chart="T2")
    (legend_en, words_en) = drawn[-1]
    assert legend_en[:2] == [rules.chart_label("centre", "en"), rules.chart_label("limits", "en")]
    assert words_en and rules.variation_label(board.chart_signals.variation, "en") in words_en[0]
    board.set_language("zh")
    (legend_zh, words_zh) = drawn[-1]
    assert legend_zh[:2] == [rules.chart_label("centre", "zh"), rules.chart_label("limits", "zh")]
    assert rules.variation_label(board.chart_signals.variation, "zh") in words_zh[0]


def test_the_definition_is_shown_on_demand(board):
    board.choose(chart="C5")
    assert board.definition.value == ""
    board.definition_button.value = True
    ind = board.spec.indicator("C5")
    text = html.unescape(board.definition.value)
    for words in (ind.numerator["en"], ind.denominator["en"], ind.source, quality_view.alert_text(ind, "en"),
                  t(f"period_{ind.period}", "en"), t(f"direction_{ind.direction}", "en")):
        assert words in text
    board.set_language("zh")
    text = html.unescape(board.definition.value)
    assert ind.numerator["zh"] in text and ind.denominator["zh"] in text and "来源" in text
    board.choose(chart="X4")
    assert board.spec.indicator("X4").numerator["zh"] in html.unescape(board.definition.value)
    board.definition_button.value = False
    assert board.definition.value == ""


def test_alerts_say_whether_they_are_noise_or_a_signal(board, suppressed):
    board.choose(month="*", community="*")
    items = re.findall(r"<li>(.*?)</li>", html.unescape(board.alerts.value))
    alerts = board.alert_rows()
    assert len(items) == len(alerts) > 0
    for item, r in zip(items, alerts.itertuples()):
        assert item.endswith(quality_view.signal_text(r.variation, r.rules, "en"))
        if isinstance(r.variation, str) and r.variation == "common_cause":
            assert "Noise:" in item
        elif isinstance(r.variation, str) and r.variation.startswith("special_cause"):
            assert "ignal" in item
        else:
            assert "Too few months" in item
    assert any("Noise:" in i for i in items) or any("ignal" in i for i in items)


def test_language_switch_keeps_the_filters_and_relabels(board):
    board.choose(month="2025-05", community="*", categories=["continuity", "timeliness"], only_alerts=True, chart="C1")
    before = board.rows().index.tolist()
    board.set_language("zh")
    assert (board.month.value, board.community.value, set(board.categories.value), board.only_alerts.value,
            board.chart_indicator.value) == ("2025-05", "*", {"timeliness", "continuity"}, True, "C1")
    assert board.rows().index.tolist() == before
    assert board.community.label == "各社区分别显示" and board.month.description == "月份"
    assert "⚠ 预警" in board.table.value and "⚠ alert" not in board.table.value
    first = board.alert_rows().iloc[0]
    assert board.spec.indicator(first["indicator"]).label["zh"] in board.alerts.value
    assert board.chart_indicator.label.startswith("C1 ") and "控制图" in board.chart_heading.value


def test_no_category_chosen_is_a_message_not_an_empty_page(board):
    board.categories.value = ()
    assert board.message.text == "Choose at least one category." and board.table.value == ""
    board.categories.value = ("continuity",)
    assert board.message.text == "" and board.table.value


def test_a_selection_without_alerts_says_so(result, suppressed):
    quiet = result.assign(status=result["status"].replace({"alert": "ok"}))
    board = ui.QualityBoard(quiet, lang="en", dpi=40)
    assert "No alerts for this selection." in board.alerts.value and "wb-alert" not in board.table.value
    board.only_alerts.value = True
    assert board.message.text == "No alerts for this selection." and board.table.value == ""


def test_the_suppressed_frame_must_match(result, suppressed):
    with pytest.raises(ValueError, match="'suppressed' parameter"):
        ui.QualityBoard(result, lang="en", suppressed=suppressed, min_count=10)


def test_every_control_has_an_accessible_label_in_both_languages(board):
    controls = (board.month, board.community, board.categories, board.only_alerts, board.chart_indicator,
                board.definition_button)
    english = [c.description for c in controls]
    board.set_language("zh")
    assert all(english) and all(c.description for c in controls)
    assert all(e != c.description for e, c in zip(english, controls))


def test_board_months_stop_at_the_working_month(sample):
    months = ui.board_months(sample, today=dt.date(2025, 9, 30))
    screened = sample.assessments[sample.assessments["purpose"] == "screening"]["assessed_on"]
    assert months == sorted(m for m in screened.dt.strftime("%Y-%m").unique() if m <= "2025-09")
    assert months[-1] == "2025-09" and months[0] == "2025-01"
    assert ui.board_months(sample, today=None)[-1] == "2025-12"


def test_the_board_says_where_the_data_come_from_and_under_which_policies(board):
    assert "Data: synthetic sample data. Tier decisions made under policy: default@1.1." in html.unescape(board.note.value)
    board.set_language("zh")
    assert "分级决定所依据的政策：default@1.1" in board.note.value
    assert board.refresh_button not in board.children[0].children  # no reload given: no Refresh button


# --- the board on a registry ------------------------------------------------------------------

@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A small synthetic community in a new registry, with an analyst and a counsellor."""
    from workbench.registry.store import Registry
    from workbench.synth import community

    monkeypatch.setenv("WORKBENCH_EXPORT_KEY_FILE", str(tmp_path / "export.key"))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    registry.init()
    registry.import_tables(community(150, seed=7, instruments=("phq9", "gad7")).tables(), by="admin", source="test")
    registry.add_user("analyst_zhou", "analyst", by="admin")
    registry.add_user("counsellor_li", "counsellor", by="admin")
    yield registry
    registry.engine.dispose()


def _tier3(board, month, community="all"):
    r = board.result
    row = r[(r["indicator"] == "T2") & (r["period"] == month) & (r["community"] == community)]
    return int(row["numerator"].item()), int(row["denominator"].item())


def test_refresh_shows_a_screening_saved_meanwhile_with_the_decided_tier(registry):
    today = dt.date(2025, 9, 30)
    board = ui.QualityBoard.from_registry(registry, user="analyst_zhou", lang="en", today=today)
    assert board.result.attrs["pseudonymised"] and board.result.attrs["source"] == "registry"
    assert "the registry (pseudonymised), read " in board.note.value
    assert board.month.value == "2025-08"  # the last complete month before the working day
    board.choose(month="2025-09", community="*", categories=["timeliness"])
    before = _tier3(board, "2025-09")
    # a counsellor screens a resident (all answers 0: the policy suggests tier 1), decides tier 3
    # with a reason, and reaches the resident the next day
    resident = registry.analysis_tables(as_user="admin").residents["resident_id"].iloc[0]
    answers = pd.DataFrame([{"resident_id": resident, "assessed_on": "2025-09-15", "submission_id": "test-1",
                             **{f"phq9_{n}": 0 for n in range(1, 10)}, **{f"gad7_{n}": 0 for n in range(1, 8)}}])
    saved = registry.save_screening(answers, by="counsellor_li", tier=3, reason="history of a suicide attempt")
    assert (saved.decision["suggested_tier"].item(), saved.decision["tier"].item()) == (1, 3)
    registry.record("contacts", pd.DataFrame([{"contact_id": "K-test-1", "resident_id": resident,
                                               "contact_on": "2025-09-16", "kind": "phone", "status": "attended"}]),
                    by="counsellor_li")
    assert _tier3(board, "2025-09") == before  # nothing changes until the board reads again
    board.refresh_button.click()
    assert _tier3(board, "2025-09") == (before[0] + 1, before[1] + 1)  # contacted within 72 h, as tier 3
    assert board.message.text.startswith("Data read again at ")
    # the filters are kept, and the table is drawn from the new result
    assert (board.month.value, board.community.value, board.categories.value) == ("2025-09", "*", ("timeliness",))
    assert set(board.rows()["period"]) == {"2025-09"} and set(board.rows()["category"]) == {"timeliness"}
    assert board.shown.attrs["policy_versions"] == ["default@1.1"]


def test_a_failed_read_is_a_message_and_keeps_the_board(sample):
    calls = []

    def read():
        calls.append(1)
        if len(calls) > 1:
            raise OSError("the database is gone")
        return sample

    board = ui.QualityBoard.from_tables(read(), lang="en", today=dt.date(2025, 6, 30), reload=read)
    result = board.result
    board.refresh_button.click()
    assert board.message.text == t("unexpected_error", "en")  # one sentence, not a traceback
    assert "Traceback" not in board.message.value and board.result is result and len(calls) == 2


def test_the_app_lets_analysts_and_administrators_in_only(registry, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("WORKBENCH_USER", "counsellor_li")
    start = lambda user, lang: ui.QualityBoard.from_registry(registry, user=user, lang=lang)  # noqa: E731
    gate = ui.StaffGate(registry, roles={"analyst", "admin"}, lang="en", start=start)
    assert gate.app is None and gate.message.text == ("counsellor_li is a counsellor: this app is for admin, analyst "
                                                "only.")
    monkeypatch.setenv("WORKBENCH_USER", "analyst_zhou")
    gate = ui.StaffGate(registry, roles={"analyst", "admin"}, lang="en", start=start)
    assert isinstance(gate.app, ui.QualityBoard) and gate.app.result.attrs["pseudonymised"]
