"""The ClientApp: a site's SuperNode answers each request with :meth:`Site.answer`.

The SuperNode's ``--node-config`` says who the site is and where its records are (TOML values,
space separated, e.g. ``site="urban" registry="sqlite:////srv/wb/registry.sqlite" user="fed"
min-count=5 log="/srv/wb/federated.jsonl"``):

``site``
    The site's name (every answer carries it).
``registry`` and ``user``
    The site's registry URL and the registry user the node reads as: an analyst, so the node
    reads the pseudonymised analysis tables (:meth:`Site.from_registry`); ``key-file``: the
    pseudonymisation key (default: the registry's export key of the login running the node).
``data``
    Instead of a registry: a folder of analysis tables (``workbench.tables.read``) or a cohort
    Parquet file (one row per subject: the benchmark's cohorts).
``min-count``
    The site's small-count threshold (default :data:`workbench.federated.site.DEFAULT_MIN_COUNT`);
    set here, at the site, never by a request.
``log``
    The site's journal (:mod:`.journal`): every request received and answer sent.
``cache``
    A private folder where the site keeps its records between the requests of one run (default:
    ``<log's folder>/site-cache``; none without a log).

Flower starts a new ClientApp process for every message, so the site is built once per run:
the first request of a run reads the registry (or data) and keeps the built site in ``cache``
(a pickle, 0600 in a 0700 folder, written and read only by this node, named by the site and the
run; the site's previous run's file is deleted, the last one stays until the next run or until
the folder is emptied); later requests of the run load it (the site's own prepared frames too,
saved again when a request added one). A request the node cannot take (not a workbench request,
bad node configuration, registry unreachable) gets an answer with ``values["error"]``, like any
refusal, and is journalled.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from workbench.federated.flower_app.journal import Journal, outcome
from workbench.federated.flower_app.wire import (WireError, content_bytes, decode_request, encode_answer,
                                                 params_digest)
from workbench.federated.protocol import Answer

__all__ = ["app", "site_from_config"]

app = ClientApp()

_KEYS = {"site", "registry", "user", "key-file", "data", "min-count", "log", "cache"}


class NodeConfigError(ValueError):
    """The SuperNode's ``--node-config`` does not say who the site is or where its records are."""


def _config(node_config) -> dict:
    config = dict(node_config)
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise NodeConfigError(f"node-config: unknown keys {unknown} (known: {sorted(_KEYS)})")
    if not str(config.get("site") or "").strip():
        raise NodeConfigError('node-config: no site name (add site="<name>")')
    if bool(config.get("registry")) == bool(config.get("data")):
        raise NodeConfigError("node-config: give either registry= (with user=) or data=, not both or neither")
    if config.get("registry") and not config.get("user"):
        raise NodeConfigError('node-config: registry= needs user= (the registry user the node reads as)')
    return config


def site_from_config(node_config):
    """Build the :class:`~workbench.federated.site.Site` a node's configuration describes.

    Examples
    --------
    >>> site_from_config({"site": "north"})
    Traceback (most recent call last):
    ...
    workbench.federated.flower_app.clientapp.NodeConfigError: node-config: give either registry= (with user=) or data=, not both or neither
    """
    from workbench.federated.site import DEFAULT_MIN_COUNT, Site

    config = _config(node_config)
    name, min_count = str(config["site"]), int(config.get("min-count", DEFAULT_MIN_COUNT))
    if config.get("registry"):
        return Site.from_registry(str(config["registry"]), name=name, user=str(config["user"]), min_count=min_count,
                                  key_file=str(config["key-file"]) if config.get("key-file") else None)
    data = Path(str(config["data"]))
    if data.is_file() or data.suffix == ".parquet":
        import pandas as pd

        return Site(name, cohort=pd.read_parquet(data), min_count=min_count)
    from workbench.tables import read

    return Site(name, read(data), min_count=min_count)


def _cache_folder(config: dict) -> Path | None:
    if config.get("cache"):
        return Path(str(config["cache"]))
    if config.get("log"):
        return Path(str(config["log"])).parent / "site-cache"
    return None


def _site(config: dict, run_id: int):
    """The run's site: from the cache when an earlier request of the run built it."""
    folder = _cache_folder(config)
    stem = hashlib.sha256(str(config["site"]).encode("utf-8")).hexdigest()[:12]  # one site's files, whatever its name
    path = folder / f"site-{stem}-{run_id}.pickle" if folder else None
    if path is not None and path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle), path
    site = site_from_config(config)
    if path is not None:
        _save(site, path)
        for old in folder.glob(f"site-{stem}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    return site, path


def _save(site, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = path.with_suffix(f".{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(site, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(part, path)


def _refusal(site: str, task: str, text: str) -> Answer:
    return Answer(site=site, task=task, values={"error": text}, withheld=f"error: {text}")


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Answer one request (journalled on arrival and on reply)."""
    started = time.perf_counter()
    node_config = dict(context.node_config)
    name = str(node_config.get("site") or "(unnamed site)")
    journal = Journal(node_config.get("log") or None, side="site")
    common = {"run_id": int(context.run_id), "message_id": msg.metadata.message_id,
              "node_id": int(context.node_id), "site": name}
    try:
        request = decode_request(msg.content)
        task, digest = request.task, params_digest(request)
    except WireError as err:
        request, task, digest = None, "(not a request)", None
        answer = _refusal(name, task, str(err))
    journal.write(event="request", task=task, params_digest=digest, bytes=content_bytes(msg.content), **common)
    if request is not None:
        try:
            config = _config(node_config)
            site, path = _site(config, int(context.run_id))
            known = set(getattr(site, "_cache", {}))
            answer = site.answer(request)
            if path is not None and set(getattr(site, "_cache", {})) != known:
                _save(site, path)  # the site's own cache of prepared frames grew: keep it for the run
        except Exception as err:  # noqa: BLE001 - a node never crashes on a request: it refuses it
            answer = _refusal(name, task, f"the site could not answer: {type(err).__name__}: {err}")
    try:
        content = encode_answer(answer)
    except WireError as err:
        answer = _refusal(name, task, str(err))
        content = encode_answer(answer)
    result, reason = outcome(answer)
    journal.write(event="answer", task=task, params_digest=digest, bytes=content_bytes(content), outcome=result,
                  reason=reason, seconds=round(time.perf_counter() - started, 6), **common)
    return Message(content, reply_to=msg)
