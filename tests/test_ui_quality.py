"""The quality board without a browser: the alerts it marks are quality.alerts(), small counts
are hidden as in the managers' report, filters and the language switch behave, and the board on
a registry shows a screening saved meanwhile (with the tier a person decided) after Refresh."""

import datetime as dt
import html
import re

import pandas as pd
import pytest

from workbench import quality, ui
from workbench.i18n import t
from workbench.report import suppress_quality
from workbench.sample import load_sample

MONTHS = ["2025-04", "2025-05", "2025-06"]


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
    return ui.QualityBoard(result, lang="en", suppressed=suppressed)


def table_rows(text):
    """(is an alert row, cells) of every body row of a rendered table."""
    body = text.split("<tbody>", 1)[1]
    out = []
    for attrs, inner in re.findall(r"<tr([^>]*)>(.*?)</tr>", body):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", inner)]
        out.append(("wb-alert" in attrs, [html.unescape(c) for c in cells]))
    return out


def test_the_first_month_is_the_last_complete_one_before_today(result):
    assert ui.QualityBoard(result, lang="en", today=dt.date(2025, 6, 15)).month.value == "2025-05"
    assert ui.QualityBoard(result, lang="en").month.value == "2025-06"  # no working day: the latest
    with pytest.raises(ValueError, match="'month' parameter of QualityBoard"):
        ui.QualityBoard(result, lang="en", month="2024-01")


def test_alert_rows_are_exactly_quality_alerts_for_the_chosen_month(board, result):
    for month in MONTHS:
        board.choose(month=month, community="*")
        expected = quality.alerts(result)
        expected = expected[expected["period"] == month]
        shown = board.alert_rows()
        assert sorted(zip(shown["indicator"], shown["community"])) == sorted(zip(expected["indicator"], expected["community"]))
        rows = table_rows(board.table.value)
        marked = [cells for alert, cells in rows if alert]
        assert len(marked) == len(expected) > 0
        # marked in words as well as colour: the status cell says so, and only on alert rows
        assert all(cells[-1] == "⚠ alert" for cells in marked)
        assert all(cells[-1] != "⚠ alert" for alert, cells in rows if not alert)
        assert board.alerts.value.count("<li>") == len(expected)


def test_alerts_across_all_months_and_communities(board, result):
    board.choose(month="*", community="*")
    assert len(board.alert_rows()) == len(quality.alerts(result))
    assert len(board.rows()) == len(result)
    board.choose(only_alerts=True)
    assert len(table_rows(board.table.value)) == len(quality.alerts(result))
    assert all(alert for alert, _ in table_rows(board.table.value))


def test_one_community_shows_its_rows_only(board, result):
    community = sorted(c for c in result["community"].unique() if c != "all")[0]
    board.choose(month="2025-05", community=community)
    rows = board.rows()
    assert set(rows["community"]) == {community} and set(rows["period"]) == {"2025-05"}
    assert len(rows) == result["indicator"].nunique()
    expected = quality.alerts(result)
    expected = expected[(expected["period"] == "2025-05") & (expected["community"] == community)]
    assert list(board.alert_rows()["indicator"]) == [i for i in board.rows()["indicator"] if i in set(expected["indicator"])]


def test_small_counts_are_hidden_as_in_the_report(board, suppressed, result):
    board.choose(month="2025-06", community="*")
    shown = board.rows()
    hidden = shown[shown["denominator"].isna() & (shown["status"] != "no_data")]
    assert len(hidden) > 0  # the sample has small communities: some counts are hidden
    report = suppressed.loc[hidden.index]
    assert report["denominator"].isna().all() and report["value"].isna().all()
    # every count 1-4 of the result is hidden on the board
    raw = result.loc[shown.index]
    small = raw[(raw["status"] != "no_data") & raw["denominator"].between(1, 4)]
    assert shown.loc[small.index, "denominator"].isna().all()
    text = board.table.value
    assert "&lt;5" in text
    for count in re.findall(r"<td>(\d+)</td>", text):
        assert not 1 <= int(count) <= 4


def test_tables_have_a_caption_and_scoped_headers(board):
    text = board.table.value
    assert text.startswith('<table class="wb-table"><caption>Indicators: 2025-06; All communities (total)</caption>')
    assert text.count('<th scope="col">') == 7 and '<th scope="row">' in text  # one month, one community
    board.choose(month="*", community="*")
    assert board.table.value.count('<th scope="col">') == 9  # the community and month columns too


def test_language_switch_keeps_the_filters_and_relabels(board):
    board.choose(month="2025-05", community="*", categories=["retention", "timeliness"], only_alerts=True)
    before = board.rows().index.tolist()
    board.set_language("zh")
    assert (board.month.value, board.community.value, set(board.categories.value), board.only_alerts.value) == (
        "2025-05", "*", {"timeliness", "retention"}, True)
    assert board.rows().index.tolist() == before
    assert board.community.label == "各社区分别显示" and board.month.description == "月份"
    assert "⚠ 预警" in board.table.value and "⚠ alert" not in board.table.value
    first = board.alert_rows().iloc[0]
    assert board.spec.indicator(first["indicator"]).label["zh"] in board.alerts.value


def test_no_category_chosen_is_a_message_not_an_empty_page(board):
    board.categories.value = ()
    assert board.message.text == "Choose at least one category." and board.table.value == ""
    board.categories.value = ("retention",)
    assert board.message.text == "" and board.table.value


def test_a_selection_without_alerts_says_so(result, suppressed):
    quiet = result.assign(status=result["status"].replace({"alert": "ok"}))
    board = ui.QualityBoard(quiet, lang="en")
    assert "No alerts for this selection." in board.alerts.value and "wb-alert" not in board.table.value
    board.only_alerts.value = True
    assert board.message.text == "No alerts for this selection." and board.table.value == ""


def test_the_suppressed_frame_must_match(result, suppressed):
    with pytest.raises(ValueError, match="'suppressed' parameter"):
        ui.QualityBoard(result, lang="en", suppressed=suppressed, min_count=10)


def test_every_filter_has_an_accessible_label_in_both_languages(board):
    controls = (board.month, board.community, board.categories, board.only_alerts)
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
    row = r[(r["indicator"] == "timeliness_tier3_72h") & (r["period"] == month) & (r["community"] == community)]
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
