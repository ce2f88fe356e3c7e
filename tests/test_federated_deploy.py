"""Federated analysis for real: Flower's deployment mode on this machine (issue 18).

Three site processes (Flower SuperNodes: the sample split by community type, urban = urban-01..03,
rural = rural-01..02, ageing = ageing-01), each reading only its own SQLite registry as an
analyst (pseudonymised), a SuperLink and ``flwr run`` of the workbench's Flower app, whose
ServerApp runs the exact analyses (Kaplan-Meier, log-rank, Cox, logistic regression; FedAvg
asks the same kind of requests ten more rounds, with its exact reference fit, and is tested
in-process in test_federated_analyses). The results must equal the in-process federation over the same sites (1e-12) and the pooled analysis
of the sites' rows (1e-8); every request and answer is in both journals, matched one to one; an
unknown task is refused and journalled; a site with a high ``min_count`` withholds.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from workbench.federated.analyses import run_plan
from workbench.federated.deploy import Federation, prepare_site_registries
from workbench.federated.flower_app.journal import FIELDS, read_journal
from workbench.federated.local import LocalFederation
from workbench.federated.pooled import pooled_cox, pooled_km, pooled_logistic, pooled_logrank
from workbench.federated.site import Site
from workbench.sample import load_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

SITES = {"urban": ["urban-01", "urban-02", "urban-03"], "rural": ["rural-01", "rural-02"], "ageing": ["ageing-01"]}
FRAME = {"endpoint": "dropout", "censor": "2026-12-31"}
PLAN = [
    {"analysis": "km", "group": "sex", **FRAME},
    {"analysis": "logrank", "group": "sex", **FRAME},
    {"analysis": "cox", "covariates": ["age", "sex=female"], **FRAME},
    {"analysis": "logistic"},
]
UNKNOWN = {"request": {"task": "rows_please", "params": {}}}


def _table(result: dict) -> pd.DataFrame:
    t = result["table"]
    return pd.DataFrame(t["data"], columns=t["columns"], index=t["index"])


def _same(a: pd.DataFrame, b: pd.DataFrame, *, rtol: float, what: str) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b), what
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if pd.api.types.is_numeric_dtype(a[column]) and pd.api.types.is_numeric_dtype(b[column]):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=rtol, atol=rtol, equal_nan=True,
                                       err_msg=f"{what}: {column}")
        else:
            assert [str(v) for v in x] == [str(v) for v in y], f"{what}: {column}"


def _read_sites(nodes: dict) -> dict:
    """Each site's tables read as its node reads them (its registry, its analyst, its key)."""
    out = {}
    for name, config in sorted(nodes.items()):
        site = Site.from_registry(config["registry"], name=name, user=config["user"], min_count=1,
                                  key_file=config["key-file"])
        out[name] = site.tables
    return out


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site-registries")
    return prepare_site_registries(load_sample(), SITES, folder)


@pytest.fixture(scope="module")
def deployed(registries, tmp_path_factory):
    nodes = {name: {**config, "min-count": 1} for name, config in registries.items()}
    started = time.perf_counter()
    with Federation(nodes, folder=tmp_path_factory.mktemp("federation")) as federation:
        ready = time.perf_counter() - started
        out = federation.run([*PLAN, UNKNOWN])
        journals = {"coordinator": read_journal(federation.coordinator_journal),
                    **{name: read_journal(federation.site_journal(name)) for name in nodes}}
    wall = time.perf_counter() - started
    print(f"\nfederation: ready in {ready:.1f} s; {len(out['rounds'])} requests; wall time {wall:.1f} s")
    return {"out": out, "journals": journals, "wall": wall, "nodes": nodes}


def test_every_site_answered_every_analysis(deployed, record_property):
    out = deployed["out"]
    record_property("wall_seconds", round(deployed["wall"], 1))
    assert sorted(out["sites"].values()) == sorted(SITES)
    assert [r["analysis"] for r in out["results"]] == [s["analysis"] for s in PLAN]
    assert [r.get("error") for r in out["results"]] == [None] * len(PLAN)
    for result in out["results"][:4]:
        assert sorted(result["info"]["sites"]) == sorted(SITES)


