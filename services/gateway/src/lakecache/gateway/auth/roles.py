"""Project roles, ordered: every role can do what the roles below it can."""

from __future__ import annotations

from enum import IntEnum

from lakecache.core.errors import InvalidArgument


class Role(IntEnum):
    """A user's role in one project: ``viewer`` < ``editor`` < ``admin``.

    ``viewer`` reads (datasets, caches, runs, members); ``editor`` also changes data (commits,
    cache requests, leases, runs, job tokens); ``admin`` also manages members, pins and deletions.
    Compare with ``<``/``>=``; stored by name (``str(role)``), never by number, so the order can
    gain a role without rewriting documents.
    """

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Role:
        """The role named ``value`` (``"viewer"``, ``"editor"``, ``"admin"``), or :class:`InvalidArgument`."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        names = ", ".join(str(r) for r in cls)
        raise InvalidArgument(f"role must be one of {names}, got {value!r}")
