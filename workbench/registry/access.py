"""Who may do what: roles are checked in the registry's Python API, not only in the apps.

- ``social_worker``: the basic record (identity, contact, tier, next due); never item answers.
- ``counsellor``, ``doctor``: full assessments of residents on their caseload; outside it only
  with a second counsellor's recorded approval.
- ``analyst``: pseudonymised exports only.
- ``admin``: everything, including managing users.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from workbench.registry.schema import access_approvals, caseloads, users

__all__ = ["AccessDenied", "can_read_answers", "require_role"]


class AccessDenied(PermissionError):
    """The user's role does not allow this; the message says who, what and why."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def require_role(conn: Connection, user: str, allowed: set[str], action: str) -> str:
    """The user's role, if it is one of ``allowed``; else :class:`AccessDenied`."""
    row = conn.execute(sa.select(users.c.role, users.c.active).where(users.c.name == user)).first()
    if row is None:
        raise AccessDenied(f"{user!r} is not a user of this registry (add them with 'workbench users add')")
    if not row.active:
        raise AccessDenied(f"{user!r} is no longer active")
    if row.role not in allowed:
        raise AccessDenied(f"{user!r} is a {row.role}: only {sorted(allowed)} may {action}")
    return row.role


def can_read_answers(conn: Connection, user: str, role: str, resident_ids: Iterable[str] | None) -> list[str] | None:
    """Residents whose item-level answers ``user`` may read (None = all, for admins).

    Asking for a resident outside the caseload without an approval raises, naming them.
    """
    if role == "admin":
        return None
    mine = set(conn.execute(sa.select(caseloads.c.resident_id).where(caseloads.c.user_name == user)).scalars())
    approved = set(conn.execute(sa.select(access_approvals.c.resident_id)
                                .where(access_approvals.c.user_name == user,
                                       access_approvals.c.expires_at > sa.func.now() if conn.dialect.name == "postgresql"
                                       else access_approvals.c.expires_at > _utcnow())).scalars())
    permitted = mine | approved
    if resident_ids is None:
        return sorted(permitted)
    refused = [r for r in resident_ids if r not in permitted]
    if refused:
        raise AccessDenied(f"{user!r} may not read the answers of {refused[:10]}{' ...' if len(refused) > 10 else ''}: "
                           "not on their caseload and no second counsellor has approved access")
    return list(resident_ids)
