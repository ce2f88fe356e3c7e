"""workbench.scale on a real distributed.LocalCluster (2 worker processes): Kaplan-Meier,
log-rank, scoring and tiers over partitioned data equal the pandas functions on the whole data.

The reference is :mod:`workbench.survival` / :func:`workbench.screen` on the same rows, which
are themselves checked against R (tests/test_survival_vs_r.py) and published scoring rules.
"""

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import scale, survival
from workbench.prevalence import AGE_GROUPS

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

TOLERANCE = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit="1GiB") as cluster, distributed.Client(cluster) as connected:
        yield connected


def survival_frame(n=3_000, seed=11) -> pd.DataFrame:
    """Whole-day times with many ties, censoring, four groups, and delayed entry."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["tier 1", "tier 2", "tier 3", "none"], n, p=[0.5, 0.3, 0.15, 0.05])
    rate = np.select([group == "tier 2", group == "tier 3"], [0.004, 0.008], 0.002)
    t = np.ceil(rng.exponential(1 / rate))
    censor = rng.integers(20, 900, n)
    duration = np.minimum(t, censor).astype(np.int64)
    entry = np.floor(rng.uniform(0, 0.5, n) * duration).astype(np.int64)
    return pd.DataFrame({"duration": duration, "event": (t <= censor).astype(np.int64), "tier": group,
                         "entry": entry})


@pytest.fixture(scope="module")
def frame():
    return survival_frame()


@pytest.fixture(scope="module")
def partitioned(frame):
    return dd.from_pandas(frame, npartitions=5, sort=False)


@pytest.mark.parametrize("group", [None, "tier"])
@pytest.mark.parametrize("ci", ["log-log", "log"])
def test_km_equals_pandas(client, frame, partitioned, group, ci):
    expected = survival.km(frame, duration="duration", event="event", group=group, ci=ci)
    got = scale.km(partitioned, duration="duration", event="event", group=group, ci=ci, client=client)
    pd.testing.assert_frame_equal(got, expected, **TOLERANCE)
    assert got.attrs == expected.attrs
    assert expected["censored"].sum() > 0 and (expected["events"] > 1).any()   # censoring and ties


def test_km_with_delayed_entry_equals_pandas(client, frame, partitioned):
    expected = survival.km(frame, duration="duration", event="event", group="tier", entry="entry")
    got = scale.km(partitioned, duration="duration", event="event", group="tier", entry="entry", client=client)
    pd.testing.assert_frame_equal(got, expected, **TOLERANCE)


def test_km_summary_and_logrank_equal_pandas(client, frame, partitioned):
    expected = survival.km_summary(frame, duration="duration", event="event", group="tier")
    got = scale.km_summary(partitioned, duration="duration", event="event", group="tier", client=client)
    pd.testing.assert_frame_equal(got, expected, **TOLERANCE)
    expected = survival.logrank(frame, duration="duration", event="event", group="tier")
    got = scale.logrank(partitioned, duration="duration", event="event", group="tier", client=client)
    pd.testing.assert_frame_equal(got, expected, **TOLERANCE)
    assert got.loc[0, "dof"] == 3


def test_parquet_path_and_other_schedulers(client, frame, tmp_path):
    """A Parquet folder read by the workers, by scheduler address, and through the default client."""
    dd.from_pandas(frame, npartitions=3, sort=False).to_parquet(tmp_path / "cohort")
    expected = survival.logrank(frame, duration="duration", event="event", group="tier")
    by_address = scale.logrank(tmp_path / "cohort", duration="duration", event="event", group="tier",
                               client=client.scheduler.address)
    pd.testing.assert_frame_equal(by_address, expected, **TOLERANCE)
    with distributed.Client(client.scheduler.address) as default:       # becomes Dask's default
        before = default.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        got = scale.km(str(tmp_path / "cohort"), duration="duration", event="event", group="tier")
        after = default.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    pd.testing.assert_frame_equal(got, survival.km(frame, duration="duration", event="event", group="tier"),
                                  **TOLERANCE)
    assert after > before                                                # it ran on the cluster


def test_integer_group_and_categorical_group(client, frame):
    coded = frame.assign(tier=frame["tier"].map({"none": 0, "tier 1": 1, "tier 2": 2, "tier 3": 3}))
    expected = survival.logrank(coded, duration="duration", event="event", group="tier")
    got = scale.logrank(dd.from_pandas(coded, npartitions=4, sort=False), duration="duration", event="event",
                        group="tier", client=client)
    pd.testing.assert_frame_equal(got, expected, **TOLERANCE)
    ordered = frame.assign(tier=pd.Categorical(frame["tier"], categories=["tier 3", "tier 2", "tier 1", "none"]))
    expected = survival.km(ordered, duration="duration", event="event", group="tier")
    got = scale.km(dd.from_pandas(ordered, npartitions=4, sort=False), duration="duration", event="event",
                   group="tier", client=client)
    assert list(pd.unique(got["group"])) == ["tier 3", "tier 2", "tier 1", "none"]
    pd.testing.assert_frame_equal(got.assign(group=got["group"].astype(object)),
                                  expected.assign(group=expected["group"].astype(object)), **TOLERANCE)


def test_bad_rows_are_named_by_partition_and_label(client, frame):
    bad = frame.copy()
    bad.loc[7, "duration"] = -3
    bad.loc[2_500, "event"] = 2
    data = dd.from_pandas(bad, npartitions=3, sort=False)   # rows 0-999, 1000-1999, 2000-2999
    with pytest.raises(scale.ScaleDataError) as err:
        scale.km(data, duration="duration", event="event", group="tier", client=client)
    message = str(err.value)
    assert "row (0, 7), column 'duration': value -3 must not be negative" in message
    assert "row (2, 2500), column 'event': value 2 must be one of [0, 1]" in message
    assert err.value.total == 2 and len(err.value.problems) == 2
    with pytest.raises(scale.ScaleDataError, match="column 'days'.*is absent"):
        scale.logrank(data, duration="days", event="event", group="tier", client=client)
    with pytest.raises(ValueError, match="'group' column 'tier' must have at least 2 groups"):
        scale.logrank(frame.assign(tier="all"), duration="duration", event="event", group="tier", client=client)
    with pytest.raises(ValueError, match="'alpha' parameter of km must be a float in \\(0, 1\\). Got 2"):
        scale.km(data, duration="duration", event="event", alpha=2)
    with pytest.raises(TypeError, match="'client' parameter"):
        scale.km(data, duration="duration", event="event", client=42)


def test_many_problems_are_capped_but_counted(frame, monkeypatch):
    from workbench.scale import _compute

    monkeypatch.setattr(_compute, "PROBLEM_LIMIT", 5)
    data = dd.from_pandas(frame.assign(event=3), npartitions=2, sort=False)
    with pytest.raises(scale.ScaleDataError, match=r"3000 in all, the first 5 kept") as err:
        scale.km(data, duration="duration", event="event")   # local threads: the patched limit applies
    assert len(err.value.problems) == 5 and err.value.total == 3000


@pytest.fixture(scope="module")
def cohort_folder(client, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale") / "cohort"
    written = scale.write_cohort(folder, n=1_500, partition_size=500, seed=5, client=client)
    assert written["rows"].tolist() == [500, 500, 500] and written["seed"].is_unique
    return folder


def test_screen_equals_pandas_row_for_row(client, cohort_folder):
    whole = pd.read_parquet(cohort_folder)
    expected = workbench.screen(whole)
    got = scale.screen(cohort_folder, keep=["resident_id"]).compute(scheduler=client)
    got = got.set_index("resident_id").loc[whole["resident_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))
    scores = scale.score(cohort_folder, "gad7", keep=["resident_id"]).compute(scheduler=client)
    assert scores["resident_id"].is_unique
    pd.testing.assert_frame_equal(scores.drop(columns="resident_id").reset_index(drop=True),
                                  workbench.score(whole, "gad7").reset_index(drop=True))


def test_write_cohort_is_reproducible_and_refuses_to_overwrite(client, cohort_folder, tmp_path):
    again = scale.write_cohort(tmp_path / "again", n=1_500, partition_size=500, seed=5)
    for name in again["file"]:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again" / name), pd.read_parquet(cohort_folder / name))
    first, second = (pd.read_parquet(cohort_folder / f"part-0000{i}.parquet") for i in (0, 1))
    assert not first["phq9_1"].equals(second["phq9_1"])          # distinct seeds per partition
    with pytest.raises(FileExistsError, match=r"The 'path' parameter of write_cohort must be a new or empty folder \(a cohort is never written over\)"):
        scale.write_cohort(cohort_folder, n=200, partition_size=100, client=client)
    with pytest.raises(ValueError, match="'partition_size' parameter of write_cohort must be an int in \\[100"):
        scale.write_cohort(tmp_path / "small", n=1_000, partition_size=10)


def test_bad_answers_are_named_when_computed(client, cohort_folder):
    data = dd.read_parquet(cohort_folder)
    data = data.assign(phq9_3=data["phq9_3"].where(data["resident_id"] != "P00001-R0000004", 7))
    lazy = scale.screen(data, keep=["resident_id"])
    with pytest.raises(scale.ScaleDataError) as err:
        lazy.compute(scheduler=client)
    assert "row (1, 3), column 'phq9_3': value 7 out_of_range" in str(err.value)
    with pytest.raises(scale.ScaleDataError, match="column 'nobody'.*is absent"):
        scale.screen(data, keep=["nobody"])


def test_survival_on_written_cohort(client, cohort_folder):
    whole = pd.read_parquet(cohort_folder)
    expected = survival.km(whole, duration="duration", event="event", group="age_group")
    got = scale.km(cohort_folder, duration="duration", event="event", group="age_group", client=client)
    pd.testing.assert_frame_equal(got.assign(group=got["group"].astype(str)),
                                  expected.assign(group=expected["group"].astype(str)), **TOLERANCE)
    # the age groups declared once in workbench.prevalence (notebook 01, the explorer), in every partition
    assert whole["age_group"].cat.categories.tolist() == list(AGE_GROUPS)
    assert sorted(set(got["group"].astype(str))) == sorted(set(whole["age_group"].astype(str)))


def test_logrank_as_survdiff_when_a_group_has_no_expected_events(client):
    """R: survdiff(Surv(time, event) ~ group, data = read.csv("data_empty_groups.csv")):
    chisq 5.80043922997042 on 2 df, p 0.0550111374595566 (tests/reference/survival/r_logrank.csv)."""
    from pathlib import Path

    data = pd.read_csv(Path(__file__).parent / "reference" / "survival" / "data_empty_groups.csv")
    got = scale.logrank(dd.from_pandas(data, npartitions=2, sort=False), duration="time", event="event",
                        group="group", client=client)
    assert got.loc[0, "statistic"] == pytest.approx(5.80043922997042, rel=1e-10)
    assert got.loc[0, "dof"] == 2 and got.loc[0, "p_value"] == pytest.approx(0.0550111374595566, rel=1e-10)
    none = data.assign(event=0)
    pd.testing.assert_frame_equal(scale.logrank(none, duration="time", event="event", group="group", client=client),
                                  survival.logrank(none, duration="time", event="event", group="group"))
