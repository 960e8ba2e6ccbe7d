"""The delete rule's question: which cached copies and live leases a dataset has.

The read model behind it is fed by the cacher's and the jobs' events (``handlers.py``,
``repositories/usage.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakecache.catalog.storage import Catalog
from lakecache.core.vocabulary.clock import now

_LISTED = 5
_LOOKED_AT = 100


@dataclass(frozen=True)
class Usage:
    copies: list[dict[str, Any]]
    leases: list[dict[str, Any]]

    def describe(self) -> str:
        parts = []
        if self.copies:
            where = ", ".join(
                f"{c['site']}/{c['volume']} (commit {c['commit_id'][:12]})" for c in self.copies[:_LISTED]
            )
            parts.append(f"{len(self.copies)} cached cop{'y' if len(self.copies) == 1 else 'ies'} on {where}")
        if self.leases:
            who = ", ".join(f"{x['holder']} on {x['site']}/{x['volume']}" for x in self.leases[:_LISTED])
            parts.append(f"{len(self.leases)} live lease(s) held by {who}")
        return "; ".join(parts)


async def usage(catalog: Catalog, dataset_id: str) -> Usage:
    """Cached copies and unexpired leases of ``dataset_id`` (expired leases do not count)."""
    held = await catalog.copies.of_dataset(dataset_id, limit=_LOOKED_AT)
    live = await catalog.leases.live_of_dataset(dataset_id, now(), limit=_LOOKED_AT)
    return Usage(held, live)
