"""Voila inside the workbench's Jupyter server, made fit for staff use.

`workbench.server` starts one Jupyter server (JupyterLab and Voila as a server extension, behind
the same login). This package is the Voila part of its configuration:

- :data:`JUPYTER_DATA` holds the ``workbench`` Voila template: Voila's ``lab`` template without
  the stylesheets and scripts it would fetch from CDNs (Font Awesome, mermaid), so that no page
  asks the internet for anything. It is found through ``JUPYTER_PATH``.
- ``WorkbenchKernelManager`` (the server's kernel manager class) gives the server extension what
  Voila 0.5 only gives its standalone ``voila`` command: a pool of preheated kernels per staff
  app, each having already run its notebook, so that an app opens in about a second. It also
  writes every error raised in a Voila kernel, with its traceback, to the server log, while the
  page shows none (``VoilaConfiguration.show_tracebacks=False``). Kernels whose browser tab is
  gone are culled by the kernel manager's ``cull_idle_timeout``.
- The module is also a Jupyter server extension: it makes Voila's pages use the MathJax bundled
  with Voila instead of MathJax from cdnjs; when the server starts it fills the pools; and it
  serves the websocket through which a preheated kernel learns its page's query string
  (``voila.utils.get_query_string()``); that route's path holds a per-server secret, known only
  to the server and the kernels it starts, because kernels cannot log in.

The class is built on first use (``workbench.voila_config.WorkbenchKernelManager``), so that
importing this package does not import Voila and Jupyter Server.

Examples
--------
>>> template = JUPYTER_DATA / "voila" / "templates" / TEMPLATE
>>> sorted(path.name for path in template.iterdir())
['conf.json', 'index.html.j2', 'page.html']
>>> any("https://" in path.read_text() for path in template.iterdir())
False
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import secrets
from pathlib import Path

__all__ = ["JUPYTER_DATA", "TEMPLATE", "WorkbenchKernelManager"]

#: A Jupyter data directory (for ``JUPYTER_PATH``) holding the ``workbench`` Voila template.
JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter_data"
#: The Voila template the staff apps are rendered with.
TEMPLATE = "workbench"

_KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_classes: dict[str, type] = {}


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "workbench.voila_config"}]


def _load_jupyter_server_extension(server_app) -> None:
    """Keep pages off MathJax's CDN; serve the preheated kernels' query-string websocket."""
    from jupyter_server.utils import url_path_join
    from voila.request_info_handler import RequestInfoSocketHandler

    # Voila's page config defaults to MathJax 2 from cdnjs; with both set to null its frontend
    # typesets with the MathJax 3 bundled in its own assets.
    server_app.web_app.settings["mathjax_url"] = None
    server_app.web_app.settings["mathjax_config"] = None
    secret = secrets.token_urlsafe(32)
    ws_base = url_path_join(server_app.base_url, "workbench-kernel-query", secret) + "/"
    route = url_path_join(ws_base, "voila/query", _KERNEL_ID)
    server_app.web_app.add_handlers(".*$", [(route, RequestInfoSocketHandler)])
    manager = server_app.kernel_manager
    if isinstance(manager, _kernel_manager_class()):
        manager._query_ws_base = ws_base
    elif manager.__class__.__name__ != "WorkbenchKernelManager":
        server_app.log.warning("workbench.voila_config: the kernel manager is %s, not WorkbenchKernelManager: "
                               "the staff apps get no preheated kernels and their errors are not logged",
                               type(manager).__name__)


async def _start_jupyter_server_extension(server_app) -> None:
    """Fill the pools of preheated kernels once the server's event loop runs."""
    manager = server_app.kernel_manager
    if isinstance(manager, _kernel_manager_class()):
        manager.start_pools(server_app)


