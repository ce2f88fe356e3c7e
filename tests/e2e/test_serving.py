"""Voila served for staff (issue 7): login, no internet, errors hidden but logged, culling,
preheated kernels that still see their page's query string, the apps' language, speed and memory.

The apps here are the test-only notebooks of tests/e2e/fixtures (see conftest.py)."""

from __future__ import annotations

import json
import time

import psutil
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


def test_first_render_time_and_kernel_memory(server, open_app, record_property):
    """An app opened with a preheated kernel is usable within 3 s (issue 7); numbers for the record.

    Times run from the request to the app's widgets on screen. The first visit also downloads
    Voila's front end (about 5 MB, 100 files) into an empty browser cache; later visits, the
    everyday case, find it cached.
    """
    def reopen(app, url):
        start = time.perf_counter()
        app.page.goto(url)
        app.page.wait_for_selector("#residents", state="visible")
        return time.perf_counter() - start

    first = open_app("registry", wait_for="#residents")  # preheated kernel, empty browser cache
    samples = []
    for _ in range(2):  # the better of two, as the machine may be busy with other work
        time.sleep(6)  # the pool is refilled: a kernel has started and run the notebook again
        samples.append(reopen(first, first.url))
    preheated = min(samples)
    cold = reopen(first, first.url.replace("/notebooks/apps/", "/notebooks/cold/"))
    rss = psutil.Process(int(first.text("#pid"))).memory_info().rss / 2**20
    light = psutil.Process(_probe(open_app("probe", folder="notebooks/cold"))["pid"]).memory_info().rss / 2**20
    numbers = {"render_s_preheated_first_visit": first.render_seconds, "render_s_preheated": preheated,
               "render_s_without_preheating": cold, "kernel_rss_mib_registry_app": rss,
               "kernel_rss_mib_widgets_only": light}
    for name, value in numbers.items():
        record_property(name, round(value, 2))
    print("\n" + ", ".join(f"{name} {value:.2f}" for name, value in numbers.items()))
    assert preheated < 3
    assert preheated < cold
