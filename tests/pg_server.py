"""A throw-away PostgreSQL server for the tests.

:class:`PostgresServer` makes a new cluster with the Debian server binaries
(``/usr/lib/postgresql/<version>/bin``) in a temporary directory, starts it on a free port on
127.0.0.1 with its unix socket in a private directory, and creates one database. It never touches
the machine's own clusters (``pg_lsclusters``) nor needs one to be running. Authentication is
``trust``, for the local socket and 127.0.0.1 only: the cluster lives as long as a test session.

With ``peer=True`` the cluster is reached over its Unix socket only, with peer authentication: an
OS account connects as the database role of the same name (as staff servers do behind
JupyterHub, ``deploy/``), and root as the superuser (``pg_ident.conf``). No TCP, no trust; the
socket folder is readable by every OS account so that staff accounts can reach it.

PostgreSQL refuses to run as root; as root the cluster belongs to the ``postgres`` OS user
(created by the Debian package) and ``initdb``/``pg_ctl`` run through ``runuser -u postgres --``.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["PostgresServer", "PostgresServerError", "find_pg_bin", "MISSING_BINARIES"]

MISSING_BINARIES = (
    "PostgreSQL server binaries not found: run `make test` "
    "(scripts/system-deps.sh installs the Debian package postgresql)"
)
_NEEDED = ("initdb", "pg_ctl", "postgres")
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_SERVICE_USER = "postgres"  # the OS user the Debian package creates; used only when we are root


class PostgresServerError(RuntimeError):
    """The test server could not be created, started or stopped."""


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name)) or (0,)


def find_pg_bin(pattern: str = _DEBIAN_BIN_GLOB) -> Path:
    """The newest directory matching ``pattern`` holding initdb, pg_ctl and postgres.

    ``WORKBENCH_PG_BIN`` overrides the search; on a machine other than Debian the binaries on
    ``PATH`` are used. Raises :class:`PostgresServerError` with :data:`MISSING_BINARIES` otherwise.
    """
    candidates = []
    if os.environ.get("WORKBENCH_PG_BIN"):
        candidates.append(os.environ["WORKBENCH_PG_BIN"])
    candidates += sorted(glob.glob(pattern), key=_version_key, reverse=True)
    if pattern == _DEBIAN_BIN_GLOB and shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for candidate in candidates:
        if all(os.access(Path(candidate, name), os.X_OK) for name in _NEEDED):
            return Path(candidate)
    raise PostgresServerError(MISSING_BINARIES)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a new server could listen on ``port`` now (as servers do, with SO_REUSEADDR: a
    connection of a stopped server still in TIME_WAIT does not hold the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _world_traversable(path: Path) -> bool:
    """Whether another OS user can reach ``path`` (every ancestor has the o+x bit)."""
    for folder in [path, *path.parents]:
        if not os.stat(folder).st_mode & 0o001:
            return False
    return True


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory; see the module docstring.

    Starts in the constructor; ``url`` is ``postgresql://<user>@127.0.0.1:<port>/<dbname>``.
    Call :meth:`stop` (or use it as a context manager) to stop it and delete its directory.
    """

    HOST = "127.0.0.1"

    def __init__(
        self,
        dbname: str = "workbench_test",
        user: str = "postgres",
        start_timeout: float = 30.0,
        bin_dir: str | os.PathLike | None = None,
        peer: bool = False,
    ) -> None:
        self.peer = peer
        self.bin_dir = Path(bin_dir) if bin_dir else find_pg_bin()
        self.dbname = dbname
        self.user = user  # the cluster's superuser (a database role, not an OS user)
        self.start_timeout = start_timeout
        self.as_root = os.geteuid() == 0
        self.port: int | None = None
        self.start_seconds: float | None = None
        self._running = False
        began = time.monotonic()
        self.base_dir = self._make_base_dir()
        atexit.register(self.stop)  # a server is never left behind by a session that forgot stop()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.log_file = self.base_dir / "server.log"
        try:
            self._initdb()
            self._start()
            self.create_database(dbname)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    # -- public ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str, user: str | None = None) -> str:
        """The URL of ``dbname`` as ``user`` (default the superuser); with ``peer=True`` an empty
        ``user`` leaves the role to libpq: the OS account that connects."""
        user = self.user if user is None else user
        if self.peer:
            return f"postgresql://{user + '@' if user else ''}/{dbname}?host={self.socket_dir}&port={self.port}"
        return f"postgresql://{user}@{self.HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        """A psycopg connection (autocommit) to ``dbname`` as the superuser."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir) if self.peer else self.HOST, port=self.port, user=self.user, dbname=dbname,
            connect_timeout=5, autocommit=True, sslmode="disable",
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique name if none given); returns its name."""
        from psycopg import sql

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name`` after ending every connection to it (e.g. an engine's pool)."""
        from psycopg import sql

        with self.connect() as conn:
            # Refuse new connections, end the open ones, then drop.
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name))
            )
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)

    def databases(self) -> list[str]:
        with self.connect() as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE NOT datistemplate").fetchall()
        return sorted(row[0] for row in rows)

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (fast shutdown, immediate if that hangs) and delete its directory."""
        atexit.unregister(self.stop)
        try:
            if self._running or (self.data_dir / "postmaster.pid").exists():
                for mode in ("fast", "immediate"):
                    result = self._run(
                        [self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", mode, "-w", "-t", "30"],
                        check=False, timeout=40,
                    )
                    if result.returncode == 0 or not (self.data_dir / "postmaster.pid").exists():
                        break
                self._running = False
        finally:
            if getattr(self, "base_dir", None) is not None:
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<PostgresServer {self.url if self.port else '-'} {state} in {self.base_dir}>"

    # -- internals ------------------------------------------------------------------------------

    def _make_base_dir(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if self.as_root and not _world_traversable(parent):
            parent = Path("/tmp")  # e.g. TMPDIR under /root, which the postgres user cannot reach
        base = Path(tempfile.mkdtemp(prefix="workbench-pg-", dir=parent))
        (base / "socket").mkdir(mode=0o700)
        if self.peer:  # other OS accounts (staff) reach the socket; peer authentication checks them
            os.chmod(base, 0o755)
            os.chmod(base / "socket", 0o755)
        if self.as_root:
            import pwd

            try:
                account = pwd.getpwnam(_SERVICE_USER)
            except KeyError:
                shutil.rmtree(base, ignore_errors=True)
                raise PostgresServerError(
                    f"Running as root, but there is no OS user {_SERVICE_USER!r} to run PostgreSQL as. "
                    + MISSING_BINARIES
                ) from None
            for path in (base, base / "socket"):
                os.chown(path, account.pw_uid, account.pw_gid)
        return base

    def _run(self, args, *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(arg) for arg in args]
        if self.as_root:
            command = ["runuser", "-u", _SERVICE_USER, "--", *command]
        # PG* variables of the caller (PGPORT, PGDATA, ...) must not steer the test cluster.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            result = subprocess.run(
                command, cwd=self.base_dir, env=env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise PostgresServerError(
                f"{' '.join(command)} did not finish in {timeout:.0f} s.\n--- server log ---\n{self.log()}"
            ) from error
        if check and result.returncode != 0:
            raise PostgresServerError(
                f"{' '.join(command)} failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n--- server log ---\n{self.log()}"
            )
        return result

    def _initdb(self) -> None:
        self._run(
            [self.bin_dir / "initdb", "-D", self.data_dir, "-U", self.user, "-A", "trust",
             "-E", "UTF8", "--no-locale", "--no-sync"],
            timeout=120,
        )
        if self.peer:
            import pwd

            superusers = {pwd.getpwuid(os.geteuid()).pw_name, self.user}  # root (or the caller), postgres
            (self.data_dir / "pg_ident.conf").write_text(
                "# Throw-away test cluster (tests/pg_server.py): root (or the test's account) is the\n"
                "# superuser; every other OS account is the role of its own name.\n"
                + "".join(f"tests {name} {self.user}\n" for name in sorted(superusers))
                + "tests /^(.*)$ \\1\n"
            )
            (self.data_dir / "pg_hba.conf").write_text(
                "# Throw-away test cluster (tests/pg_server.py): peer authentication on its socket only.\n"
                "local all all peer map=tests\n"
            )
            return
        # Trust, but only on the private socket and the loopback address.
        (self.data_dir / "pg_hba.conf").write_text(
            "# Throw-away test cluster (tests/pg_server.py): trust on the loopback only.\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n"
        )

    def _write_settings(self, port: int) -> None:
        settings = {
            "listen_addresses": "''" if self.peer else "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        # postgresql.auto.conf is read last, so these win over postgresql.conf; rewritten per try.
        (self.data_dir / "postgresql.auto.conf").write_text(
            "".join(f"{key} = {value}\n" for key, value in settings.items())
        )

    def _start(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        for attempt in range(3):
            self.port = free_port(self.HOST)
            self._write_settings(self.port)
            remaining = max(1, int(deadline - time.monotonic()))
            result = self._run(
                [self.bin_dir / "pg_ctl", "start", "-D", self.data_dir, "-l", self.log_file,
                 "-w", "-t", str(remaining)],
                check=False, timeout=remaining + 10,
            )
            if result.returncode == 0:
                self._running = True
                break
            # Someone took the port between free_port() and the bind: try another one.
            if attempt < 2 and re.search(r"could not bind|Address already in use", self.log()):
                self._run([self.bin_dir / "pg_ctl", "stop", "-D", self.data_dir, "-m", "immediate"],
                          check=False, timeout=40)
                continue
            raise PostgresServerError(
                f"PostgreSQL did not start on {self.HOST}:{self.port} (pg_ctl exit code "
                f"{result.returncode}; it waits {self.start_timeout:.0f} s at most):\n{result.stdout}{result.stderr}\n"
                f"--- server log {self.log_file} ---\n{self.log()}"
            )
        self._wait_until_accepting(deadline)

    def _wait_until_accepting(self, deadline: float) -> None:
        """Connect over TCP until it works: pg_ctl -w only says the postmaster is up."""
        import psycopg

        while True:
            try:
                with self.connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise PostgresServerError(
                        f"PostgreSQL on {self.HOST}:{self.port} accepts no connection after "
                        f"{self.start_timeout:.0f} s: {error}\n--- server log {self.log_file} ---\n{self.log()}"
                    ) from error
                time.sleep(0.1)
