"""Questionnaire declarations: the published facts, a conformance suite over every declaration,
and the loader's refusal of broken declarations.

Expected values are typed here from the primary sources (cited per entry), independently of the
YAML declarations, so a wrong declaration fails these tests.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import workbench
from workbench.instruments import InstrumentError, get_instrument, instrument_ids, load_instrument

SHIPPED = ["gad2", "gad7", "k10", "phq15", "phq2", "phq8", "phq9", "pss10", "ucla3", "who5"]

# (items, answer min, answer max, reverse-keyed items, {band: (lowest, highest) total}, source)
PUBLISHED = {
    "phq9": (9, 0, 3, [], {"minimal": (0, 4), "mild": (5, 9), "moderate": (10, 14),
                           "moderately_severe": (15, 19), "severe": (20, 27)},
             "Kroenke, Spitzer, Williams 2001, J Gen Intern Med 16:606, Table 4"),
    "phq8": (8, 0, 3, [], {"minimal": (0, 4), "mild": (5, 9), "moderate": (10, 14),
                           "moderately_severe": (15, 19), "severe": (20, 24)},
             "Kroenke et al. 2009, J Affect Disord 114:163"),
    "phq2": (2, 0, 3, [], {"negative": (0, 2), "positive": (3, 6)}, "Kroenke 2003, Med Care 41:1284"),
    "gad7": (7, 0, 3, [], {"minimal": (0, 4), "mild": (5, 9), "moderate": (10, 14), "severe": (15, 21)},
             "Spitzer et al. 2006, Arch Intern Med 166:1092"),
    "gad2": (2, 0, 3, [], {"negative": (0, 2), "positive": (3, 6)}, "Kroenke et al. 2007, Ann Intern Med 146:317"),
    "who5": (5, 0, 5, [], {"depression_likely": (0, 7), "poor_wellbeing": (8, 12), "normal": (13, 25)},
             "Topp et al. 2015, Psychother Psychosom 84:167 (REFERENCE.md: check)"),
    "k10": (10, 1, 5, [], {"low": (10, 15), "moderate": (16, 21), "high": (22, 29), "very_high": (30, 50)},
            "Australian Bureau of Statistics 4817.0.55.001"),
    "ucla3": (3, 1, 3, [], {"not_lonely": (3, 5), "lonely": (6, 9)}, "Hughes et al. 2004, Res Aging 26:655"),
    "phq15": (15, 0, 2, [], {"minimal": (0, 4), "low": (5, 9), "medium": (10, 14), "high": (15, 30)},
              "Kroenke, Spitzer, Williams 2002, Psychosom Med 64:258"),
    "pss10": (10, 0, 4, [4, 5, 7, 8], {"low": (0, 13), "moderate": (14, 26), "high": (27, 40)},
              "Cohen, Kamarck, Mermelstein 1983, J Health Soc Behav 24:385 (bands: convention)"),
}


def test_exactly_the_licensed_questionnaires_are_shipped():
    assert instrument_ids() == SHIPPED


@pytest.mark.parametrize("inst_id", SHIPPED)
def test_declaration_matches_the_published_instrument(inst_id):
    k, lo, hi, reverse, bands, _source = PUBLISHED[inst_id]
    inst = get_instrument(inst_id)
    assert (inst.n_items, inst.response_min, inst.response_max) == (k, lo, hi)
    assert list(inst.reverse_keyed) == reverse
    assert inst.band_ids == list(bands)
    for band, (first, last) in bands.items():
        assert inst.band_of(first) == band and inst.band_of(last) == band
        if first > inst.score_min:
            assert inst.band_of(first - 1) != band


@pytest.mark.parametrize("inst_id", SHIPPED)
def test_scoring_puts_every_published_band_boundary_in_its_band(inst_id):
    """Build answers reaching each boundary total and score them through the engine."""
    k, lo, hi, reverse, bands, _source = PUBLISHED[inst_id]
    totals = sorted({t for pair in bands.values() for t in pair})
    rows = []
    for total in totals:
        answers = [lo] * k
        remaining = total - k * lo
        for j in range(k):
            step = min(hi - lo, remaining)
            answers[j] += step
            remaining -= step
        # reverse-keyed items contribute (lo + hi - answer)
        rows.append([lo + hi - a if (j + 1) in reverse else a for j, a in enumerate(answers)])
    data = pd.DataFrame(rows, columns=[f"{inst_id}_{n}" for n in range(1, k + 1)])
    result = workbench.score(data, inst_id)
    assert result["score"].tolist() == totals
    expected = [next(b for b, (f, l) in bands.items() if f <= t <= l) for t in totals]
    assert result["band"].astype(str).tolist() == expected


def test_known_traps_in_answer_labels():
    # GAD-7's 0 anchor is "Not at all", not "Not at all sure" (REFERENCE.md, known traps).
    assert get_instrument("gad7").answer_label(0) == "Not at all"
    # "Nearly every day" is weighted 3, not 4 (Kroenke 2001; early HL7 SDC example was wrong).
    phq9 = get_instrument("phq9")
    assert phq9.answer_label(3) == "Nearly every day" and phq9.response_max == 3
    # OpenEMR's mislabelling: 5-9 is mild, 10-14 moderate (Kroenke 2001).
    assert phq9.band_of(7) == "mild" and phq9.band_of(12) == "moderate"


def test_phq9_item_9_is_the_self_harm_item_and_question_10_is_not_scored():
    phq9 = get_instrument("phq9")
    (crit,) = phq9.critical_items
    assert crit.items == (9,) and crit.at_least == 1 and crit.flag == "self_harm"
    assert phq9.supplementary_columns == ["phq9_10"] and "phq9_10" not in phq9.item_columns


def test_subset_questionnaires_reuse_the_parent_wording():
    phq9, phq2, phq8 = (get_instrument(i) for i in ("phq9", "phq2", "phq8"))
    assert [phq2.item_text(n, "zh") for n in (1, 2)] == [phq9.item_text(n, "zh") for n in (1, 2)]
    assert [phq8.item_text(n) for n in range(1, 9)] == [phq9.item_text(n) for n in range(1, 9)]
    assert phq8.critical_items == ()  # the PHQ-8 exists precisely without item 9


@pytest.mark.parametrize("inst_id", ["phq9", "phq8", "phq2", "gad7", "gad2", "phq15"])
def test_pfizer_credit_line_is_kept(inst_id):
    assert "Copyright Pfizer Inc., no permission required" in get_instrument(inst_id).credit


# --- conformance suite: runs over every declared questionnaire -----------------------------

@pytest.fixture(params=SHIPPED)
def inst(request):
    return get_instrument(request.param)


def _frame(inst, rows):
    return pd.DataFrame(rows, columns=inst.item_columns)


def test_conformance_keyed_extremes_give_the_score_range(inst):
    low = [inst.response_max if n in inst.reverse_keyed else inst.response_min for n in range(1, inst.n_items + 1)]
    high = [inst.response_min if n in inst.reverse_keyed else inst.response_max for n in range(1, inst.n_items + 1)]
    result = workbench.score(_frame(inst, [low, high]), inst)
    assert result["score"].tolist() == [inst.score_min, inst.score_max]
    assert result["band"].tolist() == [inst.bands[0].id, inst.bands[-1].id]


def test_conformance_bands_cover_every_total_exactly_once(inst):
    for total in range(inst.score_min, inst.score_max + 1):
        assert sum(b.contains(total) for b in inst.bands) == 1, total
    assert not any(b.contains(inst.score_min - 1) or b.contains(inst.score_max + 1) for b in inst.bands)


def test_conformance_reverse_keying_twice_is_identity(inst):
    answers = np.arange(inst.response_min, inst.response_max + 1)
    once = inst.response_min + inst.response_max - answers
    assert (inst.response_min + inst.response_max - once == answers).all()
    assert set(once) == set(answers)


def test_conformance_both_languages_everywhere(inst):
    texts = [inst.name, inst.instructions, *[i.text for i in inst.items], *inst.response_labels.values(),
             *[b.label for b in inst.bands], *[c.message for c in inst.critical_items]]
    for text in texts:
        assert text["en"].strip() and text["zh"].strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text["zh"]), text["zh"]
    assert inst.citation and inst.licence and inst.credit and inst.bands_source and inst.missing_source


def test_conformance_missing_items_follow_the_declared_rule(inst):
    full = [inst.response_min] * inst.n_items
    rows = []
    for n_missing in range(0, inst.max_missing + 2):
        rows.append([np.nan] * n_missing + full[n_missing:])
    result = workbench.score(_frame(inst, rows), inst)
    assert result["n_answered"].tolist() == [inst.n_items - m for m in range(0, inst.max_missing + 2)]
    scorable = result["score"].notna().tolist()
    assert scorable == [True] * (inst.max_missing + 1) + [False]
    assert result["prorated"].tolist() == [False] + [True] * inst.max_missing + [False]
    strict = workbench.score(_frame(inst, rows), inst, missing="strict")
    assert strict["score"].notna().tolist() == [True] + [False] * (inst.max_missing + 1)


def test_conformance_out_of_range_answers_are_refused(inst):
    row = [inst.response_min] * inst.n_items
    bad = [inst.response_max + 1] + row[1:]
    with pytest.raises(workbench.ResponseError) as err:
        workbench.score(_frame(inst, [row, bad]), inst)
    assert err.value.problems[["row", "column", "check"]].values.tolist() == [[1, inst.item_columns[0], "out_of_range"]]


# --- broken declarations are refused when loaded -------------------------------------------

def _broken(tmp_path, edit, name="phq9"):
    raw = yaml.safe_load((Path(workbench.instruments.__file__).parent / f"{name}.yaml").read_text())
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["bands"]["intervals"][1].update(interval="[6, 10)"), "must meet with no gap or overlap"),
    (lambda r: r["bands"]["intervals"][1].update(interval="[4, 10)"), "must meet with no gap or overlap"),
    (lambda r: r["bands"]["intervals"][-1].update(interval="[20, 26]"), "must end at the score maximum"),
    (lambda r: r["bands"]["intervals"][0].update(interval="(0, 5)"), "must start at the score minimum"),
    (lambda r: r["bands"]["intervals"][2].update(interval="[10, 10)"), "is empty"),
    (lambda r: r["bands"]["intervals"][2].update(interval="10 to 15"), "must look like"),
    (lambda r: r.update(reverse_keyed=[12]), "reverse_keyed"),
    (lambda r: r["items"][3].update(zh=""), "items[3].zh"),
    (lambda r: r["response"]["labels"].pop(), "answers [3] have no label"),
    (lambda r: r.update(colour="blue"), "colour: unknown key"),
    (lambda r: r.update(id="phq10"), "must match the file name"),
    (lambda r: r["score"].update(max=28), "differs from 9 items"),
    (lambda r: r["critical_items"][0].update(item=11), "11 is not an item"),
    (lambda r: r["critical_items"][0].update(at_least=4), "at_least: 4 must lie in"),
    (lambda r: r["missing"].update(max_missing=9), "missing.max_missing"),
    (lambda r: r.pop("citation"), "citation: required key"),
])
def test_a_broken_declaration_is_refused_naming_the_key(tmp_path, edit, expected):
    with pytest.raises(InstrumentError, match="phq9.yaml") as err:
        load_instrument(_broken(tmp_path, edit))
    assert expected in str(err.value)


def test_every_problem_is_reported_at_once(tmp_path):
    def edit(raw):
        raw["items"][0]["en"] = ""
        raw["bands"]["intervals"][1]["interval"] = "[6, 10)"
    with pytest.raises(InstrumentError) as err:
        load_instrument(_broken(tmp_path, edit))
    assert "2 problem(s)" in str(err.value)


def test_a_new_questionnaire_is_a_new_file(tmp_path):
    """A declaration outside the package loads and scores with no code change."""
    path = _broken(tmp_path, lambda r: None, name="ucla3")
    custom = load_instrument(path)
    result = workbench.score(pd.DataFrame({"ucla3_1": [3], "ucla3_2": [2], "ucla3_3": [1]}), custom)
    assert result.loc[0, "score"] == 6 and result.loc[0, "band"] == "lonely"
