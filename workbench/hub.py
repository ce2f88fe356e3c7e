"""The workbench behind JupyterHub: one server per staff member, run as their own OS account.

``deploy/jupyterhub_config.py`` (started by ``make hub``) uses this module. Staff sign in on the
hub's login page with their OS account (PAM); the hub starts their single-user server as that
account (``LocalProcessSpawner``), so the apps' ``JUPYTERHUB_USER`` is the person signed in and
the registry, on PostgreSQL over the Unix socket with peer authentication, sees them as the
database role of the same name (no password stored anywhere, no shared login).

What the server offers depends on the person's role in the registry (:func:`server_args`):

- ``social_worker``, ``counsellor``, ``doctor``: the Voila staff apps only. JupyterLab and the
  terminals are switched off and the contents API refuses every write
  (``ReadOnlyContentsManager``); the server opens on the follow-up app.
- ``analyst``, ``admin``: JupyterLab (and the apps).

Someone who is not an active registry user (or has no login mapped) gets no server.

``deploy/add-staff NAME --role ROLE`` (``python -m workbench.hub add-staff``, as root) adds a
staff member in one step: the OS account (in the group allowed to sign in), the registry user
(signing in as that login) and their database role (:func:`add_staff`).

Examples
--------
>>> staff = server_args("counsellor", pool_size=0)
>>> "--ServerApp.jpserver_extensions=jupyterlab=False" in staff
True
>>> "--ServerApp.terminals_enabled=False" in staff
True
>>> "--ServerApp.contents_manager_class=workbench.hub.ReadOnlyContentsManager" in staff
True
>>> "--ServerApp.jpserver_extensions=jupyterlab=False" in server_args("analyst", pool_size=0)
False
>>> server_args("janitor", pool_size=0)
Traceback (most recent call last):
workbench.params.ParameterError: The 'role' parameter of server_args must be one of 'social_worker', 'counsellor', 'doctor', 'analyst', 'admin'. Got 'janitor' instead.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

from workbench.params import Interval, Options, Predicate, validate_params

__all__ = ["APPS_ONLY", "LAB_ROLES", "ReadOnlyContentsManager", "STAFF_GROUP", "add_staff", "default_url",
           "main", "registry_role", "server_args"]

#: The OS group whose members may sign in to the hub (``WORKBENCH_HUB_GROUP`` overrides it).
STAFF_GROUP = "workbench-staff"
#: Staff logins: an OS account name that is also a plain PostgreSQL role name.
_LOGIN = re.compile(r"[a-z_][a-z0-9_]{0,31}")

#: Roles whose server offers the Voila apps only.
APPS_ONLY = ("social_worker", "counsellor", "doctor")
#: Roles whose server offers JupyterLab.
LAB_ROLES = ("analyst", "admin")
#: Where each role's server opens.
_FIRST_APP = {"social_worker": "screening", "counsellor": "caseload", "doctor": "caseload",
              "analyst": None, "admin": None}


@validate_params({"role": Options(*APPS_ONLY, *LAB_ROLES)})
def default_url(role: str) -> str:
    """The page a role's server opens on.

    Examples
    --------
    >>> default_url("counsellor")
    '/voila/render/notebooks/apps/caseload.ipynb'
    >>> default_url("admin")
    '/lab/tree/notebooks'
    """
    app = _FIRST_APP[role]
    return f"/voila/render/notebooks/apps/{app}.ipynb" if app else "/lab/tree/notebooks"


@validate_params({"role": Options(*APPS_ONLY, *LAB_ROLES), "pool_size": Interval(int, 0, None),
                  "cull_idle_timeout": Interval(int, 1, None)})
def server_args(role: str, *, pool_size: int, cull_idle_timeout: int = 600) -> list[str]:
    """The ``jupyterhub-singleuser`` options of a server for ``role`` (see the module docstring).

    Voila is configured as in ``make run`` (:func:`workbench.server.jupyter_command`): the
    workbench template without CDN links, sources and tracebacks hidden from the page, errors in
    the server log, ``pool_size`` preheated kernels per app, closed apps' kernels culled.
    """
    from workbench.voila_config import TEMPLATE

    args = [
        f"--ServerApp.default_url={default_url(role)}",
        "--ServerApp.kernel_manager_class=workbench.voila_config.WorkbenchKernelManager",
        "--ServerApp.jpserver_extensions=workbench.voila_config=True",
        "--ServerApp.jpserver_extensions=voila=True",
        f"--WorkbenchKernelManager.pool_size={pool_size}",
        "--WorkbenchKernelManager.preheat=notebooks/apps/*.ipynb",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_timeout}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        f"--VoilaConfiguration.template={TEMPLATE}",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ]
    if role in APPS_ONLY:
        args += [
            "--ServerApp.jpserver_extensions=jupyterlab=False",
            "--ServerApp.jpserver_extensions=jupyter_lsp=False",
            "--ServerApp.jpserver_extensions=notebook_shim=False",
            "--ServerApp.jpserver_extensions=jupyter_server_terminals=False",
            "--ServerApp.terminals_enabled=False",
            "--ServerApp.contents_manager_class=workbench.hub.ReadOnlyContentsManager",
        ]
    return args


def registry_role(url: str, login: str) -> str | None:
    """The role of the active registry user who signs in as ``login`` (``users.login``, else a
    user of that name with no other login), or ``None``: no server for them.

    ``url`` is the registry as the hub reads it (the database's owner, see ``deploy/``)."""
    import sqlalchemy as sa

    from workbench.registry.engine import make_engine
    from workbench.registry.schema import users

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.role).where(
                    users.c.active.is_(True),
                    sa.or_(users.c.login == login, sa.and_(users.c.name == login, users.c.login.is_(None))))
            ).first()
    finally:
        engine.dispose()
    return None if row is None else row[0]


