"""`workbench wearables ...` and `workbench risk ...` as an administrator and staff run them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

FILES = Path(__file__).parent / "wearables_files"
SAMPLE = Path(__file__).resolve().parent.parent / "data_samples"


def run(*args, db, user="admin"):
    full = [sys.executable, "-m", "workbench.cli", "--db", str(db), *(["--user", user] if user else []), *args]
    return subprocess.run(full, capture_output=True, text=True, env=dict(os.environ))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry holding a small synthetic community (300 residents), filled by `workbench import tables`."""
    from workbench.synth import community
    from workbench.tables import write

    folder = tmp_path_factory.mktemp("cli_ew")
    db = folder / "registry.sqlite"
    assert run("db", "init", db=db, user=None).returncode == 0
    tables = community(300, seed=17).tables()
    write(tables, folder / "tables", formats=("csv",))
    done = run("import", "tables", str(folder / "tables"), db=db)
    assert done.returncode == 0, done.stderr
    return db, tables


def test_ingest_refuses_a_file_with_bad_readings_whole_and_keeps_them_when_asked(registry, tmp_path):
    from workbench.wearables.store import read_readings, read_rejected, stored_batches

    db, _ = registry
    store = tmp_path / "store"
    bad = run("wearables", "ingest", str(FILES / "omh_points.json"), "--store", str(store), db=db)
    assert bad.returncode == 1
    # every bad reading named by row, column, value and rule; nothing written
    assert "row 3, column 'body.heart_rate.value': value '400' is outside the plausible range" in bad.stderr
    assert "value 'beats/s' is not a declared unit of heart_rate" in bad.stderr
    assert not store.exists() or len(stored_batches(store)) == 0
    points = json.loads((FILES / "omh_points.json").read_text(encoding="utf-8"))
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps([p for i, p in enumerate(points, start=1) if i not in (3, 8, 9, 10, 12, 13, 14)]))
    good = run("wearables", "ingest", str(clean), "--store", str(store), db=db)
    assert good.returncode == 0, good.stderr
    assert "reading(s) written, 0 refused" in good.stdout
    n_good = len(read_readings(store))
    assert n_good == len(points) - 7
    kept = run("wearables", "ingest", str(FILES / "omh_points.json"), "--store", str(store), "--keep-rejected", db=db)
    assert kept.returncode == 3, kept.stderr  # written, with the bad readings refused and kept beside them
    assert "7 refused" in kept.stdout or "refused and kept" in kept.stdout
    assert len(stored_batches(store)) == 2 and len(read_rejected(store)) >= 7


def test_features_are_saved_to_the_registry_for_the_days_asked(registry, tmp_path):
    from workbench.synth.wearables import device_streams
    from workbench.wearables.store import write_readings

    db, tables = registry
    people = tables.residents.head(2)[["resident_id", "birth_date", "sex"]]
    readings = device_streams(people, start="2025-03-01", end="2025-04-30", seed=3)
    store = tmp_path / "store"
    write_readings(readings, store, batch_id="synth-2")
    done = run("wearables", "features", "--store", str(store), "--from", "2025-04-01", "--through", "2025-04-30", db=db)
    assert done.returncode == 0, done.stderr
    assert "60 written" in done.stdout  # 2 residents x 30 days, every day a row (worn or not)
    again = run("wearables", "features", "--store", str(store), "--from", "2025-04-01", "--through", "2025-04-30", db=db)
    assert "0 written" in again.stdout and "60 unchanged" in again.stdout
    from workbench.registry.store import Registry

    stored = Registry(f"sqlite:///{db}").analysis_tables(as_user="admin").wearable_days
    assert len(stored) == 60 and set(stored["resident_id"]) == set(people["resident_id"])
    assert pd.Timestamp(stored["day"].min()) == pd.Timestamp("2025-04-01")
    # March was read only for the baseline: April's days have one
    assert stored["baseline_days"].max() >= 14
    wrong = run("wearables", "features", "--store", str(store), "--from", "2025-04-30", "--through", "2025-04-01", db=db)
    assert wrong.returncode == 1 and "before --from" in wrong.stderr


def test_fit_card_and_predict_store_predictions_beside_the_tier_once(registry, tmp_path):
    db, _ = registry
    model = tmp_path / "model"
    fit = run("risk", "fit", "--model", str(model), "--created", "2026-11-30", "--data", str(SAMPLE), db=db)
    assert fit.returncode == 0, fit.stderr
    assert "748 referral(s) with a known outcome" in fit.stdout
    meta = json.loads((model / "model.json").read_text(encoding="utf-8"))
    assert meta["model"].startswith("not_improving_logistic@") and meta["data_version"].startswith("sha256:")
    card = run("risk", "card", "--model", str(model), "--out", str(tmp_path / "card.md"), "--lang", "zh",
               "--data", str(SAMPLE), db=db)
    assert card.returncode == 0, card.stderr
    assert "自杀" in (tmp_path / "card.md").read_text(encoding="utf-8")  # says plainly: not a suicide-risk score
    bad_day = run("risk", "predict", "--model", str(model), "--on", "2026-13-01", db=db)
    assert bad_day.returncode == 1 and "is not a date" in bad_day.stderr

    from workbench.registry.store import Registry

    reg = Registry(f"sqlite:///{db}")
    before = reg.analysis_tables(as_user="admin")
    first = run("risk", "predict", "--model", str(model), "--on", "2026-12-01", db=db)
    assert first.returncode == 0, first.stderr
    after = reg.analysis_tables(as_user="admin")
    referred = before.decisions["tier"].isin([2, 3]).sum()
    assert len(after.risk_predictions) == referred > 0
    assert f"{referred} prediction(s) stored" in first.stdout
    pd.testing.assert_frame_equal(after.decisions, before.decisions)  # the tier is never replaced
    second = run("risk", "predict", "--model", str(model), "--on", "2026-12-02", db=db)
    assert second.returncode == 0 and "0 prediction(s) stored" in second.stdout
    assert f"{referred} decision(s) already predicted" in second.stdout

    tampered = model / "model.joblib"
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    refused = run("risk", "predict", "--model", str(model), "--on", "2026-12-03", db=db)
    assert refused.returncode == 1 and "model.joblib" in refused.stderr
