"""Filling a cache volume with a commit: plan, fetch into the pool, publish a view."""

from lakecache.cacher.fill.engine import FillResult, fill_commit
from lakecache.cacher.fill.errors import FillError
from lakecache.cacher.fill.fetcher import FetchOptions
from lakecache.core.vocabulary.copies import FillProgress

__all__ = ["FetchOptions", "FillError", "FillProgress", "FillResult", "fill_commit"]
