"""The fitted risk model saved with its versions, and loaded back only when nothing has changed.

A saved model is a folder with two files:

- ``model.joblib``: the fitted scikit-learn pipeline (``joblib.dump``);
- ``model.json``: what the pipeline is and where it came from (:data:`METADATA_KEYS`): the model
  ``id@version``, its outcome, the predictors it was fitted with (``predictors``) and those the
  spec's ``min_observed`` rule left out of the fit, with their counts and reason
  (``predictors_left_out``, from ``pipeline.left_out_``: :func:`workbench.risk.models.fit`), the
  training period, rows and events, the
  ``data_version`` of the analysis tables it was trained on (:func:`data_version`), the versions
  of Python, scikit-learn, NumPy, pandas, joblib and the workbench, the time it was created (an
  argument: nothing here reads the clock), the SHA-256 of ``model.joblib``, and the training
  reference values the reasons are measured from (:mod:`workbench.risk.reasons`).

:func:`load_model` refuses a ``model.joblib`` whose SHA-256 differs from the one in
``model.json`` and a scikit-learn whose major.minor version differs from the one it was saved
with (``allow_version_mismatch=True`` loads it anyway, with a warning).

.. warning::
   A pickle can run any code when it is loaded (joblib files are pickles). Load a saved model only
   from a place you trust (the programme's own model folder). The hash check catches accidents
   and changes made after saving (a file copied half, edited, swapped); it does not make an
   untrusted file safe: whoever can replace ``model.joblib`` can replace ``model.json`` too.

``data_version``
    ``"sha256:"`` and the first 16 hex digits of the SHA-256 over the analysis tables the frame is
    built from (:data:`DATA_TABLES`, and ``wearable_days`` when given), each in a canonical text
    form that does not depend on row order, column order, pandas' dtype of the moment or the
    machine: columns sorted by name; each value written as text (dates ``YYYY-MM-DD``, times
    ISO 8601 in UTC, booleans ``true``/``false``, whole numbers without a decimal point, other
    numbers as Python's shortest round-trip ``repr``, blank as the empty string); rows sorted by
    that text, column by column; each table written as a title line and CSV (header, minimal
    quoting, ``\\n`` line ends), and the tables hashed in name order. Two exports of the same stored records have the same ``data_version``;
    changing one stored score changes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.risk._linear import Recalibrated, log_odds  # re-exported: saved models and callers name them here

__all__ = ["DATA_TABLES", "METADATA_KEYS", "ModelFileError", "Recalibrated", "SavedModel", "VersionMismatchWarning",
           "data_version", "load_model", "package_versions", "save_model"]

#: The analysis tables a model frame is built from (the spec's predictors and outcome read these).
DATA_TABLES = ("assessments", "communities", "decisions", "events", "measurements", "referrals", "residents", "scores")
#: The keys of each entry of ``predictors_left_out``.
LEFT_OUT_KEYS = ("name", "source", "rows", "events", "non_events", "min_rows", "min_events", "reason")
PICKLE = "model.joblib"
METADATA = "model.json"
SPEC = "spec.yaml"
#: The format of ``model.json`` (raised when its keys change; 2: ``predictors_left_out``, and
#: ``predictors`` are those the pipeline was fitted with).
FORMAT = "workbench-risk-model@2"
#: The keys of ``model.json``.
METADATA_KEYS = ("format", "model", "model_id", "version", "kind", "spec", "outcome", "predictors",
                 "predictors_left_out", "bands", "training", "data_version", "data_tables", "versions", "created", "pickle", "reference",
                 "metrics", "recalibration")


class ModelFileError(ValueError):
    """A saved model that is refused: the message names the file and the rule it breaks."""


class VersionMismatchWarning(UserWarning):
    """A saved model loaded with a scikit-learn other than the one it was saved with."""


# --- data_version ------------------------------------------------------------------------------

def _text(values: pd.Series, declared: str | None) -> np.ndarray:
    """Each value of a column as canonical text (see the module docstring); blank -> ''."""
    missing = values.isna().to_numpy(bool)
    dtype = values.dtype
    if declared in ("date", "timestamp") or pd.api.types.is_datetime64_any_dtype(dtype):
        tz = declared == "timestamp" or isinstance(dtype, pd.DatetimeTZDtype)
        when = pd.to_datetime(values, utc=tz)
        raw = (when.dt.tz_convert("UTC").dt.tz_localize(None) if tz else when).to_numpy("datetime64[us]")
        ok = ~missing
        out = np.full(len(raw), "", dtype=object)
        if tz:
            out[ok] = np.char.add(np.datetime_as_string(raw[ok], unit="us"), "Z")
        else:
            day = raw.astype("datetime64[D]")
            midnight = ok & (day == raw)
            out[midnight] = np.datetime_as_string(day[midnight], unit="D")
            out[ok & ~midnight] = np.datetime_as_string(raw[ok & ~midnight], unit="us")
    elif declared in ("bool", "boolean") or pd.api.types.is_bool_dtype(dtype):
        out = np.where(values.fillna(False).astype(bool).to_numpy(bool), "true", "false").astype(object)
    elif pd.api.types.is_integer_dtype(dtype):
        out = values.astype("Int64").astype(str).to_numpy(object)
    elif pd.api.types.is_float_dtype(dtype):
        x = values.astype("float64").to_numpy(float, na_value=np.nan)
        finite = np.isfinite(x)
        whole = finite & (np.floor(np.where(finite, x, 0)) == x) & (np.abs(np.where(finite, x, 0)) < 2 ** 53)
        out = np.empty(len(x), dtype=object)
        out[whole] = x[whole].astype(np.int64).astype(str)
        out[~whole] = [repr(float(v)) for v in x[~whole]]
    elif isinstance(dtype, pd.StringDtype):
        out = values.to_numpy(object, na_value="")
    else:
        out = np.array([_one(v) for v in values.to_numpy(object)], dtype=object)
    out[missing] = ""
    return out


def _one(v) -> str:
    """One value of a column of mixed or text values as canonical text."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 2 ** 53 else repr(f)
    if isinstance(v, (dt.date, pd.Timestamp)):
        return pd.Timestamp(v).isoformat()
    return str(v)


