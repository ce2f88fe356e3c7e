"""The Flower app of a federated analysis: Flower's deployment mode moves the
:class:`~workbench.federated.protocol.Request` and :class:`~workbench.federated.protocol.Answer`
of :mod:`workbench.federated.protocol` between a coordinator and the sites, nothing else.

- :mod:`.serverapp`: the ServerApp (on the coordinator's SuperLink machine) runs the plan of
  :func:`workbench.federated.analyses.run_plan` with an ``ask`` that sends each request to every
  connected SuperNode through Flower's Grid and turns the replies into answers.
- :mod:`.clientapp`: the ClientApp (run by each site's SuperNode) reads the node's configuration
  (site name, its registry or data, ``min-count``, journal), builds the
  :class:`~workbench.federated.site.Site` once per run and answers with :meth:`Site.answer`.
- :mod:`.wire`: requests and answers as Flower records (a ConfigRecord of JSON, an ArrayRecord
  of numpy arrays); :mod:`.journal`: the JSON-lines journal both ends keep.
- ``pyproject.toml`` in this folder is the Flower app (``flwr run <this folder> <connection>``);
  :func:`app_dir` finds it.

Starting the processes (SuperLink, SuperNodes, ``flwr run``) is :mod:`workbench.federated.deploy`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["app_dir"]


def app_dir() -> Path:
    """The folder of the Flower app (holding its ``pyproject.toml``).

    Examples
    --------
    >>> (app_dir() / "pyproject.toml").is_file()
    True
    """
    return Path(__file__).resolve().parent
