"""The scoring engine against the published scoring rules.

Sources:
- Totals and bands: Kroenke, Spitzer, Williams 2001 (PHQ-9, J Gen Intern Med 16:606);
  Spitzer et al. 2006 (GAD-7, Arch Intern Med 166:1092); Cohen et al. 1983 (PSS-10 reverse keying
  of items 4, 5, 7, 8); Topp et al. 2015 (WHO-5 percent = raw x 4); ABS 4817.0.55.001 (K10 1-5 coding).
- Missing items: APA Severity Measure for Depression (PHQ-9 based): with 1-2 items missing,
  prorate round(sum x 9 / answered) half up; 3 or more missing: no valid total (REFERENCE.md).
- Self-harm flag: REFERENCE.md safety flags; never prorated, unknown when item 9 is missing.
The property test compares the engine to a row-by-row oracle written from those rule texts.
"""

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workbench
from workbench import ResponseError, check_answers, score, score_valid

PHQ9 = [f"phq9_{n}" for n in range(1, 10)]


def phq9(*rows, index=None):
    return pd.DataFrame(list(rows), columns=PHQ9, index=index)


# --- totals, prorating, rounding ------------------------------------------------------------

def test_complete_phq9_is_the_plain_sum():
    result = score(phq9([3, 3, 3, 3, 3, 3, 3, 3, 3], [0] * 9, [1, 2, 1, 2, 1, 2, 1, 0, 0]), "phq9")
    assert result["score"].tolist() == [27, 0, 10]
    assert result["band"].tolist() == ["severe", "minimal", "moderate"]
    assert not result["prorated"].any()


def test_missing_answers_are_never_zero():
    # 3 of 9 missing: APA gives no valid total, not the partial sum 6.
    result = score(phq9([1, 1, 1, 1, 1, 1, np.nan, np.nan, np.nan]), "phq9")
    assert np.isnan(result.loc[0, "score"]) and pd.isna(result.loc[0, "band"])
    assert result.loc[0, "n_answered"] == 6 and not result.loc[0, "prorated"]


@pytest.mark.parametrize("answers, expected", [
    # sum 4 over 8 answered: 4 x 9 / 8 = 4.5 -> 5 (half up; Python's round() would give 4)
    ([0, 1, 1, 1, 1, 0, 0, 0, np.nan], 5),
    # sum 12 over 7 answered: 12 x 9 / 7 = 15.43 -> 15
    ([2, 2, 2, 2, 2, 2, np.nan, np.nan, 0], 15),
    # sum 9 over 8 answered: 9 x 9 / 8 = 10.125 -> 10, moving the band from mild to moderate
    ([2, 2, 2, 2, 1, 0, 0, np.nan, 0], 10),
    # sum 10 over 8: 11.25 -> 11
    ([3, 3, 3, 1, np.nan, 0, 0, 0, 0], 11),
])
def test_apa_prorating_rounds_half_up(answers, expected):
    result = score(phq9(answers), "phq9")
    assert result.loc[0, "score"] == expected and result.loc[0, "prorated"]


def test_strict_and_explicit_missing_rules():
    data = phq9([1, 1, 1, 1, 1, 1, 1, 1, np.nan])
    assert np.isnan(score(data, "phq9", missing="strict").loc[0, "score"])
    assert score(data, "phq9", missing=1).loc[0, "score"] == 9  # 8 x 9 / 8
    with pytest.raises(ValueError, match="The 'missing' parameter of score must be"):
        score(data, "phq9", missing="lenient")
    with pytest.raises(ValueError, match="Got 9 instead"):
        score(data, "phq9", missing=9)


def test_a_row_with_nothing_answered_is_not_scorable():
    result = score(phq9([np.nan] * 9), "phq9", missing=8)
    assert np.isnan(result.loc[0, "score"]) and result.loc[0, "n_answered"] == 0


# --- the self-harm flag ---------------------------------------------------------------------

def test_self_harm_flag_whatever_the_total():
    result = score(phq9([0, 0, 0, 0, 0, 0, 0, 0, 1],   # total 1, minimal, yet flagged
                        [3, 3, 3, 3, 3, 3, 3, 3, 0],   # severe, not flagged
                        [0, 0, 0, 0, 0, 0, 0, 0, 3]), "phq9")
    assert result["self_harm"].tolist() == [True, False, True]
    assert result.loc[0, "band"] == "minimal"


def test_item_9_unanswered_is_unknown_never_false_and_never_prorated():
    result = score(phq9([2, 2, 2, 2, 2, 2, 2, 2, np.nan], [np.nan] * 9), "phq9")
    assert result.loc[0, "score"] == 18 and result.loc[0, "prorated"]   # 16 x 9 / 8
    assert result["self_harm"].isna().all()
    assert str(result["self_harm"].dtype) == "boolean"


