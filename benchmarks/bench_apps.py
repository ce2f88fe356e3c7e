"""How long staff wait for an app: a crowd of browser visitors against `make run`'s server.

Starts the workbench server as ``make run`` does (``python -m workbench.server``, its default pool
size, on a copy of the sample registry), waits for its "Ready" line, then:

- **crowd, at ready**: 10 visitors open the same app 3 s apart, as soon as the server says it is
  ready; each visitor is a new browser context (a staff member's own browser);
- **crowd, 2 minutes later**: the same again after the server has idled for two minutes;
- **cold kernel, alone**: one visitor opens an app whose kernel starts on request (no pool), the
  time from the request to the first control.

"Time to first control" runs from the browser's request to the moment the app's first input,
select or button is visible (the apps act as the sample's admin, ``WORKBENCH_USER``, as ``make
run`` does on the sample: no staff picker any more, the app itself is the first control).
Each visitor is measured twice: with an empty browser cache (a browser that never opened the
workbench) and with Voila's front end already cached (every later day), in separate runs so that
the two do not share a pool. The browser (Debian's Chromium, headless) shares this machine's two
cores with the server, which is the worst case: staff browsers run on their own computers.

    python benchmarks/bench_apps.py [--apps screening caseload] [--visitors 10] [--gap 3] [--later 120]
                                     [--out benchmarks/results/apps.md]

Writes ``benchmarks/results/apps.md`` and ``apps.csv``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-component-update", "--disable-sync", "--no-first-run"]
#: The first interactive control of an app.
FIRST_CONTROL = ".wb-app select, .wb-app input, .wb-app button"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m workbench.server`` on a free port with a copy of the sample registry."""

    def __init__(self, workdir: Path, *, root: Path = REPO, pool_size: str | None = None):
        from workbench.sample import prepare_registry, sample_registry_url

        sample = sample_registry_url()
        prepare_registry(sample).engine.dispose()
        registry = workdir / "registry.sqlite"
        shutil.copy(sample.removeprefix("sqlite:///"), registry)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        env.update(WORKBENCH_TOKEN=self.token, WORKBENCH_DB=f"sqlite:///{registry}", WORKBENCH_TODAY="2025-09-30",
                   WORKBENCH_USER="admin", PYTHONUNBUFFERED="1")
        if pool_size is not None:
            env["WORKBENCH_POOL_SIZE"] = pool_size
        self.log_path = workdir / "server.log"
        self.started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "workbench.server", "--port", str(self.port),
                                             "--root", str(root)], cwd=REPO, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.ready_after = self._wait_for("Ready.")

    def _wait_for(self, text: str, timeout: float = 600) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_path.read_text()[-3000:]}")
            if text in self.log_path.read_text(errors="replace"):
                return time.perf_counter() - self.started
            time.sleep(0.1)
        raise RuntimeError(f"the server did not print {text!r} within {timeout} s")

    def url(self, app: str) -> str:
        return f"http://127.0.0.1:{self.port}/voila/render/notebooks/apps/{app}.ipynb?token={self.token}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def visit(browser, url: str, *, storage: Path | None = None, timeout: float = 180) -> float:
    """Seconds from the request to the first visible control, in a new browser context (or in a
    persistent profile at ``storage``, which keeps its cache)."""
    if storage is not None:
        context = browser.launch_persistent_context(str(storage), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                    headless=True)
    else:
        context = browser.new_context()
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        page.wait_for_selector(FIRST_CONTROL, state="visible", timeout=timeout * 1000)
        return time.perf_counter() - start
    finally:
        context.close()


