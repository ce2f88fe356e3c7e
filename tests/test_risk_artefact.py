"""The saved risk model (workbench.risk.artefact): a round trip gives the same predictions; a
changed pickle, a changed spec or another scikit-learn version is refused; the data version is a
documented, stable hash of the tables that changes when one stored score changes."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.params import ParameterError
from workbench.risk.artefact import (DATA_TABLES, METADATA_KEYS, ModelFileError, SavedModel, VersionMismatchWarning,
                                     _table_block, data_version, load_model, package_versions, save_model)
from workbench.risk.dataset import model_frame
from workbench.risk.models import build, fit
from workbench.sample import load_sample
from workbench.tables import Tables

CREATED = "2026-12-01T08:30:00+08:00"


@pytest.fixture(scope="module")
def sample():
    tables = load_sample()
    return tables, model_frame(tables)


@pytest.fixture(scope="module")
def fitted(sample):
    """The two pipelines of workbench.risk.models; the logistic one with a single penalty (its inner
    cross-validation over 13 penalties is not what is tested here, and is slow on a shared machine)."""
    _, frame = sample
    known = frame.y.notna().to_numpy(bool)
    logistic = build("logistic", frame.spec).set_params(model__Cs=[0.1])
    logistic.fit(frame.X[known], frame.y[known].astype(int).to_numpy())
    return {"logistic": logistic, "boosting": fit(frame, kind="boosting")}


@pytest.fixture(scope="module")
def saved_once(sample, fitted, tmp_path_factory):
    tables, frame = sample
    return save_model(fitted["logistic"], tmp_path_factory.mktemp("risk") / "model", spec=frame.spec, frame=frame,
                      tables=tables, created=CREATED, metrics={"auc": np.float64(0.7)})


@pytest.fixture
def saved(saved_once, tmp_path):
    """A fresh copy of the saved logistic model for each test (tests change its files)."""
    return Path(shutil.copytree(saved_once, tmp_path / "model"))


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_round_trip_gives_identical_predictions(sample, fitted, tmp_path, kind):
    tables, frame = sample
    folder = save_model(fitted[kind], tmp_path / kind, spec=frame.spec, frame=frame, tables=tables, created=CREATED)
    model = load_model(folder)
    assert isinstance(model, SavedModel)
    before = fitted[kind].predict_proba(frame.X)[:, 1]
    assert np.array_equal(model.predict_risk(frame.X), before)  # identical, not only close
    assert model.model == f"not_improving_{kind}@1.1" and model.kind == kind


def test_the_metadata(saved, sample):
    tables, frame = sample
    meta = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    assert list(meta) == list(METADATA_KEYS)
    known = frame.y.notna()
    assert meta["training"]["n"] == int(known.sum()) == 748
    assert meta["training"]["events"] == int(frame.y[known].sum()) == 138
    days = frame.info.loc[known, "assessed_on"]
    assert (meta["training"]["first"], meta["training"]["last"]) == (days.min().date().isoformat(),
                                                                     days.max().date().isoformat())
    assert meta["training"]["source"] == tables.attrs["source"]
    assert meta["predictors"] == frame.spec.names
    assert meta["outcome"]["id"] == "not_improving_12w" and meta["outcome"]["weeks"] == [8, 12]
    assert meta["bands"] == {"medium_from": frame.spec.medium_from, "high_from": frame.spec.high_from}
    assert meta["data_version"] == data_version(tables)
    assert meta["data_tables"] == sorted(DATA_TABLES)
    assert meta["versions"] == package_versions()
    assert set(meta["versions"]) == {"python", "scikit-learn", "numpy", "pandas", "joblib", "workbench"}
    assert meta["created"] == "2026-12-01T00:30:00+00:00"  # the time given, in UTC: no clock read
    assert meta["pickle"]["sha256"] == hashlib.sha256((saved / "model.joblib").read_bytes()).hexdigest()
    assert meta["spec"]["sha256"] == hashlib.sha256(frame.spec.path.read_bytes()).hexdigest()
    assert (saved / "spec.yaml").read_bytes() == frame.spec.path.read_bytes()
    assert meta["metrics"] == {"auc": 0.7}
    assert meta["recalibration"] is None


def test_created_is_an_argument(sample, fitted, tmp_path):
    tables, frame = sample
    with pytest.raises(TypeError):
        save_model(fitted["logistic"], tmp_path / "m", spec=frame.spec, frame=frame, tables=tables)
    with pytest.raises(ParameterError, match="The 'created' parameter of save_model must be a date"):
        save_model(fitted["logistic"], tmp_path / "m", spec=frame.spec, frame=frame, tables=tables, created="soon")


def test_an_existing_model_is_not_replaced_unless_asked(saved, sample, fitted):
    tables, frame = sample
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted["boosting"], saved, spec=frame.spec, frame=frame, tables=tables, created=CREATED)
    save_model(fitted["boosting"], saved, spec=frame.spec, frame=frame, tables=tables, created=CREATED,
               overwrite=True)
    assert load_model(saved).kind == "boosting"


def test_a_tampered_pickle_is_refused(saved):
    data = bytearray((saved / "model.joblib").read_bytes())
    data[len(data) // 2] ^= 0x01
    (saved / "model.joblib").write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as err:
        load_model(saved)
    message = str(err.value)
    assert str(saved / "model.joblib") in message and "SHA-256" in message and "changed after it was saved" in message


def test_another_models_pickle_is_refused(saved, sample, fitted, tmp_path):
    tables, frame = sample
    other = save_model(fitted["boosting"], tmp_path / "other", spec=frame.spec, frame=frame, tables=tables,
                       created=CREATED)
    (saved / "model.joblib").write_bytes((other / "model.joblib").read_bytes())
    with pytest.raises(ModelFileError, match="is not the one recorded in model.json"):
        load_model(saved)


def test_a_changed_spec_is_refused(saved):
    spec = saved / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("high_from: ", "high_from: 0.9 #"), encoding="utf-8")
    with pytest.raises(ModelFileError, match="spec.yaml: missing or changed after saving"):
        load_model(saved)


def test_missing_or_foreign_metadata_is_refused(saved, tmp_path):
    with pytest.raises(ModelFileError, match="model.json: no such file"):
        load_model(tmp_path / "nothing")
    meta = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    (saved / "model.json").write_text(json.dumps({**meta, "format": "something-else"}), encoding="utf-8")
    with pytest.raises(ModelFileError, match="its format must be 'workbench-risk-model@2'"):
        load_model(saved)


def _pretend_saved_with(folder, version: str) -> None:
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    meta["versions"]["scikit-learn"] = version
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")


def test_another_scikit_learn_version_is_refused_unless_allowed(saved, sample):
    _, frame = sample
    _pretend_saved_with(saved, "1.2.2")
    with pytest.raises(ModelFileError) as err:
        load_model(saved)
    message = str(err.value)
    assert "model.joblib" in message and "saved with scikit-learn 1.2.2" in message
    assert "major.minor" in message and "allow_version_mismatch=True" in message
    with pytest.warns(VersionMismatchWarning, match="loaded anyway"):
        model = load_model(saved, allow_version_mismatch=True)
    assert len(model.predict_risk(frame.X.head(3))) == 3


def test_a_patch_release_is_the_same_version(saved):
    import sklearn

    major, minor = sklearn.__version__.split(".")[:2]
    _pretend_saved_with(saved, f"{major}.{minor}.99")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(saved)


# --- data_version ---------------------------------------------------------------------------------

def test_data_version_is_stable_and_changes_with_one_stored_score(sample, saved_once):
    tables, _ = sample
    version = data_version(tables)
    assert version.startswith("sha256:") and len(version) == 7 + 16
    assert json.loads((saved_once / "model.json").read_text(encoding="utf-8"))["data_version"] == version
    # the rest on the scores table alone (the hash is per table, then over the tables in name order)
    scores_only = data_version(tables, names=["scores"])
    assert data_version(load_sample(), names=["scores"]) == scores_only  # read again: the same
    shuffled = tables.scores.sample(frac=1.0, random_state=3)  # rows and columns in another order
    assert data_version(tables.replace(scores=shuffled[shuffled.columns[::-1]]), names=["scores"]) == scores_only
    row = tables.scores.index[tables.scores["score"].notna()][10]
    versions = {}
    for name, value in (("plus_one", tables.scores.loc[row, "score"] + 1), ("blank", np.nan), ("zero", 0.0)):
        changed = tables.scores.copy()
        changed.loc[row, "score"] = value
        versions[name] = data_version(tables.replace(scores=changed), names=["scores"])
    assert len({scores_only, *versions.values()}) == 4  # one changed score changes it; blank is not 0
    # the tables the model frame reads, and wearable days when given
    assert "surveys" not in DATA_TABLES and {"scores", "assessments", "referrals", "decisions"} <= set(DATA_TABLES)
    days = pd.DataFrame({"resident_id": ["R0000001"], "day": pd.to_datetime(["2025-01-01"]), "rmssd": [31.5]})
    assert data_version(tables, names=["scores"], wearable_days=days) != scores_only


def test_data_version_survives_an_export_and_read_back(sample, tmp_path):
    """Written to CSV by workbench.tables.write and read back (types from text): the same version."""
    from workbench.tables import read, write

    tables, _ = sample
    write(tables, tmp_path / "export", formats=("csv",))
    again = read(tmp_path / "export")
    assert data_version(again) == data_version(tables)


def test_the_canonical_text_is_the_documented_one():
    """The bytes hashed, written out by hand: the same on every machine and every run."""
    frame = pd.DataFrame({
        "resident_id": pd.array(["R2", "R1", "R3"], dtype="string"),
        "assessed_on": pd.to_datetime(["2025-03-01", "2025-01-02", "2025-02-01"]),
        "score": [12.0, np.nan, 0.1 + 0.2],
        "note": pd.array(['a, "b"', None, "c"], dtype="string"),
        "prorated": [True, False, False]})
    text = _table_block("scores", frame).decode("utf-8")
    assert text == ("# scores (3 rows)\n"
                    "assessed_on,note,prorated,resident_id,score\n"
                    "2025-01-02,,false,R1,\n"
                    "2025-02-01,c,false,R3,0.30000000000000004\n"
                    '2025-03-01,"a, ""b""",true,R2,12\n')
    t = Tables(communities=pd.DataFrame({"community": pd.array(["A"], dtype="string"),
                                         "community_type": pd.array(["rural"], dtype="string")}))
    block = _table_block("communities", t.communities)
    digest = hashlib.sha256(b"communities:" + str(len(block)).encode() + b"\n" + block).hexdigest()
    assert data_version(t, names=["communities"]) == "sha256:" + digest[:16]
