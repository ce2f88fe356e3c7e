"""``flower-supernode`` with a shorter wait between its pulls of work.

Flower 1.42's SuperNode sleeps a fixed 3 s whenever its pull from the SuperLink finds no message
(``flwr.supernode.start_client_internal``: ``time.sleep(3)``), and 0.5 s while it waits for a
reply. A federated Newton fit is a chain of rounds, each waiting for the slowest site, so every
round lost up to 3 s doing nothing: on the sample's three sites a round took 8-12 s of which the
arithmetic is milliseconds. This module runs Flower's own ``flower-supernode`` entry point with
those sleeps capped at ``WORKBENCH_FLOWER_POLL`` seconds (default 0.25): a pull every quarter
second instead of every 3 s, on a loopback or site link (a few small HTTP requests per second).
Nothing else of Flower is changed; ``flwr`` is pinned to 1.42 in ``pyproject.toml``, and
``tests/test_federated_deploy.py`` fails if this stops holding (a node that never pulls).

Run as ``python -m workbench.federated._supernode [flower-supernode options]``.
"""

from __future__ import annotations

import os
import sys
import time
import types

POLL_ENV = "WORKBENCH_FLOWER_POLL"


def capped_time(limit: float) -> types.SimpleNamespace:
    """The ``time`` module with ``sleep`` capped at ``limit`` seconds.

    Examples
    --------
    >>> t = capped_time(0.01)
    >>> start = t.monotonic(); t.sleep(5); round(t.monotonic() - start) == 0
    True
    """
    names = {k: getattr(time, k) for k in dir(time) if not k.startswith("__")}
    return types.SimpleNamespace(**{**names, "sleep": lambda seconds: time.sleep(min(float(seconds), limit))})


def main() -> int:
    from flwr.supernode import start_client_internal
    from flwr.supernode.cli import flower_supernode

    start_client_internal.time = capped_time(float(os.environ.get(POLL_ENV, "0.25")))
    sys.argv[0] = "flower-supernode"
    return flower_supernode()


if __name__ == "__main__":  # pragma: no cover - a process of its own
    sys.exit(main())