def test_flower_equals_the_in_process_federation(deployed):
    parts = _read_sites(deployed["nodes"])
    local = run_plan(PLAN, LocalFederation([Site(name, tables, min_count=1) for name, tables in parts.items()]))
    for flower, here in zip(deployed["out"]["results"], local["results"]):
        _same(_table(flower), _table(here), rtol=1e-12, what=flower["analysis"])
        assert flower["rounds"] == here["rounds"]


def test_flower_equals_the_pooled_analysis(deployed):
    parts = _read_sites(deployed["nodes"])
    km, logrank, cox, logistic = deployed["out"]["results"]
    _same(_table(km).reset_index(drop=True), pooled_km(parts, group="sex", **FRAME).reset_index(drop=True),
          rtol=1e-8, what="km")
    _same(_table(logrank)[["statistic", "dof", "p_value"]].reset_index(drop=True),
          pooled_logrank(parts, group="sex", **FRAME)[["statistic", "dof", "p_value"]].reset_index(drop=True),
          rtol=1e-8, what="logrank")
    model = pooled_cox(parts, covariates=["age", "sex=female"], **FRAME)
    _same(_table(cox)[["coef", "se"]].reset_index(drop=True), model.summary[["coef", "se"]].reset_index(drop=True),
          rtol=1e-8, what="cox")
    table, _ = pooled_logistic(parts)
    _same(_table(logistic)[["coef", "se"]].reset_index(drop=True), table[["coef", "se"]].reset_index(drop=True),
          rtol=1e-8, what="logistic")


def test_both_journals_hold_every_request_and_answer_one_to_one(deployed):
    journals, out = deployed["journals"], deployed["out"]
    coordinator = journals["coordinator"]
    sites = [line for name in SITES for line in journals[name]]
    assert all(set(line) <= set(FIELDS) for line in coordinator + sites)  # no values, no rows: only the fields
    for event in ("request", "answer"):
        sent = sorted((x["message_id"], x["task"], x["params_digest"]) for x in coordinator if x["event"] == event)
        got = sorted((x["message_id"], x["task"], x["params_digest"]) for x in sites if x["event"] == event)
        assert sent == got and len(sent) == len(out["rounds"]) * len(SITES)
    by_id = {x["message_id"]: x for x in sites if x["event"] == "answer"}
    for line in (x for x in coordinator if x["event"] == "answer"):
        mine = by_id[line["message_id"]]
        assert (line["site"], line["outcome"], line["bytes"]) == (mine["site"], mine["outcome"], mine["bytes"])


def test_an_unknown_task_is_refused_and_journalled(deployed):
    (asked,) = deployed["out"]["requests"]
    assert asked["task"] == "rows_please"
    assert sorted(a["site"] for a in asked["answers"]) == sorted(SITES)
    assert all("unknown task 'rows_please'" in a["values"]["error"] and not a["arrays"] for a in asked["answers"])
    for side in ("coordinator", *SITES):
        lines = [x for x in deployed["journals"][side] if x["task"] == "rows_please" and x["event"] == "answer"]
        assert lines and all(x["outcome"] == "refused" and "unknown task" in x["reason"] for x in lines)


def test_a_site_with_a_high_min_count_withholds(registries, tmp_path):
    """The site's own threshold, not the coordinator's: its counts never leave, both journals say
    so, and the curve is the pooled one of the sites that took part (Cox and logistic withholding:
    test_federated_analyses)."""
    nodes = {name: {**config, "min-count": 1} for name, config in registries.items()}
    nodes["ageing"]["min-count"] = 100_000
    plan = [{"analysis": "km", "group": "sex", **FRAME}]
    with Federation(nodes, folder=tmp_path / "federation") as federation:
        out = federation.run(plan)
        journal = read_journal(federation.site_journal("ageing"))
        coordinator = read_journal(federation.coordinator_journal)
    (km,) = out["results"]
    assert km.get("error") is None and sorted(km["info"]["sites"]) == ["rural", "urban"]
    assert "ageing" in km["info"]["withheld"]
    answers = [x for x in journal if x["event"] == "answer"]
    assert answers and all(x["outcome"] == "withheld" for x in answers)
    assert [x["outcome"] for x in coordinator if x["event"] == "answer" and x["site"] == "ageing"] == \
        ["withheld"] * len(answers)
    parts = _read_sites({k: v for k, v in nodes.items() if k != "ageing"})
    _same(_table(km).reset_index(drop=True), pooled_km(parts, group="sex", **FRAME).reset_index(drop=True),
          rtol=1e-8, what="km without the withholding site")
