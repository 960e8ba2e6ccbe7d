"""The site-store port: where the evictor keeps each site's policy state between events.

Two adapters implement it, one per runtime (ADR 0009), and both pass the one conformance suite
``tests/evictor/site_store_suite.py``:

* ``repositories.sites.DocumentSiteStore`` — a document of the service's document store per
  site (the embedded runtime);
* ``streams.TableSiteStore`` — the Faust table ``evictor-sites`` (Kafka), rebuilt from its
  changelog when an instance starts.

What every adapter promises:

* A state is the JSON-compatible dict of ``SiteState.to_dict``: string keys of any spelling
  (dots, ``$``, ``/``, any Unicode: TTL overrides are keyed by whatever target an administrator
  named), values ``str``, ``int``, ``float``, ``bool``, ``None``, lists and dicts. ``load``
  gives back a dict equal to the one last saved.
* ``save`` replaces the site's whole state; nothing of the state before survives it.
* Sites are independent: saving one leaves every other site's state as it was.
* A saved state outlives the process (the document store keeps it; the table's changelog
  restores it).

What callers promise (``SitePolicies`` does all three):

* States saved or loaded are read-only: an adapter may keep the very dict it was given and
  hand that object back (the Faust table does), so a change must go through a new ``save``.
* Calls do not interleave a site's load → apply → save with another for the same site: the
  store has no compare-and-swap, so the caller serialises them (a lock per site).
* On Kafka, ``save`` runs while an agent processes an event of the site's partition: the
  table writes its changelog to that partition, so the instance owning the site's partition
  owns its state (Faust refuses a change outside an agent's stream).

Errors are those of the storage underneath (the document store's ``Unavailable``…), raised as
they are: they fail the event being applied, and the runtime's delivery decides what follows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

#: A site's state as ``SiteState.to_dict`` gives it.
State = dict[str, Any]


class SiteStore(ABC):
    """Each site's policy state, by site name."""

    @abstractmethod
    async def load(self, site: str) -> State | None:
        """The state last saved for ``site``, or None if none was (or, on the Faust table, if
        the site belongs to another instance's partitions)."""

    @abstractmethod
    async def save(self, site: str, state: State) -> None:
        """Make ``state`` the whole state of ``site`` (not merged with what was there)."""

    @abstractmethod
    async def sites(self) -> list[str]:
        """Every site with a saved state, sorted, each once (on the Faust table, only the sites
        of this instance's partitions)."""