def test_self_harm_is_kept_even_when_the_total_is_not_scorable():
    result = score(phq9([np.nan, np.nan, np.nan, np.nan, 0, 0, 0, 0, 2]), "phq9")
    assert np.isnan(result.loc[0, "score"]) and result.loc[0, "self_harm"]


# --- other questionnaires -------------------------------------------------------------------

def test_pss10_reverse_keys_items_4_5_7_8():
    cols = [f"pss10_{n}" for n in range(1, 11)]
    # Cohen 1983: positively worded items 4, 5, 7, 8 are scored 4 - answer.
    data = pd.DataFrame([[0, 0, 0, 4, 4, 0, 4, 4, 0, 0], [4, 4, 4, 0, 0, 4, 0, 0, 4, 4],
                         [2] * 10], columns=cols)
    assert score(data, "pss10")["score"].tolist() == [0, 40, 20]


def test_who5_percent_is_raw_times_four_and_low_items_flag():
    cols = [f"who5_{n}" for n in range(1, 6)]
    result = score(pd.DataFrame([[5, 5, 5, 5, 5], [3, 3, 3, 3, 1], [2, 2, 2, 1, 0]], columns=cols), "who5")
    assert result["percent"].tolist() == [100, 52, 28]
    assert result["band"].tolist() == ["normal", "normal", "depression_likely"]
    assert result["low_item"].tolist() == [False, True, True]


def test_k10_uses_one_to_five_coding():
    cols = [f"k10_{n}" for n in range(1, 11)]
    assert score(pd.DataFrame([[1] * 10], columns=cols), "k10").loc[0, "score"] == 10
    with pytest.raises(ResponseError, match="whole numbers from 1 to 5"):
        score(pd.DataFrame([[0] * 10], columns=cols), "k10")


def test_phq15_item_4_does_not_apply_to_men():
    cols = [f"phq15_{n}" for n in range(1, 16)]
    row = [1] * 15
    row[3] = np.nan
    data = pd.DataFrame([row, row, row], columns=cols)
    data["sex"] = ["male", "female", None]
    result = score(data, "phq15", missing="strict")
    # a man's blank item 4 is not applicable (14 items, no prorating); a woman's is missing
    assert result["score"].tolist()[0] == 14 and not result.loc[0, "prorated"]
    assert np.isnan(result["score"].tolist()[1]) and np.isnan(result["score"].tolist()[2])
    assert score(data, "phq15").loc[1, "score"] == 15  # prorated 14 x 15 / 14


def test_gad7_and_the_functional_question():
    cols = [f"gad7_{n}" for n in range(1, 8)]
    assert score(pd.DataFrame([[2, 2, 2, 1, 1, 1, 1]], columns=cols), "gad7").loc[0, "band"] == "moderate"
    data = phq9([1] * 9)
    data["phq9_10"] = 5  # question 10 answers are 0-3: checked when present, never in the total
    with pytest.raises(ResponseError, match="phq9_10"):
        score(data, "phq9")
    data["phq9_10"] = 2
    assert score(data, "phq9").loc[0, "score"] == 9


# --- bad input ------------------------------------------------------------------------------

def test_every_bad_cell_is_named_at_once_and_nothing_is_returned():
    data = phq9([1] * 9, [1] * 9, [1] * 9, [1] * 9, index=["r1", "r2", "r3", "r4"]).astype(object)
    data.loc["r1", "phq9_2"] = 4          # out of range
    data.loc["r2", "phq9_5"] = 1.5        # not whole
    data.loc["r3", "phq9_9"] = "yes"      # text
    data.loc["r4", "phq9_1"] = 99         # a sentinel code, not mapped
    with pytest.raises(ResponseError) as err:
        score(data, "phq9")
    message = str(err.value)
    assert "4 answer(s) cannot be scored" in message
    for row, col, value in [("r1", "phq9_2", "4"), ("r2", "phq9_5", "1.5"), ("r3", "phq9_9", "'yes'"),
                            ("r4", "phq9_1", "99")]:
        assert f"row '{row}', column '{col}': value {value}" in message
    assert "whole numbers from 0 to 3" in message
    assert isinstance(err.value, ValueError)
    assert sorted(err.value.problems["check"]) == ["not_a_number", "not_whole", "out_of_range", "out_of_range"]


def test_absent_item_column_is_named():
    with pytest.raises(ResponseError, match=r"column 'phq9_9': value \(none\) is absent"):
        score(phq9([1] * 9).drop(columns="phq9_9"), "phq9")


def test_sentinel_codes_only_when_mapped_to_missing():
    data = phq9([1, 1, 1, 1, 1, 1, 1, 1, 9])
    with pytest.raises(ResponseError):
        score(data, "phq9")
    result = score(data, "phq9", missing_codes=[9])
    assert result.loc[0, "score"] == 9 and pd.isna(result.loc[0, "self_harm"])


