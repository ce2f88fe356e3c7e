"""Serve the workbench: one Jupyter server with JupyterLab and Voila behind the same login.

``make run`` calls :func:`main`. The server listens on 127.0.0.1 only; every page, including
the Voila staff apps at ``/voila/render/notebooks/apps/<name>.ipynb``, needs the token printed
at start-up (or the password configured in Jupyter). A single Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from pathlib import Path

__all__ = ["jupyter_command", "main"]

REPO = Path(__file__).resolve().parent.parent


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def jupyter_command(*, port: int, token: str, root: Path = REPO, host: str = "127.0.0.1") -> list[str]:
    """The ``jupyter lab`` command line that ``make run`` executes.

    Examples
    --------
    >>> cmd = jupyter_command(port=8888, token="abc")
    >>> cmd[1:3]
    ['-m', 'jupyterlab']
    >>> "--ip=127.0.0.1" in cmd
    True
    >>> "--IdentityProvider.token=abc" in cmd
    True
    """
    if not token:
        raise ValueError("The 'token' parameter of jupyter_command must be a non-empty str: "
                         "the workbench is never served without authentication.")
    if not _is_loopback(host):
        raise ValueError(f"The 'host' parameter of jupyter_command must be a loopback address. Got "
                         f"{host!r} instead: put a TLS reverse proxy with its own login in front "
                         "to serve other machines.")
    as_root = ["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable, "-m", "jupyterlab", *as_root,
        f"--ip={host}", f"--port={port}", "--ServerApp.port_retries=0", "--no-browser",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.answer_yes=True",  # one Ctrl-C shuts down cleanly, no interactive prompt
        "--LabApp.default_url=/lab/tree/notebooks",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ]


def main(argv: list[str] | None = None) -> None:
    """Prepare the sample data if needed, print the URLs, and become the Jupyter server."""
    parser = argparse.ArgumentParser(prog="workbench serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8888)))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    from workbench.sample import prepare_registry, prepare_sample, sample_registry_url

    folder = prepare_sample()
    if os.environ.get("WORKBENCH_DB"):
        registry_url = os.environ["WORKBENCH_DB"]  # the user's own registry: used as it is
    else:
        registry_url = os.environ["WORKBENCH_DB"] = sample_registry_url()  # kernels and apps inherit it
        prepare_registry(registry_url)
    token = os.environ.get("WORKBENCH_TOKEN") or secrets.token_hex(24)
    cmd = jupyter_command(port=args.port, token=token, host=args.host)
    base = f"http://{args.host}:{args.port}"
    print(f"Sample data: {folder}", flush=True)
    print(f"Registry:    {registry_url}", flush=True)
    print(f"JupyterLab:  {base}/lab/tree/notebooks?token={token}", flush=True)
    print(f"Staff apps:  {base}/voila/render/notebooks/apps/<name>.ipynb?token={token}", flush=True)
    print("Stop with Ctrl-C.", flush=True)
    os.chdir(REPO)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
