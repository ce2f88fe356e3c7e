"""A person's top reasons (workbench.risk.reasons): exact log-odds contributions of a logistic
model checked by hand, one-hot groups and missing-indicators summed back to their predictor, and
only predictors that raise the risk are ever reasons; a yes/no predictor only when the person has
it, a blank (not recorded) value never."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from workbench.risk import _toy
from workbench.risk.artefact import Recalibrated, log_odds
from workbench.risk.reasons import contributions, feature_owners, reference_values, top_reasons


def _hand_model():
    """Prepared columns: a (median-imputed), b, missingindicator_a, c_x, c_y; coefficients set by
    hand (0.5, -1.0, 0.8, 0.3, -0.3), intercept -1.

    Training rows: a = 0, 2, blank, 4 (median 2, so the prepared a is 0, 2, 2, 4: mean 2; the
    indicator 0, 0, 1, 0: mean 0.25); b = 1, 1, 4, 2 (mean 2); c = x, y, x, x (c_x mean 0.75,
    c_y mean 0.25).
    """
    train = pd.DataFrame({"a": [0.0, 2.0, np.nan, 4.0], "b": [1.0, 1.0, 4.0, 2.0], "c": ["x", "y", "x", "x"]})
    prep = ColumnTransformer([("num", SimpleImputer(strategy="median", add_indicator=True), ["a", "b"]),
                              ("cat", OneHotEncoder(sparse_output=False), ["c"])])
    pipe = Pipeline([("prep", prep), ("model", LogisticRegression())]).fit(train, [0, 1, 0, 1])
    assert list(prep.get_feature_names_out()) == ["num__a", "num__b", "num__missingindicator_a", "cat__c_x",
                                                  "cat__c_y"]
    lr = pipe.named_steps["model"]
    lr.coef_ = np.array([[0.5, -1.0, 0.8, 0.3, -0.3]])
    lr.intercept_ = np.array([-1.0])
    return pipe, train


def test_the_prepared_columns_are_traced_to_their_predictor():
    pipe, _ = _hand_model()
    assert feature_owners(pipe.named_steps["prep"], ["a", "b", "c"]) == ["a", "b", "a", "c", "c"]


def test_logistic_contributions_by_hand():
    pipe, train = _hand_model()
    people = pd.DataFrame({"a": [4.0, np.nan, 2.0], "b": [1.0, 2.0, 2.0], "c": ["y", "x", "x"]},
                          index=["P1", "P2", "P3"])
    c = contributions(pipe, people, reference=train)
    # P1: a 0.5 * (4 - 2) + 0.8 * (0 - 0.25) = 0.8 (its value, and not being missing); b -1.0 * (1 - 2) = 1.0;
    #     c 0.3 * (0 - 0.75) - 0.3 * (1 - 0.25) = -0.45
    # P2: a 0.5 * (2 - 2) + 0.8 * (1 - 0.25) = 0.6 (imputed value plus the missing-indicator); b 0; c 0.3 * 0.25 - 0.3 * -0.25 = 0.15
    # P3: a 0.8 * (0 - 0.25) = -0.2; b 0; c 0.15
    expected = pd.DataFrame({"a": [0.8, 0.6, -0.2], "b": [1.0, 0.0, 0.0], "c": [-0.45, 0.15, 0.15]},
                            index=people.index)
    pd.testing.assert_frame_equal(c, expected, check_exact=False, atol=1e-12)
    # the training-mean person: -1 + 0.5 * 2 - 1.0 * 2 + 0.8 * 0.25 + 0.3 * 0.75 - 0.3 * 0.25 = -1.65
    assert c.attrs["method"] == "exact_log_odds"
    assert c.attrs["baseline"] == pytest.approx(-1.65, abs=1e-12)
    assert np.allclose(c.attrs["baseline"] + c.sum(axis=1), log_odds(pipe, people), atol=1e-12)

    r = top_reasons(pipe, people, reference=train)
    assert r.loc["P1", ["reason_1", "reason_2"]].tolist() == ["b", "a"]
    assert r.loc["P1", ["contribution_1", "contribution_2"]].tolist() == pytest.approx([1.0, 0.8])
    assert r.loc["P1", ["value_1", "value_2"]].tolist() == ["1", "4"]
    assert pd.isna(r.loc["P1", "reason_3"]) and pd.isna(r.loc["P1", "contribution_3"])  # c lowers it: not a reason
    # P2: a (blank) raises the log-odds by 0.6 through its missing-indicator, but "not recorded" is
    # never a reason: only c
    assert r.loc["P2", "reason_1"] == "c" and pd.isna(r.loc["P2", "reason_2"])
    assert r.loc["P2", "contribution_1"] == pytest.approx(0.15) and r.loc["P2", "value_1"] == "x"
    assert c.loc["P2", "a"] == pytest.approx(0.6)  # the contribution itself stays exact
    assert r.loc["P3", "reason_1"] == "c" and pd.isna(r.loc["P3", "reason_2"])  # b 0 raises nothing


def test_columns_and_types():
    pipe, train = _hand_model()
    r = top_reasons(pipe, train, n=2, reference=train)
    assert r.columns.tolist() == ["reason_1", "contribution_1", "value_1", "reason_2", "contribution_2", "value_2"]
    assert [str(t) for t in r.dtypes] == ["string", "Float64", "string"] * 2
    assert r.attrs == {"method": "exact_log_odds", "n": 2}
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        top_reasons(pipe, train, n=0, reference=train)
    with pytest.raises(ValueError, match="needs reference="):
        top_reasons(pipe, train)


def test_a_recalibrated_model_scales_the_contributions_by_its_slope():
    pipe, train = _hand_model()
    plain = contributions(pipe, train, reference=train)
    scaled = contributions(Recalibrated(pipe, intercept=-0.7, slope=0.5), train, reference=train)
    pd.testing.assert_frame_equal(scaled, plain * 0.5)
    assert np.allclose(scaled.attrs["baseline"] + scaled.sum(axis=1),
                       Recalibrated(pipe, intercept=-0.7, slope=0.5).decision_function(train))


@pytest.fixture(scope="module")
def sample_models():
    from workbench.risk.dataset import model_frame
    from workbench.risk.models import build
    from workbench.sample import load_sample

    frame = model_frame(load_sample())
    known = frame.y.notna().to_numpy(bool)
    out = {}
    for kind in ("logistic", "boosting"):
        pipe = build(kind, frame.spec)
        if kind == "logistic":
            pipe.set_params(model__Cs=[0.1])  # one penalty: the inner CV is not what is tested
        out[kind] = pipe.fit(frame.X[known], frame.y[known].astype(int).to_numpy())
    return frame, known, out


def test_the_real_logistic_pipeline_is_exact(sample_models):
    frame, known, models = sample_models
    c = contributions(models["logistic"], frame.X, reference=frame.X[known])
    assert list(c.columns) == frame.spec.names
    assert np.allclose(c.attrs["baseline"] + c.sum(axis=1), log_odds(models["logistic"], frame.X), atol=1e-9)
    # the training rows' contributions average 0 (measured from the training mean)
    assert np.allclose(c[known].mean(), 0, atol=1e-9)


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_reasons_only_raise_the_risk_largest_first(sample_models, kind):
    frame, known, models = sample_models
    X = frame.X.head(200)
    c = contributions(models[kind], X, reference=frame.X[known])
    r = top_reasons(models[kind], X, reference=frame.X[known])
    assert r.attrs["method"] == ("exact_log_odds" if kind == "logistic" else "one_at_a_time")
    for k in (1, 2, 3):
        named = r[f"reason_{k}"].notna()
        assert (r.loc[named, f"contribution_{k}"] > 0).all()
        assert set(r.loc[named, f"reason_{k}"]) <= set(frame.spec.names)
        for i in np.flatnonzero(named.to_numpy()):
            name = r[f"reason_{k}"].iloc[i]
            assert r[f"contribution_{k}"].iloc[i] == pytest.approx(c[name].iloc[i])
    values = c.to_numpy()
    binary = frame.spec.of_kind("binary")
    not_yes = X[binary].ne(1).reindex(columns=X.columns, fill_value=False)
    shown = X.notna().to_numpy() & ~not_yes.to_numpy(bool)
    values = np.where(shown, values, -np.inf)  # blanks and yes/no predictors the person has not: never reasons
    for i in range(len(X)):  # reason_1 is the largest contribution that may be a reason, when one is positive
        if values[i].max() > 1e-12:
            assert r["contribution_1"].iloc[i] == pytest.approx(values[i].max())
        else:
            assert pd.isna(r["reason_1"].iloc[i])
    # a predictor that lowers a person's risk is never among their reasons
    reasons = r[["reason_1", "reason_2", "reason_3"]].to_numpy(object)
    for i in range(len(X)):
        lowering = set(c.columns[values[i] <= 0])
        assert not lowering & {x for x in reasons[i] if isinstance(x, str)}


def test_boosting_one_at_a_time_by_construction(sample_models):
    """The approximate method is what the docstring says: log-odds minus the log-odds with the
    one predictor set to its training median (or most common value)."""
    frame, known, models = sample_models
    ref = reference_values(models["boosting"], frame.X[known])
    X = frame.X.head(5)
    c = contributions(models["boosting"], X, reference=ref)
    changed = X.copy()
    changed["phq9_total"] = ref["typical"]["phq9_total"]
    assert ref["typical"]["phq9_total"] == float(np.median(frame.X.loc[known, "phq9_total"].dropna()))
    expected = log_odds(models["boosting"], X) - log_odds(models["boosting"], changed)
    assert np.allclose(c["phq9_total"], expected)


def test_a_saved_model_carries_its_reference():
    saved = _toy.toy_saved()
    toy = _toy.toy()
    with_ref = top_reasons(toy.pipeline, toy.X, reference=toy.X)
    pd.testing.assert_frame_equal(top_reasons(saved, toy.X), with_ref)


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_a_yes_no_predictor_is_a_reason_only_when_the_person_has_it_and_a_blank_never(sample_models, kind):
    frame, known, models = sample_models
    X = frame.X
    binary = frame.spec.of_kind("binary")
    c = contributions(models[kind], X, reference=frame.X[known])
    # the rule matters on the sample: not having a condition does raise some people's log-odds
    # (a blank raising it is checked by hand in test_logistic_contributions_by_hand)
    assert any(((X[b] == 0) & (c[b] > 1e-12)).any() for b in binary)
    for given in (binary, None):  # the spec's yes/no predictors, or inferred (0/1 columns) for a bare pipeline
        r = top_reasons(models[kind], X, reference=frame.X[known], binary=given)
        for k in (1, 2, 3):
            named = r[f"reason_{k}"].notna().to_numpy()
            assert r.loc[named, f"value_{k}"].notna().all()  # a blank value is never a reason
            for i in np.flatnonzero(named):
                name = r[f"reason_{k}"].iloc[i]
                assert pd.notna(X[name].iloc[i])
                if name in binary:
                    assert X[name].iloc[i] == 1 and r[f"value_{k}"].iloc[i] == "1"


def test_a_saved_model_takes_its_yes_no_predictors_from_its_spec():
    saved, toy = _toy.toy_saved(), _toy.toy()
    X = toy.X.copy()
    X["stroke"] = 0.0  # nobody has had a stroke
    X["lives_alone"] = np.nan  # nobody's living situation recorded
    r = top_reasons(saved, X)
    reasons = set(r[["reason_1", "reason_2", "reason_3"]].stack().dropna())
    assert "stroke" not in reasons and "lives_alone" not in reasons
    with pytest.raises(ValueError, match="not predictors"):
        top_reasons(saved, X, binary=["strokes"])
