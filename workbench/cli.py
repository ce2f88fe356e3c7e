"""The ``workbench`` command line.

    workbench db init | db upgrade
    workbench import residents FILE [--skip-invalid]
    workbench import assessments FILE [--skip-invalid]
    workbench import measurements FILE [--skip-invalid] [--codes adherence=form]
    workbench import smd-register FILE | smd-followups FILE   (all or nothing)
    workbench import hospital-appointments FILE | discharges FILE | literacy FILE | surveys FILE   (all or nothing)
    workbench import tables FOLDER
    workbench export FOLDER [--key-file FILE] [--include-free-text] [--k K]
    workbench backup FILE | restore FILE [--force]
    workbench audit verify
    workbench users add NAME --role ROLE [--login LOGIN] | users list
    workbench users deactivate NAME | users activate NAME | users set-login NAME LOGIN
    workbench serve [--port N] | sample [--out FOLDER]
    workbench report quality --month YYYY-MM --out FILE [--lang en|zh] [--data FOLDER] [--geo FOLDER]
    workbench wearables ingest FILE... --store DIR | features --store DIR --from DAY --through DAY
    workbench risk fit --model DIR --created DAY | card --model DIR --out FILE | predict --model DIR --on DAY
    (the early-warning commands: workbench/cli_early_warning.py)
    workbench federated link --port N | node --superlink HOST:PORT --site NAME | run --plan FILE --results FILE
    (federated analysis over Flower: workbench/cli_federated.py)

``report`` reads the analysis tables of ``--data`` (a folder written by ``workbench export``, or
``data_samples`` for the sample), else of the registry as ``--user`` may see them (pseudonymised);
with ``--geo FOLDER`` (else the ``WORKBENCH_GEO`` folder, if set: communities.geojson,
service_points.geojson, optional homes.csv; ``data_samples/geo`` for the sample) it adds the
community map, the geography checked against the communities of the data.

``--db URL`` and ``--user NAME`` go before or after the subcommand. The registry is ``--db`` (a
SQLite path or URL, or a PostgreSQL URL), else ``WORKBENCH_DB``, else a SQLite file under the
user's data folder. The command acts as the registry user whose login is the operating-system
login running it (``db init`` makes that login the registry's admin; ``users add NAME --role R
--login L`` maps another): ``--user`` (or ``WORKBENCH_USER``) is only checked against it, never
taken instead. Files it creates are private to that login (umask 077). Exit status: 0 done;
1 refused (nothing written; the report says why); 2 usage error; 3 written with invalid rows
skipped (``--skip-invalid``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main", "os_login"]


#: imports written whole or not at all, taking their codes as written (no --skip-invalid, no --codes)
_WHOLE = ("hospital-appointments", "discharges", "literacy", "surveys")


def _common() -> argparse.ArgumentParser:
    """``--db`` and ``--user``, accepted before and after the subcommand (SUPPRESS: an option not
    given after the subcommand leaves the one given before it alone)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="registry URL or SQLite path (default: $WORKBENCH_DB or user data folder)")
    common.add_argument("--user", default=argparse.SUPPRESS,
                        help="who you are, checked against your login (default: $WORKBENCH_USER)")
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="workbench", description="Community mental-health workbench",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__,
                                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(group, name, **kwargs):
        return group.add_parser(name, parents=[common], **kwargs)

    db = add(sub, "db", help="create or upgrade the registry schema").add_subparsers(dest="action", required=True)
    add(db, "init", help="create the schema (or upgrade it) and the admin user, signing in as your login")
    add(db, "upgrade", help="apply pending schema migrations")
    imp = add(sub, "import", help="import residents, assessments or measurements (CSV or Excel), or whole analysis "
                                        "tables (a folder written by 'workbench export' or the sample)")
    imp.add_argument("kind", choices=["residents", "assessments", "measurements", "smd-register", "smd-followups",
                                      *_WHOLE, "tables"])
    imp.add_argument("file", help="the file (residents, assessments, measurements) or folder (tables)")
    imp.add_argument("--skip-invalid", action="store_true", help="write the valid rows and report the rest")
    imp.add_argument("--encoding", default=None, help="a CSV file's encoding when not UTF-8: gb18030 (or gbk)")
    imp.add_argument("--codes", default=None, help="declared code maps of a residents file, e.g. sex=gb2261 "
                                                   "(1 male, 2 female), sex=zh (男/女), sex=fm (F/M), "
                                                   "sex=1:male,2:female, lives_alone=zh (是/否); of a measurements file, "
                                                   "adherence=form (1 regular, 2 intermittent, 3 none), adherence=zh, "
                                                   "smoking=zh, alarm_symptoms=zh; ';' between columns")
    exp = add(sub, "export", help="the pseudonymised analysis tables for analysts (Parquet, CSV, dictionary)")
    exp.add_argument("folder")
    exp.add_argument("--key-file", default=None, help="the pseudonymisation key (kept outside the export)")
    exp.add_argument("--include-free-text", action="store_true",
                     help="keep free text (override reasons) in the export: admins only, audited")
    exp.add_argument("--k", type=int, default=5,
                     help="every group of residents sharing community, sex and birth band has at least K (default 5; "
                          "birth years are coarsened and small groups' cells left blank, see disclosure.json)")
    bk = add(sub, "backup", help="a consistent copy of the registry")
    bk.add_argument("file")
    rs = add(sub, "restore", help="restore a backup into --db")
    rs.add_argument("file")
    rs.add_argument("--force", action="store_true", help="replace an existing registry")
    au = add(sub, "audit", help="check the audit chain and the stored records").add_subparsers(dest="action", required=True)
    add(au, "verify")
    us = add(sub, "users", help="manage users").add_subparsers(dest="action", required=True)
    user = add(us, "add")
    user.add_argument("name")
    user.add_argument("--role", required=True, choices=["social_worker", "counsellor", "doctor", "analyst", "admin"])
    user.add_argument("--display-name", default=None)
    user.add_argument("--login", default=None, help="the operating-system or JupyterHub login they sign in as")
    add(us, "list", help="every user: name, role, active, login, display name")
    for action, text in (("deactivate", "a user who left: they can no longer sign in or do anything; their "
                                        "records stay under their name"),
                         ("activate", "let a deactivated user sign in again")):
        add(us, action, help=text).add_argument("name")
    relogin = add(us, "set-login", help="change the operating-system or JupyterHub login a user signs in as")
    relogin.add_argument("name")
    relogin.add_argument("login")
    rep = add(sub, "report", help="write a standalone HTML report from the registry or an export folder")
    rep.add_argument("kind", choices=["quality"])
    rep.add_argument("--month", required=True, help="the month reported, YYYY-MM")
    rep.add_argument("--out", required=True, help="the HTML file to write")
    rep.add_argument("--lang", choices=["en", "zh"], default="en")
    rep.add_argument("--data", default=None, help="a folder of analysis tables (an export, or data_samples for the "
                                                 "sample); default: the registry, as --user may see it")
    rep.add_argument("--geo", default=None, help="a geography folder (communities.geojson, service_points.geojson, "
                                                "optional homes.csv; data_samples/geo for the sample) for the "
                                                "community map; default: $WORKBENCH_GEO, else no map")
    from workbench.cli_early_warning import add_parsers

    add_parsers(sub, add)
    from workbench.cli_federated import add_parsers as add_federated

    add_federated(sub, add)
    sub.add_parser("serve", help="serve JupyterLab and the Voila staff apps on 127.0.0.1", add_help=False)
    sub.add_parser("sample", help="regenerate the sample community (python -m workbench.sample)", add_help=False)
    return parser


