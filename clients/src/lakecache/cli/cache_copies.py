"""``lakecache cache list|pin|unpin``: a project's cached copies across sites, and pins.

The list joins two views behind the gateway: the copy statuses (state, volume, size, pin) the
gateway keeps from the cachers' events, and, for ready copies, the evictor's view (last use,
live leases, when the idle TTL runs out), asked once per site for all the project's copies there. A copy the evictor
has not seen yet, or an evictor that does not answer, leaves those columns empty rather than
failing the list. The commands are registered on ``cache_app`` by ``lakecache.cli.cache``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lakecache.cli.common import JsonOption, console, load_settings, parse_name, print_json, run_sdk, short
from lakecache.cli.units import human_size
from lakecache.sdk.errors import GatewayNotFound, GatewayUnavailable
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef

TargetArgument = Annotated[str, typer.Argument(
    metavar="PROJECT/DATASET[@REF]", help="The dataset and its commit: a commit id, a tag or 'latest' (default).")]
ProjectOption = Annotated[str | None, typer.Option(
    "--project", "-p", help="The project (and of a DATASET given without PROJECT/); env LAKECACHE_PROJECT, default "
    "'default'.", show_default=False)]
PinSiteOption = Annotated[str, typer.Option("--site", help="The site whose volume holds the copy.")]
PinVolumeOption = Annotated[str | None, typer.Option(
    "--volume", help="The volume holding it; needed when the commit is cached on several volumes of SITE.",
    show_default=False)]


def _rows(status: dict[str, Any], project: str) -> list[dict[str, Any]]:
    """One row per volume of a copy status (one without a volume while none was chosen)."""
    base = {"project": status.get("project") or project, "dataset": status.get("dataset"),
            "commit_id": status["commit_id"], "site": status["site"], "last_used": None, "idle_seconds": None,
            "leases": [], "ttl_expires_at": None}
    volumes = status.get("volumes") or []
    if not volumes:
        return [{**base, "volume": None, "state": status["state"], "path": None, "size_bytes": None,
                 "pinned": False, "error": status.get("error")}]
    return [{**base, "volume": v["volume"], "state": v["state"], "path": v.get("path"),
             "size_bytes": v.get("bytes_total"), "pinned": bool(v.get("pinned")), "error": v.get("error")}
            for v in volumes]


async def project_copy_rows(gateway: GatewayClient, project: str, *, site: str | None,
                            limit: int) -> list[dict[str, Any]]:
    """The project's copies (at ``site``, else everywhere), one row per volume, with usage."""
    rows = [row async for status in gateway.project_copies(project, site=site, limit=limit)
            for row in _rows(status, project)]
    sites = sorted({row["site"] for row in rows if row["state"] == "ready"})
    usage: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for one_site in sites:  # one request per site for every copy there
        try:
            for found in await gateway.explain_project_copies(project, one_site):
                usage[(one_site, found.get("volume"), found["commit_id"])] = found
        except (GatewayNotFound, GatewayUnavailable):
            continue
    for row in rows:
        found = usage.get((row["site"], row["volume"], row["commit_id"]))
        if found is not None and row["state"] == "ready":
            row.update(last_used=found.get("last_use"), idle_seconds=found.get("idle_seconds"),
                       leases=found.get("live_leases") or [], ttl_expires_at=found.get("ttl_expires_at"))
    return rows


def _ago(when: str | None) -> str:
    if not when:
        return "-"
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(when)).total_seconds()
    except (TypeError, ValueError):
        return str(when)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{max(int(seconds), 0)}s ago"


LIST_HELP = """List the project's cached copies: at every site, or at --site.

One row per volume: dataset, commit, site, volume, state, size, last use (a job's read, the end of a lease, or \
becoming ready), live leases and whether it is pinned. Newest change first. With --json: a list of rows with \
`path`, `leases` (id, holder, expiry), `idle_seconds` and `ttl_expires_at` too."""


def list_copies(
    site: Annotated[str | None, typer.Option("--site", help="Only copies at this site.", show_default=False)] = None,
    project: ProjectOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many copies.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List the project's copies (see ``LIST_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    rows = run_sdk(settings, as_json, lambda gateway: project_copy_rows(gateway, settings.project, site=site,
                                                                        limit=limit), refused_input=2)
    if as_json:
        return print_json(rows)
    if not rows:
        where = f" at site {site}" if site else ""
        console.print(f"project {escape(settings.project)} has no cached copies{escape(where)}; request one with "
                      "'lakecache cache request'", highlight=False)
        return
    table = Table("dataset", "commit", "site", "volume", "state", "size", "last used", "leases", "pinned", box=None)
    for row in rows:
        table.add_row(escape(f"{row['project']}/{row['dataset'] or '?'}"), short(row["commit_id"]),
                      escape(row["site"]), escape(row["volume"] or "-"), row["state"], human_size(row["size_bytes"]),
                      _ago(row["last_used"]), str(len(row["leases"])) if row["leases"] else "-",
                      "yes" if row["pinned"] else "")
    console.print(table)


async def _commit_id(gateway: GatewayClient, ref: DatasetRef) -> str:
    return (await gateway.get_commit(ref.project, ref.name, ref.ref_or_latest))["id"]


def _pin(target: str, site: str, volume: str | None, project: str | None, as_json: bool, *, pinned: bool) -> None:
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(target, settings, as_json=as_json)
    call = "pin" if pinned else "unpin"

    async def work(gateway: GatewayClient) -> dict[str, Any]:
        return await getattr(gateway, call)(ref.project, site, await _commit_id(gateway, ref), volume=volume)

    copy = run_sdk(settings, as_json, work, refused_input=2)
    if as_json:
        return print_json(copy)
    label = f"{ref.project}/{ref.name}@{ref.ref_or_latest}"
    where = f"{copy.get('site', site)}/{copy.get('volume', volume or '?')}"
    after = "it is not evicted until unpinned" if pinned else "the eviction policy applies to it again"
    console.print(f"{call}ned [bold]{escape(label)}[/] ({short(copy.get('commit_id'))}) at {escape(where)}: {after}",
                  highlight=False)


PIN_HELP = """Pin the commit's copy at SITE: it is never evicted until unpinned.

Not by its idle TTL, nor for a full volume, nor by `lakecache cache evict`. Project administrators (the caches:pin \
permission). Exit 1 when the project has no copy of the commit there."""


def pin(target: TargetArgument, site: PinSiteOption, volume: PinVolumeOption = None, project: ProjectOption = None,
        as_json: JsonOption = False) -> None:
    """Pin a copy (see ``PIN_HELP``)."""
    _pin(target, site, volume, project, as_json, pinned=True)


def unpin(target: TargetArgument, site: PinSiteOption, volume: PinVolumeOption = None, project: ProjectOption = None,
          as_json: JsonOption = False) -> None:
    """Unpin the commit's copy at SITE: the eviction policy applies to it again (project administrators)."""
    _pin(target, site, volume, project, as_json, pinned=False)
