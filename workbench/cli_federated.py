"""``workbench federated ...``: run a site's node, the coordinator's SuperLink, and analyses.

    workbench federated link  --port PORT [--host ADDR] [--home DIR]
                              (--insecure | --ssl-certfile F --ssl-keyfile F --ssl-ca-certfile F)
    workbench federated node  --superlink HOST:PORT --site NAME (--db URL --user USER | --data PATH)
                              [--min-count N] [--log FILE] [--cache DIR] [--key-file FILE] [--port PORT]
                              [--home DIR] (--insecure | --root-certificates FILE)
    workbench federated run   --superlink HOST:PORT --plan PLAN.json --results OUT.json [--nodes N]
                              [--folder DIR] [--timeout S] (--insecure | --root-certificates FILE)

``link`` runs the coordinator's Flower SuperLink (``flower-superlink``); ``node`` runs a site's
Flower SuperNode (``flower-supernode``) whose ClientApp answers from the site's own registry,
read as the registry user ``--user`` (an analyst: pseudonymised tables), or from a folder of
analysis tables / a cohort Parquet file (``--data``), never releasing a count under the site's
``--min-count`` and journalling every request and answer in ``--log`` (JSON lines); ``run`` asks
the SuperLink to run a plan of analyses (``workbench.federated.analyses``) with the workbench's
Flower app and writes the results. The ServerApp runs on the SuperLink's machine: run ``run`` there
(plan and results paths are on that machine). Every Flower process gets telemetry and update
checks off and never installs packages at run time. ``--insecure`` (plain HTTP) is for one machine
(127.0.0.1) only; across machines use TLS certificates.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["add_parsers", "node_argv", "run"]


def add_parsers(sub, add) -> None:
    """Add the ``federated`` subcommands to the ``workbench`` parser (``add(group, name, **kw)``
    adds a parser with the common ``--db``/``--user`` options)."""
    fed = add(sub, "federated", help="federated analysis: a site's node, the coordinator's link, runs (Flower)")
    fsub = fed.add_subparsers(dest="action", required=True)

    link = add(fsub, "link", help="run the coordinator's Flower SuperLink")
    link.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    link.add_argument("--port", type=int, required=True, help="port of the SuperLink (Fleet, Control, Runtime APIs)")
    link.add_argument("--home", default=None, help="Flower's home folder for the SuperLink (default: a new private one)")
    _tls(link, server=True)

    node = add(fsub, "node", help="run a site's Flower SuperNode answering from the site's registry or data")
    node.add_argument("--superlink", required=True, help="the coordinator's SuperLink, HOST:PORT")
    node.add_argument("--site", required=True, help="this site's name (every answer carries it)")
    node.add_argument("--data", default=None, help="a folder of analysis tables or a cohort Parquet file, instead "
                                                   "of the registry (--db, read as --user)")
    node.add_argument("--min-count", type=int, default=None, help="the site's small-count threshold (default 5)")
    node.add_argument("--log", default=None, help="the site's journal of requests and answers (JSON lines)")
    node.add_argument("--cache", default=None, help="private folder for the site's records during a run")
    node.add_argument("--key-file", default=None, help="the pseudonymisation key (default: the registry's export key)")
    node.add_argument("--port", type=int, default=9094, help="the node's local Runtime API port (default 9094)")
    node.add_argument("--home", default=None, help="Flower's home folder for the node (default: a new private one)")
    _tls(node, server=False)

    run_ = add(fsub, "run", help="run a plan of federated analyses on a SuperLink and write the results")
    run_.add_argument("--superlink", required=True, help="the SuperLink, HOST:PORT")
    run_.add_argument("--plan", required=True, help="the plan, a JSON list of steps")
    run_.add_argument("--results", required=True, help="the JSON file to write the results to")
    run_.add_argument("--nodes", type=int, default=0, help="sites that must be connected first (default: any)")
    run_.add_argument("--folder", default=None, help="folder for the run's files and journal (default: a new one)")
    run_.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the results")
    _tls(run_, server=False)


def _tls(parser, *, server: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--insecure", action="store_true", help="plain HTTP: for 127.0.0.1 only")
    if server:
        group.add_argument("--ssl-certfile", default=None, help="TLS certificate (then also --ssl-keyfile, "
                                                                "--ssl-ca-certfile)")
        parser.add_argument("--ssl-keyfile", default=None)
        parser.add_argument("--ssl-ca-certfile", default=None)
    else:
        group.add_argument("--root-certificates", default=None, help="CA certificate (PEM) of the SuperLink's TLS")


def _home(value) -> Path:
    home = Path(value) if value else Path(tempfile.mkdtemp(prefix="workbench-flower-"))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def node_argv(args, db: str | None = None, user: str | None = None) -> list[str]:
    """The ``flower-supernode`` command of ``workbench federated node`` (``db``/``user``: the
    registry and the user read as, when ``--data`` is not given).

    Examples
    --------
    >>> import argparse
    >>> a = argparse.Namespace(superlink="127.0.0.1:9092", site="urban", data=None, min_count=5, log=None, cache=None,
    ...                        key_file=None, port=9094, insecure=True, root_certificates=None)
    >>> node_argv(a, "sqlite:///r.sqlite", "fed")[-1]
    'site="urban" registry="sqlite:///r.sqlite" user="fed" min-count=5'
    """
    from workbench.federated.deploy import node_config_text

    if args.data:
        config = {"site": args.site, "data": str(Path(args.data).resolve())}
    else:
        if not db or not user:
            raise ValueError("a node reads its registry (--db, or $WORKBENCH_DB) as a registry user (--user, an "
                             "analyst), or a folder of analysis tables / a cohort file (--data)")
        config = {"site": args.site, "registry": db, "user": user}
    config.update({"min-count": args.min_count, "log": args.log and str(Path(args.log).resolve()),
                   "cache": args.cache and str(Path(args.cache).resolve()),
                   "key-file": args.key_file and str(Path(args.key_file).resolve())})
    from workbench.federated.deploy import SUPERNODE

    argv = [*SUPERNODE, "--superlink", args.superlink, "--host", "127.0.0.1", "--port", str(args.port)]
    argv += ["--insecure"] if args.insecure else ["--root-certificates", args.root_certificates]
    return argv + ["--node-config", node_config_text(config)]


def run(args) -> int:
    """Run a ``federated`` command (``link`` and ``node`` replace this process with Flower's)."""
    from workbench.federated.deploy import FederationError, flower_env, run_on_superlink

    if args.action == "link":
        argv = [_bin("flower-superlink"), "--host", args.host, "--port", str(args.port),
                "--disable-runtime-dependency-installation"]
        if args.insecure:
            argv.append("--insecure")
        else:
            argv += ["--ssl-certfile", args.ssl_certfile, "--ssl-keyfile", args.ssl_keyfile,
                     "--ssl-ca-certfile", args.ssl_ca_certfile]
        os.execve(argv[0], argv, flower_env(_home(args.home)))
    if args.action == "node":
        from workbench.registry.engine import default_url

        db = args.db or (None if args.data else default_url())
        user = getattr(args, "user", None) or os.environ.get("WORKBENCH_USER")
        argv = node_argv(args, db, user)
        os.execve(argv[0], argv, flower_env(_home(args.home)))
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    folder = _home(args.folder)
    try:
        out = run_on_superlink(plan, superlink=args.superlink, folder=folder, nodes=args.nodes,
                               insecure=args.insecure, root_certificates=args.root_certificates,
                               timeout=args.timeout)
    except FederationError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    Path(args.results).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"run {out['run_id']}: {len(out.get('rounds', []))} requests to {len(out.get('sites', {}))} sites; "
          f"results in {args.results}; journal in {folder / 'coordinator.jsonl'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    print("use: workbench federated link|node|run ...", file=sys.stderr)
    sys.exit(2)
