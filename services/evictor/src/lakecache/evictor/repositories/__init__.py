"""Where the evictor keeps things in the document store: one repository per aggregate, owning its
collection and document shapes; the rest of the service calls their methods and never sees a
filter or an update.

Collections (the evictor's own; no other service writes them):

* ``evictor_sites`` (``sites.py``) — one document per site, ``_id`` the site: its policy state
  (``SiteState.to_dict``) as JSON text. Used by the embedded runtime; on Kafka the same states
  live in the Faust table ``evictor-sites`` instead (``lakecache.evictor.streams``).
"""

from lakecache.evictor.repositories.sites import DocumentSiteStore

__all__ = ["DocumentSiteStore"]
