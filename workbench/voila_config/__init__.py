"""Voila inside the workbench's Jupyter server, made fit for staff use.

`workbench.server` starts one Jupyter server (JupyterLab and Voila as a server extension, behind
the same login). This package is the Voila part of its configuration:

- :data:`JUPYTER_DATA` holds the ``workbench`` Voila template: Voila's ``lab`` template without
  the stylesheets and scripts it would fetch from CDNs (Font Awesome, mermaid), so that no page
  asks the internet for anything. It is found through ``JUPYTER_PATH``.
- ``WorkbenchKernelManager`` (the server's kernel manager class, :mod:`.pool`) keeps pools of
  preheated kernels per staff app, each having already run its notebook up to the point where it
  waits for its page, refilled as soon as a page takes one. It also writes every error raised in a
  Voila kernel, with its traceback, to the server log, while the page shows none
  (``VoilaConfiguration.show_tracebacks=False``). Kernels whose browser tab is gone are culled by
  the kernel manager's ``cull_idle_timeout``.
- The module is also a Jupyter server extension. It makes Voila's pages use the MathJax bundled
  with Voila instead of MathJax from cdnjs; it serves the websocket through which a preheated
  kernel learns its page's query string (``voila.utils.get_query_string()``; that route's path
  holds a per-server secret, known only to the server and the kernels it starts, because kernels
  cannot log in); when the server starts it fills the pools and, once they are full, prints the
  "ready" banner with the addresses; ``/workbench/status`` (behind the login) tells how full each
  pool is; and an app asked for while its kernels are all still starting gets a plain page saying
  so, which opens the app by itself as soon as a kernel is ready (never a blank page).

The classes are built on first use (``workbench.voila_config.WorkbenchKernelManager``), so that
importing this package does not import Voila and Jupyter Server.

Examples
--------
>>> template = JUPYTER_DATA / "voila" / "templates" / TEMPLATE
>>> sorted(path.name for path in template.iterdir())
['conf.json', 'index.html.j2', 'page.html']
>>> any("https://" in path.read_text() for path in template.iterdir())
False
>>> "应用正在启动" in starting_page(lang="zh", status_url="/workbench/status", app="notebooks/apps/a.ipynb")
True
"""

from __future__ import annotations

import html
import json
import os
import secrets
import signal
from pathlib import Path

__all__ = ["JUPYTER_DATA", "STATUS_PATH", "TEMPLATE", "WorkbenchKernelManager", "starting_page"]

#: A Jupyter data directory (for ``JUPYTER_PATH``) holding the ``workbench`` Voila template.
JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter_data"
#: The Voila template the staff apps are rendered with.
TEMPLATE = "workbench"
#: Where the server tells how full the pools are (JSON, behind the login).
STATUS_PATH = "workbench/status"

_KERNEL_ID = r"(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)"


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "workbench.voila_config"}]


def _load_jupyter_server_extension(server_app) -> None:
    """Keep pages off MathJax's CDN; serve the preheated kernels' query-string websocket and the status."""
    from jupyter_server.utils import url_path_join
    from voila.request_info_handler import RequestInfoSocketHandler

    # Voila's page config defaults to MathJax 2 from cdnjs; with both set to null its frontend
    # typesets with the MathJax 3 bundled in its own assets.
    server_app.web_app.settings["mathjax_url"] = None
    server_app.web_app.settings["mathjax_config"] = None
    secret = secrets.token_urlsafe(32)
    ws_base = url_path_join(server_app.base_url, "workbench-kernel-query", secret) + "/"
    route = url_path_join(ws_base, "voila/query", _KERNEL_ID)
    status = url_path_join(server_app.base_url, STATUS_PATH)
    server_app.web_app.add_handlers(".*$", [(route, RequestInfoSocketHandler), (status, _handlers()["status"])])
    manager = server_app.kernel_manager
    if isinstance(manager, _kernel_manager_class()):
        manager._query_ws_base = ws_base
    elif manager.__class__.__name__ != "WorkbenchKernelManager":
        server_app.log.warning("workbench.voila_config: the kernel manager is %s, not WorkbenchKernelManager: "
                               "the staff apps get no preheated kernels and their errors are not logged",
                               type(manager).__name__)


async def _start_jupyter_server_extension(server_app) -> None:
    """Once every extension is loaded and the event loop runs: stop cleanly on one SIGINT, serve
    the apps through :func:`_handlers`' page handler, and fill the pools."""
    # Jupyter Server handles SIGINT itself only when its stdin is a terminal; otherwise (a service,
    # `make run &`, the tests) SIGINT ends the event loop without shutting kernels down, and a
    # kernel still preheating keeps the process from exiting. One SIGINT stops it cleanly, always.
    signal.signal(signal.SIGINT, server_app._signal_stop)
    _use_app_handler(server_app)
    manager = server_app.kernel_manager
    if isinstance(manager, _kernel_manager_class()):
        manager.start_pools(server_app, on_ready=lambda names: _announce_ready(server_app, names))
    else:
        _announce_ready(server_app, [])


