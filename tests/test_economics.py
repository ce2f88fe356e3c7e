"""workbench.economics: hand-computed means, ICER and ROI on tiny data, bootstrap determinism,
the rule that ICER limits are NaN when delta_effect's interval includes 0, missing-data policy,
and argument / row errors; and agreement with base R (tests/reference/economics/make_reference.R,
R 4.2) to 5 significant figures (rtol 1e-5) on seeded data from make_economics_data.py beside it.

The bootstrap intervals are compared on the same resamples: make_economics_data.py writes the index
matrices that workbench.economics draws for each seed (through its own drawing routine, in the
documented order), R recomputes the replicate means, deltas, ratios and type-7 percentiles from
them, and a test checks the committed matrices still match what the seed gives."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.economics import EconomicsDataError, cost_effectiveness, costs_from_use, return_on_investment

REF = Path(__file__).parent / "reference" / "economics"
RTOL = 1e-5


def _trial(n=60, effect_gap=0.15, seed=1):
    rng = np.random.default_rng(seed)
    arm = np.repeat(["usual", "psy"], n)
    cost = np.where(arm == "psy", 2600, 2000) + rng.normal(0, 300, 2 * n)
    qaly = np.where(arm == "psy", 0.70 + effect_gap, 0.70) + rng.normal(0, 0.05, 2 * n)
    return pd.DataFrame({"arm": arm, "cost": cost, "qaly": qaly})


def test_hand_computed_means_and_icer():
    d = pd.DataFrame({"arm": ["uc", "uc", "uc", "a", "a", "b", "b"],
                      "cost": [100, 200, 300, 500, 700, 250, 150],
                      "eff": [1.0, 2.0, 3.0, 3.0, 5.0, 2.0, 2.5]})
    r = cost_effectiveness(d, arm="arm", cost="cost", effect="eff", reference="uc", n_boot=200).set_index("arm")
    assert list(r.index) == ["a", "b"]
    # a: mean cost 600 vs 200, mean effect 4 vs 2 -> ICER 400 / 2 = 200; cost per effect 150 and 100
    assert r.loc["a", ["mean_cost", "mean_cost_reference", "mean_effect", "mean_effect_reference"]].tolist() == \
        [600, 200, 4, 2]
    assert (r.loc["a", "delta_cost"], r.loc["a", "delta_effect"], r.loc["a", "icer"]) == (400, 2, 200)
    assert (r.loc["a", "cost_per_effect"], r.loc["a", "cost_per_effect_reference"]) == (150, 100)
    # b: 200 - 200 = 0 cost, 2.25 - 2 = 0.25 effect -> ICER 0
    assert r.loc["b", "icer"] == 0 and r.loc["b", "delta_effect"] == pytest.approx(0.25)


def test_columns_are_fixed():
    r = cost_effectiveness(_trial(), arm="arm", cost="cost", effect="qaly", reference="usual")
    assert list(r.columns) == ["arm", "n", "n_reference", "n_excluded", "mean_cost", "mean_cost_reference",
                               "mean_effect", "mean_effect_reference", "delta_cost", "delta_cost_ci_low",
                               "delta_cost_ci_high", "delta_effect", "delta_effect_ci_low",
                               "delta_effect_ci_high", "icer", "icer_ci_low", "icer_ci_high", "cost_per_effect",
                               "cost_per_effect_reference"]
    row = r.iloc[0]
    assert row["icer_ci_low"] < row["icer"] < row["icer_ci_high"] and r.attrs["notes"] == []
    assert row["delta_cost_ci_low"] < row["delta_cost"] < row["delta_cost_ci_high"]


def test_bootstrap_is_deterministic_with_a_seed():
    d = _trial()
    a = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", seed=7)
    b = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", seed=7)
    c = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[0, "icer_ci_low"] != c.loc[0, "icer_ci_low"]
    assert a.loc[0, "icer"] == c.loc[0, "icer"]


def test_icer_limits_are_nan_when_delta_effect_interval_includes_zero():
    d = _trial(effect_gap=0.0)
    r = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual")
    assert r.loc[0, "delta_effect_ci_low"] <= 0 <= r.loc[0, "delta_effect_ci_high"]
    assert np.isnan(r.loc[0, "icer_ci_low"]) and np.isnan(r.loc[0, "icer_ci_high"])
    assert np.isfinite(r.loc[0, "icer"])
    assert len(r.attrs["notes"]) == 1 and "includes 0" in r.attrs["notes"][0]


def test_missing_cost_or_effect_is_excluded_and_counted():
    d = _trial(n=10)
    d.loc[[0, 15], "cost"] = np.nan
    d.loc[3, "qaly"] = None
    r = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", n_boot=100)
    assert (r.loc[0, "n"], r.loc[0, "n_reference"], r.loc[0, "n_excluded"]) == (9, 8, 3)
    assert list(r.attrs["excluded"]) == [0, 3, 15]
    assert r.loc[0, "mean_cost_reference"] == pytest.approx(d.loc[d["arm"].eq("usual") & d.notna().all(axis=1),
                                                                   "cost"].mean())


def test_costs_from_use_hand_computed_and_missing_use_is_not_zero():
    use = pd.DataFrame({"sessions": [6, 0, None, 2], "er_visits": [1, 2, 0, 0], "admissions": [0, 1, 0, 0]})
    cost = costs_from_use(use, unit_costs={"sessions": 150, "er_visits": 400, "admissions": 8000})
    assert cost.name == "cost"
    np.testing.assert_array_equal(cost.to_numpy(), [1300.0, 8800.0, np.nan, 300.0])


@pytest.mark.parametrize("unit_costs", [{}, None, {"sessions": -1}, {"sessions": "150"}, {"sessions": np.nan},
                                        {"sessions": True}])
def test_costs_from_use_requires_explicit_prices(unit_costs):
    with pytest.raises(ValueError, match="The 'unit_costs' parameter of costs_from_use"):
        costs_from_use(pd.DataFrame({"sessions": [1]}), unit_costs=unit_costs)


def test_costs_from_use_names_bad_rows():
    use = pd.DataFrame({"sessions": [1, -2, "x"]}, index=["p1", "p2", "p3"])
    with pytest.raises(EconomicsDataError) as e:
        costs_from_use(use, unit_costs={"sessions": 150, "admissions": 1})
    assert "absent" in str(e.value)
    with pytest.raises(EconomicsDataError) as e:
        costs_from_use(use, unit_costs={"sessions": 150})
    assert sorted(e.value.problems["row"]) == ["p2", "p3"]


def test_return_on_investment_hand_computed_and_claim_check():
    d = pd.DataFrame({"arm": ["usual"] * 3 + ["psy"] * 3,
                      "psy_cost": [0, 0, 0, 100, 100, 100],
                      "med_cost": [1000, 1400, 1200, 800, 900, 1000]})
    r = return_on_investment(d, arm="arm", intervention_cost="psy_cost", medical_cost="med_cost",
                             reference="usual", n_boot=500)
    assert list(r.columns) == ["arm", "n", "n_reference", "n_excluded", "mean_intervention_cost",
                               "mean_medical_cost", "mean_medical_cost_reference", "medical_cost_saved", "roi",
                               "roi_ci_low", "roi_ci_high"]
    assert (r.loc[0, "medical_cost_saved"], r.loc[0, "roi"]) == (300, 3)
    assert r.loc[0, "roi_ci_low"] <= 3 <= r.loc[0, "roi_ci_high"]


def test_return_on_investment_on_simulated_data_rejects_or_supports_3_5():
    rng = np.random.default_rng(3)
    n = 400
    arm = np.repeat(["usual", "psy"], n)
    psy = np.where(arm == "psy", rng.gamma(4, 50, 2 * n), 0.0)                 # mean 200 yuan
    med = rng.gamma(2, 1500, 2 * n) - np.where(arm == "psy", 300, 0)          # saves ~300 -> roi ~1.5
    d = pd.DataFrame({"arm": arm, "psy": psy, "med": np.maximum(med, 0)})
    r = return_on_investment(d, arm="arm", intervention_cost="psy", medical_cost="med", reference="usual", seed=1)
    again = return_on_investment(d, arm="arm", intervention_cost="psy", medical_cost="med", reference="usual",
                                 seed=1)
    pd.testing.assert_frame_equal(r, again)
    assert r.loc[0, "roi_ci_low"] < r.loc[0, "roi"] < r.loc[0, "roi_ci_high"]
    assert r.loc[0, "roi_ci_high"] < 3.5        # the claim is not supported by these data


def test_return_on_investment_zero_intervention_cost_is_an_error():
    d = pd.DataFrame({"arm": list("aabb"), "i": [0, 0, 0, 0], "m": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="mean intervention cost in arm 'b' is 0"):
        return_on_investment(d, arm="arm", intervention_cost="i", medical_cost="m", reference="a")


@pytest.mark.parametrize("kwargs,match", [
    (dict(reference="nope"), "The 'reference' parameter of cost_effectiveness must be one of the arms"),
    (dict(n_boot=10), "The 'n_boot' parameter of cost_effectiveness must be an int >= 100. Got 10 instead."),
    (dict(n_boot=2000.0), "The 'n_boot' parameter"),
    (dict(seed=-1), "The 'seed' parameter of cost_effectiveness"),
    (dict(alpha=1.5), r"The 'alpha' parameter of cost_effectiveness must be a float in \(0, 1\). Got 1.5"),
    (dict(cost=None), "The 'cost' parameter of cost_effectiveness must be a column name"),
])
def test_argument_errors(kwargs, match):
    args = dict(arm="arm", cost="cost", effect="qaly", reference="usual") | kwargs
    with pytest.raises(ValueError, match=match):
        cost_effectiveness(_trial(n=5), **args)


def test_bad_rows_named_all_at_once():
    d = _trial(n=3)
    d["arm"] = d["arm"].astype(object)
    d.loc[1, "arm"] = None
    d.loc[2, "cost"] = -5
    d["qaly"] = d["qaly"].astype(object)
    d.loc[4, "qaly"] = "good"
    with pytest.raises(EconomicsDataError) as e:
        cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual")
    assert sorted(map(tuple, e.value.problems[["row", "column"]].to_numpy())) == \
        [(1, "arm"), (2, "cost"), (4, "qaly")]


def test_single_arm_is_an_error():
    d = _trial(n=5)
    with pytest.raises(ValueError, match="at least 2 arms"):
        cost_effectiveness(d[d["arm"] == "usual"], arm="arm", cost="cost", effect="qaly", reference="usual")


# --- agreement with base R (tests/reference/economics) -----------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("economics_make_data", REF / "make_economics_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=RTOL, atol=1e-12)


def _compare(got: pd.DataFrame, r: pd.DataFrame, columns: list[str]):
    merged = got.merge(r, on="arm", suffixes=("", "_r"), validate="1:1")
    assert len(merged) == len(r) == 2
    for c in columns:
        if np.issubdtype(merged[c].dtype, np.integer):
            assert merged[c].tolist() == merged[f"{c}_r"].tolist(), c
        else:
            # NaN in both (the undefined ICER limits) counts as agreement
            _close(merged[c], merged[f"{c}_r"])


CE_COLUMNS = ["n", "n_reference", "n_excluded", "mean_cost", "mean_cost_reference", "mean_effect",
              "mean_effect_reference", "delta_cost", "delta_effect", "icer", "cost_per_effect",
              "cost_per_effect_reference"]
CE_BOOT = ["delta_cost_ci_low", "delta_cost_ci_high", "delta_effect_ci_low", "delta_effect_ci_high",
           "icer_ci_low", "icer_ci_high"]


@pytest.mark.parametrize("level", [0.95, 0.90])
@pytest.mark.parametrize("analysis", ["ce_qaly", "ce_remitted"])
def test_cost_effectiveness_matches_r(analysis, level):
    # R: means, deltas, ICER (delta_cost / delta_effect), cost per unit effect (for effect
    # "remitted": cost per remission) on the complete cases, and the percentile limits
    # quantile(type = 7) over the same resamples
    md = _generator()
    data = pd.read_csv(REF / "data.csv")
    r = pd.read_csv(REF / "r_cost_effectiveness.csv")
    r = r[(r["analysis"] == analysis) & (r["conf_level"] == level)]
    _, (_, effect), seed = md.ANALYSES[analysis]
    got = cost_effectiveness(data, arm="arm", cost="cost", effect=effect, reference=md.REFERENCE,
                             n_boot=md.N_BOOT, seed=seed, alpha=round(1 - level, 10))
    _compare(got, r, CE_COLUMNS + CE_BOOT)
    # ce_remitted: delta_effect's interval includes 0 in both arms -> no ICER interval in R or here
    assert (analysis == "ce_remitted") == bool(r["icer_ci_low"].isna().all())
    assert (analysis == "ce_remitted") == (len(got.attrs["notes"]) == 2)


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_return_on_investment_matches_r(level):
    md = _generator()
    data = pd.read_csv(REF / "data.csv")
    r = pd.read_csv(REF / "r_return_on_investment.csv")
    r = r[r["conf_level"] == level]
    _, _, seed = md.ANALYSES["roi"]
    got = return_on_investment(data, arm="arm", intervention_cost="intervention_cost", medical_cost="medical_cost",
                               reference=md.REFERENCE, n_boot=md.N_BOOT, seed=seed, alpha=round(1 - level, 10))
    _compare(got, r, ["n", "n_reference", "n_excluded", "mean_intervention_cost", "mean_medical_cost",
                      "mean_medical_cost_reference", "medical_cost_saved", "roi", "roi_ci_low", "roi_ci_high"])


def test_reference_inputs_are_what_the_seeds_give():
    # data.csv is make_data()'s output, and boot_indices.csv.gz holds the resamples that
    # workbench.economics draws for each analysis's seed: if the drawing changes, R's intervals
    # no longer describe it and this fails first
    md = _generator()
    data = pd.read_csv(REF / "data.csv")
    pd.testing.assert_frame_equal(md.make_data().reset_index(drop=True), data, check_dtype=False)
    pd.testing.assert_frame_equal(md.boot_indices(data), pd.read_csv(REF / "boot_indices.csv.gz"))


# --- resource use from the analysis tables --------------------------------------------------------

def test_resource_use_counts_events_and_attended_contacts_in_the_costing_period():
    from test_cohort import hand_tables, phq9_total
    from workbench.economics import resource_use

    t = hand_tables(
        residents={"resident_id": ["a", "b", "c"]},
        screenings=[{"resident_id": r, "assessed_on": "2025-01-06", **phq9_total(12)} for r in "abc"],
        enrolments={"resident_id": ["a", "b", "c"], "study": ["rct_12m", "rct_12m", "cohort_5y"],
                    "arm": ["intervention", "usual_care", None], "enrolled_on": "2025-01-06"},
        # a: ER visits on day 0 and day 364 count, day 365 (2026-01-06) is outside; one admission;
        # c is not in the trial
        events={"resident_id": ["a", "a", "a", "a", "b", "c"],
                "event_on": ["2025-01-06", "2026-01-05", "2026-01-06", "2025-05-01", "2024-12-31", "2025-02-01"],
                "kind": ["er_visit", "er_visit", "er_visit", "hospitalisation", "er_visit", "er_visit"]},
        # a: two attended treatment sessions (the missed and planned ones and the phone call do not count)
        contacts={"resident_id": ["a", "a", "a", "a", "a", "b"],
                  "contact_on": ["2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03", "2025-02-10", "2025-01-13"],
                  "kind": ["treatment", "treatment", "treatment", "treatment", "phone", "treatment"],
                  "status": ["attended", "missed", "planned", "attended", "attended", "missed"]})
    use = resource_use(t)
    assert use[["resident_id", "arm", "er_visit", "hospitalisation", "treatment_contacts"]].values.tolist() == [
        ["a", "intervention", 2, 1, 2], ["b", "usual_care", 0, 0, 0]]
    assert resource_use(t, days=366)["er_visit"].tolist() == [3, 0]
    cost = costs_from_use(use, unit_costs={"er_visit": 800, "hospitalisation": 6000, "treatment_contacts": 150})
    assert cost.tolist() == [2 * 800 + 6000 + 2 * 150, 0]
    with pytest.raises(ValueError, match="The 'events' parameter of resource_use must be a tuple of event kinds"):
        resource_use(t, events=("admission",))
    with pytest.raises(TypeError, match="The 'tables' parameter of resource_use"):
        resource_use(use)


# --- issue 20: a NaN effect (e.g. remission that does not apply) is dropped; replicates and the CEAC ---

def test_nan_binary_effect_is_dropped_and_counted_never_zero():
    # remission is NaN for a resident not at caseness at baseline: out of the denominator
    d = pd.DataFrame({"arm": ["uc"] * 5 + ["ic"] * 5, "cost": [100.0] * 5 + [300.0] * 5,
                      "remission": [1, 0, np.nan, np.nan, 0, 1, 1, np.nan, 0, 1]})
    out = cost_effectiveness(d, arm="arm", cost="cost", effect="remission", reference="uc", n_boot=100)
    r = out.iloc[0]
    assert (r["n"], r["n_reference"], r["n_excluded"]) == (4, 3, 3)
    assert (out.attrs["n_missing_effect"], out.attrs["n_missing_cost"]) == (3, 0)
    # 3/4 vs 1/3 (NaN read as 0 would give 3/5 vs 1/5)
    assert r["mean_effect"] == pytest.approx(0.75) and r["mean_effect_reference"] == pytest.approx(1 / 3)
    assert r["icer"] == pytest.approx(200 / (0.75 - 1 / 3))


def test_replicates_are_the_draws_behind_the_intervals():
    from workbench.economics import ceac

    d = _trial()
    plain = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", n_boot=500, seed=3)
    r, reps = cost_effectiveness(d, arm="arm", cost="cost", effect="qaly", reference="usual", n_boot=500, seed=3,
                                 return_replicates=True)
    pd.testing.assert_frame_equal(plain, r)
    assert list(reps.columns) == ["arm", "replicate", "delta_cost", "delta_effect"] and len(reps) == 500
    low, high = np.quantile(reps["delta_cost"], [0.025, 0.975])
    assert (low, high) == (pytest.approx(r.loc[0, "delta_cost_ci_low"]), pytest.approx(r.loc[0, "delta_cost_ci_high"]))
    curve = ceac(reps, wtp=[0, 1_000_000])
    nmb0 = (-reps["delta_cost"] > 0).mean()
    assert curve["probability"].tolist() == [pytest.approx(nmb0),
                                             pytest.approx((1_000_000 * reps["delta_effect"] - reps["delta_cost"] > 0).mean())]


def test_ceac_hand_computed_and_errors():
    from workbench.economics import ceac

    reps = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 2, "delta_cost": [100.0, 200.0, 300.0, 400.0, -10.0, 10.0],
                         "delta_effect": [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]})
    out = ceac(reps, wtp=[250])
    # a: 250 - cost > 0 for 100 and 200 -> 0.5; b: net benefit 10 and -10 -> 0.5
    assert out[["arm", "wtp", "probability", "n_boot"]].values.tolist() == [["a", 250, 0.5, 4], ["b", 250, 0.5, 2]]
    with pytest.raises(ValueError, match="The 'wtp' parameter of ceac must be a non-empty sequence"):
        ceac(reps, wtp=[-1])
    bad = reps.assign(delta_cost=reps["delta_cost"].astype(object))
    bad.loc[2, "delta_cost"] = None
    with pytest.raises(EconomicsDataError) as err:
        ceac(bad, wtp=[0])
    assert err.value.problems[["row", "column"]].values.tolist() == [[2, "delta_cost"]]