def test_text_numbers_and_blanks_from_a_spreadsheet():
    data = phq9(["1", " 2 ", "", None, "0", "3.0", "1", "1", "0"])
    result = score(data, "phq9")
    assert result.loc[0, "score"] == 10 and result.loc[0, "n_answered"] == 7  # 8 x 9 / 7 = 10.29 -> 10


def test_booleans_are_not_answers():
    data = phq9([1] * 9)
    data["phq9_3"] = True
    with pytest.raises(ResponseError, match="yes/no value"):
        score(data, "phq9")


def test_score_valid_scores_the_good_rows_and_reports_the_rest():
    data = phq9([1] * 9, [2] * 9, [0] * 9, index=[10, 20, 30])
    data.loc[20, "phq9_4"] = 7
    result = score_valid(data, "phq9")
    assert result.scores.index.tolist() == [10, 30]
    assert result.scores["score"].tolist() == [9, 0]
    assert result.problems[["row", "column", "value"]].values.tolist() == [[20, "phq9_4", 7]]
    assert check_answers(data, "phq9").equals(result.problems)


def test_index_and_other_columns_are_kept_out_of_the_way():
    data = phq9([1] * 9, [0] * 9, index=pd.Index(["b", "a"], name="assessment_id"))
    data["resident_id"] = ["R1", "R2"]
    result = score(data, "phq9")
    assert result.index.equals(data.index)
    assert list(result.columns) == ["score", "band", "n_answered", "prorated", "self_harm"]
    assert result.attrs["instrument"] == "phq9" and result.attrs["max_missing"] == 2


def test_nullable_integer_input():
    data = phq9([1] * 9, [2] * 9).astype("Int8")
    data.iloc[0, 0] = pd.NA
    assert score(data, "phq9")["score"].tolist() == [9, 18]


def test_unknown_instrument():
    with pytest.raises(KeyError, match="No questionnaire 'epds'"):
        score(phq9([1] * 9), "epds")


# --- property test against a row-by-row oracle of the published rule -----------------------

def oracle(answers, lo, hi, reverse, max_missing):
    """Total of one row, written straight from REFERENCE.md's rule (not from the engine)."""
    keyed = [None if a is None else (lo + hi - a if (j + 1) in reverse else a) for j, a in enumerate(answers)]
    answered = [a for a in keyed if a is not None]
    missing = len(keyed) - len(answered)
    if not answered or missing > max_missing:
        return None
    if missing == 0:
        return sum(answered)
    exact = Decimal(sum(answered)) * len(keyed) / Decimal(len(answered))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(workbench.instrument_ids()), st.data())
def test_engine_agrees_with_the_rule_on_generated_answers(inst_id, data):
    inst = workbench.get_instrument(inst_id)
    cell = st.one_of(st.none(), st.integers(inst.response_min, inst.response_max))
    rows = data.draw(st.lists(st.lists(cell, min_size=inst.n_items, max_size=inst.n_items),
                              min_size=1, max_size=20))
    frame = pd.DataFrame(rows, columns=inst.item_columns, dtype="float64")
    result = score(frame, inst)
    for i, row in enumerate(rows):
        expected = oracle(row, inst.response_min, inst.response_max, inst.reverse_keyed, inst.max_missing)
        got = result["score"].iloc[i]
        assert (np.isnan(got) if expected is None else got == expected), (row, got, expected)
        assert result["n_answered"].iloc[i] == sum(a is not None for a in row)
        for crit in inst.critical_items:
            cells = [row[n - 1] for n in crit.items]
            hits = [a is not None and crit.hits(a) for a in cells]
            flag = result[crit.flag].iloc[i]
            if any(hits):
                assert flag is True or flag == True  # noqa: E712
            elif any(a is None for a in cells):
                assert pd.isna(flag)
            else:
                assert flag == False  # noqa: E712


# --- several questionnaires at once ---------------------------------------------------------

def test_score_all_prefixes_each_questionnaire_and_reports_all_problems_together():
    data = phq9([1] * 9, [2] * 9)
    for n in range(1, 8):
        data[f"gad7_{n}"] = [0, 3]
    data["resident_id"] = ["R1", "R2"]
    result = workbench.score_all(data)
    assert result["phq9_score"].tolist() == [9, 18] and result["gad7_score"].tolist() == [0, 21]
    assert result["gad7_band"].tolist() == ["minimal", "severe"]
    assert "phq9_self_harm" in result and "gad7_self_harm" not in result
    data.loc[0, "gad7_3"] = 5
    data = data.drop(columns="phq9_4")
    with pytest.raises(ResponseError) as err:
        workbench.score_all(data)
    assert set(err.value.problems["column"]) == {"phq9_4", "gad7_3"}


def test_a_partial_form_is_an_error_not_silently_skipped():
    data = pd.DataFrame({"gad7_1": [1], "gad7_2": [1]})
    assert workbench.instruments_in(data) == ["gad7"]
    with pytest.raises(ResponseError, match="gad7_7"):
        workbench.score_all(data)
