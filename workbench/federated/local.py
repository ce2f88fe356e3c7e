"""An in-process federation: every site in this Python process, for unit tests and the notebook.

:class:`LocalFederation` is an :data:`~workbench.federated.protocol.Ask`: calling it with a
:class:`~workbench.federated.protocol.Request` gives one
:class:`~workbench.federated.protocol.Answer` per site, in site order. Each request and answer
goes through its wire form (the request's JSON, the answer's dict of JSON values and arrays, the
arrays copied), so what works here sends nothing a transport could not carry; nothing leaves
the process. Real deployments run every site in its own process behind Flower
(:mod:`workbench.federated.flower_app`).

Examples
--------
>>> import pandas as pd
>>> from workbench.federated.protocol import Request
>>> from workbench.federated.site import Site
>>> cohort = pd.DataFrame({"duration": [2, 3, 5], "event": [1, 0, 1]})
>>> ask = LocalFederation([Site("a", cohort=cohort, min_count=1), Site("b", cohort=cohort, min_count=1)])
>>> [a.site for a in ask(Request("describe"))], len(ask.log)
(['a', 'b'], 1)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from workbench.federated.protocol import Answer, Request

__all__ = ["LocalFederation"]


class LocalFederation:
    """Sites in this process, asked one after another.

    Parameters
    ----------
    sites : sequence of Site
        The sites (each with a distinct name).

    Attributes
    ----------
    log : list of dict
        One entry per request: ``request`` (its JSON), ``request_bytes`` and, per site,
        ``site``, ``bytes`` (``Answer.nbytes``) and ``withheld``.
    """

    def __init__(self, sites: Sequence):
        sites = list(sites)
        names = [s.name for s in sites]
        if not sites or len(set(names)) != len(names):
            raise ValueError(f"A federation needs at least one site and distinct site names. Got {names}.")
        self.sites = sites
        self.log: list[dict] = []

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sites]

    def __call__(self, request: Request) -> list[Answer]:
        text = request.to_json()
        wire = Request.from_json(text)
        answers = []
        for site in self.sites:
            answer = site.answer(wire)
            d = answer.to_dict()
            d["arrays"] = {k: np.array(v, copy=True) for k, v in d["arrays"].items()}
            answers.append(Answer.from_dict(d))
        self.log.append({"request": text, "request_bytes": len(text.encode("utf-8")),
                         "answers": [{"site": a.site, "bytes": a.nbytes, "withheld": a.withheld} for a in answers]})
        return answers

    def __repr__(self) -> str:
        return f"LocalFederation({self.names})"
