"""Where the catalog keeps things: one repository per aggregate, each owning its collection,
indexes and document shapes. Domain modules and handlers call their methods and never see a
filter or an update; a change that announces events writes them through the outbox's unit of
work (``lakecache.core.outbox``) in the same call.

Collections (the catalog's own; no other service writes them):

* ``datasets`` (``datasets.py``) — one document per dataset, ``_id`` a uuid. ``slot`` is
  ``project/name`` while the dataset is live and ``project/name@<id>`` once deleted, so a unique
  index on it lets a new dataset reuse a deleted one's name while the old commits stay readable.
* ``commits`` (``commits.py``) — commit metadata, ``_id`` ``<dataset id>/<commit id>`` (two
  datasets with the same content share a commit id but not a commit document). Manifests live
  in the lake.
* ``tags`` (``tags.py``) — ``_id`` ``<dataset id>/<tag>``.
* ``copies`` and ``leases`` (``usage.py``) — the read model of cached copies and job leases, fed
  by events.
* ``import_locations`` (``import_locations.py``) — ``_id`` ``<project>/<name>``: lake locations
  an installation administrator registered for a project to import from.
* ``outbox`` — events prepared but not yet published (``lakecache.core.outbox``); datasets and
  tags carry the ids of their unpublished events in ``pending_events``.
"""

from lakecache.catalog.repositories.commits import CommitRepository
from lakecache.catalog.repositories.datasets import DatasetRepository
from lakecache.catalog.repositories.import_locations import ImportLocationRepository
from lakecache.catalog.repositories.tags import TagRepository
from lakecache.catalog.repositories.usage import CopyRepository, LeaseRepository

__all__ = [
    "CommitRepository",
    "CopyRepository",
    "DatasetRepository",
    "ImportLocationRepository",
    "LeaseRepository",
    "TagRepository",
]
