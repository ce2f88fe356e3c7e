"""Raw wearable readings in partitioned Parquet, outside the registry: written a batch at a time,
all or nothing, and read back by the partitions a question needs.

Layout under ``root``::

    kind=heart_rate/month=2025-03/<batch>-<hash>.parquet   one file per batch, kind and month
    rejected/<batch>-<hash>.parquet                        the readings a batch refused, with their rules
    _batches/<batch>.json                                  a batch's manifest: written last, it commits the batch

- ``month`` is the month of the reading's **local** day (its ``start`` in its own ``tz``).
- Columns of a readings file: ``resident_id``, ``device_id``, ``tz`` dictionary-encoded strings;
  ``start``, ``end`` int64 UTC timestamps (nanoseconds, exact); ``value`` float32 when every value
  of the file survives float32 exactly (heart rate, RR, steps: whole numbers and halves), else
  float64 (so a read gives back exactly what was written). ``kind`` and ``month`` are the folders.
- **All or nothing**: a batch is written to ``_tmp/`` first, its files then moved into their
  folders, and its manifest written last (write-then-rename, atomic). Readers read only files a
  manifest lists, so a batch is seen whole or not at all; a failure removes what the batch wrote.
- **Re-ingest**: a batch id is the readings' content hash unless given. Writing a batch id already
  stored with the same content does nothing (``status: "unchanged"``); with other content it is
  **refused** (:class:`FileExistsError`): a stored batch is never silently replaced. (Two
  processes writing the same new batch id at the same moment are not guarded against: the last
  manifest wins, and both wrote the same file names only if the content was the same.)
- **Each reading once** (overlapping exports from a phone app are common): before writing, the
  stored readings of the batch's devices are looked up, in the partitions of its kinds and local
  months only (:mod:`workbench.wearables._stored`). A reading identical to a stored one (resident,
  device, kind, start, end, zone, and value as float32 holds it) is **already stored**: counted
  (``already_stored``), not written again; a batch whose every reading is stored already writes no
  readings file (``status: "already_stored"``; its manifest records it). A reading with the device,
  kind and start of a stored one but another value, end, resident or zone, or a sleep episode that
  overlaps a stored episode of its device, **conflicts** with it: a problem naming the row, column,
  value and the batch that stored the other ("conflicts with the reading stored in batch 'a'").
  Two processes writing overlapping batches at the same moment are not guarded against.
  :func:`read_readings` also drops exact duplicates (a store written before this check may hold an
  overlapping upload twice).
- A batch whose readings were refused by the rules (an :class:`~workbench.wearables.ingest.IngestResult`
  with problems, or a frame :func:`~workbench.wearables.ingest.check_readings` refuses) or conflict
  with stored readings is refused whole, unless ``keep_rejected=True``: then the good readings are
  stored and the refused ones go to ``rejected/`` with their rules, so nothing is lost.

Examples
--------
>>> import tempfile
>>> import pandas as pd
>>> readings = pd.DataFrame({"resident_id": ["R1"], "device_id": ["D1"], "kind": ["heart_rate"],
...                          "start": pd.to_datetime(["2025-03-01 00:00"], utc=True),
...                          "end": pd.to_datetime(["2025-03-01 00:00"], utc=True), "value": [61.0],
...                          "tz": ["Asia/Shanghai"]})
>>> root = tempfile.mkdtemp()
>>> summary = write_readings(readings, root, batch_id="b1", as_of="2025-03-02")
>>> summary["status"], summary["rows"], [f.split("/")[:2] for f in summary["files"]]
('written', 1, [['kind=heart_rate', 'month=2025-03']])
>>> read_readings(root, kinds=["heart_rate"])[["resident_id", "start", "value", "tz"]]
  resident_id                     start  value             tz
0          R1 2025-03-01 00:00:00+00:00   61.0  Asia/Shanghai
>>> write_readings(readings, root, batch_id="b1", as_of="2025-03-02")["status"]
'unchanged'
>>> again = write_readings(readings, root, batch_id="b2", as_of="2025-03-02")  # an overlapping export
>>> again["status"], again["rows"], again["already_stored"], again["files"]
('already_stored', 0, 1, [])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from workbench.params import Instance, NonEmptyStr, Optional, Options, Predicate, Sequence, validate_params
from workbench.wearables._checks import KINDS, PROBLEM_COLUMNS, READING_COLUMNS, REJECTED_COLUMNS, canonical, is_instant
from workbench.wearables._stored import LOCAL_REACH as _LOCAL_REACH
from workbench.wearables._stored import against_store, conflict_rejected
from workbench.wearables.ingest import IngestResult, ReadingProblemsError, check_readings

__all__ = ["FILE_SCHEMA", "dask_readings", "read_readings", "read_rejected", "readings_files", "stored_batches",
           "write_readings"]

#: The columns of a readings file (``value`` may be float32 in a file: read back as float64).
FILE_SCHEMA = pa.schema([("resident_id", pa.dictionary(pa.int32(), pa.string())),
                         ("device_id", pa.dictionary(pa.int32(), pa.string())),
                         ("start", pa.timestamp("ns", tz="UTC")), ("end", pa.timestamp("ns", tz="UTC")),
                         ("value", pa.float64()), ("tz", pa.dictionary(pa.int32(), pa.string()))])
_PARTITIONS = pa.schema([("kind", pa.string()), ("month", pa.string())])
_DATASET = pa.schema([*FILE_SCHEMA, *_PARTITIONS])
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _when(value) -> pd.Timestamp:
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


_INSTANT = Optional(Predicate(is_instant, "an instant (pandas.Timestamp, datetime or ISO text)"))
_ROOT = Instance(str, os.PathLike, name="a folder (str or pathlib.Path)")
_KINDS = Optional(Sequence(Options(*KINDS), min_length=1))
_RESIDENTS = Optional(Sequence(NonEmptyStr(), min_length=1))


# --- writing ---------------------------------------------------------------------------------------

def _content_hash(readings: pd.DataFrame, rejected: pd.DataFrame | None) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(readings.astype({"kind": "string"}), index=False).to_numpy().tobytes())
    if rejected is not None and len(rejected):
        digest.update(pd.util.hash_pandas_object(rejected.astype("string"), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _local_months(readings: pd.DataFrame) -> pd.Series:
    """``YYYY-MM`` of each reading's local day (its start in its own zone)."""
    number = np.zeros(len(readings), dtype="int64")
    codes, zones = pd.factorize(readings["tz"])
    for i, name in enumerate(zones):
        at = codes == i
        local = pd.DatetimeIndex(readings["start"].to_numpy(dtype="datetime64[ns]")[at]).tz_localize("UTC").tz_convert(name)
        number[at] = local.year * 100 + local.month
    return pd.Series(pd.Categorical(number).rename_categories(lambda m: f"{m // 100:04d}-{m % 100:02d}"),
                     index=readings.index).astype(str)


