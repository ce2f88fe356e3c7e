"""Requests and answers as Flower records, and their sizes.

A :class:`~workbench.federated.protocol.Request` travels as a ``RecordDict`` with one
``ConfigRecord`` ``"request"`` holding its JSON. An :class:`~workbench.federated.protocol.Answer`
travels as a ``ConfigRecord`` ``"answer"`` (site, task, the JSON of its values, why it was
withheld) and an ``ArrayRecord`` ``"arrays"`` (its numpy arrays, stored by Flower with
``numpy.save`` and ``allow_pickle=False``: numbers only, exact to the bit). Nothing else is
sent or accepted: an answer's arrays of Python objects are refused before they leave the site.

Examples
--------
>>> import numpy as np
>>> from workbench.federated.protocol import Answer, Request
>>> r = Request("cox_terms", {"beta": [0.0, 0.5]})
>>> decode_request(encode_request(r)) == r
True
>>> a = Answer(site="north", task="ping", values={"n": 3}, arrays={"x": np.arange(3.0)})
>>> decode_answer(encode_answer(a)) == a
True
>>> params_digest(r)
'9d9e1a4d5a8b028f'
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from workbench.federated.protocol import Answer, Request

__all__ = ["MESSAGE_TYPE", "content_bytes", "decode_answer", "decode_request", "encode_answer", "encode_request",
           "params_digest"]

#: The Flower message type of every request (the ClientApp's ``@app.query()``).
MESSAGE_TYPE = "query"


class WireError(ValueError):
    """A record that is not a request or answer of :mod:`workbench.federated.protocol`."""


def encode_request(request: Request) -> RecordDict:
    """The request as a ``RecordDict`` (its JSON in the ConfigRecord ``"request"``)."""
    return RecordDict({"request": ConfigRecord({"json": request.to_json()})})


def decode_request(content: RecordDict) -> Request:
    """The request carried by ``content``; :class:`WireError` when it carries none."""
    try:
        text = content["request"]["json"]
        request = Request.from_json(str(text))
    except (KeyError, TypeError, ValueError) as err:
        raise WireError(f"not a workbench request ({type(err).__name__}: {err})") from None
    if not isinstance(request.task, str) or not isinstance(request.params, dict):
        raise WireError("not a workbench request (task must be a string, params an object)")
    return request


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def encode_answer(answer: Answer) -> RecordDict:
    """The answer as a ``RecordDict``; arrays of Python objects are refused (:class:`WireError`)."""
    arrays = {}
    for name, value in answer.arrays.items():
        value = np.ascontiguousarray(value)
        if value.dtype.hasobject:
            raise WireError(f"the answer's array {name!r} holds Python objects; only numbers and fixed-width "
                            "strings are sent")
        arrays[str(name)] = Array(value)
    head = {"site": answer.site, "task": answer.task, "values": _json(answer.values),
            "withheld": answer.withheld if answer.withheld is not None else "",
            "is_withheld": answer.withheld is not None}
    return RecordDict({"answer": ConfigRecord(head), "arrays": ArrayRecord(array_dict=arrays)})


def decode_answer(content: RecordDict) -> Answer:
    """The answer carried by ``content``; :class:`WireError` when it carries none."""
    try:
        head = content["answer"]
        arrays = content["arrays"] if "arrays" in content else ArrayRecord()
        return Answer(site=str(head["site"]), task=str(head["task"]), values=json.loads(str(head["values"])),
                      arrays={name: array.numpy() for name, array in arrays.items()},
                      withheld=str(head["withheld"]) if head["is_withheld"] else None)
    except (KeyError, TypeError, ValueError) as err:
        raise WireError(f"not a workbench answer ({type(err).__name__}: {err})") from None


def content_bytes(content: RecordDict) -> int:
    """Bytes of the records as Flower sends them (each record object serialised; headers of the
    message itself not counted).

    Examples
    --------
    >>> content_bytes(encode_request(Request("describe"))) > len(Request("describe").to_json())
    True
    """
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

    return int(sum(len(obj.deflate()) for obj in get_all_nested_objects(content).values()))


def params_digest(request: Request) -> str:
    """The first 16 hex digits of the SHA-256 of the request's JSON (logged instead of its values)."""
    return hashlib.sha256(request.to_json().encode("utf-8")).hexdigest()[:16]