def os_login() -> str:
    """The operating-system login of the real user id running this process (not ``$USER`` or
    ``$LOGNAME``, which anyone can set)."""
    try:
        import pwd
    except ImportError:  # pragma: no cover - not a POSIX system
        import getpass

        return getpass.getuser()
    return pwd.getpwuid(os.getuid()).pw_name


def _need_user(args, registry) -> str:
    """The registry user this command acts as: the one mapped to the operating-system login. A
    name given with ``--user`` or ``WORKBENCH_USER`` must be that same user (else refused)."""
    from workbench.registry.access import AccessDenied

    login = os_login()
    me = registry.user_for_login(login)
    if getattr(args, "user", None):
        claimed, said = args.user, f"--user {args.user}"
    else:
        claimed = os.environ.get("WORKBENCH_USER", "").strip()
        said = f"WORKBENCH_USER={claimed}"
    if me is None:
        raise AccessDenied(f"you are signed in to this machine as {login}, which is no registry user (an admin adds "
                           f"you with 'workbench users add NAME --role ROLE --login {login}')")
    if claimed and claimed != me:
        raise AccessDenied(f"you are signed in to this machine as {login}, which is registry user {me}; "
                           f"{said} is refused")
    staff = registry.users().set_index("name")
    if not bool(staff.loc[me, "active"]):
        raise AccessDenied(f"you are signed in to this machine as {login}, which is registry user {me}, no longer "
                           f"active (an admin reactivates them with 'workbench users activate {me}')")
    return me


