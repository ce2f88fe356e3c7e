"""The journal both ends of a federated analysis keep: one JSON line per request and per answer.

A line says when (UTC), which run, which message (Flower's id of the request message: the
coordinator's line and the site's line of one request carry the same id, so the two journals
can be matched one to one), the task, a digest of the parameters (never their values), the
site, the bytes of the records sent, and the outcome of an answer: ``answered``, ``withheld``
(the site's small-count rule; ``reason`` says why) or ``refused`` (the site would not or could
not answer: unknown task, bad parameter; ``reason`` says which). No row-level data, no
parameter values and no answer values are ever written.

Fields: ``time, side ("coordinator" | "site"), event ("request" | "answer"), run_id,
message_id, node_id, site, task, params_digest, bytes, outcome, reason, seconds`` (``seconds``:
on the site, the time to answer; on the coordinator, from sending to receiving).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "journal.jsonl"
>>> Journal(path, side="site").write(event="request", run_id=1, message_id="m1", task="describe")
>>> [(line["side"], line["event"], line["task"]) for line in read_journal(path)]
[('site', 'request', 'describe')]
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from workbench.federated.protocol import Answer

__all__ = ["FIELDS", "Journal", "outcome", "read_journal"]

FIELDS = ("time", "side", "event", "run_id", "message_id", "node_id", "site", "task", "params_digest", "bytes",
          "outcome", "reason", "seconds")
_REASON_CHARS = 400


def outcome(answer: Answer) -> tuple[str, str | None]:
    """``("answered" | "withheld" | "refused", reason)`` of an answer.

    >>> outcome(Answer(site="a", task="t", values={"error": "unknown task"}, withheld="error: unknown task"))
    ('refused', 'unknown task')
    >>> outcome(Answer(site="a", task="t"))
    ('answered', None)
    """
    if isinstance(answer.values, dict) and answer.values.get("error"):
        return "refused", str(answer.values["error"])[:_REASON_CHARS]
    if answer.withheld is not None:
        return "withheld", str(answer.withheld)[:_REASON_CHARS]
    return "answered", None


class Journal:
    """Appends lines to the JSON-lines file ``path`` (created with its folder, private to the
    login). ``side`` is written on every line. A ``path`` of None or "" keeps no journal."""

    def __init__(self, path: str | os.PathLike | None, *, side: str):
        if side not in ("coordinator", "site"):
            raise ValueError(f"The 'side' parameter of Journal must be 'coordinator' or 'site'. Got {side!r} instead.")
        self.path = Path(path) if path else None
        self.side = side

    def write(self, **fields) -> None:
        """Append one line (unknown fields are refused: only :data:`FIELDS` are ever written)."""
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"Journal lines hold only {list(FIELDS)}; got {unknown}.")
        if self.path is None:
            return
        line = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"), "side": self.side}
        line.update({k: v for k, v in fields.items() if k not in line})
        text = json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:  # one write per line: lines never interleave
            handle.write(text)


def read_journal(path: str | os.PathLike) -> list[dict]:
    """The journal's lines, oldest first (an absent file: no lines)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
