"""``lakecache cache request|status|evict``: ask the gateway for a commit to be cached at a site,
follow its progress live, show where it is, and evict it (``list``, ``pin`` and ``unpin`` come
from ``lakecache.cli.cache_copies``).

Every request goes to the gateway at ``LAKECACHE_API_URL`` (default ``http://127.0.0.1:8080``)
with the token ``LAKECACHE_TOKEN`` (default: the administrator token ``lakecache up`` wrote to
``<home>/admin-token``), through ``GatewayClient``. This module holds the commands; the copy's
live progress is the gateway's Server-Sent Events stream of its status, followed by
``lakecache.cli.live`` and drawn by ``lakecache.cli.progress``. A copy is its dataset's
project's: every route names it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from lakecache.cli.cache_copies import LIST_HELP, PIN_HELP, list_copies, pin, unpin
from lakecache.cli.common import (
    JsonOption,
    console,
    err_console,
    fail,
    load_settings,
    parse_name,
    print_json,
    run_sdk,
    short,
)
from lakecache.cli.live import follow_copy
from lakecache.cli.progress import CopyBars, progress_text
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef
from lakecache.sdk.settings import ClientSettings

cache_app = typer.Typer(
    help="Cached copies of commits at a site: request one and follow its progress, show its status, list a "
    "project's copies, pin, unpin or evict one. "
    "Requests go to the gateway at LAKECACHE_API_URL (default http://127.0.0.1:8080) with the token "
    "LAKECACHE_TOKEN (default: the administrator token `lakecache up` wrote to <home>/admin-token; home is "
    "LAKECACHE_HOME, default .lakecache). PROJECT/DATASET\\[@REF]: REF is a commit id, a tag or 'latest' (default); "
    "a dataset without PROJECT/ is in --project (env LAKECACHE_PROJECT, default 'default'). "
    "Exit codes: 0 done (request: the copy is ready), 1 refused or failed, 2 usage or configuration error "
    "(including no valid token).",
    no_args_is_help=True,
)
TargetArgument = Annotated[str, typer.Argument(
    metavar="PROJECT/DATASET[@REF]", help="The dataset and its commit: a commit id, a tag or 'latest' (default).")]
SiteOption = Annotated[str, typer.Option("--site", help="The site whose volume holds (or is to hold) the copy.")]
ProjectOption = Annotated[str | None, typer.Option(
    "--project", "-p", help="Project of a DATASET given without PROJECT/ (env LAKECACHE_PROJECT, default 'default').",
    show_default=False)]


# --- helpers -----------------------------------------------------------------------------------


def _label(ref: DatasetRef) -> str:
    return f"{ref.project}/{ref.name}@{ref.ref_or_latest}"


def _run(settings: ClientSettings, as_json: bool, work: Callable[[GatewayClient], Awaitable[Any]], *,
         interrupted: str = "interrupted") -> Any:
    """Run ``work`` with an open client; a refused request exits 1 (a refused input 2, no valid token 2)."""
    return run_sdk(settings, as_json, work, interrupted=interrupted, refused_input=2)


def _status_command(site: str, ref: DatasetRef) -> str:
    return f"lakecache cache status {_label(ref)} --site {site}"


def _errors(status: dict[str, Any]) -> list[str]:
    found = [status["error"]] if status.get("error") else []
    return found + [f"{v['volume']}: {v['error']}" for v in status.get("volumes") or [] if v.get("error")]


def _ready_paths(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["volume"], v["path"]) for v in status.get("volumes") or [] if v.get("state") == "ready"]


# --- commands ----------------------------------------------------------------------------------


REQUEST_HELP = """Ask for the commit to be cached at SITE and follow its progress until it is ready.

The gateway resolves the ref, sends the site's cacher the request and answers at once; the command then follows the \
copy's live progress (a bar per volume: files, bytes, rate, ETA) until the copy is ready (exit 0, its path is \
printed), failed (exit 1, the reason is printed) or evicted (exit 1). Asking for a commit already cached or being \
filled joins that copy.

