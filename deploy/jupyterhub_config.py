"""JupyterHub configuration of the multi-staff workbench (``make hub``; README, "Multi-staff").

Each staff member signs in with their own OS account (PAM) and gets a single-user server run as
that account (LocalProcessSpawner). The registry is PostgreSQL over the Unix socket with peer
authentication: a staff server connects as the database role named like the OS account, so no
password is stored and nobody shares a login. What a server offers follows the person's registry
role (workbench.hub.server_args): the Voila apps only for social workers, counsellors and
doctors; JupyterLab for analysts and admins; no server for anyone who is not an active registry
user.

Settings (environment variables, written by deploy/setup-hub into deploy/hub.env):

WORKBENCH_DB          the registry as staff servers reach it, e.g.
                      postgresql:///workbench?host=/var/run/postgresql&port=5433 (no user: libpq
                      takes the OS account, and pg_hba's `local ... peer` checks it)
WORKBENCH_HUB_DB      the registry as the hub reads users' roles (the database owner's role,
                      reached as root through a pg_ident map); default WORKBENCH_DB
WORKBENCH_HUB_IP      address the hub listens on (default 127.0.0.1; anything else must sit
                      behind TLS, see README)
WORKBENCH_HUB_PORT    its port (default 8000)
WORKBENCH_HUB_STATE   folder of the hub's own state: cookie secret, its SQLite, proxy token
                      (default /var/lib/workbench-hub; created 0700)
WORKBENCH_HUB_INTERNAL_PORT, WORKBENCH_HUB_PROXY_API_PORT
                      the hub's and the proxy's internal loopback ports (default 8081, 8001)
WORKBENCH_HUB_GROUP   the OS group whose members may sign in (default workbench-staff)
WORKBENCH_POOL_SIZE   preheated kernels per app in each staff server (default 0)
WORKBENCH_LANG, WORKBENCH_TODAY
                      passed on to the apps
"""

import os
import secrets
import sys
from pathlib import Path

from workbench.hub import default_url, registry_role, server_args
from workbench.server import REPO, server_environment

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

env = os.environ
staff_db = env.get("WORKBENCH_DB", "")
if not staff_db.startswith("postgresql"):
    sys.exit("deploy/jupyterhub_config.py: WORKBENCH_DB must be the PostgreSQL registry "
             "(postgresql:///<db>?host=<socket folder>); run `make hub`")
hub_db = env.get("WORKBENCH_HUB_DB") or staff_db
state = Path(env.get("WORKBENCH_HUB_STATE") or "/var/lib/workbench-hub")
state.mkdir(mode=0o700, parents=True, exist_ok=True)
state.chmod(0o700)

# -- where the hub listens --------------------------------------------------------------------
c.JupyterHub.ip = env.get("WORKBENCH_HUB_IP") or "127.0.0.1"
c.JupyterHub.port = int(env.get("WORKBENCH_HUB_PORT") or 8000)
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env.get("WORKBENCH_HUB_INTERNAL_PORT") or 8081)
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env.get('WORKBENCH_HUB_PROXY_API_PORT') or 8001)}"
c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]  # Debian's node-configurable-http-proxy
# Debian's node finds its modules in /usr/share/nodejs by itself; another build of node (e.g.
# NodeSource's) is told where they are.
os.environ["NODE_PATH"] = os.pathsep.join(
    dict.fromkeys(p for p in [*os.environ.get("NODE_PATH", "").split(os.pathsep), "/usr/share/nodejs"] if p))
token_file = state / "proxy_token"
if not token_file.exists():
    token_file.touch(mode=0o600)
    token_file.write_text(secrets.token_hex(32))
c.ConfigurableHTTPProxy.auth_token = token_file.read_text().strip()
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# -- who signs in -----------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {env.get("WORKBENCH_HUB_GROUP") or "workbench-staff"}
c.PAMAuthenticator.open_sessions = False  # no login session (utmp, limits) for a web sign-in
c.PAMAuthenticator.check_account = True  # a locked or expired OS account cannot sign in

# -- each person's server ---------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.notebook_dir = str(REPO)
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
pool_size = int(env.get("WORKBENCH_POOL_SIZE") or 0)


async def pre_spawn_hook(spawner):
    """Decide the server by the registry role; refuse people who are not active registry users."""
    login = spawner.user.name
    role = registry_role(hub_db, login)
    if role is None:
        raise RuntimeError(f"{login} is not an active registry user: ask an admin to run deploy/add-staff")
    spawner.log.info("workbench: %s signs in with the registry role %s", login, role)
    spawner.args = server_args(role, pool_size=pool_size)
    spawner.default_url = default_url(role)
    keep = {key: env[key] for key in ("WORKBENCH_LANG", "WORKBENCH_TODAY") if env.get(key)}
    spawner.environment = {
        **server_environment({"JUPYTER_PATH": ""}, lang=keep.get("WORKBENCH_LANG")),
        **keep,
        "WORKBENCH_DB": staff_db,
    }


c.Spawner.pre_spawn_hook = pre_spawn_hook