def _table_block(name: str, frame: pd.DataFrame) -> bytes:
    """One table's canonical text: a title line, then CSV (minimal quoting, ``\\n`` line ends) of
    the columns in name order and the rows sorted by their text, column by column."""
    from workbench.tables import TABLES

    declared = {c.name: c.dtype for c in TABLES[name].columns} if name in TABLES else {}
    columns = sorted(map(str, frame.columns))
    text = pd.DataFrame({c: _text(frame[c], declared.get(c)) for c in columns}, columns=columns)
    if len(columns):
        text = text.sort_values(columns, kind="stable", ignore_index=True)
    body = text.to_csv(index=False, lineterminator="\n")
    return (f"# {name} ({len(frame)} rows)\n" + body).encode("utf-8")


def data_version(tables, *, names: Sequence[str] = DATA_TABLES, wearable_days: pd.DataFrame | None = None) -> str:
    """The version of the data a model was trained on: a hash of the analysis tables ``names``.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables.
    names : sequence of str
        The tables hashed (default :data:`DATA_TABLES`: those the model frame reads).
    wearable_days : DataFrame, optional
        The daily wearable features, hashed as the table ``wearable_days`` when given.

    Returns
    -------
    str
        ``"sha256:"`` and 16 hex digits. How the tables are written before hashing is in the module
        docstring: the same records give the same version whatever the row or column order, the
        dtype or the machine; one changed value gives another.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.tables import Tables
    >>> t = Tables(communities=pd.DataFrame({"community": pd.array(["A", "B"], dtype="string"),
    ...                                      "community_type": pd.array(["urban", None], dtype="string")}))
    >>> v = data_version(t, names=["communities"])
    >>> v.startswith("sha256:"), len(v)
    (True, 23)
    >>> flipped = t.replace(communities=t.communities.iloc[::-1, ::-1])
    >>> data_version(flipped, names=["communities"]) == v
    True
    """
    frames = {name: tables[name] for name in names}
    if wearable_days is not None:
        frames["wearable_days"] = wearable_days
    digest = hashlib.sha256()
    for name in sorted(frames):
        block = _table_block(name, frames[name])
        digest.update(f"{name}:{len(block)}\n".encode("utf-8"))
        digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


