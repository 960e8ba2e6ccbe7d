"""The evictor's HTTP API: why a copy is kept or was evicted, and per-dataset/commit TTLs.

A copy is one project's: its route names the project in the path, so the identity check
admits only callers authorized in that project, and the answer is about that project's copy
alone (another project's copy of the same commit is neither shown nor hinted at). The site
summary and TTL overrides are installation-wide (``sites:read``, ``sites:write``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from lakecache.core.contracts.eviction import EvictionTtlChanged
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.core.publishing import EventPublisher
from lakecache.core.runtime.access import PATH, Access, caller, route
from lakecache.core.runtime.problems import json_object
from lakecache.core.vocabulary.eviction import MAX_TTL_SECONDS
from lakecache.evictor.policy import copy_key
from lakecache.evictor.sites import SitePolicies

POLICIES_KEY = web.AppKey("evictor_policies", SitePolicies)
PUBLISHER_KEY = web.AppKey("evictor_publisher", EventPublisher)
SITE = "/api/v1/sites/{site}"
#: One project's copies at a site, and one of them (another project's copy of the commit is another copy).
PROJECT_SITE = "/api/v1/projects/{project}/sites/{site}"
COPY = PROJECT_SITE + "/copies/{commit_id}"
_MAX_TARGET = 128  # the contract's limit on ids
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # no id has them, and they garble logs and terminals


async def explain_copy(request: web.Request) -> web.Response:
    """``GET /projects/{project}/sites/{site}/copies/{commit_id}/eviction?volume=V``: the verdict
    about the project's copy and the facts behind it."""
    match = request.match_info
    project, site, commit_id = match["project"], match["site"], match["commit_id"]
    policies = request.app[POLICIES_KEY]
    state = await policies.state(site)
    volume = request.query.get("volume")
    key = copy_key(project, commit_id)
    holding = sorted(name for name, v in state.volumes.items() if key in v.copies)
    if not holding:
        raise NotFound(f"the evictor knows no copy of commit {commit_id} for project {project!r} at site {site!r}; "
                       "it learns of copies from cache.ready events (is the site's cacher running, and this "
                       "evictor the one that owns the site?)")
    if volume is None:
        volume = holding[0]
    elif volume not in holding:
        raise NotFound(f"the evictor knows no copy of commit {commit_id} for project {project!r} on volume "
                       f"{volume!r} of site {site!r}; it knows one on {', '.join(holding)}")
    return web.json_response(await policies.explain(site, volume, project, commit_id, datetime.now(UTC)))


async def explain_project_copies(request: web.Request) -> web.Response:
    """``GET /projects/{project}/sites/{site}/eviction``: :func:`explain_copy`'s answer for each
    of the project's copies at the site (what a listing shows without a call per copy)."""
    match = request.match_info
    items = await request.app[POLICIES_KEY].explain_project(match["site"], match["project"], datetime.now(UTC))
    return web.json_response({"items": items})


async def site_summary(request: web.Request) -> web.Response:
    """``GET …/eviction``: each volume's watermark state and copy counts."""
    site = request.match_info["site"]
    policies = request.app[POLICIES_KEY]
    state = await policies.state(site)
    now = datetime.now(UTC)
    volumes: list[dict[str, Any]] = []
    for name, volume in sorted(state.volumes.items()):
        high, low = volume.watermarks(policies.settings)
        counts: dict[str, int] = {}
        for copy in volume.copies.values():
            counts[copy.status] = counts.get(copy.status, 0) + 1
        volumes.append({"volume": name, "capacity_bytes": volume.capacity_bytes, "used_bytes": volume.used_bytes(),
                        "high_watermark": high, "low_watermark": low, "reclaiming": volume.reclaiming,
                        "ttl_seconds": volume.ttl_seconds, "copies": counts})
    return web.json_response({"site": site, "now": now.isoformat(), "dry_run": policies.settings.dry_run,
                              "default_ttl_seconds": policies.settings.default_ttl_seconds, "volumes": volumes})


async def set_ttl(request: web.Request) -> web.Response:
    """``PUT …/ttl``: ``{"scope": "dataset"|"commit", "target": id, "ttl_seconds": n|null}``."""
    body = await json_object(request)
    problems = _ttl_problems(body)
    if problems:
        raise InvalidArgument("; ".join(problems) + '. Send {"scope": "dataset" or "commit", "target": "<dataset id '
                              f'or commit id>", "ttl_seconds": <whole seconds, 1 to {MAX_TTL_SECONDS}, or null to '
                              'clear>}')
    try:
        changed = EvictionTtlChanged(site=request.match_info["site"], scope=body["scope"], target=body["target"],
                                     ttl_seconds=body.get("ttl_seconds"), changed_by=caller(request))
    except ValidationError as exc:  # what the body checks above cannot see: the site in the path
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))} {e['input']!r}: {e['msg']}" for e in exc.errors())
        raise InvalidArgument(f"invalid TTL change: {wrong}") from None
    event = await request.app[PUBLISHER_KEY].emit(changed)
    return web.json_response({"accepted": True, "event_id": event.id}, status=202)


def _ttl_problems(body: dict[str, Any]) -> list[str]:
    """What is wrong with a TTL body, one sentence per field (empty when nothing is)."""
    problems = []
    unknown = sorted(set(body) - {"scope", "target", "ttl_seconds"})
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    scope, target, ttl = body.get("scope"), body.get("target"), body.get("ttl_seconds")
    if scope not in ("dataset", "commit"):
        problems.append(f'scope must be "dataset" or "commit", got {_shown(scope)}')
    if not isinstance(target, str) or not 1 <= len(target) <= _MAX_TARGET:
        shown = _shown(target) if not isinstance(target, str) else f"{len(target)} characters"
        problems.append(f"target must be the dataset's or commit's id (1 to {_MAX_TARGET} characters), got {shown}")
    elif _CONTROL.search(target):
        problems.append("target must be the dataset's or commit's id, without control characters")
    if not (ttl is None or (isinstance(ttl, int) and not isinstance(ttl, bool) and 0 < ttl <= MAX_TTL_SECONDS)):
        problems.append(f"ttl_seconds must be a whole number of seconds from 1 to {MAX_TTL_SECONDS} (10 years), or "
                        f"null to clear the override, got {_shown(ttl)}")
    return problems


def _shown(value: Any) -> str:
    """``value`` as JSON, or its length when long (a number thousands of digits long, a big list):
    the answer stays short."""
    try:
        text = json.dumps(value)
    except ValueError:  # an integer past Python's conversion limit
        return "a number too long to show"
    return text if len(text) <= 40 else f"a value of {len(text)} characters"


ROUTES = [
    route("GET", SITE + "/eviction", site_summary, Access("sites:read")),
    route("GET", COPY + "/eviction", explain_copy, Access("caches:read", PATH)),
    route("GET", PROJECT_SITE + "/eviction", explain_project_copies, Access("caches:read", PATH)),
    route("PUT", SITE + "/ttl", set_ttl, Access("sites:write")),
]
