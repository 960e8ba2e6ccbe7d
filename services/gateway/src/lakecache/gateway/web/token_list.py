"""A page of tokens as the dashboard shows them (``/tokens`` and an administrator's user page).

Rows are built field by field from the stored documents, so nothing a page is given can carry a
secret: the store keeps only hashes, the repositories leave those out, and this keeps out
anything else a token document may gain later.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from lakecache.gateway.auth.sessions import SESSION_NAME


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def token_rows(docs: Iterable[dict[str, Any]], *, now: datetime, current: str | None,
               revocable: bool) -> list[dict[str, Any]]:
    """``docs`` (token documents, newest first) as rows; ``current`` is the id of the token the
    request came with, never offered for revocation (signing out ends a browser's session)."""
    rows = []
    for doc in docs:
        session = bool(doc.get("session"))
        expired = _aware(doc["expires_at"]) <= now
        rows.append({
            "id": doc["_id"], "kind": doc["kind"], "session": session,
            "name": SESSION_NAME if session else doc["name"],
            "project": doc.get("project"), "run_id": doc.get("run_id"),
            "created_at": doc["created_at"], "created_by": doc["created_by"], "expires_at": doc["expires_at"],
            "expired": expired, "revoked": doc["revoked"], "revoked_at": doc.get("revoked_at"),
            "revoked_by": doc.get("revoked_by"), "current": doc["_id"] == current,
            "opened_this_session": False,
            "revocable": revocable and not doc["revoked"] and not expired and doc["_id"] != current,
        })
    return rows
