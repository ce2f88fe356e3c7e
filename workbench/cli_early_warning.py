"""``workbench wearables ...`` and ``workbench risk ...``: the early-warning commands.

    workbench wearables ingest FILE [FILE ...] --store DIR [--resident R] [--device D] [--tz ZONE]
                                               [--batch-id ID] [--keep-rejected]
    workbench wearables features --store DIR --from YYYY-MM-DD --through YYYY-MM-DD [--policy FILE]
    workbench risk fit --model DIR --created YYYY-MM-DD [--kind logistic|boosting] [--data FOLDER]
    workbench risk card --model DIR --out FILE.md [--lang en|zh] [--data FOLDER]
    workbench risk predict --model DIR --on YYYY-MM-DD

Raw wristband readings (Open mHealth JSON / JSON Lines, or a CSV export) go to partitioned Parquet
under ``--store``, never into the registry; a file with bad readings is refused whole (every
reading named by row, column, value and rule) unless ``--keep-rejected``, which stores the good
ones and keeps the refused ones with their rule under ``rejected/`` (nothing is lost). A reading
already stored by an earlier upload (an overlapping export) is not stored again; one that
contradicts a stored reading (same device, kind and start, another value) is refused by name.
``features`` computes the daily features and alert states of every resident in the store for the
days asked (reading the days before them for the personal baseline) and saves them to the
registry's ``wearable_days`` as the signed-in user (their caseload's residents).

``fit`` and ``card`` read the analysis tables of ``--data`` (an export folder or ``data_samples``)
or else the registry as the signed-in user may see it, pseudonymised; ``predict`` reads the
registry as the signed-in clinician or admin, and stores one prediction per screening decision
and model beside the tier (``risk_predictions``), skipping decisions the model already predicted.
"""

from __future__ import annotations

import sys

import pandas as pd

__all__ = ["add_parsers", "run"]


def add_parsers(sub, add) -> None:
    """Add the ``wearables`` and ``risk`` subcommands to the ``workbench`` parser."""
    wear = add(sub, "wearables", help="wristband readings: ingest Open mHealth / CSV files; daily features and alerts")
    wsub = wear.add_subparsers(dest="action", required=True)
    ing = add(wsub, "ingest", help="check readings and store them as partitioned Parquet (not in the registry)")
    ing.add_argument("files", nargs="+", help="Open mHealth .json / .jsonl files or CSV exports")
    ing.add_argument("--store", required=True, help="the readings store (a folder)")
    ing.add_argument("--resident", default=None, help="the resident the file is about (when it does not say)")
    ing.add_argument("--device", default=None, help="the device (when the file does not say)")
    ing.add_argument("--tz", default=None, help="the device's time zone, e.g. Asia/Shanghai (when the file does not say)")
    ing.add_argument("--batch-id", default=None, help="name of the batch (default: from the content)")
    ing.add_argument("--keep-rejected", action="store_true",
                     help="store the good readings and keep the refused ones, with their rule, under rejected/")
    feat = add(wsub, "features", help="daily features and alert states of the stored readings, saved to the registry")
    feat.add_argument("--store", required=True)
    feat.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    feat.add_argument("--through", dest="end", required=True, help="last day, YYYY-MM-DD")
    feat.add_argument("--policy", default="wearables_default", help="the alert policy (a name or a YAML file)")

    risk = add(sub, "risk", help="the risk model: fit, model card, predictions beside the tier")
    rsub = risk.add_subparsers(dest="action", required=True)
    fit = add(rsub, "fit", help="fit the model on the analysis tables and save it with its versions")
    fit.add_argument("--model", required=True, help="folder to save the model in")
    fit.add_argument("--created", required=True, help="the date recorded as the model's creation, YYYY-MM-DD")
    fit.add_argument("--kind", choices=["logistic", "boosting"], default="logistic")
    fit.add_argument("--spec", default="not_improving", help="the model spec (a name or a YAML file)")
    fit.add_argument("--data", default=None, help="a folder of analysis tables (default: the registry, pseudonymised)")
    card = add(rsub, "card", help="validate the model's kind on the data and write its model card (Markdown)")
    card.add_argument("--model", required=True)
    card.add_argument("--out", required=True)
    card.add_argument("--lang", choices=["en", "zh"], default="en")
    card.add_argument("--data", default=None)
    pred = add(rsub, "predict", help="store predictions beside the tier for the screening decisions not yet predicted")
    pred.add_argument("--model", required=True)
    pred.add_argument("--on", required=True, help="the prediction date, YYYY-MM-DD")


