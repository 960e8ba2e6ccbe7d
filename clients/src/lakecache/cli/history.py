"""``lakecache data log|ls|diff|tag``: reading commits and naming them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lakecache.cli.common import (
    JsonOption,
    ProjectOption,
    console,
    fail,
    load_settings,
    parse_name,
    print_json,
    run_sdk,
    short,
)
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef

RefArgument = Annotated[str, typer.Argument(help="NAME[@REF]: REF is a commit id, a tag or 'latest' (default).")]


def log(
    name: RefArgument,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many commits.")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the commits leading to REF, newest first."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, as_json=as_json)

    async def work(gateway: GatewayClient) -> list[dict[str, Any]]:
        return [c async for c in gateway.log(ref.project, ref.name, ref=ref.ref_or_latest, limit=limit)]

    commits = run_sdk(settings, as_json, work)
    if as_json:
        return print_json(commits)
    if not commits:
        console.print(f"{ref} has no commits yet")
    for commit in commits:
        console.print(f"[bold yellow]{commit['id']}[/]", highlight=False)
        console.print(f"  {commit.get('author') or '-'}  {commit.get('created_at') or ''}  "
                      f"{commit.get('files', 0)} files, {commit.get('bytes', 0):,} bytes", highlight=False)
        console.print(f"  {escape(commit.get('message') or '')}\n", highlight=False)


def ls(
    name: RefArgument,
    prefix: Annotated[str | None, typer.Argument(help="Only paths starting with this.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many entries.")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the files of a commit (path, size, sha256), in path order."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, as_json=as_json)

    async def work(gateway: GatewayClient) -> list[dict[str, Any]]:
        entries = gateway.entries(ref.project, ref.name, ref.ref_or_latest, prefix=prefix, limit=limit)
        return [e async for e in entries]

    entries = run_sdk(settings, as_json, work)
    if as_json:
        return print_json(entries)
    table = Table("size", "sha256", "path", box=None)
    for entry in entries:
        table.add_row(f"{entry['size']:,}", entry["sha256"][:12], escape(entry["path"]))
    console.print(table if entries else "no files")


def _diff_refs(a: str, b: str, project: str | None, as_json: bool) -> tuple[DatasetRef, str, str]:
    settings = load_settings(project, as_json=as_json)
    old = parse_name(a, settings, as_json=as_json)
    # B may be a bare ref of the same dataset ("v2") or a full NAME@REF.
    new = parse_name(b, settings, as_json=as_json) if "@" in b else DatasetRef(old.project, old.name, b)
    if (new.project, new.name) != (old.project, old.name):
        fail(f"diff compares two refs of one dataset; got {old} and {new}", 2, as_json=as_json)
    return old, old.ref_or_latest, new.ref_or_latest


def diff(
    a: Annotated[str, typer.Argument(help="NAME@REF to compare from.")],
    b: Annotated[str, typer.Argument(help="NAME@REF (or just REF) to compare to.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show paths added, removed and changed between two commits of a dataset."""
    dataset, old, new = _diff_refs(a, b, project, as_json)
    result = run_sdk(load_settings(project, as_json=as_json), as_json,
                     lambda c: c.diff(dataset.project, dataset.name, old, new))
    if as_json:
        return print_json(result)
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    for item in result["items"]:
        sizes = f"{item.get('old_size')} → {item.get('new_size')}" if item["kind"] == "changed" else ""
        console.print(f"{marks.get(item['kind'], '?')} {escape(item['path'])} {sizes}", highlight=False)
    s = result.get("summary") or {}
    console.print(f"{s.get('added', 0)} added, {s.get('removed', 0)} removed, {s.get('changed', 0)} changed")


def tag(
    name: Annotated[str, typer.Argument(help="NAME@REF to tag (REF defaults to latest).")],
    tag_name: Annotated[str, typer.Argument(metavar="TAG", help="Tag to set, e.g. v1.")],
    force: Annotated[bool, typer.Option(help="Move the tag if it already names another commit.")] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Name a commit with a tag (NAME@TAG then refers to it)."""
    settings = load_settings(project, as_json=as_json)
    ref = parse_name(name, settings, as_json=as_json)
    result = run_sdk(settings, as_json, lambda c: c.set_tag(ref.project, ref.name, tag_name, ref.ref_or_latest,
                                                            force=force))
    if as_json:
        return print_json(result)
    target = result.get("commit") if isinstance(result, dict) else None
    console.print(f"tagged {ref.project}/{ref.name}@{tag_name} → {short(target if isinstance(target, str) else None)}")


def register(app: typer.Typer) -> None:
    app.command("log")(log)
    app.command("ls")(ls)
    app.command("diff")(diff)
    app.command("tag")(tag)