def _run(*command: str, stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()}")


@validate_params({"login": Predicate(lambda v: isinstance(v, str) and _LOGIN.fullmatch(v) is not None,
                                     "an OS login of lower-case letters, digits and _ (at most 32), "
                                     "starting with a letter or _"),
                  "role": Options(*APPS_ONLY, *LAB_ROLES)})
def add_staff(login: str, role: str, *, registry_url: str, by: str, password: str | None = None,
              display_name: str | None = None, group: str = STAFF_GROUP) -> None:
    """Add a staff member who signs in to the hub as ``login`` (as root, on the hub's machine).

    1. The OS account ``login`` (created with a home folder and no login shell if missing) joins
       ``group``, the group allowed to sign in; ``password`` (if given) becomes its password.
    2. The registry user ``login`` with ``role``, signing in as ``login``, added by the admin
       ``by`` (audited).
       On PostgreSQL this makes the database role ``login`` too (no password: peer
       authentication over the Unix socket is the only way in), a member of the role's group
       (:mod:`workbench.registry.pg_security`).
    """
    import pwd

    _run("groupadd", "-f", group)
    try:
        pwd.getpwnam(login)
        _run("usermod", "-a", "-G", group, login)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/usr/sbin/nologin", "--groups", group, login)
    if password is not None:
        _run("chpasswd", stdin=f"{login}:{password}\n")
    from workbench.registry.store import Registry

    registry = Registry(registry_url)
    try:  # on PostgreSQL the registry also makes the login role, in its role's group (pg_security)
        registry.add_user(login, role, by=by, display_name=display_name, login=login)
    finally:
        registry.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.hub add-staff LOGIN --role ROLE`` (``deploy/add-staff``)."""
    parser = argparse.ArgumentParser(prog="deploy/add-staff", description=add_staff.__doc__.splitlines()[0])
    parser.add_argument("command", choices=["add-staff"])
    parser.add_argument("login", help="the OS login, registry user and database role (one name)")
    parser.add_argument("--role", required=True, choices=[*APPS_ONLY, *LAB_ROLES])
    parser.add_argument("--display-name")
    parser.add_argument("--by", default="admin", help="the registry admin adding them (default admin)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the new OS password from the first line of standard input "
                             "(otherwise set it with passwd)")
    args = parser.parse_args(argv)
    url = os.environ.get("WORKBENCH_HUB_DB") or os.environ.get("WORKBENCH_DB")
    if not url:
        raise SystemExit("deploy/add-staff: WORKBENCH_HUB_DB (or WORKBENCH_DB) must name the registry; "
                         "deploy/hub.env, written by `make hub`, sets it")
    if os.geteuid() != 0:
        raise SystemExit("deploy/add-staff: run it as root (it creates an OS account)")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    try:
        add_staff(args.login, args.role, registry_url=url, by=args.by, password=password,
                  display_name=args.display_name, group=os.environ.get("WORKBENCH_HUB_GROUP") or STAFF_GROUP)
    except (ValueError, RuntimeError) as err:
        raise SystemExit(f"deploy/add-staff: {err}") from None
    print(f"{args.login}: OS account, registry user ({args.role}) and database role ready"
          + ("" if password is not None else f"; set the password with `passwd {args.login}`"))


def _read_only_contents_manager():
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from tornado.web import HTTPError

    class ReadOnlyContentsManager(LargeFileManager):
        """The staff servers' contents: files can be read (the apps' notebooks), never written,
        renamed, copied or deleted through the server."""

        def _refuse(self, *args, **kwargs):
            raise HTTPError(403, "Staff servers do not change files.")

        save = new = new_untitled = copy = rename = rename_file = delete = delete_file = _refuse
        create_checkpoint = restore_checkpoint = delete_checkpoint = _refuse

    return ReadOnlyContentsManager


def __getattr__(name: str):
    if name == "ReadOnlyContentsManager":  # built on first use: importing this module stays light
        cls = _read_only_contents_manager()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
