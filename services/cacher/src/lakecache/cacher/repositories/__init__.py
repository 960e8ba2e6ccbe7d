"""The cacher's repositories: the only modules that speak the document store's language.

``copies`` (the copy state machine, with its events through the outbox), ``volumes`` (the
site's volume registry), ``leases`` (each lease's expiry). No other service writes these
collections; the rest of the cacher calls these methods and never sees a filter or an update.
"""

from lakecache.cacher.repositories.copies import EPOCH, CopyRepository, copy_key
from lakecache.cacher.repositories.leases import LeaseRepository
from lakecache.cacher.repositories.volumes import VolumeRepository

__all__ = ["EPOCH", "CopyRepository", "LeaseRepository", "VolumeRepository", "copy_key"]
