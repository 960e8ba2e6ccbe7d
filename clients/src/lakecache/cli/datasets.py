"""``lakecache data create|list|show|delete|sync|import``: datasets and new commits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lakecache.cli.common import (
    JsonOption,
    MessageOption,
    ProjectOption,
    console,
    err_console,
    fail,
    load_settings,
    parse_name,
    print_json,
    run_sdk,
    short,
)
from lakecache.cli.progress import PhaseBars
from lakecache.sdk.catalog import CatalogClient
from lakecache.sdk.importer import import_prefix
from lakecache.sdk.sync import sync_directory


def create(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    description: Annotated[str | None, typer.Option(help="What the dataset holds.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Label; repeat for several.")] = None,
    lake_url: Annotated[str | None, typer.Option(help="Lake location (default: chosen by the catalog).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an empty dataset."""
    settings = load_settings(project)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    dataset = run_sdk(settings, as_json, lambda c: c.create_dataset(
        ref.project, ref.name, description=description, tags=tag or None, lake_url=lake_url))
    if as_json:
        return print_json(dataset)
    console.print(f"created [bold]{ref}[/] at {dataset.get('lake_url')}")


def list_datasets(
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="The project whose datasets to list (env LAKECACHE_PROJECT, default 'default').",
        show_default=False)] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only datasets with this label.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Text to find in names and descriptions.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List a project's datasets (the gateway lists one project at a time)."""
    settings = load_settings(project)

    async def work(catalog: CatalogClient) -> list[dict[str, Any]]:
        return [d async for d in catalog.list_datasets(project=settings.project, tag=tag, query=query)]

    items = run_sdk(settings, as_json, work)
    if as_json:
        return print_json(items)
    table = Table("dataset", "head", "tags", "description", box=None)
    for d in items:
        table.add_row(f"{d['project']}/{d['name']}", short(d.get("head")), ", ".join(d.get("tags") or []),
                      d.get("description") or "")
    console.print(table if items else f"no datasets in project {settings.project}", highlight=False)


def show(name: Annotated[str, typer.Argument(help="project/name or name.")], project: ProjectOption = None,
         as_json: JsonOption = False) -> None:
    """Show a dataset: owner, lake location, head commit, labels."""
    settings = load_settings(project)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    dataset = run_sdk(settings, as_json, lambda c: c.get_dataset(ref.project, ref.name))
    if as_json:
        return print_json(dataset)
    for key in ("project", "name", "description", "owner", "lake_url", "head", "created_at", "updated_at"):
        console.print(f"[bold]{key:<12}[/]{dataset.get(key) or '-'}", highlight=False)
    console.print(f"[bold]{'tags':<12}[/]{', '.join(dataset.get('tags') or []) or '-'}", highlight=False)


def sync(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    directory: Annotated[Path, typer.Argument(help="Local directory to commit.")],
    message: MessageOption,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Commit even with no files.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Parallel uploads.")] = 16,
    hash_cache: Annotated[bool, typer.Option(help="Reuse hashes of unchanged files from earlier syncs.")] = True,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload DIRECTORY's new and changed files to the dataset's lake location and commit it.

    Only contents the lake lacks are uploaded, so an interrupted sync resumes where it stopped when run again. Unsafe file names are refused before anything is uploaded; symbolic links are skipped, never followed.
    """  # noqa: E501
    settings = load_settings(project)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    with PhaseBars(err_console, enabled=not as_json) as bars:
        result = run_sdk(settings, as_json, lambda c: sync_directory(
            c, ref, directory, message=message, allow_empty=allow_empty, concurrency=concurrency,
            use_hash_cache=hash_cache, on_progress=bars.update))
    if as_json:
        return print_json(result.as_dict())
    for path, reason in result.skipped:
        err_console.print(f"[yellow]skipped[/] {escape(path)}: {reason}")
    commit_id = short(result.commit.get("id"))
    if result.unchanged:
        console.print(f"unchanged: {ref} is already at {commit_id} ({result.files} files); nothing uploaded")
    else:
        console.print(f"committed {commit_id} to {ref}: {result.files} files, {result.bytes:,} bytes "
                      f"({result.uploaded} uploaded, {result.uploaded_bytes:,} bytes)")


def import_(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    url: Annotated[str, typer.Argument(help="Lake prefix to import: s3://bucket/prefix or file:///dir.")],
    message: MessageOption,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Commit even with no objects.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Parallel HEAD/read requests.")] = 16,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Commit the objects under URL without copying them (paths relative to the prefix).

    Hashes come from the server's SHA-256 checksums where it keeps them; other objects are read once to hash them.
    """
    settings = load_settings(project)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    with PhaseBars(err_console, enabled=not as_json) as bars:
        result = run_sdk(settings, as_json, lambda c: import_prefix(
            c, ref, url, message=message, allow_empty=allow_empty, concurrency=concurrency,
            on_progress=bars.update))
    if as_json:
        return print_json(result.as_dict())
    commit_id = short(result.commit.get("id"))
    state = "unchanged at" if result.unchanged else "committed"
    console.print(f"{state} {commit_id} in {ref}: {result.files} objects, {result.bytes:,} bytes from {url} "
                  f"({result.hashed} read to hash)")


def delete(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a dataset from the catalog (asks first unless --yes)."""
    settings = load_settings(project)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    if not yes and not typer.confirm(f"Delete dataset {ref}?", default=False, err=True):
        fail(f"not deleted: {ref} (confirm, or pass --yes)", 1, as_json=as_json)
    run_sdk(settings, as_json, lambda c: c.delete_dataset(ref.project, ref.name))
    if as_json:
        return print_json({"deleted": str(ref)})
    console.print(f"deleted {ref}")


def register(app: typer.Typer) -> None:
    app.command("create")(create)
    app.command("list")(list_datasets)
    app.command("show")(show)
    app.command("sync")(sync)
    app.command("import")(import_)
    app.command("delete")(delete)