def main(argv: list[str] | None = None) -> int:
    """Run ``workbench <command> ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    os.umask(0o077)  # the registry, backups and exports it creates are private to this login
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    args.db = getattr(args, "db", None)
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
    if args.command in ("wearables", "risk"):
        return _early_warning(args)
    if args.command == "federated":
        from workbench.cli_federated import run as federated

        return federated(args)

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
                registry.init(login=os_login())
                print(f"registry ready at {registry.engine.url.render_as_string(hide_password=True)}")
            else:
                print(f"schema at revision {registry.upgrade()}")
        elif args.command == "import" and args.kind == "tables":
            from workbench.tables import read

            if args.skip_invalid:
                raise ValueError("--skip-invalid does not apply to whole tables: they are written whole or not at all")
            result = registry.import_tables(read(args.file), by=_need_user(args, registry), source=args.file)
            for name, written in result.written.items():
                print(f"{name}: {written} written, {result.unchanged.get(name, 0)} already stored unchanged")
        elif args.command == "import":
            from workbench.registry.imports import parse_codes

            codes = parse_codes(args.codes)
            whole = args.kind.startswith("smd-") or args.kind in _WHOLE
            if whole and (codes or args.skip_invalid):
                what = "a severe-mental-disorder file" if args.kind.startswith("smd-") else f"a {args.kind} file"
                raise ValueError(f"{args.kind}: {what} is written whole or not at all "
                                 "(no --skip-invalid) and takes its codes as written (no --codes)")
            if codes and args.kind not in ("residents", "measurements") and not whole:
                raise ValueError("--codes: code maps apply to residents files (sex, lives_alone, conditions) and "
                                 "measurements files (adherence, smoking, yes/no answers)")
            frame = read_table(args.file, encoding=args.encoding)
            kwargs = {"codes": codes} if codes else {}
            method = {"residents": registry.import_residents, "assessments": registry.import_assessments,
                      "measurements": registry.import_measurements, "smd-register": registry.import_smd_register,
                      "smd-followups": registry.import_smd_followups,
                      "hospital-appointments": registry.import_hospital_appointments,
                      "discharges": registry.import_discharges, "literacy": registry.import_literacy,
                      "surveys": registry.import_surveys}[args.kind]
            if not whole:
                kwargs["skip_invalid"] = args.skip_invalid
            result = method(frame, by=_need_user(args, registry), source=args.file, **kwargs)
            print(f"{args.kind}: {result.written} written, {result.unchanged} already stored unchanged, "
                  f"{result.problems['row'].nunique()} row(s) refused")
            if len(result.problems):
                print(result.problems.to_string(index=False), file=sys.stderr)
                return 3
        elif args.command == "export":
            from workbench.registry.export import export_tables

            folder = export_tables(registry, args.folder, as_user=_need_user(args, registry), key_file=args.key_file,
                                   include_free_text=args.include_free_text, k=args.k)
            print(folder)
            report = json.loads((folder / "disclosure.json").read_text(encoding="utf-8"))
            blanked = ", ".join(f"{n} {column}" for column, n in report["cells_suppressed"].items())
            print(f"disclosure: k = {report['k']}, birth dates in {report['birth_band_years']}-year band(s); "
                  f"left blank: {blanked} ({report['rows_touched']} of {report['residents']} resident(s), "
                  f"{'within' if report['within_limit'] else 'OVER'} the {report['suppression_limit']:.0%} limit); "
                  f"smallest group of community, sex and birth band: {report['after']['smallest_group']} "
                  f"(was {report['before']['smallest_group']}) (disclosure.json)")
        elif args.command == "backup":
            from workbench.registry.backup import backup

            print(backup(registry.engine, args.file))
        elif args.command == "audit":
            report = registry.verify_audit()
            print(f"audit: {report.entries} entries, {report.rows_checked} records checked: "
                  + ("OK" if report.ok else f"FAILED: {report.problem_count:,} problem(s)")
                  + (f" ({report.unkeyed:,} leading entries written before the chain was keyed)"
                     if report.unkeyed else ""))
            if report.tables:
                print("  rows checked: " + ", ".join(f"{name} {n:,}" for name, n in report.tables.items()))
            if report.sealed_at:
                print(f"  {report.sealed:,} row(s) written before every table was audited were sealed as they stood "
                      f"at the upgrade of {report.sealed_at} UTC: changes to them before then cannot be told")
            if report.unsealed:
                print(f"  {report.unsealed:,} row(s) written before every table was audited are not sealed yet: "
                      f"run 'workbench db upgrade' so that changes to them are detected")
            for line in report.problems:
                print(f"  {line}")
            if report.problem_count > len(report.problems):
                print(f"  ... and {report.problem_count - len(report.problems):,} more")
            return 0 if report.ok else 1
        elif args.command == "users":
            return _users(args, registry)
    except (ProblemsError, AccessDenied, FileExistsError, FileNotFoundError, ValueError) as err:
        return _refused(err)
    return 0


def _users(args, registry) -> int:
    """``workbench users add | list | deactivate | activate | set-login``, as the signed-in admin."""
    by = _need_user(args, registry)
    if args.action == "add":
        registry.add_user(args.name, args.role, by=by, display_name=args.display_name, login=args.login)
        print(f"added {args.name} ({args.role})" + (f", signing in as {args.login}" if args.login else ""))
    elif args.action == "list":  # who is who, for every active staff member (as the apps show it)
        table = registry.users()[["name", "role", "active", "login", "display_name"]]
        print(table.astype(object).where(table.notna(), "").to_string(index=False))
    elif args.action in ("deactivate", "activate"):
        active = args.action == "activate"
        changed = registry.set_user_active(args.name, active, by=by)
        state = "active" if active else "inactive"
        print(f"{args.name} is now {state}" if changed else f"{args.name} was already {state}: nothing changed")
    else:
        changed = registry.set_user_login(args.name, args.login, by=by)
        print(f"{args.name} now signs in as {args.login.strip()}" if changed
              else f"{args.name} already signs in as {args.login.strip()}: nothing changed")
    return 0


def _refused(err: Exception) -> int:
    """Say why a command was refused, on stderr, and give its exit status (1): a problems table as
    it is, any other refusal as one sentence."""
    from workbench.problems import ProblemsError

    print(str(err) if isinstance(err, ProblemsError) else f"workbench: {err}", file=sys.stderr)
    return 1


def _early_warning(args) -> int:
    """``workbench wearables ...`` / ``workbench risk ...`` (:mod:`workbench.cli_early_warning`)."""
    from workbench.cli_early_warning import run
    from workbench.problems import ProblemsError
    from workbench.registry.access import AccessDenied
    from workbench.registry.store import Registry

    try:
        return run(args, lambda: Registry(args.db), _need_user)
    except (ProblemsError, AccessDenied, FileExistsError, FileNotFoundError, ValueError) as err:
        return _refused(err)


def _report_geography(args, tables):
    """The community map's geography: ``--geo``, else ``WORKBENCH_GEO``, else None; checked
    against the communities of ``tables`` (homes against the map only: resident ids are pseudonyms)."""
    from workbench.geo.geography import site_geography

    communities = tables["communities"] if len(tables["communities"]) else tables["residents"]
    return site_geography(folder=args.geo, communities=communities)


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

            registry = Registry(args.db)
            tables = registry.analysis_tables(as_user=_need_user(args, registry), pseudonymised=True)
        path = write_quality_report(tables, month=args.month, out=args.out, lang=args.lang,
                                    geography=_report_geography(args, tables))
    except (ProblemsError, AccessDenied, FileNotFoundError, ValueError, TypeError) as err:
        return _refused(err)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
