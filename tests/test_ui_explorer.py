"""The cohort explorer without a browser: choices -> the statistics shown, equal to
workbench.survival on the same rows; bad choices -> a message, never a traceback."""

import re

import numpy as np
import pandas as pd
import pytest

from workbench import survival, ui
from workbench.sample import load_sample
from workbench.ui.explorer import GROUPINGS, level_label

CENSOR = "2026-12-31"


@pytest.fixture(scope="module")
def frame():
    return ui.cohort_frame(load_sample(), censor_date=CENSOR)


@pytest.fixture
def explorer(frame):
    return ui.KMExplorer(frame, lang="en", endpoint="crisis_or_er", grouping="community_type",
                         covariates=["age10", "hypertension"], dpi=30)


def chosen(frame, *, endpoint, sex="all", community_type="all", age=None):
    """The rows a person means by these choices, selected independently of the explorer."""
    d = frame[frame["endpoint"] == endpoint]
    if sex != "all":
        d = d[d["sex"] == sex]
    if community_type != "all":
        d = d[d["community_type"] == community_type]
    if age is not None:
        d = d[d["age"].between(*age)]
    return d


def test_the_frame_has_one_row_per_resident_and_endpoint_and_a_cause_specific_event(frame):
    assert not frame.duplicated(["resident_id", "endpoint"]).any()
    crisis = frame[frame["endpoint"] == "crisis_or_er"]
    # death first (cause 2) is never counted as the event (log-rank and Cox: cause-specific hazards)
    assert ((crisis["event"] == 2) & (crisis["event_of_interest"] == 1)).sum() == 0
    assert crisis["event_of_interest"].sum() == (crisis["event"] == 1).sum() > 0
    assert frame.attrs["censor_date"] == CENSOR
    assert set(frame["tier_group"].dropna()) <= {"tier_1", "tier_2", "tier_3"}


def test_logrank_and_cox_equal_workbench_survival_on_the_filtered_rows(explorer, frame):
    explorer.choose(sex="female", age=(40, 80))
    rows = chosen(frame, endpoint="crisis_or_er", sex="female", age=(40, 80))
    assert len(explorer.result["data"]) == len(rows) and explorer.result["events"] == rows["event_of_interest"].sum()
    expected = survival.logrank(rows, duration="duration", event="event_of_interest", group="community_type")
    assert explorer.result["logrank"]["p_value"].iloc[0] == pytest.approx(expected["p_value"].iloc[0], rel=1e-12)
    pairs = survival.logrank_pairwise(rows, duration="duration", event="event_of_interest", group="community_type")
    assert np.allclose(explorer.result["pairwise"]["p_adjusted"], pairs["p_adjusted"])  # three groups: pairwise too
    # the shown p is the computed one, to 3 significant figures
    p = expected["p_value"].iloc[0]
    assert f"<td>{p:.3g}</td>" in explorer.tables.value
    # Cox: age per 10 years and hypertension, community type as 0/1 columns against ageing (the first level)
    design = rows.assign(age10=rows["age"] / 10, hypertension=rows["hypertension"].astype(float),
                         rural=(rows["community_type"] == "rural").astype(float),
                         urban=(rows["community_type"] == "urban").astype(float))
    model = survival.cox(design, duration="duration", event="event_of_interest",
                         covariates=["age10", "hypertension", "rural", "urban"])
    assert np.allclose(explorer.result["cox"].summary["hr"].to_numpy(), model.summary["hr"].to_numpy(), rtol=1e-8)
    assert "Community type: Urban vs Ageing" in explorer.tables.value
    assert f"<td>{model.summary['hr'].iloc[0]:.2f}</td>" in explorer.tables.value


