"""The site side of a federated analysis: the split of a registry into sites, what a site answers
and refuses, its small-count rule, and the in-process federation (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.federated.local import LocalFederation
from workbench.federated.protocol import Request
from workbench.federated.site import TASKS, Site, coarsen, endpoint_frame
from workbench.federated.sites import SiteSplitError, by_community, by_community_type, concat_tables, split_tables
from workbench.sample import load_sample
from workbench.tables import TABLES

CENSOR = "2026-12-31"


@pytest.fixture(scope="module")
def sample():
    return load_sample()


@pytest.mark.parametrize("plan", [by_community, by_community_type])
def test_split_is_a_partition(sample, plan):
    parts = split_tables(sample, plan(sample))
    assert len(parts) == (6 if plan is by_community else 3)
    for name in TABLES:
        whole = sample[name]
        pieces = [p[name] for p in parts.values()]
        assert sum(len(p) for p in pieces) == len(whole), name
        joined = pd.concat(pieces).sort_index()
        pd.testing.assert_frame_equal(joined, whole.sort_index(), check_dtype=True)
    for site, t in parts.items():  # every linked row follows its residents
        ids = set(t.residents["resident_id"])
        assert set(t.residents["community"]) <= set(t.communities["community"])
        for name in TABLES:
            if name != "communities":
                assert set(t[name]["resident_id"]) <= ids, (site, name)
        t.validate()  # each site's tables keep every declared rule and link
    assert concat_tables(parts).residents.sort_index().equals(sample.residents.sort_index())


def test_split_refuses_a_plan_that_is_not_a_partition(sample):
    with pytest.raises(SiteSplitError) as err:
        split_tables(sample, {"a": ["urban-01", "nowhere"], "b": ["urban-01"]})
    rules = " ".join(err.value.problems["rule"])
    assert "already in site 'a'" in rules and "not a community" in rules and "is in no site" in rules


def _sites(sample, min_count=1, plan=by_community):
    return [Site(n, p, min_count=min_count) for n, p in split_tables(sample, plan(sample)).items()]


def test_site_refuses_unknown_tasks_rows_and_bad_parameters(sample):
    site = Site("urban-01", split_tables(sample, by_community(sample))["urban-01"], min_count=1)
    for request in [Request("rows"), Request("select", {"table": "residents"}),
                    Request("survival_counts", {"endpoint": "dropout", "censor": CENSOR, "return_rows": True}),
                    Request("cox_terms", {"endpoint": "dropout", "censor": CENSOR, "covariates": ["sex"]}),
                    Request("survival_counts", {"endpoint": "dropout", "censor": CENSOR, "widths": [7, 10]}),
                    Request("survival_counts", {"endpoint": "nothing", "censor": CENSOR})]:
        a = site.answer(request)
        assert a.values.get("error") and a.withheld and not a.arrays, request
    assert "never returns rows" in site.answer(Request("rows")).values["error"]
    assert set(TASKS) >= {"survival_counts", "cox_terms", "logistic_terms", "fedavg_epochs"}


def test_error_answers_name_rules_not_values():
    cohort = pd.DataFrame({"duration": [5, -12345, 7], "event": [1, 0, 1]})
    a = Site("x", cohort=cohort, min_count=1).answer(Request("survival_counts"))
    assert "1 rows" in a.values["error"] and "-12345" not in a.values["error"]


def test_counts_are_exact_with_min_count_1(sample):
    parts = split_tables(sample, by_community(sample))
    answers = LocalFederation(_sites(sample))(Request("survival_counts", {"endpoint": "dropout", "censor": CENSOR,
                                                                          "group": "sex"}))
    assert [a.site for a in answers] == list(parts)
    total = {}
    for a in answers:
        assert a.values["level"] == 0 and not a.withheld
        for g, t, e, x in zip(a.arrays["group"], a.arrays["time"], a.arrays["events"], a.arrays["exits"]):
            key = (a.values["groups"][g], t)
            total[key] = np.add(total.get(key, 0), [e, x])
    f = endpoint_frame(sample, endpoint="dropout", censor=CENSOR, group="sex")
    direct = f.groupby(["group", "duration"])["event"].agg(["sum", "size"])
    assert len(direct) == len(total)
    for (g, t), (e, x) in direct.iterrows():
        assert list(total[(g, float(t))]) == [e, x]


def test_min_count_coarsens_until_every_cell_is_large_enough(sample):
    widths = [7, 28, 84, 168, 336, 672]
    for a in LocalFederation(_sites(sample, min_count=5))(Request(
            "survival_counts", {"endpoint": "dropout", "censor": CENSOR, "widths": widths})):
        assert not a.withheld and a.values["level"] >= 1
        w = a.values["width"]
        assert w == widths[a.values["level"] - 1] and np.all(a.arrays["time"] % w == 0)
        for cell in (a.arrays["events"], a.arrays["exits"] - a.arrays["events"]):
            assert np.all((cell == 0) | (cell >= 5))
    # no grid offered: a group with a small cell is withheld, and with every group so, the answer
    tiny = Site("tiny", cohort=pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1, 0, 1, 0, 1, 1],
                                             "g": list("aaaaab")}), min_count=2)
    a = tiny.answer(Request("survival_counts", {"group": "g", "widths": [10]}))
    assert a.values["withheld_groups"] == ["b"] and a.values["groups"] == ["a"] and a.values["level"] == 1
    assert a.arrays["events"].tolist() == [3] and a.arrays["exits"].tolist() == [5]
    a = tiny.answer(Request("survival_counts", {"group": "g"}))
    assert a.withheld and a.values["withheld_groups"] == ["a", "b"] and not a.arrays


def test_coarsen_rounds_up_to_the_grid():
    assert coarsen(np.array([0.5, 28, 29]), 28).tolist() == [28, 28, 56]


def test_cox_and_logistic_withhold_below_the_threshold(sample):
    site = Site("urban-02", split_tables(sample, by_community(sample))["urban-02"], min_count=10_000)
    for task, params in [("cox_terms", {"endpoint": "dropout", "censor": CENSOR, "covariates": ["age"]}),
                         ("logistic_summary", {})]:
        a = site.answer(Request(task, params))
        assert a.withheld and "min_count" in a.withheld and not a.arrays and "error" not in a.values


def test_local_federation_logs_every_request(sample):
    fed = LocalFederation(_sites(sample, plan=by_community_type))
    fed(Request("describe"))
    fed(Request("cox_terms", {"endpoint": "death", "censor": CENSOR, "covariates": ["age"], "beta": [0.01]}))
    assert len(fed.log) == 2 and [a["site"] for a in fed.log[1]["answers"]] == ["ageing", "rural", "urban"]
    assert fed.log[1]["request_bytes"] == len(fed.log[1]["request"].encode()) and fed.log[1]["answers"][0]["bytes"] > 0
    with pytest.raises(ValueError):
        LocalFederation([Site("a", cohort=pd.DataFrame()), Site("a", cohort=pd.DataFrame())])
