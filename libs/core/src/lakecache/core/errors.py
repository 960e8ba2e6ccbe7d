"""Exceptions shared by every port, so callers (and the gateway's HTTP mapping) need not
know which adapter raised them.

Each port's contract module re-exports the ones it raises and documents when. Messages are
for people: say what failed, with which input, and what to do about it.
"""


class LakeCacheError(Exception):
    """Base of every error LakeCache raises on purpose."""


class NotFound(LakeCacheError):
    """The named thing (object, document, topic…) does not exist."""


class Conflict(LakeCacheError):
    """The write would break a uniqueness rule or an existing state (e.g. duplicate key)."""


class PreconditionFailed(LakeCacheError):
    """A conditional operation's condition (etag, generation, if-none-match) did not hold."""


class PermissionDenied(LakeCacheError):
    """The caller is known but may not do this (a service's own check of what it was allowed)."""


class InvalidArgument(LakeCacheError):
    """The caller passed something the port cannot accept (bad key, bad range, bad filter)."""


class Unavailable(LakeCacheError):
    """The backing server could not be reached or answered with a transient error."""


class ConfigurationError(LakeCacheError):
    """A setting or URL is wrong; the message names the setting and the accepted forms."""