def test_the_per_group_table_counts_residents_and_events(explorer, frame):
    explorer.grouping.value = "sex"
    rows = chosen(frame, endpoint="crisis_or_er")
    female = rows[rows["sex"] == "female"]
    groups = explorer.result["groups"].set_index("group")
    assert groups.loc["Female", "n"] == f"{len(female):,}"
    assert groups.loc["Female", "events"] == f"{int(female['event_of_interest'].sum()):,}"
    assert explorer.result["pairwise"] is None  # two groups: no pairwise table
    assert "Pairwise" not in explorer.tables.value


def test_curves_and_forest_plot_are_images_with_text_alternatives(explorer):
    for html in (explorer.figure.value, explorer.forest.value):
        assert html.startswith('<img src="data:image/png;base64,')
        alt = re.search(r'alt="([^"]+)"', html).group(1)
        assert alt.strip()
    assert "Crisis or ER visit" in explorer.figure.value  # the alt text names the endpoint


def test_every_control_has_an_accessible_label_in_both_languages(explorer):
    controls = explorer.controls
    english = [c.description for c in controls]
    explorer.set_language("zh")
    chinese = [c.description for c in controls]
    assert all(english) and all(chinese) and all(e != z for e, z in zip(english, chinese))


def test_switching_language_keeps_every_choice_and_relabels_the_results(explorer):
    explorer.endpoint.value = "dropout"   # one control at a time, as a person does
    explorer.grouping.value = "tier"
    explorer.sex.value = "male"
    explorer.community_type.value = "urban"
    explorer.age_from.value = 30
    explorer.age_to.value = 85
    explorer.covariates.value = ("age10", "diabetes")
    before = explorer.result["logrank"]["p_value"].iloc[0]
    explorer.set_language("zh")
    assert (explorer.endpoint.value, explorer.grouping.value, explorer.sex.value, explorer.community_type.value,
            (explorer.age_from.value, explorer.age_to.value), explorer.covariates.value) == ("dropout", "tier", "male", "urban", (30, 85),
                                                               ("age10", "diabetes"))
    assert explorer.endpoint.label == "脱落" and explorer.sex.label == "男"
    assert explorer.result["logrank"]["p_value"].iloc[0] == before
    assert "各组居民人数" in explorer.tables.value and "二级 心理咨询" in explorer.tables.value
    assert "年龄（每增加10岁）" in explorer.tables.value


def test_too_few_rows_after_filtering_shows_a_message_and_no_results(explorer):
    explorer.choose(age=(97, 99))
    assert explorer.message.text.startswith("Only ") and "at least 20" in explorer.message.text
    assert explorer.result == {} and explorer.figure.value == "" and explorer.tables.value == ""
    explorer.set_language("zh")
    assert "至少需要 20 人" in explorer.message.text
    explorer.choose(age=(18, 99))
    assert explorer.message.text == "" and explorer.result["n"] > 20


def test_an_age_range_upside_down_is_a_message(explorer):
    explorer.age_from.value = 70
    explorer.age_to.value = 40
    assert explorer.message.text == "The lower age limit (70) is above the upper one (40)."
    assert explorer.result == {} and explorer.tables.value == ""
    explorer.age_to.value = 90
    assert explorer.message.text == "" and explorer.result["n"] == len(chosen(
        explorer.data, endpoint="crisis_or_er", age=(70, 90)))


def test_no_events_shows_a_message(frame):
    ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="sex", dpi=30)
    rows = chosen(frame, endpoint="death", community_type="ageing", age=(18, 59))
    assert rows["event_of_interest"].sum() == 0 and len(rows) >= 20  # no deaths under 60 in the ageing community
    ex.choose(community_type="ageing", age=(18, 59))
    assert ex.message.text.startswith("None of the") and "(Death)" in ex.message.text
    assert ex.result == {} and ex.figure.value == ""