def _table(part: pd.DataFrame) -> pa.Table:
    values = part["value"].to_numpy(dtype="float64")
    exact = np.array_equal(values.astype("float32").astype("float64"), values, equal_nan=True)
    return pa.table({
        "resident_id": pa.array(part["resident_id"].astype(object).to_numpy(), pa.string()).dictionary_encode(),
        "device_id": pa.array(part["device_id"].astype(object).to_numpy(), pa.string()).dictionary_encode(),
        "start": pa.array(part["start"], pa.timestamp("ns", tz="UTC")),
        "end": pa.array(part["end"], pa.timestamp("ns", tz="UTC")),
        "value": pa.array(values.astype("float32") if exact else values),
        "tz": pa.array(part["tz"].astype(object).to_numpy(), pa.string()).dictionary_encode()})


def _manifest(root: Path, batch_id: str) -> dict | None:
    path = root / "_batches" / f"{batch_id}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _manifests(root: Path) -> list[dict]:
    folder = root / "_batches"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def stored_batches(root) -> pd.DataFrame:
    """The batches committed under ``root``: ``batch_id, rows, already_stored, rejected_rows,
    files, written_at`` (``rows``: the readings the batch wrote; ``already_stored``: its readings
    another batch had stored already, not written again; 0 for batches written before that count).

    >>> import tempfile
    >>> stored_batches(tempfile.mkdtemp()).columns.tolist()
    ['batch_id', 'rows', 'already_stored', 'rejected_rows', 'files', 'written_at']
    """
    columns = ["batch_id", "rows", "already_stored", "rejected_rows", "files", "written_at"]
    return pd.DataFrame([{"batch_id": m["batch_id"], "rows": m["rows"], "already_stored": m.get("already_stored", 0),
                          "rejected_rows": m["rejected_rows"], "files": len(m["files"]),
                          "written_at": m["written_at"]} for m in _manifests(Path(root))], columns=columns)


