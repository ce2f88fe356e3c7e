"""Pools of preheated kernels for the staff apps, inside the Jupyter server (see the package docstring).

Voila 0.5 keeps preheated kernels only in its standalone ``voila`` command, takes the *first* pool
entry even when it is still starting and a later one is ready, waits a second before refilling,
and calls a kernel ready as soon as it has started, before it has run its notebook. Here:

- a pool entry is ready when its kernel has run the notebook up to the point where it waits for
  its page (``voila.utils.get_query_string``), or to the end; the server fixture, the "ready"
  banner of ``make run`` and the "starting" page all use that meaning;
- a page takes a ready kernel when there is one, else the kernel furthest along;
- the pool refills at once, and at most :attr:`preheat_concurrency` kernels start together
  (one per CPU core by default: more only slows each down); when several apps wait for a slot,
  the app with the fewest ready kernels goes first, so that a crowd at one app does not starve
  the others, and at start-up every app gets its first kernel before any gets a second.

The class is built on first use (``workbench.voila_config.WorkbenchKernelManager``) so that
importing the package does not import Voila and Jupyter Server.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Callable

__all__ = ["kernel_manager_class"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_classes: dict[str, type] = {}


def _succeeded(task: asyncio.Future) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None


def kernel_manager_class() -> type:
    """Build (once) the server's kernel manager class."""
    if "manager" in _classes:
        return _classes["manager"]

    from jupyter_server._tz import utcnow
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from jupyter_server.utils import url_path_join
    from traitlets import Float, Integer, List, Unicode
    from voila.configuration import VoilaConfiguration
    from voila.notebook_renderer import NotebookRenderer
    from voila.paths import collect_template_paths
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.server_extension import load_config_file
    from voila.utils import ENV_VARIABLE, get_page_config
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    class ErrorLoggingKernelManager(AsyncMappingKernelManager):
        """Jupyter Server's kernel manager, logging every error raised in a Voila kernel."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._error_streams: dict = {}

        async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
            env = kwargs.get("env") or {}
            kernel_id = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
            if ENV_VARIABLE.VOILA_PREHEAT in env and kernel_id not in self._error_streams:
                self._log_errors_of(kernel_id, env.get(ENV_VARIABLE.SCRIPT_NAME, ""))
            return kernel_id

        def _log_errors_of(self, kernel_id: str, page: str) -> None:
            kernel = self.get_kernel(kernel_id)
            stream = kernel.connect_iopub()
            session = kernel.session

            def on_message(parts):
                _, parts = session.feed_identities(parts)
                message = session.deserialize(parts)
                if message["header"]["msg_type"] != "error":
                    return
                content = message["content"]
                where = page or self._app_of(kernel_id)
                trace = _ANSI.sub("", "\n".join(content.get("traceback") or []))
                self.log.error("Error in the Voila app %s (kernel %s), not shown to the user: %s: %s\n%s",
                               where, kernel_id, content.get("ename"), content.get("evalue"), trace)

            stream.on_recv(on_message)
            self._error_streams[kernel_id] = stream

        def _app_of(self, kernel_id: str) -> str:
            return "(unknown notebook)"

        def stop_watching_activity(self, kernel_id):
            stream = self._error_streams.pop(kernel_id, None)
            if stream is not None and not stream.closed():
                stream.close()
            super().stop_watching_activity(kernel_id)

    PooledBase = voila_kernel_manager_factory(ErrorLoggingKernelManager, True, 0)

    class WorkbenchKernelManager(PooledBase):
        """Jupyter Server's kernel manager with pools of preheated kernels for the staff apps.

        See :mod:`workbench.voila_config.pool` for how the pools differ from Voila's own.
        """

        preheat = List(Unicode(), ["notebooks/apps/*.ipynb"], config=True,
                       help="Globs, relative to the server's root directory, of the notebooks that get "
                            "a pool of preheated kernels.")
        pool_size = Integer(1, config=True, help="Preheated kernels kept ready per notebook (0: none).")
        preheat_concurrency = Integer(0, config=True,
                                      help="Kernels preheating at the same time (0: one per CPU core).")
        ready_timeout = Float(300, config=True,
                              help="Seconds a preheating kernel may take to run its notebook; after that it "
                                   "is used as it is and the delay is logged.")
        page_grace = Float(120, config=True,
                           help="Seconds a kernel handed to a page is kept, however short the culling "
                                "timeout, until that page connects to it (a slow browser on a busy "
                                "machine may take longer than cull_idle_timeout to connect).")

        def __init__(self, **kwargs):
            # VoilaKernelManager.__init__ reads the standalone Voila app: skip it, set up its state.
            ErrorLoggingKernelManager.__init__(self, **kwargs)
            self._wait_at_startup = True
            self.notebook_data = {}
            self._pools: dict[str, list[asyncio.Task]] = {}
            self.notebook_path = None
            self._server = None
            self._voila = None
            self._template_paths = []
            self._query_ws_base = None
            self._apps: list[str] = []
            self._running = 0  # kernels preheating now
            self._waiting: list[tuple[str, asyncio.Future]] = []  # (notebook, future) waiting for a slot
            self._unclaimed: dict[str, dict] = {}  # kernel id -> render of a pooled kernel no page has taken
            self._handed: dict[str, float] = {}  # kernel id -> when a page took it (until it connects)
            self.started = False  # every app's pool filled once (or given up)

        # --- the pools -----------------------------------------------------------------------

        def start_pools(self, server_app, on_ready: Callable[[list[str]], None] | None = None) -> list[str]:
            """Start the pools for the notebooks matching :attr:`preheat`; return their paths.

            ``on_ready(names)`` is called once every pool has been filled (at once without pools).
            """
            self._server = server_app
            self._voila = VoilaConfiguration(parent=server_app)
            local_config = load_config_file()
            if local_config is not None:
                self._voila.update_config(local_config)
            self._template_paths = collect_template_paths(["voila", "nbconvert"], self._voila.template)
            root = Path(self.root_dir)
            names = sorted({path.relative_to(root).as_posix() for pattern in self.preheat
                            for path in root.glob(pattern)
                            if ".ipynb_checkpoints" not in path.parts and path.suffix == ".ipynb"})
            self._apps = names if self.pool_size > 0 else []
            for _ in range(self.pool_size):  # round by round: every app gets a kernel before any gets two
                for name in self._apps:
                    self._add_to_pool(name)
            if self._apps:
                self.log.info("Preheating %d kernel(s) for each of %s, %d at a time", self.pool_size,
                              ", ".join(self._apps), self._concurrency())
            first = [task for name in self._apps for task in self._pools.get(name, [])]
            asyncio.ensure_future(self._announce_when_ready(first, on_ready))
            return list(self._apps)

        async def _announce_when_ready(self, tasks, on_ready) -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            self.started = True
            if on_ready is not None:
                on_ready(list(self._apps))

        def pool_status(self) -> dict[str, dict[str, int]]:
            """Per preheated notebook: the pool's size, its ready kernels and those starting."""
            status = {}
            for name in self._apps:
                pool = self._pools.get(name, [])
                ready = sum(_succeeded(task) for task in pool)
                status[name] = {"size": self.pool_size, "ready": ready, "starting": len(pool) - ready}
            return status

        def is_starting(self, notebook_name: str | None) -> bool:
            """True when ``notebook_name`` has preheating kernels but none ready: a page asking for it
            now gets the "starting" page rather than a blank one."""
            pool = self._pools.get(notebook_name or "", [])
            return notebook_name in self._apps and bool(pool) and not any(_succeeded(task) for task in pool)

        def get_pool_size(self, notebook_name: str) -> int:
            if self.pool_size <= 0 or self._server is None:
                return 0
            return super().get_pool_size(notebook_name)

        def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs):
            """Start kernels for ``notebook_name`` until its pool is full (at once: ``delay`` is ignored).

            ``extra_kernel_env_variables`` (Voila passes the URL of the request that took a kernel,
            token included) is deliberately not given to the next kernel: it belongs to another page.
            """
            if notebook_name not in self._apps:
                return
            pool = self._pools.setdefault(notebook_name, [])
            for _ in range(self.pool_size - len(pool)):
                self._add_to_pool(notebook_name)

        def _add_to_pool(self, notebook_name: str) -> None:
            task = asyncio.get_event_loop().create_task(self._preheat(notebook_name))
            task.add_done_callback(self._report_failed_preheat(notebook_name))
            self._pools.setdefault(notebook_name, []).append(task)

        async def get_rendered_notebook(self, notebook_name, extra_kernel_env_variables=None, **kwargs):
            """A ready kernel of the pool if there is one, else the one furthest along; refill at once."""
            pool = self._pools.get(notebook_name, [])
            if not pool:
                raise RuntimeError(f"Kernel pool for {notebook_name} is empty!")
            ready = [task for task in pool if _succeeded(task)]
            taken = ready[0] if ready else pool[0]
            pool.remove(taken)
            self.fill_if_needed(notebook_name=notebook_name)
            content = await taken
            renderer, kernel_id = content["renderer"], content["kernel_id"]
            self._unclaimed.pop(kernel_id, None)
            renderer.stop_generator = True
            self.log.info("Using pre-heated kernel: %s for %s%s", kernel_id, notebook_name,
                          "" if ready else " (waited for it to finish preheating)")
            # A pooled kernel has looked idle since it ran its notebook: mark it active now, or the
            # culler may shut it down before the page that just took it connects to it.
            self.get_kernel(kernel_id).last_activity = utcnow()
            self._handed[kernel_id] = time.monotonic()
            return content["task"], renderer.rendered_cache, kernel_id

        async def cull_kernel_if_idle(self, kernel_id):
            """Jupyter's culling, except for a kernel a page has taken but not yet connected to
            (for up to ``page_grace`` seconds): with a short ``cull_idle_timeout`` on a busy
            machine the page would otherwise find its kernel gone."""
            taken = self._handed.get(kernel_id)
            if taken is not None:
                if self._kernel_connections.get(kernel_id, 0) == 0 and time.monotonic() - taken < self.page_grace:
                    return None
                del self._handed[kernel_id]
            return await super().cull_kernel_if_idle(kernel_id)

        async def shutdown_all(self, *args, **kwargs):
            """Stop refilling, cancel the kernels still preheating, then shut every kernel down.

            (Voila's own version awaits each pool entry first, which never ends for an entry still
            waiting for its turn to start.)"""
            pools, self._pools, self._apps = self._pools, {}, []
            pending = [task for pool in pools.values() for task in pool]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            renders, self._unclaimed = list(self._unclaimed.values()), {}
            for content in renders:  # no page will read these: stop them and their kernel clients,
                content["task"].cancel()  # whose heartbeat threads would keep the server from exiting
                executor = getattr(content["renderer"], "executor", None)
                if getattr(executor, "kc", None) is not None:
                    executor.kc.stop_channels()
            await asyncio.gather(*(content["task"] for content in renders), return_exceptions=True)
            for value in self.notebook_data.values():
                value["kernel_ids"] = set()
            await ErrorLoggingKernelManager.shutdown_all(self, *args, **kwargs)

        # --- preheating one kernel -----------------------------------------------------------

        def _kernel_environment(self) -> dict[str, str]:
            server = self._server
            env = {**os.environ,
                   ENV_VARIABLE.VOILA_PREHEAT: "True",
                   ENV_VARIABLE.VOILA_BASE_URL: server.base_url,
                   ENV_VARIABLE.VOILA_SERVER_URL: server.base_url,
                   ENV_VARIABLE.VOILA_APP_IP: server.ip or "127.0.0.1",
                   ENV_VARIABLE.VOILA_APP_PORT: str(server.port)}
            if self._query_ws_base:
                env[ENV_VARIABLE.VOILA_WS_BASE_URL] = self._query_ws_base
            return env

        async def _preheat(self, notebook_name: str) -> dict:
            """Start a kernel for ``notebook_name`` and run the notebook until it waits for its page."""
            loop = asyncio.get_event_loop()
            asked = loop.time()
            await self._take_slot(notebook_name)
            started = loop.time()
            try:
                content = await self._initialize(notebook_name, None, path=os.path.dirname(notebook_name),
                                                 env=self._kernel_environment())
                self._unclaimed[content["kernel_id"]] = content
                await self._until_ready(notebook_name, content)
            finally:
                self._give_slot()
            self.log.info("Preheated a kernel for %s in %.1f s (after %.1f s waiting for a slot)", notebook_name,
                          loop.time() - started, started - asked)
            return content

        async def _until_ready(self, notebook_name: str, content: dict) -> None:
            loop = asyncio.get_event_loop()
            kernel_id, render = content["kernel_id"], content["task"]
            deadline = loop.time() + self.ready_timeout
            while not render.done() and kernel_id not in RequestInfoSocketHandler._waiters:
                if loop.time() > deadline:
                    self.log.warning("A kernel for %s has not finished its notebook after %s s; it is used as it is",
                                     notebook_name, self.ready_timeout)
                    return
                await asyncio.sleep(0.05)
            if render.done() and not render.cancelled() and render.exception() is not None:
                raise render.exception()

        def _concurrency(self) -> int:
            return self.preheat_concurrency if self.preheat_concurrency > 0 else (os.cpu_count() or 1)

        def _ready_count(self, notebook_name: str) -> int:
            return sum(_succeeded(task) for task in self._pools.get(notebook_name, []))

        async def _take_slot(self, notebook_name: str) -> None:
            if self._running < self._concurrency() and not self._waiting:
                self._running += 1
                return
            turn = asyncio.get_event_loop().create_future()
            entry = (notebook_name, turn)
            self._waiting.append(entry)
            try:
                await turn
            except asyncio.CancelledError:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                elif turn.done() and not turn.cancelled():
                    self._give_slot()  # the slot was handed to us: pass it on
                raise

        def _give_slot(self) -> None:
            """Hand the slot to the waiting notebook with the fewest ready kernels (first come first
            among equals), or free it."""
            while self._waiting:
                index = min(range(len(self._waiting)), key=lambda i: (self._ready_count(self._waiting[i][0]), i))
                _, turn = self._waiting.pop(index)
                if not turn.done():
                    turn.set_result(None)
                    return
            self._running -= 1

        def _report_failed_preheat(self, notebook_name: str):
            def done(task):
                if task.cancelled():
                    return
                if task.exception() is not None:
                    self.log.error("Could not preheat a kernel for %s: %s", notebook_name, task.exception())
                    pool = self._pools.get(notebook_name, [])
                    if task in pool:
                        pool.remove(task)
            return done

        # --- what Voila's own pool takes from its standalone app ------------------------------

        def _notebook_renderer_factory(self, notebook_path=None):
            server = self._server
            settings = server.web_app.settings
            page_config = get_page_config(base_url=server.base_url, settings=settings, log=self.log,
                                          voila_configuration=self._voila)
            return NotebookRenderer(
                voila_configuration=self._voila, traitlet_config=server.config, notebook_path=notebook_path,
                template_paths=self._template_paths, config_manager=server.config_manager,
                contents_manager=server.contents_manager, base_url=server.base_url,
                kernel_spec_manager=server.kernel_spec_manager, page_config=page_config,
                mathjax_config=settings.get("mathjax_config"), mathjax_url=settings.get("mathjax_url"))

        def _app_of(self, kernel_id: str) -> str:
            name = self._get_notebook_from_kernel(kernel_id)
            return url_path_join(self._server.base_url if self._server else "/", "voila/render", name) if name \
                else "(unknown notebook)"

    WorkbenchKernelManager.__module__ = "workbench.voila_config"
    _classes["manager"] = WorkbenchKernelManager
    return WorkbenchKernelManager

