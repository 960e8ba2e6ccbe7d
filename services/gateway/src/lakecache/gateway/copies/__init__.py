"""The gateway's read models of cached copies and of the sites' volumes: what cache-status
requests, live progress and the site list read.

Fed by the cacher's events (``handlers.py``) and by the cache requests the gateway accepts, so
a status request is one indexed read in the gateway's own store, not calls to the catalog, the
cacher and the evictor in series.
"""

from lakecache.gateway.copies.status import COPY_STATUS_KEY, CopyStatusView, copy_status_of

__all__ = ["COPY_STATUS_KEY", "CopyStatusView", "copy_status_of"]