def test_a_group_without_events_shows_curves_and_tests_but_explains_the_missing_hazard_ratios(frame):
    rows = chosen(frame, endpoint="death", community_type="ageing")
    by_group = rows.groupby("age_group")["event_of_interest"].sum()
    assert (by_group == 0).any() and (by_group > 0).any()
    ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="age_group", dpi=30)
    ex.community_type.value = "ageing"
    empty = [level_label("age_group", g, "en") for g in by_group.index[by_group == 0]]
    assert "has no events" in ex.message.text and all(name in ex.message.text for name in empty)
    assert ex.result["logrank"] is not None and ex.result["cox"] is None and ex.forest.value == ""
    if len(empty) > 1:  # two groups without events have no pairwise statistic
        assert ex.result["pairwise"] is None and "Pairwise log-rank tests are not shown" in ex.notes.text
    expected = survival.logrank(rows, duration="duration", event="event_of_interest", group="age_group")
    assert ex.result["logrank"]["p_value"].iloc[0] == pytest.approx(expected["p_value"].iloc[0], rel=1e-12)


def test_only_one_group_left_says_so(explorer):
    explorer.grouping.value = "sex"
    explorer.sex.value = "female"
    assert "Only one group" in explorer.message.text and "Female" in explorer.message.text
    assert explorer.result["logrank"] is None and explorer.result["n"] > 0


def test_a_covariate_that_is_the_grouping_or_constant_is_left_out_with_a_note(explorer):
    explorer.grouping.value = "sex"
    explorer.covariates.value = ("female", "age10")
    assert "Not adjusted for, already the grouping: Female (vs male)" in explorer.notes.text
    assert list(explorer.result["cox"].summary.index) == ["age10", "group_1"]
    explorer.grouping.value = "none"
    explorer.sex.value = "male"
    assert "the same for everyone chosen: Female (vs male)" in explorer.notes.text
    assert list(explorer.result["cox"].summary.index) == ["age10"]


def test_redundant_covariates_are_refused_with_a_message():
    rng = np.random.default_rng(7)
    n = 80
    both = rng.integers(0, 2, n).astype(bool)
    data = pd.DataFrame({"endpoint": "death", "duration": rng.integers(30, 700, n), "event_of_interest": rng.integers(0, 2, n),
                         "sex": rng.choice(["female", "male"], n), "community_type": "urban",
                         "age": rng.integers(40, 90, n), "hypertension": both, "diabetes": both})
    ex = ui.KMExplorer(data, lang="en", endpoint="death", grouping="sex", covariates=["hypertension", "diabetes"], dpi=30)
    assert "repeat information" in ex.message.text and "Hypertension" in ex.message.text
    assert ex.result["cox"] is None and ex.result["logrank"] is not None
    ex.covariates.value = ("hypertension",)
    assert ex.message.text == "" and list(ex.result["cox"].summary.index) == ["hypertension", "group_1"]


def test_a_cox_model_that_does_not_converge_shows_a_message(frame, monkeypatch):
    def fails(*args, **kwargs):
        raise survival.CoxFitError("the covariates cannot all be estimated together")

    ex = ui.KMExplorer(frame, lang="en", endpoint="dropout", grouping="sex", dpi=30)
    monkeypatch.setattr(survival, "cox", fails)
    ex.covariates.value = ("age10",)
    assert "cannot be fitted" in ex.message.text and ex.result["cox"] is None
    assert ex.result["logrank"] is not None  # curves and tests are still shown


