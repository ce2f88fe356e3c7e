"""Voila served for staff (issue 7): login, no internet, errors hidden but logged, culling,
preheated kernels that still see their page's query string, the apps' language, the pools and the
"starting" page (issue 12). How long staff wait is measured by ``benchmarks/bench_apps.py``.

The apps here are the test-only notebooks of tests/e2e/fixtures (see conftest.py)."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.slow


def _probe(app) -> dict:
    return json.loads(app.text("#probe"))


def test_an_app_needs_the_login(server, open_app):
    path = server.app_path("probe")
    status, headers, _ = server.get(server.url(path, token=False))
    assert status == 302 and "/login" in headers["Location"]
    assert server.get(server.url(path, token=False) + "?token=wrong")[0] == 302

    app = open_app("probe", token=False, wait_for=None)
    app.page.wait_for_url("**/login**")
    assert app.page.locator("input[type=password]").count() >= 1  # the token field
    app = open_app("probe")
    assert "/voila/render/" in app.page.url and app.text(".probe-button")


def test_preheated_kernel_sees_the_query_string_and_the_default_language(server, open_app):
    app = open_app("probe", lang="en")
    probe = _probe(app)
    assert probe["preheated"] == "True"  # a preheated kernel took the page...
    assert probe["lang"] == "en" and probe["query"] == ["lang"]  # ...and got its query string
    assert probe["env_lang"] == "zh"  # WORKBENCH_LANG's default for staff installs
    assert probe["db"] == server.registry_url
    assert app.text(".probe-button") == "Hello"

    app = open_app("probe")
    assert _probe(app)["lang"] == "zh" and app.text(".probe-button") == "你好"
    app.page.click(".probe-button")  # the page talks to its kernel
    app.page.wait_for_function("document.body.innerText.includes('\\n1')")
    assert app.problems() == []


def test_a_kernel_started_on_request_sees_the_query_string_too(open_app):
    probe = _probe(open_app("probe", lang="en", folder="notebooks/cold"))
    assert probe["preheated"] == "False" and probe["lang"] == "en"


def test_the_apps_read_the_registry_copy(server, open_app):
    from workbench.sample import SAMPLE_N, sample_registry_url

    assert server.registry_url != sample_registry_url()
    app = open_app("registry", wait_for="#residents")
    assert int(app.text("#residents")) == SAMPLE_N


def test_nothing_is_fetched_from_the_internet(server, open_app):
    apps = [open_app("probe", lang="en"), open_app("broken", wait_for=".fail-button"),
            open_app("probe", folder="notebooks/cold"),
            open_app("missing", wait_for="body")]  # Voila's error page
    for app in apps:
        assert app.external_requests == [], app.url
    # Font Awesome comes from Voila's own assets: the button's icon has a glyph.
    icon = apps[0].page.locator(".probe-button i")
    family = icon.evaluate("e => getComputedStyle(e, '::before').fontFamily")
    glyph = icon.evaluate("e => getComputedStyle(e, '::before').content")
    assert "Font Awesome" in family and glyph not in ("none", "normal", '""')
    status, _, body = server.get(server.url(server.app_path("probe"), lang="en"))
    assert status == 200 and "cdn." not in body and "cdnjs" not in body


def test_errors_are_hidden_from_the_page_but_logged(server, open_app):
    mark = server.log_mark()
    app = open_app("broken", wait_for=".fail-button")
    text = app.text()
    assert "render failure marker" not in text and "Traceback" not in text
    assert "SECRET_SOURCE_MARKER" not in app.page.content()  # sources are stripped
    app.page.click(".fail-button")
    log = server.wait_for_log("callback failure marker 7a1", since=mark)
    assert "RuntimeError: callback failure marker 7a1" in log and "Traceback" in log
    assert "raise RuntimeError" in log  # the traceback itself, for whoever reads the log
    assert "render failure marker 3c9" in server.log()  # logged when the kernel ran the notebook
    time.sleep(0.5)
    assert "callback failure marker" not in app.text()


def test_a_closed_tab_does_not_leak_its_kernel(server, open_app):
    closed = open_app("probe")
    kept = open_app("probe", folder="notebooks/cold")
    closed_id, kept_id = (app.page.evaluate("JSON.parse(document.getElementById('jupyter-config-data')"
                                            ".textContent).kernelId") for app in (closed, kept))
    kernels = server.kernels()
    assert closed_id in kernels and kept_id in kernels
    closed.page.context.close()
    deadline = time.monotonic() + server.cull_idle_timeout + 15
    while closed_id in server.kernels():
        assert time.monotonic() < deadline, "the closed tab's kernel was not culled"
        time.sleep(0.5)
    assert kept_id in server.kernels()  # an open app is never culled, however idle
    assert kept.page.locator(".probe-button").is_visible()


def test_a_page_that_arrives_while_the_kernels_start_says_so_then_opens_the_app(server, open_app):
    """The pool refills as soon as a page takes a kernel; a page arriving before the new kernel is
    ready gets a plain "starting" page (never a blank one) that opens the app by itself."""
    from workbench.i18n import t

    server.wait_for_pools()
    assert server.status()["apps"]["notebooks/apps/slow.ipynb"] == {"size": 1, "ready": 1, "starting": 0}
    status, _, body = server.get(server.url(server.app_path("slow")))  # takes the preheated kernel
    assert status == 200 and "slow-ready" in body
    assert server.status()["apps"]["notebooks/apps/slow.ipynb"]["starting"] == 1  # refilling at once

    status, headers, body = server.get(server.url(server.app_path("slow"), lang="en"))
    assert status == 200 and t("app_starting_title", "en") in body and "slow-ready" not in body
    assert "no-store" in headers["Cache-Control"]
    assert server.get(server.url(server.app_path("slow"), token=False))[0] == 302  # still behind the login

    app = open_app("slow", wait_for=".wb-starting")  # Chinese by default, read as a status by screen readers
    assert t("app_starting_title", "zh") in app.text() and app.page.get_by_role("status").count() == 1
    app.page.wait_for_selector(".slow-ready", state="visible")  # no reload by the test: the page did it
    assert app.problems() == [] and app.external_requests == []


def test_the_status_needs_the_login(server):
    assert server.get(server.url("workbench/status", token=False))[0] in (302, 403)
    status = server.status()
    assert status["ready"] is True and "notebooks/apps/screening.ipynb" in status["apps"]
    assert "notebooks/cold/probe.ipynb" not in status["apps"]  # only the apps are preheated
