"""The ``workbench`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``workbench <command> ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="workbench", description="Community mental-health workbench")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve JupyterLab and the Voila staff apps on 127.0.0.1", add_help=False)
    sub.add_parser("sample", help="regenerate the sample community (python -m workbench.synth)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        from workbench.server import main as serve

        serve(rest)
    elif args.command == "sample":
        from workbench.synth.__main__ import main as synth

        return synth(rest) or 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
