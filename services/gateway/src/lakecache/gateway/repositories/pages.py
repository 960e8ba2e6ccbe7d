"""Keyset pages: stable pages over a sorted listing, whatever is inserted meanwhile.

A listing is sorted on a few fields ending with ``_id``; a page ends at its last document, and
the cursor is that document's sort values, so the next page is "what sorts after it" — an
indexed range query, unlike ``skip`` which rescans and shifts when documents are added. Each
repository declares the order of its listings next to the index that serves it.

The cursor is opaque to clients (URL-safe base64 of JSON) and names its listing, so one from
another listing is refused with a message instead of silently returning a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lakecache.core.errors import InvalidArgument
from lakecache.core.ports.docstore import Collection, Document, Filter

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Long enough for any cursor this module writes (a few sort values), short enough to refuse junk.
MAX_CURSOR = 512

#: One page of a listing and the cursor of the next (None on the last page).
Page = tuple[list[Document], str | None]


@dataclass(frozen=True)
class Keyset:
    """The order of one listing: ``name`` (to tell cursors apart) and ``(field, 1 | -1)`` pairs."""

    name: str
    sort: tuple[tuple[str, int], ...]

    def after(self, values: Sequence[Any]) -> Filter:
        """The filter selecting the documents that sort after ``values``."""
        branches = []
        for i, (name, direction) in enumerate(self.sort):
            branch = {field: values[j] for j, (field, _) in enumerate(self.sort[:i])}
            branch[name] = {"$gt" if direction == 1 else "$lt": values[i]}
            branches.append(branch)
        return branches[0] if len(branches) == 1 else {"$or": branches}

    def encode(self, document: Mapping[str, Any]) -> str:
        values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in
                  (document[field] for field, _ in self.sort)]
        raw = json.dumps({"l": self.name, "v": values}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        """The sort values in ``cursor``, or :class:`InvalidArgument` saying what to do instead."""
        invalid = InvalidArgument(f"cursor {cursor[:40]!r} is not one this listing returned; use the next_cursor "
                                  "of the previous page as it is, or start again without a cursor")
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            values = data["v"]
            if data["l"] != self.name or not isinstance(values, list) or len(values) != len(self.sort):
                raise invalid
            return [_instant(v["t"]) if isinstance(v, dict) else _scalar(v) for v in values]
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise invalid from None

    def narrow(self, query: Filter, cursor: str | None) -> Filter:
        """``query`` restricted to what sorts after ``cursor`` (``query`` itself without one)."""
        if not cursor:
            return query
        boundary = self.after(self.decode(cursor))
        return {"$and": [dict(query), boundary]} if query else boundary


def _instant(text: Any) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:  # the store compares aware datetimes only
        raise ValueError(text)
    return value


def _scalar(value: Any) -> str | int | float | bool:
    if not isinstance(value, str | int | float | bool):
        raise TypeError(value)
    return value


async def page(collection: Collection, query: Filter, keyset: Keyset, *, limit: int, cursor: str | None,
               projection: Mapping[str, Any] | None = None) -> Page:
    """One page of ``collection`` matching ``query`` in ``keyset`` order, and the next page's cursor."""
    docs = await collection.find_list(keyset.narrow(query, cursor), sort=list(keyset.sort), limit=limit + 1,
                                      projection=projection)
    # One more than asked tells whether there is a next page.
    if len(docs) <= limit:
        return docs, None
    return docs[:limit], keyset.encode(docs[limit - 1])