With --no-wait it prints the accepted request and exits 0. With --json it prints one JSON document at the end (the \
final status, or the accepted request with --no-wait) and no progress bars."""


@cache_app.command("request", help=REQUEST_HELP)
def request(
    target: TargetArgument,
    site: SiteOption,
    volume: Annotated[str | None, typer.Option(
        "--volume", help="A volume of the site (default: the cacher picks one).", show_default=False)] = None,
    no_wait: Annotated[bool, typer.Option(
        "--no-wait", help="Return once the gateway accepted the request, without following the progress.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Request a cached copy and follow it (see ``REQUEST_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(target, settings, as_json=as_json)

    async def work(gateway: GatewayClient) -> tuple[dict[str, Any], dict[str, Any] | None]:
        accepted = await gateway.request_cache(ref.project, ref.name, site, ref=ref.ref_or_latest, volume=volume)
        if no_wait:
            return accepted, None
        with CopyBars(err_console, enabled=not as_json) as bars:
            final = await follow_copy(gateway, accepted["events_url"], what=f"follow {_label(ref)} at {site}",
                                      on_status=bars.update)
        return accepted, final

    accepted, final = _run(settings, as_json, work, interrupted=(
        f"stopped following; the request stands: {_status_command(site, ref)}"))
    commit_id = accepted["status"]["commit_id"]
    if final is None:
        if as_json:
            return print_json(accepted)
        console.print(f"requested [bold]{escape(_label(ref))}[/] ({short(commit_id)}) at site {escape(site)}: "
                      f"{accepted['status']['state']}. Follow it with: {escape(_status_command(site, ref))}",
                      highlight=False)
        return
    if as_json:
        print_json(final)
    state = final.get("state")
    if state == "ready":
        if not as_json:
            for name, path in _ready_paths(final):
                console.print(f"[bold green]ready[/] {escape(_label(ref))} ({short(commit_id)}) at "
                              f"{escape(site)}/{escape(name)}: {escape(path)}", highlight=False, soft_wrap=True)
        return
    if state == "failed":
        reasons = "; ".join(_errors(final)) or "no reason given"
        fail(f"caching {_label(ref)} at site {site} failed: {reasons}", 1, as_json=as_json)
    fail(f"the copy of {_label(ref)} at site {site} was evicted before it was ready; request it again", 1,
         as_json=as_json)


async def _commit_id(gateway: GatewayClient, ref: DatasetRef) -> str:
    """The commit id ``ref`` names (a tag or ``latest`` resolved in the catalog)."""
    return (await gateway.get_commit(ref.project, ref.name, ref.ref_or_latest))["id"]


STATUS_HELP = """Show the status of the commit's copy at SITE.

Its state and, per volume, the state, the path jobs read when it is ready, the progress of a fill, and the pin. \
The ref is resolved to a commit id in the catalog first, so @latest is the newest commit, which may not be the one \
cached. Exit 1 when no copy of the commit was requested at SITE."""


@cache_app.command("status", help=STATUS_HELP)
def status(
    target: TargetArgument,
    site: SiteOption,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a copy's status (see ``STATUS_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(target, settings, as_json=as_json)

    async def work(gateway: GatewayClient) -> dict[str, Any]:
        return await gateway.copy_status(ref.project, site, await _commit_id(gateway, ref))

    found = _run(settings, as_json, work)
    if as_json:
        return print_json(found)
    console.print(f"[bold]{escape(_label(ref))}[/] ({short(found['commit_id'])}) at site {escape(site)}: "
                  f"[bold]{found['state']}[/]", highlight=False)
    if found.get("requested_at"):
        console.print(f"requested {found['requested_at']} by {escape(str(found.get('requested_by') or '-'))}",
                      highlight=False)
    if found.get("error"):
        console.print(f"[red]error:[/] {escape(found['error'])}", highlight=False)
    if not found.get("volumes"):
        console.print("no volume holds it yet", highlight=False)
        return
    for v in found["volumes"]:  # one table per volume: a path is long, it gets a line of its own
        table = Table(Column(style="bold"), Column(overflow="fold"), box=None, show_header=False)
        rows = [("volume", v["volume"]), ("state", v["state"]), ("path", v.get("path") or "-"),
                ("progress", progress_text(v)), ("pinned", "yes" if v.get("pinned") else "no")]
        if v.get("error"):
            rows.insert(3, ("error", v["error"]))
        for name, value in rows:
            table.add_row(name, value)
        console.print()
        console.print(table)


EVICT_HELP = """Evict the commit's ready copy at SITE now.

The gateway asks the evictor and answers at once. The evictor decides it like its own decisions: never a copy a \
job holds a lease on, nor a pinned copy, nor in dry run. `lakecache cache status` shows whether it went (state \
evicted). Exit 1 when \
the commit is not ready there."""


@cache_app.command("evict", help=EVICT_HELP)
def evict(
    target: TargetArgument,
    site: SiteOption,
    volume: Annotated[str | None, typer.Option(
        "--volume", help="The volume to evict it from; needed when the commit is ready on several volumes of "
        "SITE.", show_default=False)] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evict a ready copy now (see ``EVICT_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(target, settings, as_json=as_json)

    async def work(gateway: GatewayClient) -> dict[str, Any]:
        return await gateway.evict(ref.project, site, await _commit_id(gateway, ref), volume=volume)

    accepted = _run(settings, as_json, work)
    if as_json:
        return print_json(accepted)
    console.print(f"eviction of [bold]{escape(_label(ref))}[/] ({short(accepted['commit_id'])}) from "
                  f"{escape(accepted['site'])}/{escape(accepted['volume'])} sent to the evictor "
                  f"(request {accepted['request_id']}).",
                  highlight=False)
    console.print("A copy that a job holds a lease on, or a pinned copy, is not evicted; check with: "
                  f"{escape(_status_command(site, ref))}", highlight=False)


# Listing and pinning live in their own module; registered here so that they follow these in --help.
cache_app.command("list", help=LIST_HELP)(list_copies)
cache_app.command("pin", help=PIN_HELP)(pin)
cache_app.command("unpin")(unpin)