async def _crowd(url: str, *, visitors: int, gap: float, profiles: list[Path] | None, timeout: float) -> list[float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = None
        if profiles is None:  # browsers that never opened the workbench: a new context each
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            contexts = [None] * visitors
        else:  # staff whose browsers are already open and have opened the app before
            contexts = [await pw.chromium.launch_persistent_context(str(p), executable_path=CHROMIUM,
                                                                   args=CHROMIUM_ARGS, headless=True)
                        for p in profiles[:visitors]]
        await asyncio.sleep(5)  # a staff member's browser is already running when they open the app

        async def one(i: int) -> float:
            context = contexts[i] or await browser.new_context()
            contexts[i] = context
            page = await context.new_page()
            start = time.perf_counter()
            await page.goto(url, wait_until="commit", timeout=timeout * 1000)
            await page.wait_for_selector(FIRST_CONTROL, state="visible", timeout=timeout * 1000)
            return time.perf_counter() - start  # the page stays open: the visitor works in it

        tasks = []
        for i in range(visitors):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(gap)
        times = await asyncio.gather(*tasks)
        for context in contexts:
            await context.close()
        if browser is not None:
            await browser.close()
        return list(times)


def crowd(url: str, *, visitors: int, gap: float, profiles: list[Path] | None, timeout: float = 180) -> list[float]:
    """``visitors`` visitors opening ``url`` ``gap`` seconds apart; their times to the first control.

    One browser driver for all of them, so that the benchmark itself loads the machine no more than
    the visitors' pages do."""
    return asyncio.run(_crowd(url, visitors=visitors, gap=gap, profiles=profiles, timeout=timeout))


def warm_profiles(url: str, count: int, folder: Path) -> list[Path]:
    """``count`` browser profiles that have opened ``url`` once (Voila's front end in their cache)."""
    from playwright.sync_api import sync_playwright

    profiles = []
    with sync_playwright() as pw:
        for i in range(count):
            path = folder / f"profile-{i}"
            visit(pw.chromium, url, storage=path)
            profiles.append(path)
    return profiles


def wait_until_pools_full(server: Server, timeout: float = 300) -> None:
    import json
    import urllib.request

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/workbench/status?token={server.token}") as r:
            status = json.load(r)
        if all(p["ready"] == p["size"] for p in status["apps"].values()):
            return
        time.sleep(0.5)
    raise RuntimeError("the pools did not refill")


def cold_kernel(app: str, *, workdir: Path, repeat: int) -> list[float]:
    """Time to first control of ``app`` on a server without pools (each kernel starts on request),
    with the browser's cache filled by a first visit."""
    from playwright.sync_api import sync_playwright

    server = Server(workdir, pool_size="0")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context()
                page = context.new_page()
                times = []
                for _ in range(repeat + 1):
                    start = time.perf_counter()
                    page.goto(server.url(app), wait_until="commit", timeout=180_000)
                    page.wait_for_selector(FIRST_CONTROL, state="visible", timeout=180_000)
                    times.append(time.perf_counter() - start)
                    time.sleep(2)
                return times[1:]  # the first visit also filled the browser's cache
            finally:
                browser.close()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", nargs="+", default=["screening", "caseload"])
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--gap", type=float, default=3.0)
    parser.add_argument("--later", type=float, default=120.0, help="seconds between the two crowds")
    parser.add_argument("--repeat", type=int, default=5, help="cold-kernel visits per app")
    parser.add_argument("--caches", nargs="+", default=["empty", "filled"], choices=["empty", "filled"],
                        help="the visitors' browser caches")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-kernel runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "apps.md")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-apps-") as tmp:
        tmp = Path(tmp)
        for app in args.apps:
            for cache in args.caches:
                workdir = tmp / f"{app}-{cache}"
                workdir.mkdir()
                server = Server(workdir)
                try:
                    profiles = None
                    if cache == "filled":  # before the crowd: each visitor's browser opened the app once
                        profiles = warm_profiles(server.url(app), args.visitors, workdir)
                        wait_until_pools_full(server)
                    for when, pause in (("at ready", 0.0), (f"{args.later:.0f} s later", args.later)):
                        time.sleep(pause)
                        times = crowd(server.url(app), visitors=args.visitors, gap=args.gap, profiles=profiles)
                        rows.append({"app": app, "browser_cache": cache, "when": when, "visitors": len(times),
                                     "gap_s": args.gap, "median_s": statistics.median(times), "worst_s": max(times),
                                     "best_s": min(times), "server_ready_s": server.ready_after,
                                     "times_s": " ".join(f"{t:.2f}" for t in times)})
                        print(rows[-1], flush=True)
                finally:
                    server.stop()
            if args.no_cold:
                continue
            workdir = tmp / f"{app}-cold"
            workdir.mkdir()
            times = cold_kernel(app, workdir=workdir, repeat=args.repeat)
            rows.append({"app": app, "browser_cache": "filled", "when": "cold kernel, alone", "visitors": len(times),
                         "gap_s": float("nan"), "median_s": statistics.median(times), "worst_s": max(times),
                         "best_s": min(times), "server_ready_s": float("nan"),
                         "times_s": " ".join(f"{t:.2f}" for t in times)})
            print(rows[-1], flush=True)

    frame = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out.with_suffix(".csv"), index=False)
    table = frame.drop(columns=["times_s"]).round(2).to_markdown(index=False)
    args.out.write_text(
        f"# Time to the first control of a staff app\n\n"
        f"{dt.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} cores; "
        f"`python benchmarks/bench_apps.py` ({args.visitors} visitors {args.gap:g} s apart; "
        f"server at its default pool size). Every visit's time is in `apps.csv`.\n\n{table}\n",
        encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
