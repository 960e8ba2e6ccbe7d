"""Where the gateway keeps things: one repository per aggregate, each owning its collection,
indexes, document shapes and the order of its listings (``pages.py``: keyset pages). Domain
modules, handlers and routes call their methods and never see a filter or an update.

Collections (the gateway's own; no other service writes them):

* ``users`` (``users.py``), ``memberships`` (``memberships.py``), ``tokens`` (``tokens.py``),
  ``audit`` (``audit.py``, append-only) — authentication and authorization
  (``lakecache.gateway.auth``).
* ``copy_status`` (``copy_status.py``) — the read model of cached copies, fed by the cacher's
  events and the gateway's cache requests (``lakecache.gateway.copies``).
* ``site_volumes`` (``site_volumes.py``) — every site's volumes as their cachers last reported.
* ``run_ids`` (``run_ids.py``) — the project of every experiment and run id the gateway handed out.

The gateway announces no event with a change of its own collections, so none writes the outbox.
"""

from lakecache.gateway.repositories.audit import AuditRepository
from lakecache.gateway.repositories.copy_status import CopyStatusRepository
from lakecache.gateway.repositories.memberships import MembershipRepository
from lakecache.gateway.repositories.run_ids import RunIdRepository
from lakecache.gateway.repositories.site_volumes import SiteVolumeRepository
from lakecache.gateway.repositories.tokens import TokenRepository
from lakecache.gateway.repositories.users import UserRepository

__all__ = [
    "AuditRepository",
    "CopyStatusRepository",
    "MembershipRepository",
    "RunIdRepository",
    "SiteVolumeRepository",
    "TokenRepository",
    "UserRepository",
]
