"""Cox regression from aggregated counts (workbench.scale.cox) on a LocalCluster (threads).

References: the full Cox fit of :func:`workbench.survival.cox` (Efron ties, itself
checked against R ``coxph``) on the same rows, and statsmodels' Poisson GLM with interval
dummies and a log person-time offset on the same aggregated table.
"""

import numpy as np
import pandas as pd
import pytest

from workbench import scale, survival

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

COVARIATES = ["arm", "male", "age_group"]
#: Documented accuracy of the piecewise-exponential fit (20 intervals) against the full Cox fit
#: on this design: log hazard ratios within 0.01, standard errors within 2%. Measured at 10^5
#: rows: about 4e-4 and 0.1% (README, "Scaling out").
POISSON_LOG_HR = 0.01
POISSON_SE_RATIO = 0.02


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as connected:
        yield connected


def cox_frame(n: int, seed: int = 4) -> pd.DataFrame:
    """Whole-day times (ties), censoring, a treatment, sex and an age group coded 0-3."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    male = rng.integers(0, 2, n)
    age_group = rng.choice(4, n, p=[0.3, 0.3, 0.25, 0.15])
    rate = 0.001 * np.exp(-0.4 * arm + 0.25 * male + 0.3 * age_group)
    t = np.ceil(rng.weibull(1.3, n) / rate ** 1.0 * 0.8)
    censor = rng.integers(30, 1_500, n)
    return pd.DataFrame({"time": np.minimum(t, censor).astype(np.int64), "event": (t <= censor).astype(np.int64),
                         "arm": arm, "male": male, "age_group": age_group})


@pytest.fixture(scope="module")
def frame():
    return cox_frame(20_000)


@pytest.fixture(scope="module")
def full(frame):
    return survival.cox(frame, duration="time", event="event", covariates=COVARIATES)


def test_efron_from_counts_equals_the_full_fit(client, frame, full):
    data = dd.from_pandas(frame, npartitions=6, sort=False)
    model = scale.cox(data, duration="time", event="event", covariates=COVARIATES, client=client)
    assert model.patterns == 16 and model.n == len(frame) and model.events == frame["event"].sum()
    pd.testing.assert_index_equal(model.summary.columns, full.summary.columns)
    np.testing.assert_allclose(model.summary["coef"], full.summary["coef"], rtol=0, atol=1e-7)
    np.testing.assert_allclose(model.summary["se"], full.summary["se"], rtol=1e-6)
    np.testing.assert_allclose(model.summary["z"], full.summary["z"], rtol=1e-6)
    assert model.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-12)
    assert (frame.groupby("time")["event"].sum() > 1).any()                       # tied events


def test_poisson_equals_statsmodels_glm_on_the_same_counts(client, frame):
    sm = pytest.importorskip("statsmodels.api")
    breaks = [60, 180, 365, 730]
    model = scale.cox(frame, duration="time", event="event", covariates=COVARIATES, method="poisson",
                      intervals=breaks, client=client)
    # the same model, written out: one row per pattern x interval, person-time by hand
    edges = np.array([0, *breaks, np.inf])
    rows = []
    for pattern, part in frame.groupby(COVARIATES):
        t, e = part["time"].to_numpy(float), part["event"].to_numpy()
        for k in range(len(edges) - 1):
            exposure = np.clip(np.minimum(t, edges[k + 1]) - edges[k], 0, None).sum()
            events = ((t > edges[k]) & (t <= edges[k + 1]) & (e == 1)).sum()
            if exposure > 0:
                rows.append((*pattern, k, exposure, events))
    table = pd.DataFrame(rows, columns=[*COVARIATES, "interval", "exposure", "events"])
    design = pd.concat([pd.get_dummies(table["interval"], prefix="k", dtype=float), table[COVARIATES]], axis=1)
    glm = sm.GLM(table["events"], design, family=sm.families.Poisson(), offset=np.log(table["exposure"])).fit(tol=1e-12)
    np.testing.assert_allclose(model.summary["coef"], glm.params[COVARIATES], atol=1e-8)
    np.testing.assert_allclose(model.summary["se"], glm.bse[COVARIATES], rtol=1e-7)
    np.testing.assert_allclose(model.baseline["person_time"], table.groupby("interval")["exposure"].sum(), rtol=1e-12)
    np.testing.assert_allclose(np.log(model.baseline["hazard"]), glm.params[[f"k_{k}" for k in range(5)]], atol=1e-7)


def test_poisson_is_close_to_the_full_cox_fit(client, frame, full):
    model = scale.cox(dd.from_pandas(frame, npartitions=4, sort=False), duration="time", event="event",
                      covariates=COVARIATES, method="poisson", client=client)
    assert len(model.baseline) == 20
    assert np.max(np.abs(model.summary["coef"] - full.summary["coef"])) < POISSON_LOG_HR
    assert np.max(np.abs(model.summary["se"] / full.summary["se"] - 1)) < POISSON_SE_RATIO


def test_too_many_patterns_and_bad_input_are_named(client, frame):
    continuous = frame.assign(age=np.random.default_rng(1).normal(50, 10, len(frame)))
    with pytest.raises(scale.ScaleDataError, match=r"column 'age': value \d+ makes .* covariate patterns .* bin it"):
        scale.cox(continuous, duration="time", event="event", covariates=["arm", "age"], client=client)
    bad = frame.copy()
    bad.loc[5, "male"] = np.nan
    with pytest.raises(scale.ScaleDataError, match=r"row \(0, 5\), column 'male'.*missing or not numeric"):
        scale.cox(bad, duration="time", event="event", covariates=COVARIATES, client=client)
    with pytest.raises(ValueError, match="'method' parameter of cox must be one of 'efron', 'poisson'. Got 'breslow'"):
        scale.cox(frame, duration="time", event="event", covariates=COVARIATES, method="breslow")
    with pytest.raises(ValueError, match="'intervals' parameter of cox"):
        scale.cox(frame, duration="time", event="event", covariates=COVARIATES, method="poisson",
                  intervals=[100, 50], client=client)


# --- robust variances, the PH test and Fine-Gray from counts (issue 19) -------------------------
# The references are the subject-level fits of workbench.survival, themselves checked against R
# (tests/test_survival_robust_vs_r.py): the aggregated ones must give the same numbers to 1e-8.

@pytest.fixture(scope="module")
def clustered(frame):
    """The cohort in 30 communities with a shared frailty, and a competing death (status 2)."""
    rng = np.random.default_rng(11)
    community = rng.integers(0, 30, len(frame))
    frailty = rng.gamma(2.0, 0.5, 30)[community]
    death = np.ceil(rng.exponential(1500 / frailty))
    status = np.where(frame["event"].to_numpy() == 1, 1, 0)
    status = np.where(death < frame["time"], 2, status)
    return frame.assign(community=community, time=np.minimum(frame["time"], death).astype(np.int64),
                        event=(status == 1).astype(np.int64), status=status)


def _same(got: pd.DataFrame, want: pd.DataFrame, columns) -> None:
    for c in columns:
        np.testing.assert_allclose(got[c], want[c], rtol=1e-8, atol=1e-12, err_msg=c)


@pytest.mark.parametrize("kw", [{"cluster": "community"}, {"robust": True}, {"cluster": "community", "entry": "entry"}],
                         ids=["cluster", "robust", "entry"])
def test_robust_variances_from_counts_equal_the_subject_level_ones(client, clustered, kw):
    # delayed entry: residents who joined the registry up to 200 days after time zero
    clustered = clustered.assign(entry=np.minimum(clustered["community"] * 7, clustered["time"] - 1).clip(lower=0))
    data = dd.from_pandas(clustered, npartitions=5, sort=False)
    got = scale.cox(data, duration="time", event="event", covariates=COVARIATES, client=client, **kw)
    want = survival.cox(clustered, duration="time", event="event", covariates=COVARIATES, **kw)
    _same(got.summary, want.summary, ["coef", "se", "robust_se", "z", "p_value", "hr_ci_low", "hr_ci_high"])
    assert got.summary["robust_se"].ne(got.summary["se"]).all()


@pytest.mark.parametrize("transform", ["km", "rank", "identity"])
def test_ph_test_from_counts_equals_the_subject_level_one(client, clustered, transform):
    data = dd.from_pandas(clustered, npartitions=3, sort=False)
    got = scale.cox(data, duration="time", event="event", covariates=COVARIATES, client=client).ph_test(transform)
    want = survival.cox(clustered, duration="time", event="event", covariates=COVARIATES).ph_test(transform)
    _same(got, want, ["statistic", "p_value"])


@pytest.mark.parametrize("kw", [{}, {"cluster": "community"}, {"method": "crr"}, {"ties": "breslow"}],
                         ids=["finegray", "cluster", "crr", "breslow"])
def test_fine_gray_from_counts_equals_the_subject_level_fit(client, clustered, kw):
    data = dd.from_pandas(clustered, npartitions=4, sort=False)
    args = dict(duration="time", event="status", cause=1, covariates=COVARIATES, **kw)
    got = scale.fine_gray(data, client=client, **args)
    want = survival.fine_gray(clustered, **args)
    _same(got.summary, want.summary, ["coef", "se", "robust_se", "z", "p_value"])
    assert (got.n, got.events, got.competing) == (want.n, want.events, want.competing) == (
        len(clustered), (clustered["status"] == 1).sum(), (clustered["status"] == 2).sum())
    profiles = pd.DataFrame({"arm": [0, 1], "male": [1, 0], "age_group": [0, 3]})
    pd.testing.assert_frame_equal(got.predict_cumulative_incidence(profiles, times=[100, 400, 1000]),
                                  want.predict_cumulative_incidence(profiles, times=[100, 400, 1000]),
                                  rtol=1e-8, atol=1e-12)


def test_what_cannot_be_done_from_counts_is_refused_by_name(client, clustered):
    with pytest.raises(scale.ScaleDataError, match="delayed entry is taken by method='efron'"):
        scale.cox(clustered.assign(entry=0), duration="time", event="event", covariates=COVARIATES,
                  method="poisson", entry="entry", client=client)
    with pytest.raises(scale.ScaleDataError, match="robust variances are computed for method='efron'"):
        scale.cox(clustered, duration="time", event="event", covariates=COVARIATES, method="poisson",
                  cluster="community", client=client)
    poisson = scale.cox(clustered, duration="time", event="event", covariates=COVARIATES, method="poisson",
                        client=client)
    with pytest.raises(scale.ScaleDataError, match="ph_test needs method='efron'"):
        poisson.ph_test()
    bad = clustered.copy()
    bad["community"] = bad["community"].astype(float)
    bad.loc[7, "community"] = np.nan
    with pytest.raises(scale.ScaleDataError, match=r"row \(0, 7\), column 'community'.*every row needs a cluster"):
        scale.cox(bad, duration="time", event="event", covariates=COVARIATES, cluster="community", client=client)
    with pytest.raises(scale.ScaleDataError, match="is not a cause in the data"):
        scale.fine_gray(clustered, duration="time", event="status", cause=3, covariates=COVARIATES, client=client)