# --- versions ------------------------------------------------------------------------------------

def package_versions() -> dict[str, str]:
    """The versions a saved model records: python, scikit-learn, numpy, pandas, joblib, workbench.

    >>> sorted(package_versions())
    ['joblib', 'numpy', 'pandas', 'python', 'scikit-learn', 'workbench']
    """
    import joblib
    import sklearn

    import workbench

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "joblib": joblib.__version__, "workbench": workbench.__version__}


def _major_minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the saved model -----------------------------------------------------------------------------

@dataclass
class SavedModel:
    """A fitted pipeline with its metadata (``model.json``, :data:`METADATA_KEYS`).

    ``folder`` is where it was saved or loaded from (None for a model only in memory, e.g. just
    recalibrated: :meth:`save` writes it).
    """

    pipeline: Any
    metadata: dict
    folder: Path | None = None
    spec: Any = field(default=None, repr=False)

    @property
    def model(self) -> str:
        """``id@version``, e.g. ``not_improving_logistic@1.1``."""
        return self.metadata["model"]

    @property
    def version(self) -> str:
        return self.metadata["version"]

    @property
    def kind(self) -> str:
        return self.metadata["kind"]

    @property
    def data_version(self) -> str:
        return self.metadata["data_version"]

    @property
    def outcome(self) -> str:
        return self.metadata["outcome"]["id"]

    @property
    def predictors(self) -> list[str]:
        return list(self.metadata["predictors"])

    @property
    def bands(self) -> dict[str, float]:
        return dict(self.metadata["bands"])

    @property
    def left_out(self) -> pd.DataFrame:
        """The predictors of the spec left out of the fit, with their counts and reason
        (``metadata["predictors_left_out"]``: ``name, source, rows, events, non_events, min_rows,
        min_events, reason``)."""
        return pd.DataFrame(self.metadata.get("predictors_left_out") or [], columns=LEFT_OUT_KEYS)

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The predicted risk (probability of the outcome) of each row of ``X``, read from exactly the
        predictors the model was fitted with (``predictors``; other columns of ``X`` are not read)."""
        from workbench.risk.models import single_threaded

        with single_threaded():
            return np.asarray(self.pipeline.predict_proba(X[self.predictors]))[:, 1]

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """The predicted log-odds of each row of ``X`` (the linear predictor of a logistic model)."""
        from workbench.risk.models import single_threaded

        with single_threaded():
            return log_odds(self.pipeline, X[self.predictors])

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``model.joblib`` and ``model.json`` into ``folder`` (created); the pickle's
        SHA-256 is computed from the file written. Refuses to replace a saved model unless
        ``overwrite``. Returns the folder."""
        import joblib

        folder = Path(folder)
        if not overwrite and ((folder / PICKLE).exists() or (folder / METADATA).exists()):
            raise FileExistsError(f"{folder / METADATA}: a saved model is already there; pass overwrite=True "
                                  "to replace it.")
        folder.mkdir(parents=True, exist_ok=True)
        metadata = dict(self.metadata)
        if self.spec is not None:  # the spec travels with the model, unchanged
            spec_bytes = Path(self.spec.path).read_bytes()
            (folder / SPEC).write_bytes(spec_bytes)
            metadata["spec"] = {**metadata["spec"], "file": SPEC, "sha256": hashlib.sha256(spec_bytes).hexdigest()}
        joblib.dump(self.pipeline, folder / PICKLE)
        metadata["pickle"] = {"file": PICKLE, "sha256": _sha256(folder / PICKLE)}
        (folder / METADATA).write_text(json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
                                       encoding="utf-8")
        self.metadata, self.folder = metadata, folder
        return folder

    def _repr_html_(self) -> str:
        m = self.metadata
        t = m["training"]
        return (f"<b>{m['model']}</b> ({m['kind']}): {m['outcome']['id']}; trained on {t['n']} referrals, "
                f"{t['events']} events, {t['first']} to {t['last']}; data {m['data_version']}")