def _day(text: str, option: str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        day = pd.NaT
    if pd.isna(day) or day != day.normalize():
        raise ValueError(f"{option}: {text!r} is not a date (YYYY-MM-DD)")
    return day


def _tables(args, registry_of, need_user):
    if getattr(args, "data", None):
        from workbench.tables import read

        return read(args.data)
    registry = registry_of()
    return registry.analysis_tables(as_user=need_user(args, registry), pseudonymised=True)


def _ingest(args) -> int:
    from pathlib import Path

    from workbench.wearables.ingest import read_csv, read_omh_json
    from workbench.wearables.store import write_readings

    status = 0
    for name in args.files:
        path = Path(name)
        reader = read_csv if path.suffix.lower() in (".csv", ".txt") else read_omh_json
        result = reader(path, resident_id=args.resident, device_id=args.device, tz=args.tz)
        refused = result.problems[result.problems["action"] != "kept_once"] if len(result.problems) else result.problems
        if len(refused) and not args.keep_rejected:
            result.raise_if_problems()
        written = write_readings(result, args.store, batch_id=args.batch_id if len(args.files) == 1 else None,
                                 keep_rejected=args.keep_rejected)
        if written["status"] == "unchanged":
            print(f"{path.name}: batch {written['batch_id']} is stored already with these readings: unchanged "
                  f"({written['rows']:,} reading(s) written then, {written['already_stored']:,} already stored, "
                  f"{written['rejected_rows']:,} refused)")
        else:
            print(f"{path.name}: {written['rows']:,} reading(s) written, {written['rejected_rows']:,} refused and kept "
                  f"under rejected/, {written['already_stored']:,} already stored by earlier batches and not written "
                  f"again (batch {written['batch_id']})")
        conflicts = written["problems"]  # readings that contradict stored ones (kept under rejected/)
        if len(conflicts):
            refused = pd.concat([refused, conflicts], ignore_index=True) if len(refused) else conflicts
        if len(refused):
            print(refused.to_string(index=False), file=sys.stderr)
            status = 3
    return status


def _features(args, registry_of, need_user) -> int:
    from workbench.wearables.alerts import load_wearable_policy
    from workbench.wearables.features import wearable_days
    from workbench.wearables.store import read_readings

    start, end = _day(args.start, "--from"), _day(args.end, "--through")
    if end < start:
        raise ValueError(f"--through {args.end} is before --from {args.start}")
    policy = load_wearable_policy(args.policy)
    # The readings the first day needs: its baseline window (and any gap before it), the rule's
    # nights, and the 14 days of the sleep-regularity window.
    gap = int(getattr(policy, "baseline_gap_days", 0) or 0)
    lookback = pd.Timedelta(days=policy.baseline_window + gap + max(r.nights for r in policy.rules) + 14 + 1)
    readings = read_readings(args.store, start=(start - lookback).tz_localize("UTC"),
                             end=(end + pd.Timedelta(days=2)).tz_localize("UTC"))
    if readings.empty:
        print(f"no readings in {args.store} for {start.date()} to {end.date()}: nothing saved")
        return 0
    days = wearable_days(readings, start=start.date(), end=end.date(), policy=policy)
    registry = registry_of()
    saved = registry.save_wearable_days(days, as_user=need_user(args, registry))
    flagged = int(days["flag"].fillna(False).sum())
    print(f"wearable days: {saved.written} written, {saved.replaced} replaced, {saved.unchanged} unchanged; "
          f"{flagged} day(s) flagged; states: " + ", ".join(f"{k} {v}" for k, v in days["alert_state"].value_counts().items()))
    return 0


def _fit(args, registry_of, need_user) -> int:
    from workbench.risk.artefact import save_model
    from workbench.risk.dataset import model_frame
    from workbench.risk.models import fit
    from workbench.risk.spec import load_spec

    spec = load_spec(args.spec)
    tables = _tables(args, registry_of, need_user)
    frame = model_frame(tables, spec=spec)
    pipeline = fit(frame, kind=args.kind, spec=spec)
    folder = save_model(pipeline, args.model, spec=spec, frame=frame, tables=tables,
                        created=_day(args.created, "--created").date().isoformat(), kind=args.kind)
    known = frame.y.notna()
    print(f"{spec.model_id} ({args.kind}) fitted on {int(known.sum())} referral(s) with a known outcome, "
          f"{int(frame.y[known].sum())} event(s); saved to {folder}")
    return 0


def _card(args, registry_of, need_user) -> int:
    from pathlib import Path

    from workbench.risk.artefact import load_model
    from workbench.risk.card import model_card
    from workbench.risk.validation import validate

    saved = load_model(args.model)
    tables = _tables(args, registry_of, need_user)
    report = validate(tables, spec=saved.spec, kinds=(saved.kind,))
    out = Path(args.out)
    out.write_text(model_card(saved, report, lang=args.lang), encoding="utf-8")
    print(out)
    return 0


def _predict(args, registry_of, need_user) -> int:
    from workbench.risk.artefact import load_model
    from workbench.risk.predict import predict

    saved = load_model(args.model)
    registry = registry_of()
    me = need_user(args, registry)
    tables = registry.analysis_tables(as_user=me, pseudonymised=False)
    rows = predict(tables, saved, on=_day(args.on, "--on").date(), by=me,
                   wearable_days=tables.wearable_days if len(tables.wearable_days) else None)
    stored = tables.risk_predictions
    already = set(stored.loc[stored["model"] == saved.model, "decision_id"]) if len(stored) else set()
    new = rows[~rows["decision_id"].isin(already)]
    saved_rows = registry.save_risk_predictions(new, as_user=me) if len(new) else None
    bands = new["band"].value_counts().reindex(["low", "medium", "high"], fill_value=0)
    print(f"{saved.model}: {0 if saved_rows is None else saved_rows.written} prediction(s) stored beside the tier, "
          f"{len(rows) - len(new)} decision(s) already predicted by this model; bands: "
          + ", ".join(f"{band} {n}" for band, n in bands.items()))
    return 0


def run(args, registry_of, need_user) -> int:
    """Run a ``wearables`` or ``risk`` command; ``registry_of()`` opens the registry (only when the
    command needs it), ``need_user(args, registry)`` is the signed-in registry user."""
    if args.command == "wearables":
        return _ingest(args) if args.action == "ingest" else _features(args, registry_of, need_user)
    return {"fit": _fit, "card": _card, "predict": _predict}[args.action](args, registry_of, need_user)


if __name__ == "__main__":  # pragma: no cover
    print("use: workbench wearables ... | workbench risk ...", file=sys.stderr)
    sys.exit(2)