def test_an_unexpected_error_shows_one_sentence_and_is_logged(frame, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    ex = ui.KMExplorer(frame, lang="zh", endpoint="dropout", grouping="sex", dpi=30)
    monkeypatch.setattr(survival, "logrank", broken)
    ex.sex.value = "all"
    ex.grouping.value = "tier"
    assert ex.message.text.startswith("出现问题") and "boom" not in ex.message.text
    assert any("boom" in (r.exc_text or "") or "boom" in str(r.exc_info) for r in caplog.records)


@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_every_grouping_gives_labelled_groups_in_both_languages(frame, grouping):
    ex = ui.KMExplorer(frame, lang="en", endpoint="crisis_or_er", grouping=grouping, covariates=["age10"], dpi=30)
    assert ex.message.text == ""
    names_en = list(ex.result["groups"]["group"])
    ex.set_language("zh")
    names_zh = list(ex.result["groups"]["group"])
    assert len(names_en) == len(names_zh) >= 1
    if grouping not in ("none",):
        assert len(names_en) >= 2 and names_en != names_zh


def test_the_explorer_answers_within_two_seconds(frame):
    import time

    ex = ui.KMExplorer(frame, lang="zh", endpoint="crisis_or_er", grouping="sex")
    start = time.perf_counter()
    ex.grouping.value = "community_type"
    assert time.perf_counter() - start < 3  # about 1 s on 2 cores; generous for a loaded machine


# --- tiers as decided, and reading the data again -------------------------------------------------

def overridden_tables():
    from test_cohort import gad7_total, hand_tables, phq9_total

    # 24 residents so the explorer has enough rows; r00 answers for tier 1 (PHQ-9 2, GAD-7 1) but a
    # counsellor decided tier 3; r01 answers for tier 2 (PHQ-9 12) and was kept at 2
    ids = [f"r{k:02d}" for k in range(24)]
    totals = {"r00": (2, 1), "r01": (12, 3)}
    return hand_tables(
        residents={"resident_id": ids, "sex": ["female", "male"] * 12,
                   "birth_date": [f"{1940 + k}-05-01" for k in range(24)]},
        screenings=[{"resident_id": r, "assessed_on": "2025-03-03", **phq9_total(totals.get(r, (3, 2))[0]),
                     **gad7_total(totals.get(r, (3, 2))[1])} for r in ids],
        events={"resident_id": ["r00", "r02", "r05"], "event_on": ["2025-06-01", "2025-07-01", "2025-09-01"],
                "kind": ["crisis", "er_visit", "death"]},
        overrides=[("r00", "2025-03-03", 3, "disclosed a plan at the interview")])


def test_the_tier_is_the_decided_one_not_a_recomputed_suggestion():
    t = overridden_tables()
    frame = ui.cohort_frame(t, censor_date="2025-12-31")
    one = frame[frame["endpoint"] == "death"].set_index("resident_id")
    # the answers of r00 suggest tier 1; the decision recorded is 3, and that is what the explorer groups by
    assert t.decisions.set_index("resident_id").loc["r00", "suggested_tier"] == 1
    assert one.loc["r00", "tier"] == 3 and one.loc["r00", "tier_group"] == "tier_3" and one.loc["r00", "overridden"]
    assert one.loc["r01", "tier"] == 2 and not one.loc["r01", "overridden"]
    assert (one.drop(index=["r00", "r01"])["tier"] == 1).all()
    assert frame.attrs["policy_versions"] == ["default@1.1"] and frame.attrs["source"] == "memory"
    ex = ui.KMExplorer(frame, lang="en", endpoint="crisis_or_er", grouping="tier", covariates=["age10"], dpi=30)
    groups = ex.result["groups"].set_index("group")["n"].to_dict()
    assert groups == {"Tier 1 universal": "22", "Tier 2 counselling": "1", "Tier 3 fast-track referral": "1"}
    assert "default@1.1" in ex.heading.value and "not pseudonymised" in ex.heading.value


def test_refresh_reads_the_data_again_and_keeps_the_choices(frame):
    calls = []
    fewer = frame[frame["community_type"] != "ageing"]
    fewer.attrs.update(frame.attrs)

    def reload():
        calls.append(1)
        return fewer

    ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="sex", covariates=["age10"], dpi=30, reload=reload)
    assert ex.reload_button.description == "Refresh data" and ex.reload_button in ex.children[1].children
    ex.choose(community_type="ageing", sex="female")
    ex.reload_button.click()
    assert calls == [1] and ex.data is fewer
    # the ageing community is gone: back to all communities; the other choices are kept
    assert ex.community_type.value == "all" and ex.sex.value == "female" and ex.endpoint.value == "death"
    assert [v for _, v in ex.community_type.options] == ["all", "rural", "urban"]
    assert ex.result["n"] == len(chosen(fewer, endpoint="death", sex="female"))
    said = ex.reload_message.text
    assert said.startswith("Data read again at") and f"{fewer['resident_id'].nunique():,} residents" in said
    ex.set_language("zh")
    assert ex.reload_button.description == "刷新数据"
    # without a reload function there is no button
    assert not any(isinstance(c, type(ex.children[1])) and ex.reload_button in c.children
                   for c in ui.KMExplorer(frame, lang="en", dpi=30).children)