def _iso(value, *, function: str = "save_model") -> str:
    """``created`` as ISO 8601 text in UTC (a time without a zone is taken as UTC)."""
    from workbench.params import Date, check

    check(function, "created", value, Date())
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()


def _plain(value):
    """JSON-ready: numpy numbers to Python, NaN to None, Timestamps to ISO text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (pd.Timestamp, dt.date)):
        return pd.Timestamp(value).date().isoformat() if pd.Timestamp(value) == pd.Timestamp(value).normalize() \
            else pd.Timestamp(value).isoformat()
    if value is pd.NA or value is None:
        return None
    return value


# --- save and load -------------------------------------------------------------------------------

def _training(frame, tables=None) -> dict[str, Any]:
    """n, events and the first and last screening day of the rows with a known outcome; where
    the tables came from (``source``: sample, synth, registry, export) and how many of those rows
    had no wearable data."""
    y = pd.Series(frame.y)
    known = y.notna().to_numpy(bool)
    info = getattr(frame, "info", None)
    days = None
    if isinstance(info, pd.DataFrame) and "assessed_on" in info.columns:
        days = pd.to_datetime(info["assessed_on"]).to_numpy()[known]
    first = _plain(pd.Timestamp(days.min())) if days is not None and len(days) else None
    last = _plain(pd.Timestamp(days.max())) if days is not None and len(days) else None
    no_wear = None
    if "no_wearable_data" in frame.X.columns:
        no_wear = int((frame.X["no_wearable_data"].to_numpy(float)[known] == 1).sum())
    source = getattr(tables, "attrs", {}).get("source") if tables is not None else None
    return {"n": int(known.sum()), "events": int(y[known].astype(float).sum()), "first": first, "last": last,
            "source": source, "no_wearable_rows": no_wear}


def save_model(pipeline, folder: str | Path, *, spec, frame, tables, created, kind: str | None = None,
               metrics: Mapping[str, Any] | None = None, wearable_days: pd.DataFrame | None = None,
               overwrite: bool = False) -> Path:
    """Save a fitted risk pipeline with everything needed to trust it later.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline (:func:`workbench.risk.models.fit`), steps ``prep`` and ``model``.
    folder : str or Path
        Where ``model.joblib``, ``model.json`` and ``spec.yaml`` (a copy of the spec file) are written.
    spec : workbench.risk.spec.ModelSpec
        The spec the frame was built with.
    frame : ModelFrame
        The frame the pipeline was fitted on (``X``, ``y``, ``info``): n, events, the training
        period and the reference values of the reasons are read from it.
    tables : workbench.tables.Tables
        The analysis tables the frame was built from: their :func:`data_version` is recorded.
    created : datetime or str
        When the model was made (stored in UTC); an argument, so saving reads no clock.
    kind : str, optional
        ``"logistic"`` or ``"boosting"``; found from the pipeline's model when not given.
    metrics : mapping, optional
        Validation figures to keep beside the model (JSON-ready numbers).
    wearable_days : DataFrame, optional
        The daily wearable features the frame used (hashed into ``data_version`` too).
    overwrite : bool
        Replace a model already saved in ``folder``.

    Returns
    -------
    Path
        The folder.

    Notes
    -----
    Load it with :func:`load_model`, only from a place you trust: a pickle can run code when
    loaded (see the module docstring). The model's id is ``<spec id>_<kind>@<spec version>``.

    Examples
    --------
    >>> import tempfile
    >>> from workbench.risk import _toy
    >>> from workbench.risk.spec import load_spec
    >>> toy, spec = _toy.toy(), load_spec()
    >>> folder = save_model(toy.pipeline, tempfile.mkdtemp(), spec=spec, frame=toy, tables=toy.tables,
    ...                     created="2026-01-05T09:00:00Z")
    >>> saved = load_model(folder)
    >>> saved.model, saved.metadata["training"]["n"], saved.metadata["created"]
    ('not_improving_logistic@1.1', 60, '2026-01-05T09:00:00+00:00')
    """
    folder = Path(folder)
    if not overwrite and ((folder / PICKLE).exists() or (folder / METADATA).exists()):
        raise FileExistsError(f"{folder / METADATA}: a saved model is already there; pass overwrite=True to replace it.")
    metadata = _metadata(pipeline, spec=spec, frame=frame, tables=tables, created=created, kind=kind,
                         metrics=metrics, wearable_days=wearable_days)
    return SavedModel(pipeline=pipeline, metadata=metadata, spec=spec).save(folder, overwrite=overwrite)


def _metadata(pipeline, *, spec, frame, tables, created, kind=None, metrics=None, wearable_days=None) -> dict:
    """``model.json`` of a fitted pipeline, but its pickle's hash (:func:`save_model`)."""
    from workbench.risk.reasons import reference_values

    from workbench.risk.models import fitted_predictors

    kind = kind or _kind_of(pipeline)
    predictors = fitted_predictors(pipeline)
    X = frame.X[predictors][pd.Series(frame.y).notna().to_numpy(bool)]  # the rows and columns it was fitted on
    left = getattr(pipeline, "left_out_", None)
    left_out = [] if left is None else _plain([{k: r[k] for k in LEFT_OUT_KEYS} for r in left.to_dict("records")])
    spec_bytes = Path(spec.path).read_bytes()
    metadata = {
        "format": FORMAT,
        "model": f"{spec.id}_{kind}@{spec.version}",
        "model_id": f"{spec.id}_{kind}",
        "version": spec.version,
        "kind": kind,
        "spec": {"id": spec.id, "version": spec.version, "file": SPEC,
                 "sha256": hashlib.sha256(spec_bytes).hexdigest()},
        "outcome": {"id": spec.outcome.id, "definition": spec.outcome.definition,
                    "weeks": [spec.outcome.from_week, spec.outcome.to_week],
                    "phq9_below": spec.outcome.phq9_below, "min_fall": spec.outcome.min_fall,
                    "thresholds_version": spec.outcome.thresholds_version, "source": spec.outcome.source,
                    "en": spec.outcome.text["en"], "zh": spec.outcome.text["zh"]},
        "predictors": predictors,
        "predictors_left_out": left_out,
        "bands": {"medium_from": spec.medium_from, "high_from": spec.high_from},
        "training": _training(frame, tables),
        "data_version": data_version(tables, wearable_days=wearable_days),
        "data_tables": sorted([*DATA_TABLES, *(["wearable_days"] if wearable_days is not None else [])]),
        "versions": package_versions(),
        "created": _iso(created),
        "pickle": None,
        "reference": reference_values(pipeline, X),
        "metrics": _plain(dict(metrics or {})),
        "recalibration": None,
    }
    return metadata


