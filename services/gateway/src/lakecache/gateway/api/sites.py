"""Sites, volumes, the eviction policy, leases and pins: the cacher's and the evictor's APIs
behind the gateway.

Requests go to the cacher of the site the path names (``cacher_urls``). Routes about one copy
name its project in the path (``/projects/{project}/sites/{site}/copies/{commit_id}``): a copy
is one project's, and another project's copy of the same commit is another copy. Listing a
site's copies needs ``?project=``, so a caller only lists what its role covers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lakecache.gateway.api.backends import cacher_models as c
from lakecache.gateway.api.backends import evictor_models as e
from lakecache.gateway.api.common import API, ProjectName
from lakecache.gateway.auth import Permission
from lakecache.gateway.auth.context import principal_of
from lakecache.gateway.auth.policy import Resource, authorize
from lakecache.gateway.http.operation import Operation
from lakecache.gateway.upstream.proxy import EVICTOR, SITE_CACHER, Target, proxy

_SITE = f"{API}/sites/{{site}}"
_PROJECT_SITE = f"{API}/projects/{{project}}/sites/{{site}}"
_COPY = _PROJECT_SITE + "/copies/{commit_id}"
SITES_READ, SITES_WRITE = Permission("sites:read"), Permission("sites:write")


class ProjectCopiesQuery(c.CopiesQuery):
    project: ProjectName  # required here: the cacher would list every project's copies


def _own_projects(request: web.Request, answer: Any) -> Any:
    """A volume (or page of volumes) with only the projects whose copies the caller may see: the
    listing is every user's (``sites:read``), a project's charge is its members' (``caches:read``)."""
    principal = principal_of(request)
    for volume in answer.get("items", []) if "items" in answer else [answer]:
        volume["projects"] = [p for p in volume.get("projects") or []
                              if authorize(principal, "caches:read", Resource(project=p["project"])).allowed]
    return answer


def _op(method: str, path: str, name: str, summary: str, permission: Permission, *, to: Target = SITE_CACHER,
        tag: str = "sites", narrow=None, **declared) -> Operation:
    declared.setdefault("errors", (404,))
    return Operation(method, path, proxy(name, to=to, narrow=narrow), summary, permission, forwarded=True, tag=tag,
                     **declared)


def _copy(action: str) -> Permission:
    return Permission(action, project_from="match_info:project")


OPERATIONS = [
    _op("POST", _SITE + "/volumes", "add_volume", "Register a cache volume at a site", SITES_WRITE,
        params=c.SitePath, body=c.NewVolume, response=c.Volume, status=201, errors=(404, 409)),
    _op("GET", _SITE + "/volumes", "list_volumes", "List a site's volumes with capacity and usage", SITES_READ,
        params=c.SitePath, response=c.VolumePage, narrow=_own_projects),
    _op("GET", _SITE + "/volumes/{name}", "show_volume", "Show a volume's capacity, usage and policy", SITES_READ,
        params=c.VolumePath, response=c.Volume, narrow=_own_projects),
    _op("PUT", _SITE + "/volumes/{name}/quotas/{project}", "set_quota", "Set a project's quota on a volume",
        SITES_WRITE, params=c.QuotaPath, body=c.NewQuota, response=c.ProjectQuota,
        description="Bounds what the project is charged on the volume: the distinct content its copies there "
                    "reference, each content once for the project and in full for every project holding it "
                    "(ADR 0018). A fill that would pass it first has the project's idle copies evicted."),
    _op("DELETE", _SITE + "/volumes/{name}/quotas/{project}", "clear_quota", "Remove a project's quota on a volume",
        SITES_WRITE, params=c.QuotaPath, status=204),
    _op("GET", _PROJECT_SITE + "/quotas", "project_quotas", "A project's quota and charge on each volume of a site",
        _copy("caches:read"), params=e.ProjectSitePath, response=c.ProjectQuotaPage, tag="caches"),
    _op("DELETE", _SITE + "/volumes/{name}", "remove_volume",
        "Unregister a volume (its ready copies are evicted first)", SITES_WRITE, params=c.VolumePath, status=204,
        errors=(404, 409)),
    _op("GET", _SITE + "/eviction", "site_eviction", "Show a site's eviction state", SITES_READ,
        params=c.SitePath, response=e.SiteEviction, to=EVICTOR),
    _op("PUT", _SITE + "/ttl", "set_ttl", "Set a dataset's or commit's time to live at a site", SITES_WRITE,
        params=c.SitePath, body=e.TtlOverride, response=e.TtlChanged, status=202, to=EVICTOR, errors=()),
    _op("GET", _SITE + "/copies", "list_copies", "List a project's cached copies at a site",
        Permission("caches:read", project_from="query:project"), params=c.SitePath, query=ProjectCopiesQuery,
        response=c.CopyPage, tag="caches"),
    _op("GET", _COPY + "/eviction", "explain_eviction", "Why a cached copy is kept or would be evicted",
        _copy("caches:read"), params=c.CopyPath, query=e.ExplainQuery, response=e.CopyEviction, to=EVICTOR,
        tag="caches"),
    _op("GET", _PROJECT_SITE + "/eviction", "explain_project_copies", "Why each of a project's copies at a site is "
        "kept or would be evicted", _copy("caches:read"), params=e.ProjectSitePath, response=e.ProjectEviction,
        to=EVICTOR, tag="caches", errors=()),
    _op("POST", _COPY + "/leases", "acquire_lease", "Lease a cached copy (a job reading it)", _copy("leases:write"),
        params=c.CopyPath, query=c.CopyQuery, body=c.NewLease, response=c.Lease, status=201, errors=(404, 409),
        tag="leases"),
    _op("PUT", _COPY + "/leases/{lease_id}", "renew_lease", "Renew a lease", _copy("leases:write"),
        params=c.LeasePath, body=c.LeaseRenewal, response=c.Lease, errors=(404, 409), tag="leases"),
    _op("DELETE", _COPY + "/leases/{lease_id}", "release_lease", "Release a lease", _copy("leases:write"),
        params=c.LeasePath, status=204, tag="leases"),
    _op("PUT", _COPY + "/pin", "pin_copy", "Pin a cached copy (never evicted until unpinned)", _copy("caches:pin"),
        params=c.CopyPath, query=c.PinQuery, response=c.Copy, errors=(404, 409), tag="caches"),
    _op("DELETE", _COPY + "/pin", "unpin_copy", "Unpin a cached copy", _copy("caches:pin"), params=c.CopyPath,
        query=c.PinQuery, response=c.Copy, errors=(404, 409), tag="caches"),
]