def test_a_failed_refresh_is_one_sentence_and_keeps_the_data(frame, caplog):
    def broken():
        raise OSError("database is locked")

    ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="sex", dpi=30, reload=broken)
    ex.reload_button.click()
    assert ex.data is frame and "database is locked" not in ex.reload_message.text and ex.reload_message.text
    assert any("database is locked" in str(r.exc_info) for r in caplog.records)


def test_from_the_registry_a_screening_saved_with_an_override_shows_after_refresh(tmp_path, monkeypatch):
    from workbench.registry.store import Registry
    from workbench.synth import community

    monkeypatch.setenv("WORKBENCH_EXPORT_KEY_FILE", str(tmp_path / "export.key"))
    registry = Registry(str(tmp_path / "registry.sqlite"))
    try:
        registry.init()
        registry.import_tables(community(120, seed=3).tables(), by="admin")
        registry.add_user("ana", "analyst", by="admin")
        registry.add_user("li", "counsellor", by="admin")
        ex = ui.KMExplorer.from_registry(registry, user="ana", lang="en", censor_date="2026-12-31", dpi=30,
                                         endpoint="crisis_or_er", grouping="tier")
        before = ex.data
        assert before.attrs["source"] == "registry" and before.attrs["pseudonymised"]
        assert "the registry, pseudonymised" in ex.heading.value
        assert not before["overridden"].fillna(False).any()
        # a new resident is screened: the answers suggest tier 1, the counsellor decides tier 3
        registry.import_residents(pd.DataFrame([{"resident_id": "NEW1", "sex": "female", "birth_date": "1950-02-03",
                                                 "community": before["community"].iloc[0], "lives_alone": "true",
                                                 **{c: "false" for c in ("hypertension", "diabetes", "chd", "stroke",
                                                                         "copd", "asthma")}}]), by="admin")
        answers = pd.DataFrame([{"resident_id": "NEW1", "assessed_on": "2026-06-01", "submission_id": "s-new-1",
                                 **{f"phq9_{n}": 0 for n in range(1, 10)}, **{f"gad7_{n}": 0 for n in range(1, 8)}}])
        saved = registry.save_screening(answers, by="li", tier=3, reason="known to the crisis team")
        assert saved.decision["suggested_tier"].item() == 1 and saved.decision["tier"].item() == 3
        assert ex.data is before  # nothing changes until the person asks
        ex.reload_button.click()
        after = ex.data
        new = after[after["overridden"].fillna(False)]
        assert new["resident_id"].nunique() == 1 and set(new["tier"]) == {3.0}
        assert after["resident_id"].nunique() == before["resident_id"].nunique() + 1
        # the curves now count the new resident too (residents without a decided tier are left out)
        shown = [len(d[(d["endpoint"] == "crisis_or_er") & d["tier"].notna()]) for d in (before, after)]
        assert ex.result["n"] == shown[1] == shown[0] + 1
    finally:
        registry.engine.dispose()


