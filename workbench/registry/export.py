"""Pseudonymised exports for analysts: keyed-HMAC ids, no names, phones or ID numbers, birth year only.

The key lives outside the export (``WORKBENCH_EXPORT_KEY_FILE``, else ``export.key`` beside the
registry's default location, created with owner-only permissions on first use), so the same
resident gets the same pseudonym across exports without the export revealing who it is.
Every export is itself audited.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from workbench.registry import audit
from workbench.registry.access import require_role
from workbench.registry.schema import assessments, contacts, enrolments, events, referrals, residents, tier_assignments

__all__ = ["default_key_file", "export_pseudonymised", "pseudonym"]

#: Columns never exported.
IDENTIFYING = ("name", "phone", "id_number", "birth_date", "content_hash", "created_by", "entered_by",
               "recorded_by", "decided_by", "submission_id")


def default_key_file() -> Path:
    if os.environ.get("WORKBENCH_EXPORT_KEY_FILE"):
        return Path(os.environ["WORKBENCH_EXPORT_KEY_FILE"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("workbench", appauthor=False)) / "export.key"


def _key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def pseudonym(resident_id: str, key: bytes) -> str:
    """A stable pseudonym: ``P`` + the first 16 hex digits of HMAC-SHA256(key, resident_id).

    >>> pseudonym("R0000001", bytes(32))
    'P86f8321d99bd72d8'
    """
    return "P" + hmac.new(key, resident_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def export_pseudonymised(registry, folder: str | Path, *, as_user: str, key_file: str | Path | None = None) -> dict:
    """Write pseudonymised CSV files of every analysis table to ``folder``; returns their paths."""
    folder, key_path = Path(folder).resolve(), Path(key_file or default_key_file()).resolve()
    if key_path.parent == folder or folder in key_path.parents:
        raise ValueError("The export key must be kept outside the export folder.")
    key = _key(key_path)
    tables = {"residents": residents, "assessments": assessments, "tier_assignments": tier_assignments,
              "referrals": referrals, "contacts": contacts, "events": events, "enrolments": enrolments}
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    with registry._write() as conn:
        require_role(conn, as_user, {"analyst", "admin"}, "export data")
        for name, table in tables.items():
            frame = pd.DataFrame(conn.execute(sa.select(table)).mappings().all(), columns=[c.name for c in table.columns])
            if name == "residents":
                frame.insert(frame.columns.get_loc("birth_date"), "birth_year",
                             pd.to_datetime(frame["birth_date"]).dt.year.astype("Int64"))
            frame["resident_id"] = [pseudonym(r, key) for r in frame["resident_id"]]
            frame = frame.drop(columns=[c for c in IDENTIFYING if c in frame.columns])
            path = folder / f"{name}.csv"
            frame.to_csv(path, index=False)
            written[name] = path
        audit.append(conn, [{"action": "export", "details": {"folder": str(folder), "tables": sorted(written),
                                                             "rows": {n: sum(1 for _ in open(p)) - 1
                                                                      for n, p in written.items()}}}],
                     user=as_user, at=pd.Timestamp.now(tz="UTC").to_pydatetime().replace(microsecond=0))
    return written
