"""The ServerApp: the coordinator runs a plan of analyses, asking every connected site.

Run settings (``[tool.flwr.app.config]`` of the app's ``pyproject.toml``, overridden with
``flwr run ... --run-config 'plan="..." results="..."'``):

``plan``
    A JSON file: a list of steps. ``{"analysis": "<name>", ...parameters}`` runs
    ``workbench.federated.analyses.ANALYSES[name]`` (all analysis steps go to
    :func:`~workbench.federated.analyses.run_plan`, in their order); ``{"request": {"task": ...,
    "params": {...}}}`` sends one raw request and keeps every site's answer (for checks: a
    refused task, a withheld count).
``results``
    Where the results are written (JSON, on the coordinator's machine): ``run_id``, ``sites``
    (node id -> site name), ``results`` (per analysis step, what ``run_plan`` returned), ``requests`` (the raw
    requests' answers), ``rounds`` (per request: task, seconds, bytes sent and received), and
    ``error`` (a traceback) when the run failed.
``log``
    The coordinator's journal (:mod:`.journal`).
``nodes``, ``wait-nodes``, ``timeout``
    Sites that must be connected before the first request (0: whoever is connected), how long to
    wait for them, and how long to wait for every site's answer to one request (seconds).

Every request goes to every connected SuperNode (one Flower message each, message type
``query``); the replies become :class:`~workbench.federated.protocol.Answer` objects in order
of site name. A site that does not answer in time, or whose ClientApp failed, stops the run
(an analysis is exact only over the sites that answered: none is silently dropped).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from flwr.app import Context, Message
from flwr.serverapp import Grid, ServerApp

from workbench.federated.flower_app.journal import Journal, outcome
from workbench.federated.flower_app.wire import (MESSAGE_TYPE, content_bytes, decode_answer, encode_request,
                                                 params_digest)
from workbench.federated.protocol import Answer, Request

__all__ = ["FederationTransportError", "GridAsk", "app", "run_steps"]

app = ServerApp()
_POLL = 0.05  # seconds between pulls of replies from the SuperLink (its own loop waits 3 s)


class FederationTransportError(RuntimeError):
    """A site did not answer in time, or its ClientApp failed."""


class GridAsk:
    """An :data:`~workbench.federated.protocol.Ask` over a Flower :class:`Grid`: each request to
    every node, journalled; ``rounds`` keeps the time and bytes of each request.

    Parameters
    ----------
    grid : flwr.serverapp.Grid
    run_id : int
    journal : Journal
    timeout : float
        Seconds to wait for all the answers to one request.
    """

    def __init__(self, grid: Grid, *, run_id: int, journal: Journal, timeout: float):
        self.grid, self.run_id, self.journal, self.timeout = grid, int(run_id), journal, float(timeout)
        self.sites: dict[int, str] = {}
        self.rounds: list[dict] = []

    def wait_for_nodes(self, count: int, limit: float) -> list[int]:
        """The connected node ids, once at least ``count`` are connected (``limit`` seconds)."""
        deadline = time.monotonic() + limit
        while True:
            nodes = sorted(self.grid.get_node_ids())
            if len(nodes) >= count and nodes:
                return nodes
            if time.monotonic() > deadline:
                raise FederationTransportError(f"{len(nodes)} of the {count} sites connected within {limit:g} s")
            time.sleep(0.5)

    def __call__(self, request: Request) -> list[Answer]:
        nodes = sorted(self.grid.get_node_ids())
        if not nodes:
            raise FederationTransportError("no site is connected")
        number = len(self.rounds) + 1
        digest = params_digest(request)
        messages = []
        for node in nodes:
            content = encode_request(request)
            messages.append((node, content_bytes(content),
                             Message(content, dst_node_id=node, message_type=MESSAGE_TYPE, group_id=str(number))))
        started = time.perf_counter()
        ids = list(self.grid.push_messages([m for _, _, m in messages]))
        sent = {}
        for (node, size, _), message_id in zip(messages, ids):
            sent[message_id] = node
            self.journal.write(event="request", run_id=self.run_id, message_id=message_id, node_id=node,
                               site=self.sites.get(node), task=request.task, params_digest=digest, bytes=size)
        replies, waiting = {}, set(sent)
        deadline = time.monotonic() + self.timeout
        while waiting:
            for reply in self.grid.pull_messages(list(waiting)):
                key = reply.metadata.reply_to_message_id
                if key in waiting:
                    replies[key] = (reply, time.perf_counter() - started)
                    waiting.discard(key)
            if waiting:
                if time.monotonic() > deadline:
                    missing = [self.sites.get(sent[k], f"node {sent[k]}") for k in sorted(waiting)]
                    raise FederationTransportError(f"no answer to {request.task!r} within {self.timeout:g} s from "
                                                   f"{missing}")
                time.sleep(_POLL)
        answers, received = [], 0
        for message_id, (reply, seconds) in replies.items():
            node = sent[message_id]
            if reply.has_error():
                self.journal.write(event="answer", run_id=self.run_id, message_id=message_id, node_id=node,
                                   site=self.sites.get(node), task=request.task, params_digest=digest,
                                   outcome="failed", reason=str(reply.error.reason)[:400], seconds=round(seconds, 6))
                raise FederationTransportError(f"the ClientApp of {self.sites.get(node, f'node {node}')} failed on "
                                               f"{request.task!r}: {reply.error.reason}")
            answer = decode_answer(reply.content)
            self.sites[node] = answer.site
            size = content_bytes(reply.content)
            received += size
            result, reason = outcome(answer)
            self.journal.write(event="answer", run_id=self.run_id, message_id=message_id, node_id=node,
                               site=answer.site, task=request.task, params_digest=digest, bytes=size,
                               outcome=result, reason=reason, seconds=round(seconds, 6))
            answers.append(answer)
        answers.sort(key=lambda a: a.site)
        self.rounds.append({"round": number, "task": request.task, "params_digest": digest,
                            "seconds": time.perf_counter() - started, "sites": len(answers),
                            "bytes_sent": sum(size for _, size, _ in messages), "bytes_received": received,
                            "withheld": [a.site for a in answers if outcome(a)[0] == "withheld"],
                            "refused": [a.site for a in answers if outcome(a)[0] == "refused"]})
        return answers


def _answer_json(answer: Answer) -> dict:
    return {"site": answer.site, "task": answer.task, "values": answer.values, "withheld": answer.withheld,
            "arrays": {k: v.tolist() for k, v in answer.arrays.items()}}


def run_steps(plan: list, ask) -> dict:
    """Run a plan (see the module docstring) with ``ask``: ``{"results": [...], "requests": [...]}``
    (``results``: one entry per analysis step, as :func:`~workbench.federated.analyses.run_plan`
    gives them; ``requests``: per raw request, every site's answer).

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.federated.local import LocalFederation
    >>> from workbench.federated.site import Site
    >>> ask = LocalFederation([Site("a", cohort=pd.DataFrame({"duration": [1, 2], "event": [1, 0]}))])
    >>> out = run_steps([{"request": {"task": "nothing"}}], ask)
    >>> out["requests"][0]["answers"][0]["values"]["error"][:22]
    "unknown task 'nothing'"
    """
    if not isinstance(plan, list) or not all(isinstance(step, dict) for step in plan):
        raise ValueError("A plan is a list of steps, each a JSON object ({'analysis': ...} or {'request': ...}).")
    analyses = [step for step in plan if "request" not in step]
    raw = [step["request"] for step in plan if "request" in step]
    results = None
    if analyses:
        from workbench.federated.analyses import run_plan

        results = run_plan(analyses, ask)["results"]
    requests = []
    for item in raw:
        request = Request(task=str(item.get("task")), params=dict(item.get("params") or {}))
        requests.append({"task": request.task, "params_digest": params_digest(request),
                         "answers": [_answer_json(a) for a in ask(request)]})
    return {"results": results, "requests": requests}


def _write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + f".{os.getpid()}.part")
    part.write_text(json.dumps(value, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(part, path)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the plan of the run config; write the results (or the error) where it says."""
    config = context.run_config
    results_path = Path(str(config["results"])) if config.get("results") else None
    journal = Journal(str(config.get("log") or "") or None, side="coordinator")
    ask = GridAsk(grid, run_id=context.run_id, journal=journal, timeout=float(config.get("timeout", 900.0)))
    started = time.perf_counter()
    out = {"run_id": int(context.run_id)}
    try:
        plan = json.loads(Path(str(config["plan"])).read_text(encoding="utf-8"))
        nodes = ask.wait_for_nodes(int(config.get("nodes", 0)), float(config.get("wait-nodes", 600.0)))
        out["nodes"] = len(nodes)
        out.update(run_steps(plan, ask))
    except Exception:
        out["error"] = traceback.format_exc()
        raise
    finally:
        out.update({"sites": {str(k): v for k, v in sorted(ask.sites.items())}, "rounds": ask.rounds,
                    "seconds": time.perf_counter() - started})
        if results_path is not None:
            _write_json(results_path, out)
