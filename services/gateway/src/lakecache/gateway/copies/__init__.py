"""The gateway's read model of cached copies: what cache-status requests and live progress read.

Fed by the cacher's events (``handlers.py``, which also keeps the sites' volumes for the site
list: ``lakecache.gateway.repositories.site_volumes``), by the cache requests the gateway
accepts, and by the cacher's answer about a copy the gateway never saw, so a status request is
one indexed read in the gateway's own store, not calls to the catalog, the cacher and the
evictor in series.
"""

from lakecache.gateway.copies.status import COPY_STATUS_KEY, CopyStatusView, copy_status_of

__all__ = ["COPY_STATUS_KEY", "CopyStatusView", "copy_status_of"]
