"""``lakecache data create|list|show|delete|sync|import``: datasets and new commits."""

from __future__ import annotations

from contextlib import nullcontext as _nothing
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
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.importer import import_source
from lakecache.sdk.progress import Progress
from lakecache.sdk.sync import sync_directory


def create(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    description: Annotated[str | None, typer.Option(help="What the dataset holds.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Label; repeat for several.")] = None,
    lake_url: Annotated[str | None, typer.Option(
        help="Lake location, under the project's prefix in the lake (default: <lake>/<project>/<name>, chosen by the "
        "catalog).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an empty dataset."""
    settings = load_settings(project, as_json=as_json)
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
    settings = load_settings(project, as_json=as_json)

    async def work(gateway: GatewayClient) -> list[dict[str, Any]]:
        return [d async for d in gateway.list_datasets(project=settings.project, tag=tag, query=query)]

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
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    dataset = run_sdk(settings, as_json, lambda c: c.get_dataset(ref.project, ref.name))
    if as_json:
        return print_json(dataset)
    for key in ("project", "name", "description", "owner", "lake_url", "head", "created_at", "updated_at"):
        console.print(f"[bold]{key:<12}[/]{dataset.get(key) or '-'}", highlight=False)
    console.print(f"[bold]{'tags':<12}[/]{', '.join(dataset.get('tags') or []) or '-'}", highlight=False)


SYNC_HELP = """Upload DIRECTORY's new and changed files to the dataset and commit it.

Only contents the dataset lacks are uploaded (through upload URLs the gateway hands out: no lake credentials \
needed), so an interrupted sync resumes where it stopped when run again. Unsafe file names are refused before \
anything is uploaded; symbolic links, FIFOs and devices are skipped, never followed or read, also when a file \
turns into one during the sync. A file written while it is synced stops the sync before anything is committed \
(exit 1, the file is named): run it again once nothing writes to it. Ctrl-C stops it (exit 130)."""


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
    """Upload a directory's new files and commit it (see ``SYNC_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    phase = ["scan"]

    def stopped() -> str:
        if phase[0] == "commit":  # the commit request may have reached the catalog
            return (f"interrupted while committing to {ref}: the commit may or may not have been made. Check with "
                    f"`lakecache data log {ref}`; running the same sync again is safe")
        return (f"interrupted: nothing was committed to {ref}. Run the same sync again to finish it (contents "
                "already uploaded are not sent again)")

    with PhaseBars(err_console, enabled=not as_json) as bars:
        def progress(state: Progress) -> None:
            phase[0] = state.phase
            bars.update(state)

        result = run_sdk(settings, as_json, lambda c: sync_directory(
            c, ref, directory, message=message, allow_empty=allow_empty, concurrency=concurrency,
            use_hash_cache=hash_cache, on_progress=progress), interrupted=stopped)
    if as_json:
        return print_json(result.as_dict())
    for path, reason in result.skipped:
        err_console.print(f"[yellow]skipped[/] {escape(path)}: {reason}", highlight=False)
    commit_id = short(result.commit.get("id"))
    if result.unchanged:
        console.print(f"unchanged: {ref} is already at {commit_id} ({result.files} files); nothing uploaded")
    else:
        console.print(f"committed {commit_id} to {ref}: {result.files} files, {result.bytes:,} bytes "
                      f"({result.uploaded} uploaded, {result.uploaded_bytes:,} bytes)")


IMPORT_HELP = """Commit the objects under SOURCE without copying them (paths relative to the prefix).

SOURCE (s3://bucket/prefix or file:///dir) must lie inside one of the project's import locations, which an \
installation administrator registers (`lakecache import-location add`). The catalog lists and hashes the objects \
with its own credentials: SHA-256 from the server's checksums where it keeps them, else by reading each object \
once. Keys under _lakecache/ and directory markers are skipped."""


def import_(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="Lake prefix to import: s3://bucket/prefix or "
                                                                 "file:///dir, inside an import location.")],
    message: MessageOption,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Commit even with no objects.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Commit a lake prefix without copying it (see ``IMPORT_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, allow_ref=False, as_json=as_json)
    with err_console.status(f"importing {source} …", spinner="dots") if not as_json else _nothing():
        result = run_sdk(settings, as_json, lambda c: import_source(c, ref, source, message=message,
                                                                     allow_empty=allow_empty),
                         interrupted=f"stopped waiting; the catalog may still commit the import: check with "
                                     f"lakecache data log {ref}")
    if as_json:
        return print_json(result.as_dict())
    commit_id = short(result.commit.get("id"))
    state = "unchanged at" if result.unchanged else "committed"
    console.print(f"{state} {commit_id} in {ref}: {result.files} objects, {result.bytes:,} bytes from {source} "
                  f"({result.hashed} read to hash)", highlight=False)


def delete(
    name: Annotated[str, typer.Argument(help="project/name or name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a dataset from the catalog (asks first unless --yes)."""
    settings = load_settings(project, as_json=as_json)
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
    app.command("sync", help=SYNC_HELP)(sync)
    app.command("import", help=IMPORT_HELP)(import_)
    app.command("delete")(delete)