# --- issue 20: sparse data, a Cox fit refused by name, an empty subset ----------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_cox_model_with_few_events_per_parameter_warns_with_the_numbers(frame, lang):
    # 7 covariates on the deaths of the sample (35): 5 events per parameter, below Peduzzi's 10
    seven = ["age10", "female", "lives_alone", "hypertension", "diabetes", "chd", "stroke"]
    ex = ui.KMExplorer(frame, lang=lang, endpoint="death", grouping="none", covariates=seven, dpi=30)
    events = int(frame.loc[frame["endpoint"] == "death", "event_of_interest"].sum())
    params = len(ex.result["cox"].summary)
    assert params == 7 and events / params < 10
    text = ex.message.text
    assert f"{events}" in text and f"{params}" in text and f"{events / params:.1f}" in text
    assert "Peduzzi" in text and "Vittinghoff" in text and "McCulloch" in text
    assert ("Sparse data" in text) if lang == "en" else ("数据稀疏" in text and "5 至 9" in text)
    assert ex.result["cox"] is not None  # the estimates are still shown, with the warning
    ex.covariates.value = ("age10",)     # 35 events for one parameter: no warning
    assert "Peduzzi" not in ex.message.text


def _unfittable():
    """Hypertension only in residents censored before the first event: at every event time it is
    the same for everyone still followed, so the Cox information matrix is singular."""
    n = 60
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"endpoint": "death", "duration": rng.integers(40, 700, n), "event_of_interest": rng.integers(0, 2, n),
                      "sex": ["female", "male"] * (n // 2), "community_type": "urban", "age": rng.integers(40, 90, n),
                      "hypertension": False})
    d.loc[:2, ["duration", "event_of_interest", "hypertension"]] = [5, 0, True]
    return d


@pytest.mark.parametrize("lang,words", [("en", "not usable"), ("zh", "不可用")])
def test_an_infinite_coefficient_is_named_in_plain_words(lang, words):
    from workbench.i18n import t

    ex = ui.KMExplorer(_unfittable(), lang=lang, endpoint="death", grouping="none", covariates=["hypertension"], dpi=30)
    text = ex.message.text
    assert t("hypertension", lang) in text and words in text
    assert "'hypertension'" not in text and "log-likelihood" not in text  # not the raw warning


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_cox_fit_error_is_shown_translated_naming_the_covariates(frame, monkeypatch, lang):
    from workbench.i18n import t

    def fails(data, *, covariates, **kwargs):  # the sentence survival.cox raises, with its column names
        raise survival.CoxFitError(f"the covariates {covariates} cannot all be estimated together: one is a "
                                   "combination of the others or separates the events completely (Singular matrix); "
                                   "drop or merge one")

    ex = ui.KMExplorer(frame, lang=lang, endpoint="dropout", grouping="none", covariates=["age10", "hypertension"], dpi=30)
    monkeypatch.setattr(survival, "cox", fails)
    ex.covariates.value = ("hypertension", "diabetes")
    text = ex.message.text
    assert t("hypertension", lang) in text and t("diabetes", lang) in text
    assert ("cannot all be estimated together" in text) if lang == "en" else ("不能同时估计" in text)
    assert "Singular" not in text and "converge" not in text and "未收敛" not in text
    assert ex.result["cox"] is None and ex.result["logrank"] is None


def test_a_constant_covariate_is_named_not_a_raw_error(frame):
    ex = ui.KMExplorer(frame, lang="zh", endpoint="crisis_or_er", grouping="none", covariates=["female"], dpi=30)
    ex.choose(sex="female")
    assert "女性" in ex.notes.text and ex.message.text == "" and ex.result["cox"] is None
    from workbench.ui.explorer import cox_fit_message
    message = cox_fit_message("'female' takes one value in every row: there is no effect to estimate; leave it out",
                              {"female": "女性（对比男性）"}, "zh")
    assert message.startswith("无法拟合 Cox 模型：所选居民的“女性（对比男性）”都相同")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_empty_subset_is_a_message_with_no_plot(frame, lang):
    ex = ui.KMExplorer(frame, lang=lang, endpoint="death", grouping="sex", covariates=["age10"], dpi=30, min_rows=0)
    ex.choose(community_type=sorted(frame["community_type"].unique())[0], age=(ex.age_to.max, ex.age_to.max))
    ex.choose(sex="male", age=(ex.age_to.max, ex.age_to.max))
    assert ex.figure.value == "" and ex.tables.value == "" and ex.result == {}
    assert ex.message.text and "Traceback" not in ex.message.text


