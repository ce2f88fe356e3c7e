"""The ``workbench`` command line.

    workbench [--db URL] [--user NAME] db init | db upgrade
    workbench import residents FILE [--skip-invalid]
    workbench import assessments FILE [--skip-invalid]
    workbench import tables FOLDER
    workbench export FOLDER [--key-file FILE]
    workbench backup FILE | restore FILE [--force]
    workbench audit verify
    workbench users add NAME --role ROLE
    workbench serve [--port N] | sample [--out FOLDER]
    workbench report quality --month YYYY-MM --out FILE [--lang en|zh] [--data FOLDER]

``report`` reads the analysis tables of ``--data`` (a folder written by ``workbench export``, or
``data_samples`` for the sample), else of the registry as ``--user`` may see them (pseudonymised).

The registry is ``--db`` (a SQLite path or URL, or a PostgreSQL URL), else ``WORKBENCH_DB``,
else a SQLite file under the user's data folder. Every write names its user with ``--user``
(or ``WORKBENCH_USER``). Exit status: 0 done; 1 refused (nothing written; the report says
why); 2 usage error; 3 written with invalid rows skipped (``--skip-invalid``).
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Community mental-health workbench",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--db", default=None, help="registry URL or SQLite path (default: $WORKBENCH_DB or user data folder)")
    parser.add_argument("--user", default=os.environ.get("WORKBENCH_USER"), help="who is acting (default: $WORKBENCH_USER)")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="create or upgrade the registry schema").add_subparsers(dest="action", required=True)
    db.add_parser("init", help="create the schema (or upgrade it) and the admin user")
    db.add_parser("upgrade", help="apply pending schema migrations")
    imp = sub.add_parser("import", help="import residents or assessments (CSV or Excel), or whole analysis tables "
                                        "(a folder written by 'workbench export' or the sample)")
    imp.add_argument("kind", choices=["residents", "assessments", "tables"])
    imp.add_argument("file", help="the file (residents, assessments) or folder (tables)")
    imp.add_argument("--skip-invalid", action="store_true", help="write the valid rows and report the rest")
    exp = sub.add_parser("export", help="the pseudonymised analysis tables for analysts (Parquet, CSV, dictionary)")
    exp.add_argument("folder")
    exp.add_argument("--key-file", default=None, help="the pseudonymisation key (kept outside the export)")
    bk = sub.add_parser("backup", help="a consistent copy of the registry")
    bk.add_argument("file")
    rs = sub.add_parser("restore", help="restore a backup into --db")
    rs.add_argument("file")
    rs.add_argument("--force", action="store_true", help="replace an existing registry")
    au = sub.add_parser("audit", help="check the audit chain and the stored records").add_subparsers(dest="action", required=True)
    au.add_parser("verify")
    us = sub.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    add = us.add_parser("add")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["social_worker", "counsellor", "doctor", "analyst", "admin"])
    add.add_argument("--display-name", default=None)
    rep = sub.add_parser("report", help="write a standalone HTML report from the registry or an export folder")
    rep.add_argument("kind", choices=["quality"])
    rep.add_argument("--month", required=True, help="the month reported, YYYY-MM")
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--lang", choices=["en", "zh"], default="en")
    rep.add_argument("--data", default=None, help="a folder of analysis tables (an export, or data_samples for the "
                                                 "sample); default: the registry, as --user may see it")
    sub.add_parser("serve", help="serve JupyterLab and the Voila staff apps on 127.0.0.1", add_help=False)
    sub.add_parser("sample", help="regenerate the sample community (python -m workbench.sample)", add_help=False)
    return parser


def _need_user(args) -> str:
    if not args.user:
        raise SystemExit("workbench: every write names its user: pass --user NAME or set WORKBENCH_USER")
    return args.user


def main(argv: list[str] | None = None) -> int:
    """Run ``workbench <command> ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        from workbench.server import main as serve

        serve(rest)
        return 0
    if args.command == "sample":
        from workbench.sample import main as sample

        return sample(rest) or 0
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.command == "report":
        return _report(args)

    from workbench.problems import ProblemsError
    from workbench.registry.access import AccessDenied
    from workbench.registry.imports import read_table
    from workbench.registry.store import Registry

    try:
        if args.command == "restore":
            from workbench.registry.backup import restore
            from workbench.registry.engine import default_url

            restore(args.file, args.db or default_url(), force=args.force)
            print(f"restored {args.file}; audit chain verified")
            return 0
        registry = Registry(args.db)
        if args.command == "db":
            if args.action == "init":
                registry.init()
                print(f"registry ready at {registry.engine.url.render_as_string(hide_password=True)}")
            else:
                print(f"schema at revision {registry.upgrade()}")
        elif args.command == "import" and args.kind == "tables":
            from workbench.tables import read

            if args.skip_invalid:
                raise ValueError("--skip-invalid does not apply to whole tables: they are written whole or not at all")
            result = registry.import_tables(read(args.file), by=_need_user(args), source=args.file)
            for name, written in result.written.items():
                print(f"{name}: {written} written, {result.unchanged.get(name, 0)} already stored unchanged")
        elif args.command == "import":
            frame = read_table(args.file)
            method = registry.import_residents if args.kind == "residents" else registry.import_assessments
            result = method(frame, by=_need_user(args), skip_invalid=args.skip_invalid, source=args.file)
            print(f"{args.kind}: {result.written} written, {result.unchanged} already stored unchanged, "
                  f"{result.problems['row'].nunique()} row(s) refused")
            if len(result.problems):
                print(result.problems.to_string(index=False), file=sys.stderr)
                return 3
        elif args.command == "export":
            from workbench.registry.export import export_tables

            print(export_tables(registry, args.folder, as_user=_need_user(args), key_file=args.key_file))
        elif args.command == "backup":
            from workbench.registry.backup import backup

            print(backup(registry.engine, args.file))
        elif args.command == "audit":
            report = registry.verify_audit()
            print(f"audit: {report.entries} entries, {report.rows_checked} records checked: "
                  + ("OK" if report.ok else f"FAILED: {report.problem}"))
            return 0 if report.ok else 1
        elif args.command == "users":
            registry.add_user(args.name, args.role, by=_need_user(args), display_name=args.display_name)
            print(f"added {args.name} ({args.role})")
    except (ProblemsError, AccessDenied, FileExistsError, FileNotFoundError, ValueError) as err:
        return _refused(err)
    return 0


def _refused(err: Exception) -> int:
    """Say why a command was refused, on stderr, and give its exit status (1): a problems table as
    it is, any other refusal as one sentence."""
    from workbench.problems import ProblemsError

    print(str(err) if isinstance(err, ProblemsError) else f"workbench: {err}", file=sys.stderr)
    return 1


def _report(args) -> int:
    from workbench.problems import ProblemsError
    from workbench.registry.access import AccessDenied
    from workbench.report import write_quality_report

    try:
        if args.data is not None:
            from workbench.tables import read

            tables = read(args.data)
        else:
            from workbench.registry.store import Registry

            tables = Registry(args.db).analysis_tables(as_user=_need_user(args), pseudonymised=True)
        path = write_quality_report(tables, month=args.month, out=args.out, lang=args.lang)
    except (ProblemsError, AccessDenied, FileNotFoundError, ValueError, TypeError) as err:
        return _refused(err)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
