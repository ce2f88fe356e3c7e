"""Pseudonymised exports for analysts: the analysis tables with keyed-HMAC ids, no names, phones or
ID numbers, every id and staff name pseudonymised, rows in random order, no free text unless an admin
asks for it, the residents made k-anonymous on community, sex and birth year (birth years coarsened to
bands, the rest of the small groups suppressed cell by cell, what was done written to
``disclosure.json``: :func:`workbench.registry.disclosure.anonymise`), formula-like cells neutralised
in the CSV files, and the folder private to its owner.

The key lives outside the export (``WORKBENCH_EXPORT_KEY_FILE``, else ``export.key`` beside the
registry's default location, created with owner-only permissions on first use), so the same
resident gets the same pseudonym across exports without the export revealing who it is.
Every export is itself audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import pandas as pd

from workbench.registry import audit
from workbench.params import Interval, validate_params
from workbench.registry.access import AccessDenied, require_role

__all__ = ["default_key_file", "export_tables", "pseudonym"]


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


def _private(folder: Path) -> None:
    """The export folder 0700 and every file in it 0600, whatever the umask."""
    folder.chmod(0o700)
    for path in folder.iterdir():
        path.chmod(0o600)


@validate_params({"k": Interval(int, 2, None), "suppression_limit": Interval(float, 0, 1)})
def export_tables(registry, folder: str | Path, *, as_user: str, key_file: str | Path | None = None,
                  formats=("parquet", "csv"), include_free_text: bool = False, k: int = 5,
                  suppression_limit: float = 0.05) -> Path:
    """Write the pseudonymised analysis tables (:meth:`Registry.analysis_tables`) to ``folder``:
    Parquet and CSV for each table, the data dictionary in Chinese and English, ``tables.json``
    (:func:`workbench.tables.write`) and ``disclosure.json``. The residents are made k-anonymous
    on community, sex and birth year first (:func:`workbench.registry.disclosure.anonymise`: birth
    dates coarsened to the narrowest band of birth years keeping suppression within
    ``suppression_limit`` of the residents, then cells of the groups still smaller than ``k`` left
    blank); its report is ``disclosure.json`` and goes into the export's audit entry.
    Analysts and admins only; audited. The key stays outside the export; the folder must be new or
    empty, and is made private to its owner (0700, files 0600). Rows are in random order; free text
    is left out unless ``include_free_text`` (admins only, audited as such). Read it back with
    :func:`workbench.tables.read`."""
    from workbench.registry.analysis import pseudonymise, read_frames, typed_tables
    from workbench.registry.disclosure import anonymise
    from workbench.tables import write

    folder, key_path = Path(folder).resolve(), Path(key_file or default_key_file()).resolve()
    if key_path.parent == folder or folder in key_path.parents:
        raise ValueError("The export key must be kept outside the export folder.")
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: export to a new folder (nothing was written)")
    with registry.engine.connect() as conn:
        role = require_role(conn, as_user, {"analyst", "admin"}, "export data")
    if include_free_text and role != "admin":
        raise AccessDenied(f"{as_user!r} is an analyst: only an admin may export free text (notes, reasons)")
    if include_free_text:  # read in full by the admin, then pseudonymised keeping the free text
        tables = registry.analysis_tables(as_user=as_user, pseudonymised=False)
        with registry.engine.connect() as conn:  # PostgreSQL: the database's key, as its analysts' views
            tables = pseudonymise(tables, conn if conn.dialect.name == "postgresql" else _key(key_path),
                                  include_free_text=True)
    else:
        tables = registry.analysis_tables(as_user=as_user, pseudonymised=True, key_file=key_path)
    tables, disclosure = anonymise(tables, k, suppression_limit=suppression_limit)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    try:
        write(tables, folder, formats=formats)
        (folder / "disclosure.json").write_text(json.dumps(disclosure, indent=1) + "\n", encoding="utf-8")
    finally:
        _private(folder)
    with registry._write() as conn:
        audit.append(conn, [{"action": "export", "details": {"folder": str(folder), "formats": list(formats),
                                                             "free_text": include_free_text, "disclosure": disclosure,
                                                             "rows": {n: len(f) for n, f in tables.items()}}}],
                     user=as_user, at=pd.Timestamp.now(tz="UTC").to_pydatetime().replace(microsecond=0))
    return folder
