"""Readings a batch brings that the store holds already (private: :func:`workbench.wearables.store.write_readings`
is the public face): the same reading uploaded again in an overlapping export is found and not
written twice, and a reading that contradicts a stored one is named with the batch that stored it.

Only the stored files of the partitions a batch touches are opened (its kinds; the local months
within 14 hours of its readings' starts, and for sleep episodes the longest episode more), and
only the rows of the batch's devices in its time range are read.

- **already stored**: same resident, device, kind, start, end, value (compared as float32, the
  precision a stored file may keep) and zone as a stored reading;
- **conflict**: same device, kind and start as a stored reading but another value, end, resident
  or zone (the zone decides the reading's local day); a sleep episode that overlaps a stored
  episode of its device (the ingest rule "two episodes of one device may not overlap", across
  batches).

Examples
--------
>>> import pandas as pd
>>> good = pd.DataFrame({"kind": pd.Categorical(["heart_rate"], categories=KINDS),
...                      "start": pd.to_datetime(["2025-03-31 20:00"], utc=True)})
>>> sorted(partitions(good))  # 20:00 UTC on 31 March is 1 April east of UTC+4
[('heart_rate', '2025-03'), ('heart_rate', '2025-04')]
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from workbench.wearables._checks import _WHAT_ZH, KINDS, PROBLEM_COLUMNS, REJECTED_COLUMNS, RULES, facts, problem, when

__all__ = ["LOCAL_REACH", "against_store", "conflict_rejected", "partitions"]

#: Local days reach at most 14 hours either side of UTC (UTC+14, UTC-12).
LOCAL_REACH = pd.Timedelta(hours=14)


def _sleep_max() -> pd.Timedelta:
    return pd.Timedelta(seconds=facts()["kinds"]["sleep_episode"]["window_seconds"][1])


def partitions(good: pd.DataFrame) -> set[tuple[str, str]]:
    """The (kind, local month) partitions a stored reading matching one of ``good`` can be in: the
    same start in any zone (local months within 14 hours of it), and for a sleep episode any stored
    episode it could overlap (starting up to the longest episode either side)."""
    start = good["start"].to_numpy(dtype="datetime64[ns]")
    codes = good["kind"].cat.codes.to_numpy()
    out: set[tuple[str, str]] = set()
    for code in np.unique(codes):
        kind = KINDS[code]
        reach = (LOCAL_REACH + (_sleep_max() if kind == "sleep_episode" else pd.Timedelta(0))).to_timedelta64()
        at = start[codes == code]
        for shifted in (at - reach, at + reach):  # the window spans at most two months: its ends name them
            out |= {(kind, str(m)) for m in np.unique(shifted.astype("datetime64[M]"))}
    return out


def _stored(committed: list[tuple[str, str, str]], good: pd.DataFrame, devices: pd.Index, schema: pa.Schema):
    """The stored readings of ``devices`` in the partitions ``good`` touches (only those files are
    opened, only those devices' rows read), with the batch and kind of each; None when none."""
    wanted = partitions(good)
    owner: dict[str, tuple[str, int]] = {}
    for path, relative, batch in committed:
        kind, month = (part.split("=", 1)[1] for part in relative.split("/")[:2])
        if (kind, month) in wanted:
            owner[path] = (batch, KINDS.index(kind))
    if not owner:
        return None
    start = good["start"]
    reach = _sleep_max() if (good["kind"] == "sleep_episode").any() else pd.Timedelta(0)
    expr = (pc.field("device_id").isin(pa.array(devices.to_numpy(dtype=object), pa.string()))
            & (pc.field("start") >= pa.scalar(start.min() - reach, pa.timestamp("ns", tz="UTC")))
            & (pc.field("start") <= pa.scalar(start.max() + reach, pa.timestamp("ns", tz="UTC"))))
    dataset = ds.dataset(list(owner), schema=schema, format="parquet")
    chunks, batch, kind = [], [], []
    for tagged in dataset.scanner(filter=expr).scan_batches():
        n = tagged.record_batch.num_rows
        if n:
            chunks.append(tagged.record_batch)
            name, code = owner[tagged.fragment.path]
            batch.append(np.full(n, name, dtype=object))
            kind.append(np.full(n, code, dtype="int8"))
    if not chunks:
        return None
    table = pa.Table.from_batches(chunks, schema=schema)
    return table, np.concatenate(batch), np.concatenate(kind)


def _codes(column: pa.ChunkedArray, index: pd.Index) -> np.ndarray:
    """A stored dictionary column as positions in ``index`` (-1: not in it)."""
    cat = column.to_pandas().astype("category")
    return index.get_indexer(cat.cat.categories)[cat.cat.codes.to_numpy()]


def against_store(committed: list[tuple[str, str, str]], good: pd.DataFrame, rows: np.ndarray, *, source: str,
                  schema: pa.Schema) -> tuple[np.ndarray, pd.DataFrame]:
    """Which readings of ``good`` are stored already (identical), and the problems of those that
    conflict with a stored reading (same device, kind, start, but another value, end, resident or
    zone; or a sleep episode overlapping a stored one of the device). Returns ``(already,
    problems)``: a boolean array, and :data:`PROBLEM_COLUMNS` with ``pos`` (the reading's position)."""
    n = len(good)
    already = np.zeros(n, dtype=bool)
    found: list[dict] = []
    empty = pd.DataFrame(columns=[*PROBLEM_COLUMNS, "pos"])
    dev, devices = pd.factorize(good["device_id"])
    stored = _stored(committed, good, pd.Index(devices), schema) if n else None
    if stored is None:
        return already, empty
    table, batch, old_kind = stored
    res, residents = pd.factorize(good["resident_id"])
    zone, zones = pd.factorize(good["tz"])
    new = {"dev": dev, "kind": good["kind"].cat.codes.to_numpy().astype("int8"), "res": res, "tz": zone,
           "start": good["start"].to_numpy(dtype="datetime64[ns]").view("int64"),
           "end": good["end"].to_numpy(dtype="datetime64[ns]").view("int64"), "value": good["value"].to_numpy()}
    old = {"dev": _codes(table["device_id"], pd.Index(devices)), "kind": old_kind,
           "res": _codes(table["resident_id"], pd.Index(residents)), "tz": _codes(table["tz"], pd.Index(zones)),
           "start": table["start"].to_numpy().view("int64"), "end": table["end"].to_numpy().view("int64"),
           "value": table["value"].to_numpy()}
    pairs = pd.DataFrame({"dev": new["dev"], "kind": new["kind"], "start": new["start"], "pos": np.arange(n)}).merge(
        pd.DataFrame({"dev": old["dev"], "kind": old["kind"], "start": old["start"], "o": np.arange(len(batch))}),
        on=["dev", "kind", "start"])
    pos, o = pairs["pos"].to_numpy(), pairs["o"].to_numpy()
    a, b = new["value"][pos], old["value"][o]
    same = {"value": (a.astype("float32") == b.astype("float32")) | (np.isnan(a) & np.isnan(b)),
            "end": new["end"][pos] == old["end"][o], "resident_id": new["res"][pos] == old["res"][o],
            "tz": new["tz"][pos] == old["tz"][o]}
    identical = same["value"] & same["end"] & same["resident_id"] & same["tz"]
    already[pos[identical]] = True
    clash = np.flatnonzero(~already[pos])
    _, first = np.unique(pos[clash], return_index=True)
    k = clash[first]  # one stored reading each conflicting reading is named against
    if len(k):
        found.append(_conflicts(good, rows, source, table, batch, new, old, same, k, pos[k], o[k]))
    # a sleep episode without a stored one of the same start that overlaps a stored episode
    sleep = KINDS.index("sleep_episode")
    matched = np.zeros(n, dtype=bool)
    matched[pos] = True
    left = np.flatnonzero((new["kind"] == sleep) & ~matched)
    at = np.flatnonzero(old["kind"] == sleep)
    if len(left) and len(at):
        right = pd.DataFrame({"dev": old["dev"][at], "start": old["start"][at], "end": old["end"][at], "o": at})
        right = right.sort_values(["dev", "start"], kind="stable")
        top = right.groupby("dev", sort=False)["end"].cummax()
        right["holder"] = right["o"].where(right["end"] == top).groupby(right["dev"], sort=False).ffill()
        near = pd.merge_asof(
            pd.DataFrame({"dev": new["dev"][left], "end": new["end"][left], "pos": left}).sort_values("end"),
            right.sort_values("start", kind="stable")[["dev", "start", "holder"]], left_on="end", right_on="start",
            by="dev", allow_exact_matches=False).dropna(subset=["holder"])
        for p, q in zip(near["pos"].to_numpy(), near["holder"].to_numpy(dtype="int64")):
            if old["end"][q] > new["start"][p]:
                episode = f"{when(pd.Timestamp(old['start'][q], tz='UTC'))} to {when(pd.Timestamp(old['end'][q], tz='UTC'))}"
                found.append({**problem(source, int(rows[p]), "start", _iso(new["start"][[p]])[0],
                                        "stored_overlap", batch=repr(batch[q]), stored=episode), "pos": int(p)})
    parts = [f for f in found if isinstance(f, pd.DataFrame)]
    parts.append(pd.DataFrame([f for f in found if isinstance(f, dict)], columns=[*PROBLEM_COLUMNS, "pos"]))
    problems = pd.concat([f for f in parts if len(f)] or [empty], ignore_index=True).sort_values("pos", kind="stable")
    return already, problems.astype({"row": "Int64"}).reset_index(drop=True)


def _fill(key: str, n: int, **words) -> tuple[pd.Series, pd.Series]:
    """Rule ``key``'s English and Chinese texts for ``n`` readings at once (``words``: a text or a
    Series of texts per placeholder)."""
    def one(template: str) -> pd.Series:
        out = pd.Series([""] * n, dtype=object)
        for literal, field, _, _ in string.Formatter().parse(template):
            out = out + literal
            if field:
                out = out + words[field]
        return out
    en, zh = RULES[key]
    return one(en), one(zh)


def _conflicts(good, rows, source, table, batch, new, old, same, k, p, q) -> pd.DataFrame:
    """The problems of the readings at ``p`` that conflict with the stored readings at ``q``, built
    a column at a time (a re-export with every value changed conflicts a million times)."""
    order = ("value", "end", "resident_id", "tz")
    differ = np.column_stack([~same[c][k] for c in order])
    patterns, which = np.unique(differ, axis=0, return_inverse=True)
    frames = []
    for j, pattern in enumerate(patterns):
        at = np.flatnonzero(np.ravel(which) == j)
        pp, qq = p[at], q[at]
        columns = [c for c, d in zip(order, pattern) if d]
        theirs = {"value": lambda: pd.Series(_texts(old["value"][qq]), dtype=object),
                  "end": lambda: pd.Series(pd.to_datetime(old["end"][qq], utc=True).strftime("%Y-%m-%d %H:%M:%S UTC"),
                                           dtype=object),
                  "resident_id": lambda: pd.Series(table["resident_id"].take(qq).to_pylist(), dtype=object),
                  "tz": lambda: pd.Series(table["tz"].take(qq).to_pylist(), dtype=object)}
        shown = {c: theirs[c]() for c in columns}
        stored = stored_zh = None
        for c in columns:
            stored = (c + " " + shown[c]) if stored is None else stored + ", " + c + " " + shown[c]
            zh = _WHAT_ZH.get(c, c) + "为 " + shown[c]
            stored_zh = zh if stored_zh is None else stored_zh + "、" + zh
        first = columns[0]
        value = {"value": lambda: new["value"][pp].tolist(), "end": lambda: _iso(new["end"][pp]),
                 "resident_id": lambda: good["resident_id"].to_numpy(dtype=object)[pp].tolist(),
                 "tz": lambda: good["tz"].to_numpy(dtype=object)[pp].tolist()}[first]()
        rule, rule_zh = _fill("stored_conflict", len(at), batch=pd.Series(batch[qq]).map(repr), stored=stored,
                              stored_zh=stored_zh)
        frames.append(pd.DataFrame({"source": source, "row": rows[pp], "column": first, "value": value,
                                    "rule": rule.to_numpy(), "rule_zh": rule_zh.to_numpy(), "action": "rejected",
                                    "pos": pp}))
    return pd.concat(frames, ignore_index=True)


def _texts(values: np.ndarray) -> list:
    """Numbers as a person reads them (61, 42.123), None for NaN."""
    return [None if v != v else repr(v).removesuffix(".0") for v in values.tolist()]


def _iso(instants: np.ndarray) -> list[str]:
    """int64 UTC nanoseconds as ISO text."""
    return [t.isoformat() for t in pd.to_datetime(instants, utc=True)]


def conflict_rejected(good: pd.DataFrame, rows: np.ndarray, problems: pd.DataFrame, source: str) -> pd.DataFrame:
    """The readings refused for a conflict with the store, as the rejected table has them (text)."""
    units = {k: v.get("unit") for k, v in facts()["kinds"].items()}
    at = problems["pos"].to_numpy(dtype="int64")
    part = good.iloc[at]
    frame = pd.DataFrame({
        "source": source, "row": rows[at], "resident_id": part["resident_id"].to_numpy(),
        "device_id": part["device_id"].to_numpy(), "kind": part["kind"].astype(str).to_numpy(),
        "start": _iso(part["start"].to_numpy(dtype="datetime64[ns]").view("int64")),
        "end": _iso(part["end"].to_numpy(dtype="datetime64[ns]").view("int64")),
        "value": _texts(part["value"].to_numpy()), "unit": part["kind"].astype(str).map(units).to_numpy(),
        "tz": part["tz"].to_numpy(), "rule": (problems["column"] + ": " + problems["rule"]).to_numpy(),
        "rule_zh": (problems["column"] + ": " + problems["rule_zh"]).to_numpy()}, columns=list(REJECTED_COLUMNS))
    return frame.astype({c: "string" for c in REJECTED_COLUMNS if c != "row"}).astype({"row": "Int64"})
