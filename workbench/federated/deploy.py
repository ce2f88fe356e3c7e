"""Running a federation for real: Flower's deployment mode on this machine or across sites.

A federation is one Flower SuperLink (the coordinator's server), one SuperNode per site (each
reading only its own registry or data, :mod:`workbench.federated.flower_app.clientapp`) and runs
of the workbench's Flower app started with ``flwr run`` (its ServerApp runs the plan,
:mod:`workbench.federated.flower_app.serverapp`). The processes are Flower's own command-line
programs (``flower-superlink``, ``flower-supernode``, ``flwr``); nothing here does networking.

- :func:`prepare_site_registries`: one SQLite registry per site, filled with the site's share of
  the analysis tables (:func:`workbench.federated.sites.split_tables`, then
  :meth:`Registry.import_tables`), with an analyst user the site's node reads as (pseudonymised).
- :class:`Federation`: a context manager starting the SuperLink and the SuperNodes as
  subprocesses on free loopback ports (Flower's home folders in a private folder, telemetry and
  update checks off, runtime dependency installation off), waiting on conditions (the port
  answers; ``flwr supernode ls`` lists every node online), :meth:`Federation.run` a plan and collecting
  the results, and stopping every process it started (by process group) on exit. When anything
  fails, :class:`FederationError` carries the end of every process's log.
- :func:`run_on_superlink`: the same ``flwr run`` for a coordinator whose SuperLink and sites
  run elsewhere (``workbench federated run``).

Loopback only: ``--insecure`` (plain HTTP) is used for 127.0.0.1 here; across machines use
TLS (``workbench federated link --ssl-...``, ``node --root-certificates``).

Examples
--------
>>> node_config_text({"site": "urban", "min-count": 5})
'site="urban" min-count=5'
>>> sorted(flower_env("/tmp/h")[k] for k in ("FLWR_TELEMETRY_ENABLED", "FLWR_DISABLE_UPDATE_CHECK"))
['0', '1']
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping

__all__ = ["Federation", "FederationError", "flower_env", "free_port", "node_config_text", "online_nodes",
           "prepare_site_registries", "run_on_superlink"]

#: ``flower-supernode`` with its idle pull every 0.25 s instead of 3 s (:mod:`workbench.federated._supernode`).
SUPERNODE = (sys.executable, "-m", "workbench.federated._supernode")
LOOPBACK = "127.0.0.1"


class FederationError(RuntimeError):
    """A federation process failed or a run did not finish; the message ends with the logs."""


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def flower_env(home, **extra) -> dict:
    """The environment of every Flower process: ``FLWR_HOME=home``, telemetry and update checks
    off, no runtime installation of dependencies, loopback never through a proxy."""
    env = dict(os.environ)
    env.update({"FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
                "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1", "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "0.1",
                "PYTHONUNBUFFERED": "1"})
    bin_dir = str(Path(sys.executable).parent)  # Flower starts its helpers (flower-superexec, ...) by name
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]])
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name), "127.0.0.1", "localhost"]))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def node_config_text(config: Mapping) -> str:
    """A SuperNode's ``--node-config``: TOML values, space separated (strings quoted)."""
    parts = []
    for key, value in config.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"node-config {key!r}: a string or number. Got {value!r}.")
        parts.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
    return " ".join(parts)


def _program(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FederationError(f"Flower's {name!r} is not installed beside {sys.executable} (pip install flwr)")
    return str(path)


def prepare_site_registries(tables, sites: Mapping, folder, *, user: str = "federated") -> dict[str, dict]:
    """One SQLite registry per site holding the site's share of ``tables``.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables of the whole (synthetic) area.
    sites : mapping of str -> sequence of str
        Site name -> its communities (:func:`workbench.federated.sites.split_tables`).
    folder : path
        Each site gets ``folder/<site>/registry.sqlite`` (and its pseudonymisation key
        ``export.key``); the folders must not hold a registry yet.
    user : str
        The analyst user each site's node reads its registry as (pseudonymised tables).

    Returns
    -------
    dict
        Site name -> its node configuration (``site``, ``registry``, ``user``, ``key-file``) for
        :class:`Federation` or ``workbench federated node``.
    """
    from workbench.federated.sites import split_tables
    from workbench.registry.store import Registry

    folder = Path(folder)
    out = {}
    for name, part in split_tables(tables, sites).items():
        home = folder / name
        home.mkdir(parents=True, exist_ok=True)
        path = home / "registry.sqlite"
        if path.exists():
            raise FileExistsError(f"{path} exists: a site registry is never written over")
        registry = Registry(f"sqlite:///{path}")
        registry.init()
        registry.import_tables(part, by="admin", source=f"site {name} of a federation")
        registry.add_user(user, "analyst", by="admin")
        out[name] = {"site": name, "registry": f"sqlite:///{path}", "user": user, "key-file": str(home / "export.key")}
    return out


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _connection_toml(superlink: str, *, insecure: bool, root_certificates: str | None) -> str:
    lines = ["[superlink]", 'default = "workbench"', "", "[superlink.workbench]", f"address = {json.dumps(superlink)}"]
    if insecure:
        lines.append("insecure = true")
    if root_certificates:
        lines.append(f"root-certificates = {json.dumps(str(root_certificates))}")
    return "\n".join(lines) + "\n"


def _connection(folder: Path, superlink: str, *, insecure: bool, root_certificates: str | None) -> Path:
    """``folder/flwr-cli``: the ``flwr`` command's own home with the SuperLink connection ``workbench``."""
    home = Path(folder) / "flwr-cli"
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "config.toml").write_text(_connection_toml(superlink, insecure=insecure,
                                                        root_certificates=root_certificates), encoding="utf-8")
    return home