_SUMMARY = ("batch_id", "rows", "already_stored", "rejected_rows", "files", "content_hash")


def _with_rows(result: IngestResult) -> tuple[pd.DataFrame, np.ndarray]:
    """The readings in the contract's frame and the row of each (numbered from 1 when not known)."""
    n = len(result.readings)
    rows = result.rows if result.rows is not None and len(result.rows) == n else np.arange(1, n + 1)
    good = canonical(result.readings.reset_index(drop=True).assign(_row=np.asarray(rows)), extra=("_row",))
    return good.drop(columns="_row"), good["_row"].to_numpy(dtype="int64")


@validate_params({"root": _ROOT, "batch_id": Optional(Predicate(lambda v: isinstance(v, str) and bool(_BATCH.match(v)),
                                                                "a batch id of letters, digits, '.', '_' or '-'")),
                  "rejected": Optional(Instance(pd.DataFrame, name="a pandas DataFrame")),
                  "keep_rejected": Options(True, False), "as_of": _INSTANT})
def write_readings(readings, root, *, batch_id: str | None = None, rejected: pd.DataFrame | None = None,
                   keep_rejected: bool = False, as_of=None) -> dict[str, Any]:
    """Store a batch of readings (all or nothing), each reading once.

    Parameters
    ----------
    readings : IngestResult or DataFrame
        What a reader returned, or a frame in the contract's shape (then checked with
        :func:`~workbench.wearables.ingest.check_readings`).
    root : str or Path
        The store's folder (created if absent).
    batch_id : str, optional
        The batch's name (letters, digits, ``.``, ``_``, ``-``); default: ``b-`` and the first 16
        hex digits of the content hash, so the same readings are the same batch.
    rejected : DataFrame, optional
        Refused readings to keep with the batch (:data:`~workbench.wearables.ingest.REJECTED_COLUMNS`);
        default: those of the IngestResult or of the check.
    keep_rejected : bool, default False
        False: a batch with refused readings (by the rules, or conflicting with stored readings) is
        refused whole (:class:`ReadingProblemsError`, nothing written). True: the good readings are
        stored and the refused ones kept in ``rejected/`` with their rules.
    as_of : instant, optional
        For the check of a frame: readings after it are from the future (default: now).

    Returns
    -------
    dict
        ``batch_id``; ``status``: "written", "already_stored" (every reading was stored already by
        other batches: no readings file written, only the batch's manifest and its refused
        readings) or "unchanged" (this batch id was stored with this content: nothing done);
        ``rows`` (readings written), ``already_stored`` (identical readings other batches had
        stored, not written again), ``rejected_rows``, ``files`` (paths relative to ``root``),
        ``content_hash``; ``problems``: the readings refused for a conflict with the store
        (``source, row, column, value, rule, rule_zh, action``; empty for "unchanged").

    Notes
    -----
    Before writing, the stored readings of the batch's devices are looked up in the partitions the
    batch touches (its kinds; the local months within 14 hours of its readings' starts, and for
    sleep episodes of the stored episodes they could overlap), never the whole store. A reading
    with the same resident, device, kind, start, end, value (compared as float32, the precision a
    file may hold) and zone as a stored one is **already stored**: counted, not written again. One
    with the same device, kind and start but another value, end, resident or zone, and a sleep
    episode overlapping a stored episode of its device, **conflicts** with the stored reading: a
    problem naming its row, column, value and the batch that stored the other (the zone counts: it
    decides the reading's local day).
    """
    if not isinstance(readings, (IngestResult, pd.DataFrame)):
        raise TypeError(f"readings must be an IngestResult or a DataFrame. Got {type(readings).__name__} instead.")
    result = readings if isinstance(readings, IngestResult) else check_readings(readings, as_of=as_of)
    good, rows = _with_rows(result)
    refused = result.rejected if rejected is None else rejected[list(REJECTED_COLUMNS)]
    refused = refused.astype({c: "string" for c in REJECTED_COLUMNS if c != "row"}).astype({"row": "Int64"})
    content = _content_hash(good, refused)
    batch_id = batch_id or f"b-{content[:16]}"
    root = Path(root)
    refused_by_rules = result.refused
    if keep_rejected or not len(refused_by_rules):
        known = _manifest(root, batch_id)
        if known is not None:
            if known["content_hash"] != content:
                raise FileExistsError(f"The batch {batch_id!r} is already stored in {root} with other readings; a "
                                      "stored batch is never replaced: give the new readings another batch_id.")
            return {**{k: known.get(k, 0) for k in _SUMMARY}, "status": "unchanged",
                    "problems": pd.DataFrame(columns=list(PROBLEM_COLUMNS))}
    committed = [(str(root / f), f, m["batch_id"]) for m in _manifests(root) for f in m["files"]]
    already, conflicts = against_store(committed, good, rows, source=result.source, schema=FILE_SCHEMA)
    if not keep_rejected and (len(refused_by_rules) or len(conflicts)):
        both = [f for f in (refused_by_rules, conflicts) if len(f)]
        both = pd.concat([f[["source", "row", "column", "value", "rule"]].astype({"row": "Int64"}) for f in both],
                         ignore_index=True).sort_values("row", kind="stable", na_position="first")
        listed = list(zip(both["source"], [None if pd.isna(r) else int(r) for r in both["row"]], both["column"],
                          both["value"], both["rule"]))
        raise ReadingProblemsError(listed, context=f"wearable readings from {result.source} for batch {batch_id!r}")
    if len(conflicts):
        refused = pd.concat([refused, conflict_rejected(good, rows, conflicts, result.source)], ignore_index=True)
    keep = ~already
    keep[conflicts["pos"].to_numpy(dtype="int64")] = False
    new = good[keep]
    stem = f"{batch_id}-{content[:8]}"
    temporary = root / "_tmp" / f"{stem}-{uuid.uuid4().hex[:8]}"
    moved: list[Path] = []
    made: list[Path] = []
    pending: Path | None = None
    try:
        files = []
        if len(new):
            months = _local_months(new)
            for (kind, month), part in new.groupby([new["kind"].astype(str), months], sort=True):
                relative = Path(f"kind={kind}") / f"month={month}" / f"{stem}.parquet"
                (temporary / relative).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(_table(part), temporary / relative, compression="zstd")
                files.append(relative)
        rejected_file = None
        if len(refused):
            rejected_file = Path("rejected") / f"{stem}.parquet"
            (temporary / rejected_file).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(refused, preserve_index=False), temporary / rejected_file,
                           compression="zstd")
        for relative in [*files, *([rejected_file] if rejected_file else [])]:
            for folder in reversed((root / relative).parents):
                if folder != root and root in folder.parents and not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            os.replace(temporary / relative, root / relative)
            moved.append(root / relative)
        manifest = {"format": 1, "batch_id": batch_id, "content_hash": content, "rows": int(len(new)),
                    "already_stored": int(already.sum()), "rejected_rows": int(len(refused)),
                    "files": [p.as_posix() for p in files],
                    "rejected": rejected_file.as_posix() if rejected_file else None,
                    "kinds": {str(k): int(v) for k, v in new["kind"].value_counts(sort=False).items() if v},
                    "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        batches = root / "_batches"
        batches.mkdir(parents=True, exist_ok=True)
        pending = batches / f".{batch_id}.json.{uuid.uuid4().hex[:8]}"
        pending.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(pending, batches / f"{batch_id}.json")  # the commit
    except BaseException:
        if pending is not None:
            pending.unlink(missing_ok=True)
        for path in moved:
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        for leftover in (root / "_tmp", root / "_batches"):
            if leftover.exists() and not any(leftover.iterdir()):
                leftover.rmdir()
    status = "already_stored" if not len(new) and already.any() else "written"
    return {k: manifest[k] for k in _SUMMARY} | {"status": status, "problems": conflicts.drop(columns="pos")}


# --- reading ---------------------------------------------------------------------------------------

def _committed(root: Path) -> list[str]:
    return sorted(f for m in _manifests(root) for f in m["files"])


def _partition_filter(kinds, start, end):
    """The partitions a read of ``kinds`` starting in [start, end) needs: a reading's local month
    lies within 14 hours of its UTC start, and ``YYYY-MM`` text sorts as the months do."""
    parts = []
    if kinds is not None:
        parts.append(pc.field("kind").isin(list(kinds)))
    if start is not None:
        parts.append(pc.field("month") >= (_when(start) - _LOCAL_REACH).strftime("%Y-%m"))
    if end is not None:
        parts.append(pc.field("month") <= (_when(end) + _LOCAL_REACH).strftime("%Y-%m"))
    expr = None
    for p in parts:
        expr = p if expr is None else expr & p
    return expr


def _row_filter(residents, start, end):
    expr = None
    parts = []
    if residents is not None:
        parts.append(pc.field("resident_id").isin(list(residents)))
    if start is not None:
        parts.append(pc.field("start") >= pa.scalar(_when(start), pa.timestamp("ns", tz="UTC")))
    if end is not None:
        parts.append(pc.field("start") < pa.scalar(_when(end), pa.timestamp("ns", tz="UTC")))
    for p in parts:
        expr = p if expr is None else expr & p
    return expr


def readings_files(root, *, start=None, end=None, kinds=None) -> list[str]:
    """The committed files a read of ``kinds`` starting in [``start``, ``end``) opens (paths
    relative to ``root``): the partitions are pruned by kind and local month before any file is
    opened.

    >>> import tempfile
    >>> readings_files(tempfile.mkdtemp(), kinds=["heart_rate"])
    []
    """
    root = Path(root)
    committed = _committed(root)
    if not committed:
        return []
    dataset = ds.dataset([str(root / f) for f in committed], schema=_DATASET, format="parquet",
                         partitioning=ds.partitioning(_PARTITIONS, flavor="hive"), partition_base_dir=str(root))
    expr = _partition_filter(kinds, start, end)
    fragments = dataset.get_fragments(filter=expr) if expr is not None else dataset.get_fragments()
    return sorted(Path(f.path).relative_to(root).as_posix() for f in fragments)


def _frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame["kind"] = frame["kind"].astype(str)
    return canonical(frame[list(READING_COLUMNS)])


def _without_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (sorted by resident, device, kind, start) with exact duplicates (every column
    equal) kept once. Only runs of rows sharing resident, device, kind and start are compared."""
    if len(frame) < 2:
        return frame
    same = np.ones(len(frame) - 1, dtype=bool)
    for values in (frame["kind"].cat.codes.to_numpy(), frame["start"].to_numpy(dtype="datetime64[ns]"),
                   frame["device_id"].to_numpy(dtype=object), frame["resident_id"].to_numpy(dtype=object)):
        same &= values[1:] == values[:-1]
    if not same.any():
        return frame
    involved = np.zeros(len(frame), dtype=bool)
    involved[1:] |= same
    involved[:-1] |= same
    runs = frame[involved]
    return frame.drop(index=runs.index[runs.duplicated(keep="first")]).reset_index(drop=True)


_READ_PARAMS = {"root": _ROOT, "residents": _RESIDENTS, "start": _INSTANT, "end": _INSTANT, "kinds": _KINDS}


@validate_params(_READ_PARAMS)
def read_readings(root, *, residents: list[str] | None = None, start=None, end=None,
                  kinds: list[str] | None = None) -> pd.DataFrame:
    """The stored readings in the contract's frame, reading only the partitions needed.

    Parameters
    ----------
    root : str or Path
        The store's folder.
    residents : list of str, optional
        Only these residents (default: all).
    start, end : instant, optional
        Only readings whose ``start`` is in [start, end) (naive: UTC). A sleep episode that began
        before ``start`` is not included.
    kinds : list of str, optional
        Only these kinds (default: all).

    Returns
    -------
    DataFrame
        ``resident_id, device_id, kind, start, end, value, tz``, sorted by resident, device, kind,
        start; empty (with those columns) when nothing matches.

    Notes
    -----
    A reading is returned once even if the store holds it twice: exact duplicates (every column
    equal) are dropped, one kept. :func:`write_readings` never stores a reading again, but a store
    written before it looked up stored readings may hold an overlapping upload twice.
    (:func:`dask_readings` reads file by file and does not drop duplicates across files.)
    """
    root = Path(root)
    files = readings_files(root, start=start, end=end, kinds=kinds)
    if not files:
        return canonical(pd.DataFrame({c: [] for c in READING_COLUMNS}))
    dataset = ds.dataset([str(root / f) for f in files], schema=_DATASET, format="parquet",
                         partitioning=ds.partitioning(_PARTITIONS, flavor="hive"), partition_base_dir=str(root))
    return _without_repeats(_frame(dataset.to_table(filter=_row_filter(residents, start, end))))


def _read_one(path: str, root: str, residents, start, end) -> pd.DataFrame:
    dataset = ds.dataset([path], schema=_DATASET, format="parquet",
                         partitioning=ds.partitioning(_PARTITIONS, flavor="hive"), partition_base_dir=root)
    return _frame(dataset.to_table(filter=_row_filter(residents, start, end)))


@validate_params(_READ_PARAMS)
def dask_readings(root, *, residents: list[str] | None = None, start=None, end=None, kinds: list[str] | None = None):
    """The same readings as :func:`read_readings`, as a Dask dataframe with one partition per
    stored file (for cohorts past one machine): only the files of the needed partitions are
    listed, each read with the same row filter. Partitions are not sorted across files, and Dask
    keeps text columns as ``string[pyarrow]`` (its ``dataframe.convert-string`` setting). Unlike
    :func:`read_readings`, exact duplicates across files (a store written before
    :func:`write_readings` looked up stored readings) are not dropped: ``.drop_duplicates()`` them.

    >>> import tempfile
    >>> dask_readings(tempfile.mkdtemp()).compute().columns.tolist()
    ['resident_id', 'device_id', 'kind', 'start', 'end', 'value', 'tz']
    """
    import dask.dataframe as dd

    root = Path(root)
    files = [str(root / f) for f in readings_files(root, start=start, end=end, kinds=kinds)]
    meta = canonical(pd.DataFrame({c: [] for c in READING_COLUMNS}))
    if not files:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(_read_one, files, root=str(root), residents=residents, start=start, end=end, meta=meta)


def read_rejected(root) -> pd.DataFrame:
    """Every refused reading kept in ``root``'s ``rejected/`` folder, with its batch.

    >>> import tempfile
    >>> read_rejected(tempfile.mkdtemp()).columns.tolist()[:3]
    ['batch_id', 'source', 'row']
    """
    root = Path(root)
    folder = root / "_batches"
    frames = []
    for p in sorted(folder.glob("*.json")) if folder.exists() else []:
        m = json.loads(p.read_text(encoding="utf-8"))
        if m.get("rejected"):
            frame = pq.read_table(root / m["rejected"]).to_pandas()
            frames.append(frame.assign(batch_id=m["batch_id"]))
    columns = ["batch_id", *REJECTED_COLUMNS]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]
