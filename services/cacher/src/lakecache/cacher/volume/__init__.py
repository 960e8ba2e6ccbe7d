"""A cache volume: content-addressed pool, read-only per-commit views, safe paths, eviction."""

from lakecache.cacher.volume.evict import evict_commit
from lakecache.cacher.volume.layout import SpaceInfo, VolumeLayout
from lakecache.cacher.volume.safety import UnsafeVolumePath

__all__ = ["SpaceInfo", "UnsafeVolumePath", "VolumeLayout", "evict_commit"]