def online_nodes(home) -> int:
    """How many SuperNodes the SuperLink of the connection in ``home`` (see :func:`run_on_superlink`)
    lists as online (``flwr supernode ls``; 0 when it cannot be asked yet)."""
    try:
        done = subprocess.run([_program("flwr"), "supernode", "ls", "workbench", "--format", "json"],
                              env=flower_env(home), cwd=home, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return 0
    nodes = _json_output(done.stdout).get("nodes") or []
    return sum(1 for node in nodes if node.get("status") == "online")


def _json_output(text: str) -> dict:
    start = text.find("{")
    try:
        return json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        return {}


def run_on_superlink(plan: list, *, superlink: str, folder, nodes: int = 0, insecure: bool = False,
                     root_certificates: str | None = None, timeout: float = 3600.0, log=None,
                     alive=None) -> dict:
    """Start a run of the workbench's Flower app on the SuperLink at ``superlink`` and wait for it.

    ``folder`` (private to this login) gets the Flower connection (its own ``FLWR_HOME``), the
    plan and the results. The ServerApp runs on the SuperLink's machine and writes the results
    there: this works when the coordinator runs the SuperLink (as ``workbench federated link``
    and :class:`Federation` do). ``alive()`` (optional) raises when a process the run needs died.
    Returns the results (see :mod:`workbench.federated.flower_app.serverapp`); a failed run raises
    :class:`FederationError` with the ServerApp's traceback.
    """
    from workbench.federated.flower_app import app_dir

    folder = Path(folder)
    home = _connection(folder, superlink, insecure=insecure, root_certificates=root_certificates)
    runs = folder / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    number = len(list(runs.iterdir())) + 1
    here = runs / f"{number:03d}"
    here.mkdir()
    (here / "plan.json").write_text(json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8")
    results = here / "results.json"
    settings = {"plan": str(here / "plan.json"), "results": str(results), "log": str(log or folder / "coordinator.jsonl"),
                "nodes": int(nodes)}
    overrides = " ".join(f"{k}={json.dumps(v)}" for k, v in settings.items())
    env = flower_env(home)
    done = subprocess.run([_program("flwr"), "run", str(app_dir()), "workbench", "--run-config", overrides,
                           "--format", "json"], env=env, cwd=here, capture_output=True, text=True, timeout=600)
    started = _json_output(done.stdout)
    if done.returncode != 0 or not started.get("success"):
        raise FederationError(f"flwr run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    run_id = started["run-id"]
    deadline, checked = time.monotonic() + timeout, time.monotonic()
    while not results.exists():
        if alive is not None:
            alive()
        if time.monotonic() - checked > 10:  # the ServerApp could not start at all: ask the SuperLink
            checked = time.monotonic()
            status = _run_status(run_id, env)
            if status.startswith("finished") and not results.exists():
                time.sleep(1.0)
                if not results.exists():
                    raise FederationError(f"run {run_id} ended ({status}) without results")
        if time.monotonic() > deadline:
            raise FederationError(f"run {run_id} gave no results within {timeout:g} s")
        time.sleep(0.2)
    out = json.loads(results.read_text(encoding="utf-8"))
    out["folder"] = str(here)
    if out.get("error"):
        raise FederationError(f"run {run_id} failed in the ServerApp:\n{out['error']}")
    return out


def _run_status(run_id: str, env: dict) -> str:
    done = subprocess.run([_program("flwr"), "ls", "--run-id", str(run_id), "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=300)
    runs = _json_output(done.stdout).get("runs") or [{}]
    return str(runs[0].get("status", ""))


class Federation:
    """A SuperLink and one SuperNode per site on this machine (loopback), as subprocesses.

    Parameters
    ----------
    sites : mapping of str -> mapping
        Site name -> its node configuration (see :mod:`workbench.federated.flower_app.clientapp`:
        ``registry`` and ``user``, or ``data``; ``min-count``; ``log``, default
        ``<folder>/sites/<site>/journal.jsonl``), e.g. from :func:`prepare_site_registries`.
    folder : path, optional
        Where the processes keep their Flower homes, logs and journals (default: a new
        temporary folder, kept when the federation fails).
    start_timeout : float
        Seconds to wait for the SuperLink and every SuperNode to be ready.

    Examples
    --------
    ``with Federation(prepare_site_registries(tables, sites, folder)) as f: out = f.run(plan)``
    (see ``tests/test_federated_deploy.py``).
    """

    def __init__(self, sites: Mapping, *, folder=None, start_timeout: float = 600.0):
        if not sites:
            raise ValueError("A federation needs at least one site.")
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="workbench-federation-"))
        self.start_timeout = float(start_timeout)
        self.sites = {}
        for name, config in sites.items():
            config = {**dict(config), "site": str(config.get("site", name))}
            config.setdefault("log", str(self.folder / "sites" / name / "journal.jsonl"))
            self.sites[str(name)] = config
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.superlink: str | None = None
        self.coordinator_journal = self.folder / "coordinator" / "journal.jsonl"

    def site_journal(self, site: str) -> Path:
        """The journal file of ``site``'s node."""
        return Path(self.sites[site]["log"])

    # --- processes ---------------------------------------------------------------------------

    def _start(self, name: str, argv: list[str], home: Path, **env) -> subprocess.Popen:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = self.folder / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.logs[name] = log
        with open(log, "ab") as handle:
            proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=flower_env(home, **env), cwd=home, start_new_session=True)
        self.processes[name] = proc
        return proc

    def alive(self) -> None:
        """Raise :class:`FederationError` if a process of the federation has ended."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise FederationError(f"{name} ended (exit {proc.returncode})" + self.report())

    def report(self) -> str:
        """The end of every process's log."""
        return "".join(f"\n--- {name} ({path}) ---\n{_tail(path)}" for name, path in self.logs.items())

    def _wait(self, what: str, ready, every: float = 0.2) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            self.alive()
            if time.monotonic() > deadline:
                raise FederationError(f"{what} not ready within {self.start_timeout:g} s" + self.report())
            time.sleep(every)

    def start(self) -> "Federation":
        """Start the SuperLink, wait until it answers, start the SuperNodes, wait until the
        SuperLink lists all of them online."""
        port = free_port()
        self.superlink = f"{LOOPBACK}:{port}"
        self._start("superlink", [_program("flower-superlink"), "--insecure", "--host", LOOPBACK, "--port", str(port),
                                  "--disable-runtime-dependency-installation"], self.folder / "superlink")
        self._wait("the SuperLink", lambda: _answers(LOOPBACK, port))
        for name, config in self.sites.items():
            self._start(f"supernode-{name}", [*SUPERNODE, "--insecure", "--superlink", self.superlink,
                                              "--host", LOOPBACK, "--port", str(free_port()),
                                              "--node-config", node_config_text(config)],
                        self.folder / "sites" / name / "flwr-home")
        home = _connection(self.folder / "coordinator", self.superlink, insecure=True, root_certificates=None)
        self._wait(f"{len(self.sites)} SuperNodes online", lambda: online_nodes(home) >= len(self.sites), every=1.0)
        return self

    def stop(self) -> None:
        """Stop every process started (each with its children: its own process group)."""
        order = [n for n in self.processes if n != "superlink"] + [n for n in self.processes if n == "superlink"]
        for name in order:
            _stop_group(self.processes[name])
        self.processes.clear()

    def __enter__(self) -> "Federation":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- runs --------------------------------------------------------------------------------

    def run(self, plan: list, *, timeout: float = 3600.0) -> dict:
        """Run ``plan`` (see :mod:`workbench.federated.flower_app.serverapp`) with ``flwr run``
        and return its results; every site must be connected. On failure the
        :class:`FederationError` ends with the processes' logs."""
        if self.superlink is None:
            raise FederationError("the federation is not started (use it in a with block)")
        try:
            return run_on_superlink(plan, superlink=self.superlink, folder=self.folder / "coordinator",
                                    nodes=len(self.sites), insecure=True, timeout=timeout,
                                    log=self.coordinator_journal, alive=self.alive)
        except FederationError as err:
            raise FederationError(str(err) + self.report()) from None


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: the process group still ends
        return []


def _stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the process group ``proc`` leads (it was started in a session of its own), then
    SIGKILL after ``grace`` seconds; then its descendants that left the group (Flower starts its
    SuperExec in a session of its own), by their process ids."""
    children = _descendants(proc.pid)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            try:  # the leader is gone; its children may not be
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        except subprocess.TimeoutExpired:
            continue
    for child in children:
        try:
            child.terminate()
            child.wait(timeout=10)
        except Exception:  # noqa: BLE001 - gone already, or ends with SIGKILL below
            try:
                child.kill()
            except Exception:  # noqa: BLE001
                pass
