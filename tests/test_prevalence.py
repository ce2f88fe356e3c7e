"""Screen-positive prevalence for notebook 01 (workbench.prevalence): from the stored scores,
with intervals (epi.prevalence), strata, age standardisation (epi.standardize), plain refusals."""

import numpy as np
import pandas as pd
import pytest

from workbench import epi, get_instrument
from workbench.prevalence import (AGE_GROUPS, NoResidentsError, NoScreenPositiveCutOff, age_group, screen_positive,
                                  screen_positive_instruments, standard_for_age_groups)
from workbench.sample import load_sample


@pytest.fixture(scope="module")
def tables():
    return load_sample()


def test_age_groups_are_declared_once_and_are_those_of_notebook_01():
    # notebook 01 cut ages at [17, 39, 49, 59, 69, 79, 120] (right-closed): the same groups
    assert AGE_GROUPS == ("18-39", "40-49", "50-59", "60-69", "70-79", "80+")
    ages = np.arange(18, 100)
    old = pd.cut(ages, [17, 39, 49, 59, 69, 79, 120], labels=list(AGE_GROUPS)).astype(str)
    assert (age_group(ages).to_numpy() == old).all()


def test_the_standard_in_age_groups_sums_the_census_bands():
    census = epi.standard_population("china_2020_census")
    std = standard_for_age_groups("china_2020_census")
    assert std.index.tolist() == list(AGE_GROUPS)
    adults = census.drop(["0-4", "5-9", "10-14"])
    assert std.sum() == adults.sum()                 # every band from 15-19 on, once
    assert std["80+"] == census[["80-84", "85-89", "90-94", "95-99", "100+"]].sum()


def test_prevalence_by_group_has_intervals_equal_to_epi_prevalence_on_the_stored_scores(tables):
    out = screen_positive(tables, instrument="phq9", by="age_group")
    s = tables.screenings(("phq9",)).merge(tables.residents, on="resident_id")
    from workbench.cohort import age_at
    s["age_group"] = age_group(age_at(s["birth_date"], s["assessed_on"])).to_numpy()
    s["pos"] = (s["phq9_score"] >= get_instrument("phq9").screen_positive).astype(float).where(s["phq9_score"].notna())
    expected = epi.prevalence(s, outcome="pos", by="age_group")
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected.reset_index(drop=True), check_like=True)
    assert out.attrs["method"] == "wilson" and {"ci_low", "ci_high"} <= set(out.columns)


def test_strata_by_chronic_disease_show_the_age_gradient_is_confounded(tables):
    crude = screen_positive(tables, instrument=("phq9", "gad7"), by="age_group").set_index("age_group")
    strat = screen_positive(tables, instrument=("phq9", "gad7"), by="age_group", strata="chronic")
    assert crude.loc["80+", "prevalence"] - crude.loc["18-39", "prevalence"] > 0.15
    none = strat[strat["chronic"] == "no_chronic"].set_index("age_group")["prevalence"]
    assert none.max() - none.min() < 0.08          # flat within those without a chronic disease
    assert strat["n"].sum() == crude["n"].sum()


def test_age_standardised_to_the_china_2020_census(tables):
    out = screen_positive(tables, instrument=("phq9", "gad7"), by="chronic", standard="china_2020_census")
    assert {"adjusted", "adjusted_ci_low", "adjusted_ci_high"} <= set(out.columns)
    assert (out["adjusted_ci_low"] < out["adjusted"]).all() and (out["adjusted"] < out["adjusted_ci_high"]).all()
    with pytest.raises(ValueError, match="nothing to adjust"):
        screen_positive(tables, instrument="phq9", by="age_group", standard="china_2020_census")


@pytest.mark.parametrize("inst,name", [("k10", "K10"), ("who5", "WHO-5")])
def test_an_instrument_without_a_cut_off_is_refused_in_plain_words(tables, inst, name):
    assert get_instrument(inst).screen_positive is None
    with pytest.raises(NoScreenPositiveCutOff) as err:
        screen_positive(tables, instrument=inst, by="sex")
    assert str(err.value).startswith(f"{name} has no screen-positive cut-off; choose ")
    assert "PHQ-9" in str(err.value) and "GAD-7" in str(err.value)
    assert err.value.messages["zh"].startswith(f"{name} 没有筛查阳性界值")
    assert not isinstance(err.value, TypeError)


def test_the_chooser_lists_only_instruments_with_a_cut_off():
    offered = screen_positive_instruments()
    assert {"phq9", "gad7"} <= set(offered) and not {"k10", "who5"} & set(offered)
    assert all(get_instrument(i).screen_positive is not None for i in offered)


def test_no_matching_residents_is_a_message_not_blank_axes(tables):
    with pytest.raises(NoResidentsError) as err:
        screen_positive(tables, instrument="phq9", by="sex", where={"community_type": "no such place"}, lang="zh")
    assert "没有符合条件的居民" in str(err.value) and "community_type = no such place" in str(err.value)
    assert err.value.messages["en"].startswith("No residents match")


def test_refusals_read_well_in_each_language():
    from workbench.prevalence import NoResidentsError, NoScreenPositiveCutOff, screen_positive
    from workbench.sample import load_sample

    t = load_sample()
    with pytest.raises(NoScreenPositiveCutOff) as err:
        screen_positive(t, instrument="k10", by="sex", lang="zh")
    assert "low" not in err.value.messages["zh"] and "Low distress" in err.value.messages["en"]
    with pytest.raises(ValueError, match=r"where: \['comunity'\] is not a column here"):
        screen_positive(t, instrument="phq9", by="sex", where={"comunity": "urban-01"})
    with pytest.raises(NoResidentsError, match="No resident has a stored PHQ-2 total"):
        screen_positive(t, instrument="phq2", by="sex")
