"""What a coordinator asks a site and what the site answers: the only things that cross a site's
boundary in a federated analysis.

A :class:`Request` names a task and its parameters (JSON values only). A site answers with an
:class:`Answer`: named numpy arrays (the aggregates) and JSON values (counts a site releases,
the grid it used, ...), or ``withheld`` with the reason when releasing would break the site's own
small-count rule. The transport (Flower, :mod:`workbench.federated.flower_app`, or the in-process
:class:`workbench.federated.local.LocalFederation` used by unit tests and the notebook) only moves
these two shapes; the analyses (:mod:`workbench.federated.analyses`) only see them.

Examples
--------
>>> import numpy as np
>>> a = Answer(site="north", task="ping", values={"n": 3}, arrays={"x": np.arange(3.0)})
>>> a.nbytes  # the arrays' bytes plus the JSON values' bytes
31
>>> Answer.from_dict(a.to_dict()) == a
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Request:
    """A task name and its JSON parameters."""

    task: str
    params: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return _json({"task": self.task, "params": self.params})

    @classmethod
    def from_json(cls, text: str) -> "Request":
        value = json.loads(text)
        return cls(task=value["task"], params=value.get("params", {}))


@dataclass(frozen=True, eq=False)
class Answer:
    """One site's answer to one request.

    Attributes
    ----------
    site : str
        The answering site's name (its own configuration, not the coordinator's guess).
    task : str
        The task answered.
    values : dict
        JSON values (counts released, settings used, ...).
    arrays : dict of str -> numpy.ndarray
        The aggregates (float64 or int64), each named.
    withheld : str or None
        Why the site released nothing (its small-count rule), or None.
    """

    site: str
    task: str
    values: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    withheld: str | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of the payload: the arrays' data plus the UTF-8 JSON of the values."""
        return int(sum(np.asarray(a).nbytes for a in self.arrays.values())
                   + len(_json(self.values).encode("utf-8")))

    def to_dict(self) -> dict:
        return {"site": self.site, "task": self.task, "values": self.values, "withheld": self.withheld,
                "arrays": {k: np.asarray(v) for k, v in self.arrays.items()}}

    @classmethod
    def from_dict(cls, value: dict) -> "Answer":
        return cls(site=value["site"], task=value["task"], values=dict(value.get("values") or {}),
                   arrays={k: np.asarray(v) for k, v in (value.get("arrays") or {}).items()},
                   withheld=value.get("withheld"))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Answer):
            return NotImplemented
        return (self.site, self.task, _json(self.values), self.withheld) == \
            (other.site, other.task, _json(other.values), other.withheld) \
            and self.arrays.keys() == other.arrays.keys() \
            and all(np.array_equal(self.arrays[k], other.arrays[k]) for k in self.arrays)


#: How an analysis asks every site: ``ask(request) -> [Answer, ...]`` (one per site, in site order).
Ask = Callable[[Request], list]