# --- issue 20: competing outcomes drawn as cumulative incidence; the fit's sparse-data warning ------

@pytest.fixture
def drawn(monkeypatch):
    """The figures the explorer draws, before they become PNG."""
    from workbench.ui import explorer as module

    figures = []
    real = module.png_img

    def keep(fig, **kwargs):
        figures.append(fig)
        return real(fig, **kwargs)

    monkeypatch.setattr(module, "png_img", keep)
    return figures


def _line(fig, gid):
    lines = [line for line in fig.axes[0].get_lines() if line.get_gid() == gid]
    assert len(lines) == 1, gid
    return lines[0].get_xdata(), lines[0].get_ydata()


def test_dropout_is_drawn_as_cumulative_incidence_not_one_minus_kaplan_meier(frame, drawn):
    from workbench.plots import DAYS_PER_MONTH

    ex = ui.KMExplorer(frame, lang="en", endpoint="dropout", grouping="tier", covariates=["age10"], dpi=30)
    fig = drawn[0]
    rows = chosen(frame, endpoint="dropout")
    crude = {"tier_2": (137, 666), "tier_3": (41, 225)}  # counted as in tests/test_competing_risks.py
    for tier, (dropped, n) in crude.items():
        part = rows[rows["tier_group"] == tier]
        # nobody is still in care at the end of 2026: every first referral has ended
        assert len(part) == n and (part["event"] == 0).sum() == 0 and (part["event"] == 1).sum() == dropped
        x, y = _line(fig, f"cif:1:{tier}")
        curve = survival.cumulative_incidence(part, duration="duration", event="event", cause=1)
        assert np.allclose(x[1:] * DAYS_PER_MONTH, curve["time"]) and np.allclose(y[1:], curve["cif"], rtol=1e-12)
        assert y[0] == 0 and y[-1] == pytest.approx(dropped / n, rel=1e-12)  # the crude share, not ~1 as 1 - KM
    assert fig.axes[0].get_ylabel() == "Cumulative incidence of dropout"
    assert "not censoring" in ex.notes.text and "Aalen-Johansen" in ex.notes.text
    # the table reads the curves at the time marked on the plot, with each way of leaving care
    horizon = ex.result["horizon"]
    x, _ = _line(fig, "horizon")
    assert x[0] * DAYS_PER_MONTH == pytest.approx(horizon) and horizon <= rows["duration"].max()
    summary = ex.result["incidence"].set_index(["group", "cause"])
    tier2 = rows[rows["tier_group"] == "tier_2"]
    expected = survival.competing_summary(tier2, duration="duration", event="event", at=horizon,
                                          causes={1: "Dropout", 2: "Died in care", 3: "Care completed"}).set_index("cause")
    for cause in ("Dropout", "Died in care", "Care completed"):
        assert summary.loc[("tier_2", cause), "cif"] == pytest.approx(expected.loc[cause, "cif"], rel=1e-12)
    c = expected.loc["Dropout"]
    months = f"{horizon / DAYS_PER_MONTH:.0f}"
    assert f"by {months} months" in ex.tables.value and "Care completed by" in ex.tables.value
    assert f"<td>{100 * c.cif:.1f} ({100 * c.ci_low:.1f}–{100 * c.ci_high:.1f})</td>" in ex.tables.value
    # log-rank and Cox compare cause-specific hazards, and say so
    assert "cause-specific hazards of dropout" in ex.tables.value
    assert "Cox model: cause-specific hazard ratios of dropout" in ex.tables.value
    expected_logrank = survival.logrank(rows, duration="duration", event="event_of_interest", group="tier_group")
    assert ex.result["logrank"]["p_value"].iloc[0] == pytest.approx(expected_logrank["p_value"].iloc[0], rel=1e-12)
    drawn.clear()
    ex.set_language("zh")
    assert drawn[0].axes[0].get_ylabel() == "脱落的累积发生率"
    assert "不是截尾" in ex.notes.text and "特定原因风险" in ex.tables.value


