"""``lakecache site add|remove|volumes|quota|copies|why|ttl``: a site's cache volumes, per-project
quotas and copies, and why copies are kept or evicted.

Requests go to the gateway at ``LAKECACHE_API_URL`` (default ``http://127.0.0.1:8080``), which
forwards them to the site's cacher or to the evictor (they answer nobody else). Exit codes as
for ``lakecache data``: 0 done, 1 refused or failed, 2 usage or configuration.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from lakecache.cli.common import (
    JsonOption,
    console,
    fail,
    load_settings,
    parse_name,
    print_json,
    run_sdk,
    short,
)
from lakecache.cli.units import SIZE_HELP, human_duration, human_size, parse_duration, parse_size
from lakecache.core.vocabulary.copies import COPY_STATES
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import COMMIT_ID

site_app = typer.Typer(
    help="A site's cache volumes and copies, and why copies are kept or evicted, through the gateway at "
    "LAKECACHE_API_URL (default http://127.0.0.1:8080) with the token LAKECACHE_TOKEN (default: the "
    "administrator token `lakecache up` wrote to <home>/admin-token). Exit codes: 0 done, 1 refused or failed, "
    "2 usage or configuration error (including no valid token).",
    no_args_is_help=True,
)


def _volume_row(table: Table, v: dict[str, Any]) -> None:
    capacity = human_size(v.get("capacity_bytes")) + ("" if v.get("capacity_configured") else " (fs)")
    copies = v.get("copies") or {}
    # "cached" is what LakeCache holds (what a configured capacity bounds); "fs free" is the
    # filesystem's own free space, the other bound (on a shared filesystem, other data uses it too).
    cached = v.get("cached_bytes")
    fs_free = (v.get("filesystem") or {}).get("free_bytes")
    table.add_row(v["name"], v["path"], capacity, "-" if cached is None else human_size(cached),
                  human_size(v.get("free_bytes")), "-" if fs_free is None else human_size(fs_free),
                  f"{copies.get('ready', 0)} ({human_size(copies.get('bytes', 0))})", _ttl_text(v.get("ttl_seconds")),
                  f"{_mark(v.get('high_watermark'))}/{_mark(v.get('low_watermark'))}")


def _ttl_text(seconds: int | None) -> str:
    return "default" if seconds is None else human_duration(seconds)


def _mark(value: float | None) -> str:
    return "default" if value is None else f"{value:g}"


def _volume_table() -> Table:
    return Table("volume", "path", "capacity", "cached", "free", "fs free", "ready copies", "ttl", "watermarks",
                 box=None)


def _quota_table() -> Table:
    # "charged" is the distinct content the project's copies reference (ADR 0018); "shared" the
    # part other projects' copies hold too, so the volume's pool holds it once for all of them.
    return Table("volume", "project", "quota", "charged", "shared", box=None)


def _quota_row(table: Table, q: dict[str, Any]) -> None:
    quota, charged, shared = q.get("quota_bytes"), q.get("charged_bytes"), q.get("shared_bytes")
    table.add_row(q["volume"], q["project"], "none" if quota is None else human_size(quota),
                  "-" if charged is None else human_size(charged), "-" if shared is None else human_size(shared))


@site_app.command("add")
def add(
    site: Annotated[str, typer.Argument(help="Site whose cacher registers the volume.")],
    volume: Annotated[str, typer.Option("--volume", help="Volume name, unique within the site.")],
    path: Annotated[str, typer.Option("--path", help="Absolute path of the mounted volume on the cacher's host.")],
    capacity: Annotated[str | None, typer.Option(
        "--capacity", help=f"Capacity to manage, e.g. 500G, 1.5T, 100MiB ({SIZE_HELP}). "
        "Default: the filesystem's size (then its whole usage counts against it). "
        "A set capacity bounds what LakeCache itself holds there.", show_default=False)] = None,
    ttl: Annotated[str | None, typer.Option(
        "--ttl", help="Unused copies older than this may be evicted: 90m, 12h, 1d, 2w. Default: the evictor's "
        "(1d unless configured).",
        show_default=False)] = None,
    high_watermark: Annotated[float | None, typer.Option(
        help="Fraction of capacity that starts eviction (default: the evictor's, 0.9).", show_default=False)] = None,
    low_watermark: Annotated[float | None, typer.Option(
        help="Fraction of capacity eviction stops at (default: the evictor's, 0.75).", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a cache volume at SITE.

    The path must be an existing directory the cacher can write to, on the cacher's host.
    """
    settings = load_settings(None, as_json=as_json)
    body: dict[str, Any] = {"name": volume, "path": path}
    try:
        if capacity is not None:
            body["capacity_bytes"] = parse_size(capacity)
        if ttl is not None:
            body["ttl_seconds"] = parse_duration(ttl)
    except ValueError as exc:
        fail(str(exc), 2, as_json=as_json)
    if high_watermark is not None:
        body["high_watermark"] = high_watermark
    if low_watermark is not None:
        body["low_watermark"] = low_watermark
    created = run_sdk(settings, as_json, lambda gateway: gateway.add_volume(site, **body))
    if as_json:
        return print_json(created)
    console.print(f"added volume [bold]{created['name']}[/] at site {created['site']}: {created['path']}, "
                  f"capacity {human_size(created.get('capacity_bytes'))}, "
                  f"ttl {_ttl_text(created.get('ttl_seconds'))}", highlight=False)


