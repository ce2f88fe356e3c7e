"""Warm what a first run on a new machine would otherwise pay for inside the first tests.

A fresh clone with a new HOME has no bytecode for the package, no matplotlib font cache (building
it scans every installed font, the large CJK ones included), no IPython profile, no sample
registry, and Chromium's files are not in the page cache. Each of these costs seconds, and when
they fall inside a browser test, on a 2-core machine with other work running, they add up to a
timeout. ``warm_up()`` does them once, one after the other, before the first test that needs
them (``tests/conftest.py`` calls it when slow tests are selected), and says how long each took.
"""

from __future__ import annotations

import compileall
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def _bytecode() -> None:
    compileall.compile_dir(REPO / "workbench", quiet=1, workers=0)


def _fonts() -> None:
    from workbench.ui import warm_up_plots

    warm_up_plots()  # builds matplotlib's font cache and finds the CJK font


def _sample_registry() -> None:
    from workbench.sample import prepare_registry, sample_registry_url

    prepare_registry(sample_registry_url()).engine.dispose()


def _kernel() -> None:
    """One Jupyter kernel started, asked to import the apps' modules, and stopped: the IPython
    profile, ipykernel's bytecode and the apps' imports are then ready for the many kernels that
    the server and the notebook tests start."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=300)
    try:
        reply = client.execute_interactive("import workbench.ui, workbench.registry.store, ipywidgets, anywidget",
                                           timeout=300, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the warm-up kernel could not import the workbench: {reply['content']}")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _browser() -> None:
    """Start Chromium once and render a page with Chinese text (fontconfig and the binary warmed)."""
    if not Path(CHROMIUM).is_file():
        return  # the browser tests fail with the message to run `make test`
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--headless", "--no-sandbox", "--disable-gpu",
                                                   "--disable-background-networking", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            page.set_content("<p>筛查工作站 Screening station</p>")
            page.wait_for_selector("p", timeout=300_000)
        finally:
            browser.close()


STEPS = {"bytecode": _bytecode, "fonts": _fonts, "sample registry": _sample_registry, "kernel": _kernel,
         "browser": _browser}


def warm_up(steps=tuple(STEPS)) -> dict[str, float]:
    """Run the warm-up ``steps`` in order; their durations in seconds."""
    took = {}
    for name in steps:
        start = time.perf_counter()
        STEPS[name]()
        took[name] = round(time.perf_counter() - start, 1)
    return took