def __getattr__(name: str):
    if name == "WorkbenchKernelManager":
        return _kernel_manager_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _kernel_manager_class() -> type:
    """Build (once) the kernel manager class; see the module docstring."""
    if "manager" in _classes:
        return _classes["manager"]

    from jupyter_server._tz import utcnow
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from jupyter_server.utils import url_path_join
    from traitlets import Integer, List, Unicode
    from voila.configuration import VoilaConfiguration
    from voila.notebook_renderer import NotebookRenderer
    from voila.paths import collect_template_paths
    from voila.server_extension import load_config_file
    from voila.utils import ENV_VARIABLE, get_page_config
    from voila.voila_kernel_manager import voila_kernel_manager_factory, wait_before

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
        """Jupyter Server's kernel manager with Voila's pools of preheated kernels.

        Voila 0.5 preheats kernels only in its standalone ``voila`` command: its
        ``VoilaKernelManager`` expects the standalone app as its parent. This subclass takes what it
        needs from the Jupyter server and the Voila configuration instead, preheats only the
        notebooks matching :attr:`preheat` (the staff apps), and logs the errors of every Voila
        kernel (see ``ErrorLoggingKernelManager``).
        """

        preheat = List(Unicode(), ["notebooks/apps/*.ipynb"], config=True,
                       help="Globs, relative to the server's root directory, of the notebooks that get "
                            "a pool of preheated kernels.")
        pool_size = Integer(1, config=True, help="Preheated kernels kept ready per notebook (0: none).")

        def __init__(self, **kwargs):
            # VoilaKernelManager.__init__ reads the standalone Voila app: skip it, set up its state.
            ErrorLoggingKernelManager.__init__(self, **kwargs)
            self._wait_at_startup = True
            self.notebook_data = {}
            self._pools = {}
            self.notebook_path = None
            self._server = None
            self._voila = None
            self._template_paths = []
            self._query_ws_base = None

        def start_pools(self, server_app) -> list[str]:
            """Start the pools for the notebooks matching :attr:`preheat`; return their paths."""
            self._server = server_app
            self._voila = VoilaConfiguration(parent=server_app)
            local_config = load_config_file()
            if local_config is not None:
                self._voila.update_config(local_config)
            if self.pool_size <= 0:
                return []
            self._template_paths = collect_template_paths(["voila", "nbconvert"], self._voila.template)
            root = Path(self.root_dir)
            names = sorted({path.relative_to(root).as_posix() for pattern in self.preheat
                            for path in root.glob(pattern)
                            if ".ipynb_checkpoints" not in path.parts and path.suffix == ".ipynb"})
            for name in names:
                self.fill_if_needed(delay=0, notebook_name=name)
            if names:
                self.log.info("Preheating %d kernel(s) for each of %s", self.pool_size, ", ".join(names))
            return names

        async def get_rendered_notebook(self, notebook_name, extra_kernel_env_variables=None, **kwargs):
            render_task, rendered, kernel_id = await super().get_rendered_notebook(
                notebook_name, extra_kernel_env_variables or {}, **kwargs)
            # A pooled kernel has looked idle since it ran its notebook: mark it active now, or the
            # culler may shut it down before the page that just took it connects to it.
            self.get_kernel(kernel_id).last_activity = utcnow()
            return render_task, rendered, kernel_id

        def get_pool_size(self, notebook_name: str) -> int:
            if self.pool_size <= 0 or self._server is None:
                return 0
            return super().get_pool_size(notebook_name)

        def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs):
            """Start kernels for ``notebook_name`` until its pool is full.

            ``extra_kernel_env_variables`` (Voila passes the URL of the request that took a kernel,
            token included) is deliberately not given to the next kernel: it belongs to another page.
            """
            if notebook_name is None or self._server is None or self.pool_size <= 0:
                return
            if not any(fnmatch.fnmatch(notebook_name, pattern) for pattern in self.preheat):
                return
            delay = self.fill_delay if delay is None else delay
            server = self._server
            env = {**os.environ,
                   ENV_VARIABLE.VOILA_PREHEAT: "True",
                   ENV_VARIABLE.VOILA_BASE_URL: server.base_url,
                   ENV_VARIABLE.VOILA_SERVER_URL: server.base_url,
                   ENV_VARIABLE.VOILA_APP_IP: server.ip or "127.0.0.1",
                   ENV_VARIABLE.VOILA_APP_PORT: str(server.port)}
            if self._query_ws_base:
                env[ENV_VARIABLE.VOILA_WS_BASE_URL] = self._query_ws_base
            pool = self._pools.setdefault(notebook_name, [])
            loop = asyncio.get_event_loop()
            for _ in range(self.pool_size - len(pool)):
                start = self._initialize(notebook_name, None, path=os.path.dirname(notebook_name), env=env)
                task = loop.create_task(wait_before(delay, start))
                task.add_done_callback(self._report_failed_preheat(notebook_name))
                pool.append(task)

        def _report_failed_preheat(self, notebook_name: str):
            def done(task):
                if not task.cancelled() and task.exception() is not None:
                    self.log.error("Could not preheat a kernel for %s: %s", notebook_name, task.exception())
                    pool = self._pools.get(notebook_name, [])
                    if task in pool:
                        pool.remove(task)
            return done

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

    WorkbenchKernelManager.__module__ = __name__
    _classes["manager"] = WorkbenchKernelManager
    return WorkbenchKernelManager
