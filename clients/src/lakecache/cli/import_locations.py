"""``lakecache import-location add|list|remove``: the lake locations a project may import from.

``lakecache data import`` reads only inside these: an installation administrator registers
them per project (``add``, ``remove``); anyone with a role in the project lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from lakecache.cli.common import JsonOption, console, fail, load_settings, print_json, run_sdk

import_location_app = typer.Typer(
    help="The lake locations a project may import from (`lakecache data import` reads only inside them). "
    "Installation administrators add and remove them; anyone with a role in the project lists them. Requests go to "
    "the gateway at LAKECACHE_API_URL with the token LAKECACHE_TOKEN. The project is --project, else "
    "LAKECACHE_PROJECT (default 'default'). Exit codes: 0 done, 1 refused or failed, 2 usage or configuration "
    "error (including no valid token).",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The location's name in the project, e.g. raw-2024.")]
ProjectOption = Annotated[str | None, typer.Option(
    "--project", "-p", help="The project (env LAKECACHE_PROJECT, default 'default').", show_default=False)]


@import_location_app.command("add")
def add(
    name: NameArgument,
    url: Annotated[str, typer.Argument(help="The location: s3://bucket/prefix, or file:///dir inside a local lake.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register URL as an import location of the project (installation administrators).

    Registering the same name with the same URL again changes nothing. A location may not overlap another
    project's import location or any dataset's location.
    """
    settings = load_settings(project, as_json=as_json)
    if "://" not in url:
        fail(f"{url!r} is not a lake URL: use s3://bucket/prefix or file:///dir", 2, as_json=as_json)
    location = run_sdk(settings, as_json, lambda c: c.set_import_location(settings.project, name, url))
    if as_json:
        return print_json(location)
    console.print(f"import location [bold]{escape(name)}[/] of project {escape(settings.project)}: "
                  f"{escape(str(location.get('url', url)))}", highlight=False, soft_wrap=True)


@import_location_app.command("list")
def list_locations(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List the project's import locations."""
    settings = load_settings(project, as_json=as_json)
    items = run_sdk(settings, as_json, lambda c: c.import_locations(settings.project))
    if as_json:
        return print_json(items)
    if not items:
        console.print(f"project {settings.project} has no import locations; an installation administrator adds "
                      "them with 'lakecache import-location add'", highlight=False)
        return
    for item in items:  # one line each: a URL is long, and whole it can be copied
        console.print(f"[bold]{escape(str(item.get('name')))}[/] {escape(str(item.get('url')))} (added "
                      f"{item.get('created_at') or '-'} by {escape(str(item.get('created_by') or '-'))})",
                      highlight=False, soft_wrap=True)


@import_location_app.command("remove")
def remove(name: NameArgument, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Remove an import location of the project (installation administrators).

    New imports from it are refused, and commits that imported from it can no longer be cached: the cacher
    reads only inside the project's current import locations.
    """
    settings = load_settings(project, as_json=as_json)
    run_sdk(settings, as_json, lambda c: c.delete_import_location(settings.project, name))
    if as_json:
        return print_json({"removed": name, "project": settings.project})
    console.print(f"removed import location {escape(name)} of project {escape(settings.project)}", highlight=False)