@site_app.command("remove")
def remove(
    site: Annotated[str, typer.Argument(help="Site whose cacher unregisters the volume.")],
    volume: Annotated[str, typer.Argument(help="Volume to unregister.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Unregister VOLUME at SITE; its ready copies are evicted first (asks unless --yes).

    Refused while a copy there is filling, leased or pinned, and for a volume the cacher's
    settings declare (cacher.volumes). Files outside the cacher's copies stay on the volume.
    """
    settings = load_settings(None, as_json=as_json)
    if not yes and not typer.confirm(f"Remove volume {volume} of site {site} and evict its copies?",
                                     default=False, err=True):
        fail(f"not removed: volume {volume} of site {site} (confirm, or pass --yes)", 1, as_json=as_json)
    run_sdk(settings, as_json, lambda gateway: gateway.remove_volume(site, volume))
    if as_json:
        return print_json({"site": site, "volume": volume, "removed": True})
    console.print(f"removed volume [bold]{volume}[/] of site {site}", highlight=False)


@site_app.command("volumes")
def volumes(
    site: Annotated[str, typer.Argument(help="Site whose volumes to list.")],
    name: Annotated[str | None, typer.Argument(help="Only this volume.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """List SITE's cache volumes: capacity, space used and free, ready copies, eviction settings."""
    settings = load_settings(None, as_json=as_json)
    if name is not None:
        items = [run_sdk(settings, as_json, lambda gateway: gateway.volume(site, name))]
    else:
        items = run_sdk(settings, as_json, lambda gateway: gateway.volumes(site))
    if as_json:
        return print_json(items[0] if name is not None else items)
    table = _volume_table()
    for v in items:
        _volume_row(table, v)
    console.print(table if items else f"site {site} has no volumes; add one with 'lakecache site add'")
    quotas = _quota_table()
    for v in items:
        for q in v.get("projects") or []:
            _quota_row(quotas, q)
    if quotas.row_count:
        console.print(quotas)


@site_app.command("quota")
def quota(
    site: Annotated[str, typer.Argument(help="Site of the volume.")],
    size: Annotated[str | None, typer.Argument(
        help=f"The quota, e.g. 500G, 1.5T, 100MiB ({SIZE_HELP}); 'none' removes it (as --clear). Omit it to show "
        "the project's quota and charge on each volume of SITE.", show_default=False)] = None,
    volume: Annotated[str | None, typer.Option("--volume", help="The volume the quota applies to.",
                                               show_default=False)] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="The project it bounds (env LAKECACHE_PROJECT, default 'default').",
        show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the project's quota on the volume.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Set, remove or show a project's quota on a volume of SITE.

    A project is charged the distinct content its copies on the volume reference: each content
    once however many of its copies share it, and in full for every project holding it (ADR
    0018). A fill that would pass the quota first has the project's idle copies there evicted
    (never leased or pinned ones, never another project's); otherwise it fails, naming the quota.
    Setting and removing need an installation administrator; a project's members may show it.
    """
    settings = load_settings(project, as_json=as_json)
    if size is not None and size.lower() == "none":
        size, clear = None, True
    if clear and size is not None:
        fail("pass a SIZE (e.g. 500G) or --clear, not both", 2, as_json=as_json)
    if size is None and not clear:
        items = run_sdk(settings, as_json, lambda gateway: gateway.project_quotas(settings.project, site))
        if volume is not None:
            items = [q for q in items if q["volume"] == volume]
        if as_json:
            return print_json(items)
        table = _quota_table()
        for q in items:
            _quota_row(table, q)
        console.print(table if items else f"site {site} has no volume {volume}" if volume
                      else f"site {site} has no volumes")
        return
    if volume is None:
        fail("pass --volume V: a quota applies to one volume", 2, as_json=as_json)
    quota_bytes = None
    if size is not None:
        try:
            quota_bytes = parse_size(size)
        except ValueError as exc:
            fail(str(exc), 2, as_json=as_json)
    found = run_sdk(settings, as_json, lambda gateway: gateway.set_quota(site, volume, settings.project, quota_bytes))
    if as_json:
        return print_json(found or {"site": site, "volume": volume, "project": settings.project,
                                    "quota_bytes": None})
    if found is None:
        console.print(f"removed project {settings.project}'s quota on volume {volume} of site {site}",
                      highlight=False)
        return
    charged = found.get("charged_bytes")
    console.print(f"project {found['project']}'s quota on volume {found['volume']} of site {found['site']}: "
                  f"{human_size(found['quota_bytes'])} (charged "
                  f"{'-' if charged is None else human_size(charged)})", highlight=False)


@site_app.command("copies")
def copies(
    site: Annotated[str, typer.Argument(help="Site whose copies to list.")],
    commit_id: Annotated[str | None, typer.Argument(help="Only the copy of this commit.", show_default=False)] = None,
    state: Annotated[str | None, typer.Option(
        "--state", help=f"Only copies in this state: {', '.join(COPY_STATES)}.", show_default=False)] = None,
    volume: Annotated[str | None, typer.Option("--volume", help="Only copies on this volume.",
                                               show_default=False)] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="Copies of this project's datasets (env LAKECACHE_PROJECT, default 'default'); "
        "the gateway lists one project at a time.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many copies.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List a project's dataset copies at SITE (newest request first), or show one commit's copy.

    One commit's copy is the project's copy status (as `lakecache cache status`): a row per volume.
    """
    settings = load_settings(project, as_json=as_json)
    if state is not None and state not in COPY_STATES:
        fail(f"--state must be one of {', '.join(COPY_STATES)}, got {state!r}", 2, as_json=as_json)
    if commit_id is not None:
        # The gateway answers with the copy's status on every volume; --volume picks one here.
        found = run_sdk(settings, as_json, lambda gateway: gateway.copy_status(settings.project, site, commit_id))
        items = _copy_rows(found)
        if volume is not None and isinstance(found.get("volumes"), list):
            items = [c for c in items if c["volume"] == volume]
            if not items:
                fail(f"show the copy of {commit_id} at site {site!r}: it is not on volume {volume!r}", 1,
                     as_json=as_json)
            found = {**found, "volumes": [v for v in found["volumes"] if v["volume"] == volume]}
        if as_json:
            return print_json(found)
    else:
        async def listed(gateway: GatewayClient) -> list[dict[str, Any]]:
            return [c async for c in gateway.site_copies(site, project=settings.project, state=state, volume=volume,
                                                         limit=limit)]

        items = run_sdk(settings, as_json, listed)
        if as_json:
            return print_json(items)
    table = Table("commit", "dataset", "volume", "state", "files", "size", "pinned", "path / error", box=None)
    for c in items:
        error = c.get("error")
        where = c.get("path") or (error.get("reason") if isinstance(error, dict) else error) or ""
        table.add_row(short(c["commit_id"]), f"{c['project']}/{c['dataset']}", c["volume"], c["state"],
                      str(c.get("files") if c.get("files") is not None else "-"), human_size(c.get("size_bytes")),
                      "yes" if c.get("pinned") else "", str(where))
    if items:
        console.print(table)
    elif commit_id is not None:
        console.print(f"the copy of {short(commit_id)} at site {site} is {found.get('state')}; no volume holds it yet",
                      highlight=False)
    else:
        console.print(f"no copies at site {site}" + (f" in state {state}" if state else "")
                      + f" for project {settings.project}", highlight=False)


def _copy_rows(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the copies table from one copy's status: one per volume."""
    return [{"commit_id": found["commit_id"], "project": found.get("project"), "dataset": found.get("dataset"),
             "volume": v["volume"], "state": v["state"], "files": v.get("files_total"),
             "size_bytes": v.get("bytes_total"), "pinned": v.get("pinned"), "path": v.get("path"),
             "error": v.get("error")} for v in found.get("volumes") or []]


@site_app.command("why")
def why(
    site: Annotated[str, typer.Argument(help="Site of the copy.")],
    copy: Annotated[str, typer.Argument(help="The copy's commit: its id, or project/dataset@ref.",
                                        metavar="COMMIT")],
    volume: Annotated[str | None, typer.Option("--volume", help="Volume of the copy (default: the one holding it).",
                                               show_default=False)] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="The project whose copy it is, when COMMIT is an id (env LAKECACHE_PROJECT, default "
        "'default').", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Why the project's copy of COMMIT at SITE is kept, due for eviction, or was evicted.

    Shows the evictor's view: last use and last read, live leases, pin, the TTL and where it
    comes from (commit, dataset, volume or default), the volume's watermarks and the last decision.
    """
    settings = load_settings(project, as_json=as_json)
    ref = None if COMMIT_ID.fullmatch(copy) else parse_name(copy, settings, as_json=as_json)

    async def explain(gateway: GatewayClient) -> dict[str, Any]:
        owner, commit_id = settings.project, copy
        if ref is not None:
            owner, commit_id = ref.project, (await gateway.get_commit(ref.project, ref.name, ref.ref_or_latest))["id"]
        return await gateway.explain_eviction(owner, site, commit_id, volume=volume)

    found = run_sdk(settings, as_json, explain)
    if as_json:
        return print_json(found)
    console.print(f"[bold]{short(found['commit_id'])}[/] on {found['site']}/{found['volume']}: {found['state']}",
                  highlight=False)
    console.print(found["verdict"], highlight=False)
    rows = [("last use", found.get("last_use") or "-"), ("last read", found.get("last_read") or "-"),
            ("ttl", f"{human_duration(found['ttl_seconds'])} (from {found['ttl_source']})"
             if found.get("ttl_seconds") else "-"),
            ("ttl expires", found.get("ttl_expires_at") or "-"),
            ("pinned", "yes" if found.get("pinned") else "no"),
            ("leases", ", ".join(f"{lease['holder'] or lease['lease_id']} until {lease['expires_at']}"
                                 for lease in found.get("live_leases") or []) or "none")]
    decision = found.get("last_decision")
    if decision:
        rows.append(("last decision", f"{decision.get('reason')}: {decision.get('explanation')}"))
    table = Table(box=None, show_header=False)
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)


@site_app.command("ttl")
def ttl(
    site: Annotated[str, typer.Argument(help="Site where the TTL applies.")],
    duration: Annotated[str | None, typer.Argument(
        help="Idle time before eviction: 90m, 12h, 1d, 2w. Omit with --clear.", show_default=False)] = None,
    dataset_id: Annotated[str | None, typer.Option("--dataset-id", help="Set it for this dataset (its id).",
                                                   show_default=False)] = None,
    commit_id: Annotated[str | None, typer.Option("--commit", help="Set it for this commit.",
                                                  show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the override (back to the volume's TTL).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Override the idle TTL of one dataset or one commit at SITE (commit wins over dataset,
    dataset over the volume's TTL, the volume's over the evictor's default of one day)."""
    settings = load_settings(None, as_json=as_json)
    if (dataset_id is None) == (commit_id is None):
        fail("pass exactly one of --dataset-id ID or --commit ID", 2, as_json=as_json)
    if clear == (duration is not None):
        fail("pass a DURATION (e.g. 2d) or --clear, not both or neither", 2, as_json=as_json)
    seconds = None
    if duration is not None:
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            fail(str(exc), 2, as_json=as_json)
    scope, target = ("commit", commit_id) if commit_id is not None else ("dataset", dataset_id)
    body = {"scope": scope, "target": target, "ttl_seconds": seconds}
    accepted = run_sdk(settings, as_json, lambda gateway: gateway.set_ttl(site, scope, target, seconds))
    if as_json:
        return print_json({**body, **accepted})
    what = "cleared" if seconds is None else f"set to {human_duration(seconds)}"
    console.print(f"TTL of {scope} {target} at site {site} {what}", highlight=False)