def _use_app_handler(server_app) -> None:
    """Put the workbench's page handler in place of Voila's for ``/voila/render/...``."""
    from voila.tornado.handler import TornadoVoilaHandler

    swapped = 0
    for host_rule in server_app.web_app.default_router.rules:
        for rule in getattr(host_rule.target, "rules", []):
            if rule.target is TornadoVoilaHandler:
                rule.target = _handlers()["app"]
                swapped += 1
    if not swapped:
        server_app.log.warning("workbench.voila_config: Voila's page handler was not found; apps asked for "
                               "while their kernels start wait on a blank page")


def _announce_ready(server_app, names: list[str]) -> None:
    """Print the addresses once the apps are ready (``make run`` says "ready" only then)."""
    token = getattr(getattr(server_app, "identity_provider", None), "token", "") or ""
    base = f"http://{server_app.ip}:{server_app.port}{server_app.base_url}".rstrip("/")
    query = f"?token={token}" if token else ""
    manager = server_app.kernel_manager
    failed = [name for name, s in getattr(manager, "pool_status", dict)().items() if s["ready"] == 0]
    lines = ["", "Ready." + (f" Preheated {manager.pool_size} kernel(s) for each staff app." if names else "")]
    if failed:
        lines.append(f"Not preheated (see the log above; they start on request): {', '.join(failed)}")
    lines.append(f"JupyterLab:  {base}/lab/tree/notebooks{query}")
    for name in names or ["notebooks/apps/<name>.ipynb"]:
        lines.append(f"Staff app:   {base}/voila/render/{name}{query}")
    lines.append("Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)
    server_app.log.info("workbench: the apps are ready")


def starting_page(*, lang: str, status_url: str, app: str) -> str:
    """The plain page shown while an app's kernels are still starting: it asks ``status_url`` every
    0.3 s and reloads itself (opening the app) once ``app`` has a ready kernel; without scripts it
    reloads every 3 s."""
    from workbench.i18n import t

    title, text = html.escape(t("app_starting_title", lang)), html.escape(t("app_starting_text", lang))
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="3"></noscript>
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 3em auto; max-width: 40em; color: #1f2933; }}
h1 {{ font-size: 1.5em; }}
p {{ font-size: 1.1em; }}
</style>
</head>
<body>
<main class="wb-starting" role="status" aria-live="polite">
<h1>{title}</h1>
<p>{text}</p>
</main>
<script>
(function () {{
  var status = {json.dumps(status_url)}, app = {json.dumps(app)};
  function poll() {{
    fetch(status, {{credentials: "same-origin", cache: "no-store"}})
      .then(function (r) {{ return r.ok ? r.json() : null; }})
      .then(function (s) {{
        var pool = s && s.apps && s.apps[app];
        if (!pool || pool.ready > 0) {{ window.location.reload(); }} else {{ setTimeout(poll, 300); }}
      }})
      .catch(function () {{ setTimeout(poll, 1000); }});
  }}
  setTimeout(poll, 300);
}})();
</script>
</body>
</html>
"""


def __getattr__(name: str):
    if name == "WorkbenchKernelManager":
        return _kernel_manager_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _kernel_manager_class() -> type:
    from workbench.voila_config.pool import kernel_manager_class

    return kernel_manager_class()


_handler_classes: dict[str, type] = {}


def _handlers() -> dict[str, type]:
    """Build (once) the request handlers: ``app`` (Voila's page handler, with the starting page)
    and ``status`` (the pools, as JSON)."""
    if _handler_classes:
        return _handler_classes
    import tornado.web
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from voila.tornado.handler import TornadoVoilaHandler

    from workbench.i18n import LANGUAGES

    def no_cache(handler) -> None:
        handler.set_header("Cache-Control", "no-cache, no-store, must-revalidate")

    class AppPageHandler(TornadoVoilaHandler):
        """Voila's page, or the "starting" page while every kernel of the app is still starting."""

        @tornado.web.authenticated
        async def get(self, path=None):
            manager = self.kernel_manager
            if getattr(manager, "is_starting", None) is not None and manager.is_starting(path):
                lang = self.get_argument("lang", "")
                if lang not in LANGUAGES:
                    lang = os.environ.get("WORKBENCH_LANG") if os.environ.get("WORKBENCH_LANG") in LANGUAGES else "zh"
                self.log.info("Served the starting page for %s: its kernels are still starting", path)
                no_cache(self)
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(starting_page(lang=lang, status_url=url_path_join(self.base_url, STATUS_PATH), app=path))
                return
            await super().get(path)

    class PoolStatusHandler(JupyterHandler):
        """``{"ready": bool, "apps": {notebook: {"size", "ready", "starting"}}}``: ``ready`` once every
        pool has been filled at start-up."""

        @tornado.web.authenticated
        def get(self):
            manager = self.kernel_manager
            no_cache(self)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"ready": bool(getattr(manager, "started", True)),
                                    "apps": manager.pool_status() if hasattr(manager, "pool_status") else {}}))

    _handler_classes.update(app=AppPageHandler, status=PoolStatusHandler)
    return _handler_classes
