"""The gateway's API under ``/api/v1``: identity, users, members, tokens, audit and reference of
its own; datasets, sites, caches and runs of the services behind it; and MLflow's tracking API
on those runs (``/api/2.0/mlflow…``).

Each module ends with its ``OPERATIONS`` (see ``lakecache.gateway.http.operation``);
:func:`api_registry` joins them in the order of the API reference.
"""

from __future__ import annotations

from lakecache.gateway.api import (
    audit,
    caches,
    datasets,
    me,
    members,
    mlflow,
    reads,
    reference,
    runs,
    site_list,
    sites,
    tokens,
    users,
)
from lakecache.gateway.http.registry import Registry


def api_registry() -> Registry:
    return Registry([*datasets.OPERATIONS, *caches.OPERATIONS, *site_list.OPERATIONS, *sites.OPERATIONS,
                     *reads.OPERATIONS, *runs.OPERATIONS, *mlflow.OPERATIONS, *me.OPERATIONS,
                     *tokens.OPERATIONS, *users.OPERATIONS, *members.OPERATIONS, *audit.OPERATIONS,
                     *reference.OPERATIONS])
