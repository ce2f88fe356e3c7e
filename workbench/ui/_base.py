"""What every staff app shares: the page language, interface strings, the app frame with its
language switch and larger-text mode, and messages shown beside a field instead of tracebacks."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
from typing import Callable
from urllib.parse import parse_qs

import ipywidgets as w
import pandas as pd

from workbench.i18n import LANGUAGES, t

__all__ = ["App", "DEFAULT_LANGUAGE", "FieldMessage", "StaffGate", "app_language", "guarded", "page_query", "signed_in_user",
           "working_date"]

log = logging.getLogger("workbench.ui")

#: The language of an app when neither the page (``?lang=``) nor ``WORKBENCH_LANG`` says:
#: Chinese, the language of most community staff.
DEFAULT_LANGUAGE = "zh"

#: Styles of the apps: larger text and controls in "large" mode, a visible keyboard focus,
#: the safety banner, alert rows. Colours keep a contrast ratio of at least 4.5:1 on white.
STYLE = """
<style>
.wb-app { font-size: 15px; max-width: 1100px; }
.wb-app.wb-large { font-size: 20px; }
.wb-app.wb-large .widget-label, .wb-app.wb-large input, .wb-app.wb-large select, .wb-app.wb-large button,
.wb-app.wb-large textarea, .wb-app.wb-large .widget-html-content, .wb-app.wb-large .widget-radio-box label
  { font-size: 20px !important; line-height: 1.4 !important; }
.wb-app.wb-large .jupyter-button, .wb-app.wb-large .widget-dropdown select, .wb-app.wb-large .widget-text input
  { min-height: 44px; height: auto; }
