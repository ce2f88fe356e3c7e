"""``workbench federated node|link|run``: the arguments become Flower's commands (no process is started)."""

from __future__ import annotations

import argparse

import pytest

from workbench.cli_federated import add_parsers, node_argv


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None)
    common.add_argument("--user", default=None)
    parser = argparse.ArgumentParser(prog="workbench", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub, lambda group, name, **kw: group.add_parser(name, parents=[common], **kw))
    return parser


def test_a_node_reads_its_registry_as_its_analyst(tmp_path):
    args = _parser().parse_args(["federated", "node", "--superlink", "127.0.0.1:9092", "--site", "urban",
                                 "--db", "sqlite:////srv/r.sqlite", "--user", "fed", "--min-count", "10",
                                 "--log", str(tmp_path / "j.jsonl"), "--insecure"])
    argv = node_argv(args, args.db, args.user)
    assert argv[1:3] == ["-m", "workbench.federated._supernode"] and argv[argv.index("--superlink") + 1] == "127.0.0.1:9092"
    assert "--insecure" in argv
    assert argv[-1] == (f'site="urban" registry="sqlite:////srv/r.sqlite" user="fed" min-count=10 '
                        f'log="{tmp_path / "j.jsonl"}"')


def test_a_node_on_data_and_tls(tmp_path):
    args = _parser().parse_args(["federated", "node", "--superlink", "link.example:9092", "--site", "rural",
                                 "--data", str(tmp_path), "--root-certificates", "ca.pem"])
    argv = node_argv(args)
    assert argv[argv.index("--root-certificates") + 1] == "ca.pem" and "--insecure" not in argv
    assert argv[-1] == f'site="rural" data="{tmp_path}"'


def test_a_node_needs_its_records_and_a_transport_choice():
    args = _parser().parse_args(["federated", "node", "--superlink", "h:1", "--site", "s", "--insecure"])
    with pytest.raises(ValueError, match="reads its registry"):
        node_argv(args, None, None)
    with pytest.raises(SystemExit):  # neither --insecure nor certificates
        _parser().parse_args(["federated", "run", "--superlink", "h:1", "--plan", "p.json", "--results", "r.json"])