def test_without_a_grouping_each_way_of_leaving_care_has_its_curve(frame, drawn):
    ui.KMExplorer(frame, lang="en", endpoint="dropout", grouping="none", covariates=["age10"], dpi=30)
    rows = chosen(frame, endpoint="dropout")
    total = 0.0
    for cause in (1, 2, 3):
        _, y = _line(drawn[0], f"cif:{cause}")
        curve = survival.cumulative_incidence(rows, duration="duration", event="event", cause=cause)
        assert y[-1] == pytest.approx(curve["cif"].iloc[-1], rel=1e-12)
        total += y[-1]
    assert total == pytest.approx(1.0)  # everyone left care one way or another


@pytest.mark.parametrize("endpoint", ["remission", "crisis_or_er", "cardiovascular"])
def test_every_endpoint_with_competing_outcomes_draws_the_cumulative_incidence_of_its_event(frame, drawn, endpoint):
    ex = ui.KMExplorer(frame, lang="en", endpoint=endpoint, grouping="sex", covariates=["age10"], dpi=30)
    assert ex.message.text == ""
    rows = chosen(frame, endpoint=endpoint)
    female = rows[rows["sex"] == "female"]
    _, y = _line(drawn[0], "cif:1:female")
    curve = survival.cumulative_incidence(female, duration="duration", event="event", cause=1)
    assert np.allclose(y[1:], curve["cif"].iloc[:len(y) - 1], rtol=1e-12)
    assert drawn[0].axes[0].get_ylabel().startswith("Cumulative incidence of")
    assert "cause-specific" in ex.tables.value and "not censoring" in ex.notes.text


def test_death_stays_a_kaplan_meier_curve(frame, drawn):
    ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="sex", covariates=["age10"], dpi=30)
    rows = chosen(frame, endpoint="death")
    _, y = _line(drawn[0], "curve:female")
    km = survival.km(rows[rows["sex"] == "female"], duration="duration", event="event_of_interest")
    assert y[-1] == pytest.approx(km["survival"].iloc[-1], rel=1e-12)
    assert ex.result["incidence"] is None and "Residents, events and median time per group" in ex.tables.value
    assert "cause-specific" not in ex.tables.value and "not censoring" not in ex.notes.text


def test_the_fits_sparse_data_warning_does_not_leak_and_the_message_shows_once(frame, caplog):
    import warnings

    seven = ["age10", "female", "lives_alone", "hypertension", "diabetes", "chd", "stroke"]
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("error", survival.SparseDataWarning)  # strict: a leaked warning would break the fit
        ex = ui.KMExplorer(frame, lang="en", endpoint="death", grouping="none", covariates=seven, dpi=30)
    assert ex.result["cox"] is not None and len(ex.result["cox"].summary) == 7
    assert ex.message.text.count("Sparse data") == 1 and ex.message.text.count("Peduzzi") == 1
    assert "Something went wrong" not in ex.message.text
    assert not [w for w in leaked if issubclass(w.category, survival.SparseDataWarning)]
    assert not any("events per coefficient" in r.getMessage() or "SparseDataWarning" in (r.exc_text or "")
                   for r in caplog.records)
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        ex.set_language("zh")
    assert not [w for w in leaked if issubclass(w.category, survival.SparseDataWarning)]
    assert ex.message.text.count("数据稀疏") == 1


def test_the_words_moved_out_of_the_explorer_are_still_offered_by_it():
    from workbench.ui import _explorer_text, explorer

    for name in ("sparse_warning", "cox_fit_message", "level_label", "data_note", "html_table"):
        assert getattr(explorer, name) is getattr(_explorer_text, name) and name in explorer.__all__
    assert explorer.EVENTS_PER_PARAMETER == survival.EVENTS_PER_PARAMETER == 10