.wb-app :focus-visible { outline: 3px solid #1f4e9c !important; outline-offset: 2px; }
.wb-app h1 { font-size: 1.6em; margin: 0.2em 0; }
.wb-app h2 { font-size: 1.3em; margin: 0.6em 0 0.2em; }
.wb-message { color: #a3000b; font-weight: 600; }
.wb-message.wb-ok { color: #135e1e; }
.wb-message.wb-info { color: #1f3a5c; }
.wb-banner { background: #a3000b; color: #fff; padding: 0.8em 1em; border-radius: 6px; font-size: 1.15em; }
.wb-banner strong { font-size: 1.2em; }
.wb-card { border: 2px solid #5a6b7d; border-radius: 6px; padding: 0.6em 1em; background: #f7f9fb; }
.wb-card.wb-tier-3 { border-color: #a3000b; background: #fff4f4; }
.wb-card.wb-tier-2 { border-color: #8a5300; background: #fffaf0; }
.wb-card.wb-tier-1 { border-color: #135e1e; background: #f3fbf4; }
.wb-card-table th { text-align: left; vertical-align: top; padding: 0.15em 1em 0.15em 0; white-space: nowrap; }
.wb-card-table td { padding: 0.15em 0; }
.wb-table { border-collapse: collapse; width: 100%; }
.wb-table th, .wb-table td { border-bottom: 1px solid #c5ccd3; padding: 0.3em 0.5em; text-align: left; }
.wb-table tr.wb-alert td, .wb-table tr.wb-alert th { background: #fde2e2; font-weight: 600; }
.wb-table .wb-nowrap { white-space: nowrap; }
.wb-table tr.wb-muted td, .wb-table tr.wb-muted th { color: #56606b; }
.wb-quality h3 { font-size: 1.1em; margin: 0.9em 0 0.2em; }
.wb-definition { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 1em; margin: 0.3em 0; }
.wb-definition dt { font-weight: 600; } .wb-definition dd { margin: 0; }
.wb-app input[type=date] { min-width: 10em; }
.wb-table caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
</style>
"""


_page_request: dict[str, str] = {}


def _wait_for_page() -> None:
    """A preheated kernel waits here until a page takes it; the page's request (query string, URL)
    then arrives from the server and is put in the environment.

    This is what ``voila.utils.get_query_string`` does, without importing Voila's server side into
    the kernel (``voila.utils`` pulls in Jupyter Server and JupyterLab Server: 1.6 s of every
    preheated kernel's start, where this takes 0.07 s). Waits once per kernel.
    """
    if _page_request:
        return
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    env = os.environ
    base = env.get("VOILA_WS_BASE_URL") or env.get("VOILA_SERVER_URL") or "/"
    url = (f"{env.get('VOILA_WS_PROTOCOL', 'ws')}://{env.get('VOILA_APP_IP', '127.0.0.1')}:"
           f"{env.get('VOILA_APP_PORT', '8866')}{base}voila/query/{env.get('VOILA_KERNEL_ID', '')}")
    try:
        with connect(url, open_timeout=30, max_size=2**20) as socket:
            received = json.loads(socket.recv())
    except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
        log.warning("The page's request did not reach this kernel (%s): the app starts without its query", exc)
        _page_request["failed"] = str(exc)
        return
    _page_request.update({str(k): str(v) for k, v in received.items()})
    env.update(_page_request)


def page_query() -> dict[str, str]:
    """The page's URL query parameters (first value of each) as Voila passes them to the kernel.

    With preheated kernels Voila hands the request over only when a page claims the kernel, so
    this waits for it (:func:`_wait_for_page`); without Voila (JupyterLab, tests) the query is
    empty unless ``QUERY_STRING`` is set.

    Examples
    --------
    >>> import os
    >>> os.environ["QUERY_STRING"] = "lang=en&x=1"
    >>> page_query()
    {'lang': 'en', 'x': '1'}
    >>> del os.environ["QUERY_STRING"]
    """
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        _wait_for_page()
    query = os.environ.get("QUERY_STRING", "")
    return {key: values[0] for key, values in parse_qs(query).items() if values}


def app_language(default: str | None = None) -> str:
    """The language an app starts in: ``?lang=`` of the page, else ``default``, else the
    ``WORKBENCH_LANG`` setting, else Chinese. An unknown code falls back, never fails.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("WORKBENCH_LANG", None) and None
    >>> app_language()
    'zh'
    >>> os.environ["QUERY_STRING"] = "lang=en"
    >>> app_language()
    'en'
    >>> os.environ["QUERY_STRING"] = "lang=fr"
    >>> app_language(default="en")
    'en'
    >>> del os.environ["QUERY_STRING"]
    """
    wanted = page_query().get("lang")
    for lang in (wanted, default, os.environ.get("WORKBENCH_LANG"), DEFAULT_LANGUAGE):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


class FieldMessage(w.HTML):
    """A message shown beside a field: an error (red), a success (green) or information.

    Examples
    --------
    >>> m = FieldMessage()
    >>> m.error("Birth date must be a date")
    >>> "wb-message" in m.value and "Birth date" in m.value
    True
    >>> m.clear(); m.value
    ''
    """

    def __init__(self, **kwargs):
        super().__init__(value="", **kwargs)

    def _show(self, text: str, kind: str) -> None:
        role = "alert" if kind == "" else "status"
        self.value = f'<div class="wb-message {kind}" role="{role}">{html.escape(text)}</div>'

    def error(self, text: str) -> None:
        self._show(text, "")

    def ok(self, text: str) -> None:
        self._show(text, "wb-ok")

    def info(self, text: str) -> None:
        self._show(text, "wb-info")

    def clear(self) -> None:
        self.value = ""

    @property
    def text(self) -> str:
        """The message without markup (for tests)."""
        import re

        return html.unescape(re.sub(r"<[^>]+>", "", self.value))


def guarded(message: FieldMessage, lang: Callable[[], str]):
    """Decorate a widget callback so an unexpected error is logged with its traceback (server
    side) and the person sees one plain sentence in ``message`` instead of a traceback."""
    def decorate(fn):
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the app must never show a traceback
                log.exception("Unexpected error in %s", getattr(fn, "__qualname__", fn))
                message.error(t("unexpected_error", lang()))
        run.__wrapped__ = fn
        return run
    return decorate


class App(w.VBox):
    """The frame of a staff app: title, language switch, larger-text switch, and a body.

    ``build(lang)`` returns the body's children; it is called again when the language changes.
    Components that keep state (a half-filled form) implement ``set_language(lang)`` instead and
    are kept: the frame calls it on every child that has it.

    Examples
    --------
    >>> app = App("screening_title", lambda lang: [w.HTML(t("female", lang))], lang="en")
    >>> app.title.value
    '<h1>Screening station</h1>'
    >>> app.language.value = "zh"
    >>> app.body.children[0].value, app.title.value
    ('女', '<h1>筛查工作站</h1>')
    >>> app.large_text.value = True
    >>> "wb-large" in app._dom_classes
    True
    """

    def __init__(self, title_key: str, build: Callable[[str], list], *, lang: str | None = None):
        self.lang = lang or app_language()
        self._title_key, self._build = title_key, build
        self.title = w.HTML()
        self.language = w.ToggleButtons(options=[("中文", "zh"), ("English", "en")], value=self.lang,
                                        style={"button_width": "auto"})
        self.large_text = w.ToggleButton(value=False, icon="")
        self.body = w.VBox()
        header = w.HBox([self.title, w.HBox([self.language, self.large_text])],
                        layout=w.Layout(justify_content="space-between", align_items="center", flex_flow="row wrap"))
        super().__init__([w.HTML(STYLE), header, self.body])
        self.add_class("wb-app")
        self._relabel()
        self.body.children = list(build(self.lang))
        self.language.observe(self._on_language, "value")
        self.large_text.observe(self._on_large, "value")

    def _relabel(self) -> None:
        self.title.value = f"<h1>{html.escape(t(self._title_key, self.lang))}</h1>"
        self.language.description = t("language", self.lang)
        self.large_text.description = t("larger_text", self.lang)
        self.large_text.tooltip = t("larger_text", self.lang)

    def _on_language(self, change) -> None:
        self.lang = change["new"]
        self._relabel()
        children = self.body.children
        if children and all(hasattr(c, "set_language") for c in children):
            for child in children:
                child.set_language(self.lang)
        else:
            self.body.children = list(self._build(self.lang))

    def _on_large(self, change) -> None:
        (self.add_class if change["new"] else self.remove_class)("wb-large")


def working_date() -> dt.date:
    """The apps' working day: ``WORKBENCH_TODAY`` (YYYY-MM-DD) when set, for workshops on the
    sample data, else the machine's date.

    Examples
    --------
    >>> import os
    >>> os.environ["WORKBENCH_TODAY"] = "2025-09-30"
    >>> working_date()
    datetime.date(2025, 9, 30)
    >>> del os.environ["WORKBENCH_TODAY"]
    """
    text = os.environ.get("WORKBENCH_TODAY", "").strip()
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"WORKBENCH_TODAY must be a date YYYY-MM-DD. Got {text!r} instead.") from None
    return dt.date.today()


def signed_in_user() -> str | None:
    """Who the server says is signed in: ``JUPYTERHUB_USER`` (the JupyterHub login of the person
    whose single-user server this is) or ``WORKBENCH_USER`` (the registry user the one-person
    server acts as, set by ``make run`` at start). None when neither is set."""
    for name in ("JUPYTERHUB_USER", "WORKBENCH_USER"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class StaffGate(w.VBox):
    """The app (``start(user, lang)`` builds it) under the person the server says is signed in;
    no name is offered to choose.

    Behind JupyterHub the person is ``JUPYTERHUB_USER``, mapped to the registry user whose
    ``login`` it is (else the one of that name with no other login); on the one-person server
    (``make run``) it is ``WORKBENCH_USER``, the registry user the server was started for. That
    user must be active and have one of ``roles``; otherwise the gate says so in one sentence and
    the app does not start.

    Examples
    --------
    >>> import os, pandas as pd
    >>> class FakeRegistry:
    ...     def users(self):
    ...         return pd.DataFrame({"name": ["li", "zhang"], "role": ["counsellor", "social_worker"],
    ...                              "display_name": ["Li", None], "active": [True, True], "login": ["li", None]})
    ...     def user_for_login(self, login):
    ...         return {"li": "li"}.get(login)
    >>> os.environ.pop("JUPYTERHUB_USER", None); os.environ["WORKBENCH_USER"] = "li"
    >>> gate = StaffGate(FakeRegistry(), roles={"counsellor"}, lang="en", start=lambda user, lang: w.HTML(user))
    >>> gate.user, gate.children[0].value
    ('li', 'li')
    >>> os.environ["WORKBENCH_USER"] = "zhang"
    >>> StaffGate(FakeRegistry(), roles={"counsellor"}, lang="en", start=lambda user, lang: w.HTML(user)).message.text
    'zhang is a social_worker: this app is for counsellor only.'
    >>> del os.environ["WORKBENCH_USER"]
    """

    def __init__(self, registry, *, roles: set[str], lang: str, start: Callable[[str, str], w.Widget]):
        self.registry, self.roles, self.lang, self._start = registry, set(roles), lang, start
        self.user: str | None = None
        self.app: w.Widget | None = None
        self.message = FieldMessage()
        super().__init__([self.message])
        hub = os.environ.get("JUPYTERHUB_USER", "").strip()
        server = os.environ.get("WORKBENCH_USER", "").strip()
        if not hub and not server:
            self.message.error(t("nobody_signed_in", lang))
            return
        try:
            user = registry.user_for_login(hub) if hub else server
            staff = registry.users()
        except Exception:  # noqa: BLE001 - no registry, or not set up: say so, log the details
            log.exception("The registry %r cannot be read", registry)
            self.message.error(t("registry_unavailable", lang))
            return
        if user is None or user not in set(staff["name"]):
            self.message.error(t("unknown_login", lang).format(login=hub or server))
            return
        self.begin(user, staff.set_index("name").loc[user])

    def set_language(self, lang: str) -> None:
        self.lang = lang
        if self.app is not None and hasattr(self.app, "set_language"):
            self.app.set_language(lang)

    def begin(self, user: str, record) -> bool:
        if not bool(record["active"]):
            self.message.error(t("no_longer_active", self.lang).format(user=user))
            return False
        if record["role"] not in self.roles:
            self.message.error(t("not_allowed_here", self.lang).format(
                user=user, role=record["role"], roles=", ".join(sorted(self.roles))))
            return False
        self.user = user
        self.app = self._start(user, self.lang)
        self.children = [self.app]
        return True
