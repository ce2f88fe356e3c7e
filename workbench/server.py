"""Serve the workbench: one Jupyter server with JupyterLab and Voila behind the same login.

``make run`` calls :func:`main`. The server listens on 127.0.0.1 only; every page, including
the Voila staff apps at ``/voila/render/notebooks/apps/<name>.ipynb``, needs the token printed
at start-up (or the password configured in Jupyter). A single Ctrl-C stops it cleanly.

Voila is configured for staff use (see :mod:`workbench.voila_config`): sources stripped,
tracebacks hidden from the page but written to the server log, kernels of closed tabs culled,
preheated kernels for the apps, nothing fetched from the internet, the apps' default language
in ``WORKBENCH_LANG`` (``zh`` unless set; ``?lang=en`` overrides it per page).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from workbench.params import Interval, Options, Predicate, check, validate_params
from workbench.voila_config import JUPYTER_DATA, TEMPLATE

__all__ = ["LANGUAGES", "acting_user", "jupyter_command", "main", "server_environment"]

REPO = Path(__file__).resolve().parent.parent


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The apps' languages; ``WORKBENCH_LANG`` picks the default, ``?lang=`` overrides it per page.
LANGUAGES = ("zh", "en")
#: Defaults of the serving knobs (each also read from its environment variable, see :func:`main`).
CULL_IDLE_TIMEOUT = 600
CULL_INTERVAL = 60
#: Preheated kernels per app when the pool size is "auto": at most this many...
MAX_AUTO_POOL_SIZE = 3
#: ...and no more than a quarter of the memory available at start, at about this much per kernel
#: (measured: 100 MiB for a form, 180 MiB for an app that loads the sample).
KERNEL_MIB = 200


def auto_pool_size(apps: int, available_mib: float) -> int:
    """Preheated kernels per app for ``apps`` apps when ``available_mib`` MiB of memory are free:
    enough for a crowd at one app (:data:`MAX_AUTO_POOL_SIZE`), never more than a quarter of the
    memory, at least one.

    Examples
    --------
    >>> auto_pool_size(4, 20_000)   # a 24 GB machine
    3
    >>> auto_pool_size(4, 1_700)    # 1.7 GB free: 425 MiB for kernels
    1
    >>> auto_pool_size(0, 1_000)
    0
    """
    if apps <= 0:
        return 0
    return max(1, min(MAX_AUTO_POOL_SIZE, int(available_mib / 4 // (apps * KERNEL_MIB))))


def _available_mib() -> float:
    import psutil

    return psutil.virtual_memory().available / 2**20


#: The shortest serving token accepted (a random 32-character one cannot be guessed).
MIN_TOKEN_LENGTH = 32


def _strong_token(value) -> bool:
    return isinstance(value, str) and len(value.strip()) >= MIN_TOKEN_LENGTH


@validate_params({"token": Predicate(_strong_token, f"a str of at least {MIN_TOKEN_LENGTH} characters (make one with "
                                                    "python -c 'import secrets; print(secrets.token_hex(32))')"),
                  "host": Predicate(_is_loopback, "a loopback address (put a TLS reverse proxy with its own login in "
                                                  "front to serve other machines)"),
                  "cull_idle_timeout": Interval(int, 1, None), "cull_interval": Interval(int, 1, None),
                  "pool_size": Interval(int, 0, None)})
def jupyter_command(*, port: int, token: str, root: Path = REPO, host: str = "127.0.0.1",
                    cull_idle_timeout: int = CULL_IDLE_TIMEOUT, cull_interval: int = CULL_INTERVAL,
                    pool_size: int = 1) -> list[str]:
    """The ``jupyter lab`` command line that ``make run`` executes.

    Run it with the environment of :func:`server_environment` (it finds the Voila template there,
    and the token: the token is never on the command line, where ``ps`` shows it to everyone).

    Parameters
    ----------
    port, host : int, str
        Where to listen; ``host`` must be a loopback address.
    token : str
        The login token, checked here (at least :data:`MIN_TOKEN_LENGTH` characters) and given to
        the server by :func:`server_environment`, never on the command line.
    root : Path
        The server's root directory; the staff apps are ``notebooks/apps/*.ipynb`` under it.
    cull_idle_timeout, cull_interval : int
        Seconds: a kernel with no browser tab connected (a closed app) and idle for longer than
        ``cull_idle_timeout`` is shut down; the check runs every ``cull_interval``. Kernels of open
        tabs and busy kernels are never culled.
    pool_size : int
        Preheated kernels kept ready for each staff app (0: start a kernel on each request).

    Examples
    --------
    >>> token = "0123456789abcdef" * 2
    >>> cmd = jupyter_command(port=8888, token=token)
    >>> cmd[1:3]
    ['-m', 'jupyterlab']
    >>> "--ip=127.0.0.1" in cmd
    True
    >>> any(token in part for part in cmd)
    False
    >>> "--MappingKernelManager.cull_idle_timeout=600" in cmd
    True
    """
    as_root = ["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable, "-m", "jupyterlab", *as_root,
        f"--ip={host}", f"--port={port}", "--ServerApp.port_retries=0", "--no-browser",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.answer_yes=True",  # one Ctrl-C shuts down cleanly, no interactive prompt
        "--LabApp.default_url=/lab/tree/notebooks",
        # Voila for staff (workbench/voila_config): preheated kernels, errors logged, no CDN.
        "--ServerApp.kernel_manager_class=workbench.voila_config.WorkbenchKernelManager",
        "--ServerApp.jpserver_extensions=workbench.voila_config=True",
        f"--WorkbenchKernelManager.pool_size={pool_size}",
        "--WorkbenchKernelManager.preheat=notebooks/apps/*.ipynb",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=False",  # an open app is never culled
        f"--VoilaConfiguration.template={TEMPLATE}",
        "--VoilaConfiguration.allow_template_override=NO",  # ?template=lab would fetch from CDNs
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ]


def server_environment(environ: dict[str, str] | None = None, *, lang: str | None = None,
                       token: str | None = None) -> dict[str, str]:
    """The environment the server (and so every kernel) runs with.

    ``JUPYTER_PATH`` gains the workbench's Voila template; ``WORKBENCH_LANG`` is ``lang``, else
    the one in ``environ``, else ``zh``; ``JUPYTER_TOKEN`` is ``token`` when given (the server's
    login token: the environment of a process is readable by its own account only, unlike its
    command line).

    Examples
    --------
    >>> env = server_environment({"PATH": "/bin"})
    >>> env["WORKBENCH_LANG"], env["JUPYTER_PATH"].endswith("jupyter_data")
    ('zh', True)
    >>> server_environment({"WORKBENCH_LANG": "en"})["WORKBENCH_LANG"]
    'en'
    >>> server_environment({}, lang="fr")
    Traceback (most recent call last):
    workbench.params.ParameterError: The 'lang' parameter of server_environment must be one of 'zh', 'en'. Got 'fr' instead.
    """
    env = dict(os.environ if environ is None else environ)
    lang = check("server_environment", "lang", lang or env.get("WORKBENCH_LANG") or "zh", Options(*LANGUAGES))
    env["WORKBENCH_LANG"] = lang
    paths = [str(JUPYTER_DATA), *[p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]]
    env["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    if token is not None:
        env["JUPYTER_TOKEN"] = token
    return env


def _env_int(name: str, default: int | str) -> int | str:
    value = os.environ.get(name, "")
    if not value or value == default:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"workbench serve: {name} must be a whole number of seconds or kernels"
                         f"{' or ' + repr(default) if isinstance(default, str) else ''}, not {value!r}") from None


def _pool_size(value: str) -> int | str:
    return value if value == "auto" else int(value)


#: The apps' working day on the sample registry (inside the sample's follow-up period).
SAMPLE_WORKING_DAY = "2025-09-30"


def acting_user(registry_url: str, *, named: str = "", sample: bool = False) -> tuple[str, str]:
    """The registry user the one-person server acts as, and how it was chosen.

    ``named`` (``make run WORKBENCH_USER=NAME``: the machine's owner names themself in their own
    registry file) must be a user of the registry; else the user mapped to the operating-system
    login starting the server; else, on the sample registry only, its admin (the sample is
    synthetic and the person running it owns it). A user no longer active, or anything else, stops
    the server with one sentence.
    """
    from workbench.cli import os_login
    from workbench.registry.store import Registry

    login, named = os_login(), named.strip()
    registry = Registry(registry_url)
    try:
        mapped = registry.user_for_login(login)
        staff = registry.users()
        names, inactive = set(staff["name"]), set(staff.loc[~staff["active"].astype(bool), "name"])
    except Exception as err:  # noqa: BLE001 - not a registry, or not set up: say so in one sentence
        raise SystemExit(f"workbench serve: the registry {registry!r} cannot be read ({type(err).__name__}); set it "
                         "up with 'workbench db init'") from None
    finally:
        registry.engine.dispose()
    who = named or mapped
    if who in inactive:
        raise SystemExit(f"workbench serve: registry user {who} is no longer active (an admin reactivates them "
                         f"with 'workbench users activate {who}')")
    if named:
        if named not in names:
            raise SystemExit(f"workbench serve: WORKBENCH_USER={named} is not a user of the registry {registry!r}")
        return named, "WORKBENCH_USER"
    if mapped is not None:
        return mapped, f"mapped to the login {login}"
    if sample and "admin" in names:
        return "admin", f"the sample's admin, for the login {login}"
    raise SystemExit(f"workbench serve: you are signed in to this machine as {login}, which is no user of the registry "
                     f"{registry!r}: map your login with 'workbench users add NAME --role ROLE --login {login}' or "
                     "start with WORKBENCH_USER=NAME")


def main(argv: list[str] | None = None) -> None:
    """Prepare the sample data if needed, print the URLs, and become the Jupyter server.

    Every option also reads an environment variable: ``PORT``, ``WORKBENCH_LANG``,
    ``WORKBENCH_CULL_IDLE_TIMEOUT``, ``WORKBENCH_CULL_INTERVAL``, ``WORKBENCH_POOL_SIZE``; the token
    is ``WORKBENCH_TOKEN`` (a random one if unset), the registry ``WORKBENCH_DB`` (unset: the sample
    registry, with the apps' working day ``WORKBENCH_TODAY`` set to :data:`SAMPLE_WORKING_DAY` and the quality
    app's community map ``WORKBENCH_GEO`` set to the sample's ``data_samples/geo``, each unless already set).

    This is the one-person embedded set-up: the apps act as one registry user, the one the server
    is started for (:func:`acting_user`), put in ``WORKBENCH_USER`` for the apps' kernels. The
    server and its kernels create files private to the account (umask 077).
    """
    parser = argparse.ArgumentParser(prog="workbench serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=_env_int("PORT", 8888))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="the folder served (default: the repository; apps in notebooks/apps/)")
    parser.add_argument("--lang", choices=LANGUAGES, default=os.environ.get("WORKBENCH_LANG") or "zh",
                        help="the apps' default language (a page's ?lang= overrides it)")
    parser.add_argument("--cull-idle-timeout", type=int,
                        default=_env_int("WORKBENCH_CULL_IDLE_TIMEOUT", CULL_IDLE_TIMEOUT),
                        help="seconds after which an idle kernel without a browser tab is shut down")
    parser.add_argument("--cull-interval", type=int, default=_env_int("WORKBENCH_CULL_INTERVAL", CULL_INTERVAL),
                        help="seconds between two checks for such kernels")
    parser.add_argument("--pool-size", type=_pool_size, default=_env_int("WORKBENCH_POOL_SIZE", "auto"),
                        help="preheated kernels kept ready per staff app (0: none; auto: up to "
                             f"{MAX_AUTO_POOL_SIZE}, within a quarter of the free memory)")
    args = parser.parse_args(argv)
    os.umask(0o077)  # the sample registry, exports and notebooks saved are private to this login

    from workbench.sample import prepare_registry, prepare_sample, sample_registry_url

    token = os.environ.get("WORKBENCH_TOKEN") or secrets.token_hex(24)
    apps = sorted((args.root / "notebooks" / "apps").glob("*.ipynb"))
    pool_size = auto_pool_size(len(apps), _available_mib()) if args.pool_size == "auto" else args.pool_size
    try:  # check every argument before preparing anything
        cmd = jupyter_command(port=args.port, token=token, host=args.host, root=args.root.resolve(),
                              cull_idle_timeout=args.cull_idle_timeout,
                              cull_interval=args.cull_interval, pool_size=pool_size)
    except ValueError as err:
        raise SystemExit(f"workbench serve: {err}") from None
    if not args.root.is_dir():
        raise SystemExit(f"workbench serve: --root {args.root} is not a folder")
    folder = prepare_sample()
    sample = not os.environ.get("WORKBENCH_DB")
    if not sample:
        registry_url = os.environ["WORKBENCH_DB"]  # the user's own registry: used as it is
    else:
        registry_url = os.environ["WORKBENCH_DB"] = sample_registry_url()  # kernels and apps inherit it
        prepare_registry(registry_url)
        # The sample's follow-up runs through 2025: the apps' working day is set inside it so the
        # follow-up list has something to show in a workshop (a real registry uses the real date).
        os.environ.setdefault("WORKBENCH_TODAY", SAMPLE_WORKING_DAY)
        # The sample's synthetic map (boundaries, service points, homes) for the quality app's map.
        os.environ.setdefault("WORKBENCH_GEO", str(folder / "geo"))
    user, how = acting_user(registry_url, named=os.environ.get("WORKBENCH_USER", ""), sample=sample)
    os.environ["WORKBENCH_USER"] = user  # the apps' kernels act as this registry user, and only as them
    os.environ.update(server_environment(lang=args.lang, token=token))
    base = f"http://{args.host}:{args.port}"
    print(f"Set-up:      one person, embedded (make run): the apps act as registry user {user} ({how}). "
          "For several staff each signing in as themselves, see README \"Multi-staff\" (JupyterHub).", flush=True)
    print(f"Sample data: {folder}", flush=True)
    print(f"Registry:    {registry_url}", flush=True)
    if os.environ.get("WORKBENCH_GEO"):
        print(f"Map:         {os.environ['WORKBENCH_GEO']} (WORKBENCH_GEO; the quality app's community map)", flush=True)
    if os.environ.get("WORKBENCH_TODAY"):
        print(f"Working day: {os.environ['WORKBENCH_TODAY']} (WORKBENCH_TODAY; the apps' date)", flush=True)
    print(f"Apps:        language {args.lang} (?lang=zh or ?lang=en per page), {pool_size} preheated "
          f"kernel(s) per app, closed apps' kernels stopped after {args.cull_idle_timeout} s", flush=True)
    print(f"Starting the server on {base} and preheating the apps; the addresses follow once they are "
          "ready.", flush=True)
    os.chdir(REPO)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
