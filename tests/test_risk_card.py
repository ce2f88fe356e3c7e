"""The model card (workbench.risk.card): every section in Chinese and in English, and every number
the one in the saved model's metadata or the validation report (changing the report changes the
card)."""

from __future__ import annotations

import copy
import re
from dataclasses import replace

import pytest

from workbench.params import ParameterError
from workbench.risk._toy import toy_report, toy_saved
from workbench.risk.card import SECTIONS, WORDS, model_card
from workbench.risk.predict import recalibrate


@pytest.fixture(scope="module")
def model():
    return toy_saved()


@pytest.fixture(scope="module")
def report():
    return toy_report()


def _section(card: str, lang: str, key: str) -> str:
    """The text of one section (from its heading to the next)."""
    parts = re.split(r"^## ", card, flags=re.M)
    for part in parts[1:]:
        if part.startswith(WORDS[lang][key] + "\n"):
            return part
    raise AssertionError(f"no section {key!r} in the {lang} card")


def _rows(section: str, first_cell: str) -> list[list[str]]:
    """Cells of the Markdown table rows of a section whose first cell is ``first_cell``."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith(f"| {first_cell} |")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_section_in_order(model, report, lang):
    card = model_card(model, report, lang=lang)
    headings = [line[3:] for line in card.splitlines() if line.startswith("## ")]
    assert headings == [WORDS[lang][key] for key in SECTIONS]
    assert card.splitlines()[0] == "# " + WORDS[lang]["title"].format(name=model.spec.name[lang], model=model.model)
    if lang == "zh":  # the headings and the table columns are Chinese
        assert not any(re.search(r"[A-Za-z]{4,}", h) for h in headings)
        assert "| 验证方式 | 人数 | 事件数 | C统计量（95%置信区间） |" in card


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_intended_use_says_what_it_never_is(model, report, lang):
    use = _section(model_card(model, report, lang=lang), lang, "use")
    assert model.spec.never[lang] in use and "NICE NG225" in use and model.spec.population[lang] in use
    if lang == "en":
        assert "not a suicide-risk score" in use and "must never gate care" in use and "not a decision" in use
    else:
        assert "不是自杀风险评分" in use and "绝不能用来决定是否提供服务" in use and "不是决定" in use


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_data_outcome_and_predictors_from_the_metadata(model, report, lang):
    card = model_card(model, report, lang=lang)
    t = model.metadata["training"]
    data = _section(card, lang, "data")
    for value in (t["n"], t["events"], t["first"], t["last"], model.data_version):
        assert str(value) in data
    for step, n in zip(report.exclusions[lang], report.exclusions["n"]):
        assert _rows(data, step) == [[step, str(n)]]
    outcome = _section(card, lang, "outcome")
    o = model.metadata["outcome"]
    assert o["id"] in outcome and o[lang] in outcome and model.spec.outcome.source_text[lang] in outcome
    assert model.spec.outcome.source_text["en"] == o["source"]
    assert f"{o['weeks'][0]}-{o['weeks'][1]}" in outcome and o["thresholds_version"] in outcome
    predictors = _section(card, lang, "predictors")
    for e in model.spec.excluded:  # what is deliberately left out, and why, in the card's language
        assert e["what"][lang] in predictors and e["why"][lang] in predictors
        if lang == "zh":
            assert e["what"]["en"] not in predictors and e["why"]["en"] not in predictors
    for name in model.predictors:
        assert len(_rows(predictors, name)) == 1
        assert model.spec.label(name, lang) in _rows(predictors, name)[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_performance_numbers_are_the_reports(model, report, lang):
    section = _section(model_card(model, report, lang=lang), lang, "performance")
    to = "至" if lang == "zh" else "to"
    perf = report.performance[report.performance["kind"] == model.kind]
    assert len(perf) == 2
    for _, r in perf.iterrows():
        cells = _rows(section, WORDS[lang][r["scheme"]])
        assert cells == [[WORDS[lang][r["scheme"]], str(r["n"]), str(r["events"]),
                          f"{r['auc']:.3f} ({r['auc_lower']:.3f} {to} {r['auc_upper']:.3f})",
                          f"{r['citl']:.3f} ({r['citl_lower']:.3f} {to} {r['citl_upper']:.3f})",
                          f"{r['slope']:.3f} ({r['slope_lower']:.3f} {to} {r['slope_upper']:.3f})",
                          f"{r['emax']:.3f}"]]
    # the decision curve at the band cut-offs, from the report's net benefits
    dc = report.decision_curve[(report.decision_curve["kind"] == model.kind)
                               & (report.decision_curve["scheme"] == "temporal")]
    line = next(x for x in section.splitlines() if x.startswith(f"- {WORDS[lang]['temporal']}"))
    for cut in (model.bands["medium_from"], model.bands["high_from"]):
        at = dc[(dc["threshold"] - cut).abs() < 1e-9].set_index("strategy")["net_benefit"]
        assert WORDS[lang]["decision_at"].format(pt=f"{cut:g}", model=f"{at['model']:.3f}",
                                                 all=f"{at['treat_all']:.3f}") in line


def test_a_changed_report_or_metadata_changes_the_card(model, report):
    """Nothing is typed in the card: new numbers in, new numbers out."""
    perf = report.performance.copy()
    perf.loc[perf["scheme"] == "temporal", ["auc", "emax"]] = [0.876543, 0.0421]
    card = model_card(model, replace(report, performance=perf), lang="en")
    row = _rows(_section(card, "en", "performance"), "temporal")[0]
    assert row[3].startswith("0.877 (") and row[6] == "0.042"
    other = copy.deepcopy(model)
    other.metadata["training"].update(n=1234, events=321)
    other.metadata["data_version"] = "sha256:0123456789abcdef"
    data = _section(model_card(other, report, lang="zh"), "zh", "data")
    assert "结局已知的转介1234例，其中未见好转321例（26.0%）" in data and "sha256:0123456789abcdef" in data


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_subgroups_with_their_plain_statements(model, report, lang):
    section = _section(model_card(model, report, lang=lang), lang, "subgroups")
    sg = report.subgroups[report.subgroups["kind"] == model.kind]
    for statement in sg[f"statement_{lang}"]:
        assert f"- {statement}" in section
    rule = report.attrs["subgroup_rule"]
    assert str(rule["slope_below"]) in section and str(rule["min_events"]) in section
    table = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + len(sg)
    verdicts = [line.strip("|").split("|")[-1].strip() for line in table[1:]]
    assert verdicts == [WORDS[lang][v] for v in sg["verdict"]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_limits_recalibration_and_versions(model, report, lang):
    card = model_card(model, report, lang=lang)
    limits = _section(card, lang, "limits")
    steps = report.exclusions.set_index("step")["n"]
    assert str(steps["no_review_in_window"]) in limits and str(steps["population"]) in limits
    no_wear = model.metadata["training"]["no_wearable_rows"]
    assert f"{no_wear} of the {model.metadata['training']['n']}" in limits if lang == "en" else \
        f"{model.metadata['training']['n']}例训练转介中有{no_wear}例" in limits
    assert model.spec.how_to_choose[lang] in limits
    how = _section(card, lang, "recalibrate")
    assert "recalibrate(model, site_tables" in how and 'method="intercept"' in how and "1.1-recal-<" in how
    versions = _section(card, lang, "versions")
    for package, version in model.metadata["versions"].items():
        assert _rows(versions, package) == [[package, version]]
    assert model.model in versions and model.data_version in versions


def test_a_recalibrated_models_card_says_so(model, report):
    from workbench.sample import load_sample

    local = recalibrate(model, load_sample(), site="east", created="2026-03-01")
    r = local.metadata["recalibration"]
    card = model_card(local, report, lang="en")
    how = _section(card, "en", "recalibrate")
    assert "method intercept at site east" in how and f"intercept {r['intercept']:.3f}, slope 1.000" in how
    assert f"{r['n']} referrals ({r['events']} events)" in how
    assert _rows(_section(card, "en", "versions"), "model") == [["model", "not_improving_logistic@1.1-recal-east"]]
    zh = model_card(local, report, lang="zh")
    assert "本模型本身是重新校准过的" in _section(zh, "zh", "recalibrate")


def test_refusals(model, report):
    with pytest.raises(ParameterError, match="The 'lang' parameter of model_card must be one of 'en', 'zh'"):
        model_card(model, report, lang="fr")
    other = replace(report, attrs={**report.attrs, "model": "another_spec@2.0"})
    with pytest.raises(ValueError, match="The report validated another_spec@2.0"):
        model_card(model, other)
    boosting_only = replace(report, performance=report.performance.assign(kind="boosting"))
    with pytest.raises(ValueError, match="no 'logistic' rows"):
        model_card(model, boosting_only)


def test_numbers_are_not_typed_in_the_module():
    """The card's words hold no figure: tiers, weeks, days, counts and results are placeholders
    filled from the spec, the metadata or the report (only the names PHQ-9 and NG225, its year, the
    95% level of the report's intervals and the ideal values 0 and 1 are words)."""
    for lang, words in WORDS.items():
        for key, text in words.items():
            stripped = re.sub(r"\{[^}]*\}", "", text)  # placeholders are filled from the inputs
            stripped = re.sub(r"PHQ-9|NG225|\(2022\)|（2022）|rms::val\.prob|SHA-256|95%|"
                              r"0 is ideal|1 is ideal|理想值为0|理想值为1|near 0|near 1|接近0|接近1", "", stripped)
            assert not re.search(r"\d", stripped), (lang, key, stripped)
