"""The services behind the gateway: where they are, and forwarding a request to one of them."""

from lakecache.gateway.upstream.forward import forward, upstream_json
from lakecache.gateway.upstream.services import UPSTREAMS_KEY, Upstreams, upstreams_of

__all__ = ["UPSTREAMS_KEY", "Upstreams", "forward", "upstream_json", "upstreams_of"]