def _kind_of(pipeline) -> str:
    model = pipeline.named_steps["model"] if hasattr(pipeline, "named_steps") else pipeline
    return "logistic" if type(model).__name__.startswith("Logistic") else "boosting"


def load_model(folder: str | Path, *, allow_version_mismatch: bool = False) -> SavedModel:
    """Load a saved risk model, refusing one that changed after it was saved.

    Parameters
    ----------
    folder : str or Path
        A folder written by :func:`save_model` (or :meth:`SavedModel.save`).
    allow_version_mismatch : bool
        Load a model saved with another scikit-learn major.minor version anyway (with a
        :class:`VersionMismatchWarning`); its predictions may differ or fail.

    Returns
    -------
    SavedModel

    Raises
    ------
    ModelFileError
        Naming the file and the rule: ``model.json`` missing or not of this format; the SHA-256 of
        ``model.joblib`` not the one recorded (changed after saving); ``spec.yaml`` changed; a
        scikit-learn version other than the one it was saved with.

    Notes
    -----
    **Load only from a place you trust.** ``model.joblib`` is a pickle, and unpickling can run any
    code. The hash is checked before anything is unpickled; it catches accidents (a half-copied
    file) and changes made after saving, not a file made to harm: whoever can write the pickle can
    write its hash too.

    Examples
    --------
    >>> import tempfile
    >>> from workbench.risk import _toy
    >>> from workbench.risk.spec import load_spec
    >>> toy = _toy.toy()
    >>> folder = save_model(toy.pipeline, tempfile.mkdtemp(), spec=load_spec(), frame=toy, tables=toy.tables,
    ...                     created="2026-01-05T09:00:00Z")
    >>> with open(folder / "model.joblib", "ab") as f:
    ...     _ = f.write(b"!")
    >>> load_model(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    workbench.risk.artefact.ModelFileError: .../model.joblib: its SHA-256 ... is not the one recorded in model.json ...
    """
    import joblib
    import sklearn

    from workbench.risk.spec import load_spec

    folder = Path(folder)
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise ModelFileError(f"{meta_path}: no such file; a saved model is a folder with {METADATA} and {PICKLE}.")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelFileError(f"{meta_path}: not valid JSON ({exc}); it must be the metadata save_model wrote.") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path}: its format must be {FORMAT!r}. Got "
                             f"{metadata.get('format') if isinstance(metadata, dict) else metadata!r} instead.")
    missing = [k for k in METADATA_KEYS if k not in metadata]
    if missing:
        raise ModelFileError(f"{meta_path}: the keys {missing} are missing; it must have {list(METADATA_KEYS)}.")
    pickle_path = folder / metadata["pickle"]["file"]
    if not pickle_path.is_file():
        raise ModelFileError(f"{pickle_path}: no such file; {METADATA} says the fitted model is there.")
    found = _sha256(pickle_path)
    if found != metadata["pickle"]["sha256"]:
        raise ModelFileError(f"{pickle_path}: its SHA-256 {found[:16]}... is not the one recorded in {METADATA} "
                             f"({metadata['pickle']['sha256'][:16]}...): the file changed after it was saved; it is "
                             "not loaded (save the model again from its training run).")
    spec_path = folder / metadata["spec"]["file"]
    if not spec_path.is_file() or hashlib.sha256(spec_path.read_bytes()).hexdigest() != metadata["spec"]["sha256"]:
        raise ModelFileError(f"{spec_path}: missing or changed after saving (its SHA-256 must be the one recorded "
                             f"in {METADATA}); the model's spec is kept beside it unchanged.")
    saved_with, running = metadata["versions"]["scikit-learn"], sklearn.__version__
    if _major_minor(saved_with) != _major_minor(running):
        rule = (f"{pickle_path}: saved with scikit-learn {saved_with}, this is {running}: a model is loaded only with "
                f"the scikit-learn major.minor version it was saved with ({_major_minor(saved_with)}), since "
                "a fitted estimator may predict differently or fail under another")
        if not allow_version_mismatch:
            raise ModelFileError(rule + "; refit it, or pass allow_version_mismatch=True to load it anyway.")
        warnings.warn(rule + "; loaded anyway (allow_version_mismatch=True): check its predictions.",
                      VersionMismatchWarning, stacklevel=2)
    spec = load_spec(spec_path)
    with warnings.catch_warnings():
        if allow_version_mismatch:
            warnings.simplefilter("ignore", category=getattr(sklearn.exceptions, "InconsistentVersionWarning",
                                                             UserWarning))
        pipeline = joblib.load(pickle_path)
    from workbench.risk.models import fitted_predictors

    fitted = fitted_predictors(pipeline)
    if fitted != list(metadata["predictors"]) or not set(fitted) <= set(spec.names):
        raise ModelFileError(f"{meta_path}: its predictors {metadata['predictors']} are not those the model in "
                             f"{PICKLE} was fitted with {fitted} (all among the spec's); it is not loaded.")
    return SavedModel(pipeline=pipeline, metadata=metadata, folder=folder, spec=spec)

