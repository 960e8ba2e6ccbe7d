"""``lakecache token create|list|revoke``: API tokens through the gateway (``/api/v1/tokens``).

A user token acts as its owner with the owner's roles at each request; a job token (``--run``)
acts for one run of one project and may only read and lease the project's data and log to that
run. The secret is shown once, when the token is created; listings show ids, never secrets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lakecache.cli.common import JsonOption, console, err_console, fail, load_settings, print_json, run_sdk
from lakecache.cli.units import parse_duration
from lakecache.sdk.gateway import GatewayClient

token_app = typer.Typer(
    help="API tokens: create one (its secret is shown once), list them, revoke one. Requests go to the gateway "
    "(LAKECACHE_API_URL or `lakecache login`) with the current token. Exit codes: 0 done, 1 refused or failed, 2 "
    "usage or configuration error (including no valid token).",
    no_args_is_help=True,
)

_DAY = 86400
CREATE_HELP = """Create an API token and print its secret once.

Without --run: a token acting as you (with --user, installation administrators create one for that user: a new \
person's first token, a service account), with your roles at each request. --expires is its lifetime in whole days \
(30d, 2w; a bare number is days); the default and the maximum are the gateway's settings.

With --run RUN_ID: a job token for that run of --project (editors and administrators of the project): it reads and \
leases the project's datasets and cached copies and logs to this run, nothing else, for --expires (e.g. 12h; \
required).

The secret goes to standard output alone (so it can be piped: `lakecache token create --name laptop | lakecache \
login --token-stdin`), what it is to standard error. With --json, one JSON document with the secret in `token`. The \
gateway keeps only its hash: it cannot be shown again; revoke it and create another if it is lost."""


def _days(text: str, *, as_json: bool) -> int:
    try:
        seconds = int(text) * _DAY if text.strip().isdigit() else parse_duration(text)
    except ValueError as exc:
        fail(f"--expires: {exc}", 2, as_json=as_json)
    if seconds % _DAY:
        fail(f"--expires: a user token lives whole days (e.g. 30d or 2w), got {text!r}", 2, as_json=as_json)
    return seconds // _DAY


@token_app.command("create", help=CREATE_HELP)
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="A note to recognise it by, e.g. 'laptop'.")] = "",
    expires: Annotated[str | None, typer.Option(
        "--expires", help="Lifetime: whole days for a user token (30d, 2w, 90); any duration for a job token (12h).",
        show_default=False)] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Create it for this user (installation administrators).", show_default=False)] = None,
    run: Annotated[str | None, typer.Option(
        "--run", help="Create a job token for this run of --project.", show_default=False)] = None,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="The project of --run (env LAKECACHE_PROJECT, default 'default').",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token (see ``CREATE_HELP``)."""
    settings = load_settings(project, as_json=as_json)
    if run is not None:
        if user is not None or name:
            fail("a job token (--run) has no --user or --name: it acts for the run", 2, as_json=as_json)
        if expires is None:
            fail("a job token needs --expires: how long the run may take, e.g. 12h", 2, as_json=as_json)
        try:
            expires_at = datetime.now(UTC) + timedelta(seconds=parse_duration(expires))
        except ValueError as exc:
            fail(f"--expires: {exc}", 2, as_json=as_json)
        created = run_sdk(settings, as_json, lambda gateway: gateway.issue_job_token(settings.project, run,
                                                                                      expires_at),
                          refused_input=2)
    else:
        days = _days(expires, as_json=as_json) if expires is not None else None
        created = run_sdk(settings, as_json, lambda gateway: gateway.create_token(name=name, expires_in_days=days,
                                                                                  user=user),
                          refused_input=2)
    if as_json:
        return print_json(created)
    what = (f"job token for run {created.get('run_id')} of project {created.get('project')}"
            if created.get("kind") == "job" else f"token {created.get('name')!r}" if created.get("name") else "token")
    err_console.print(f"Created {escape(what)}, id {created['id']}, expires {created['expires_at']}. Its secret "
                      "follows; it is shown this once:", highlight=False, soft_wrap=True)
    print(created["token"], flush=True)


@token_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option(
        "--user", help="List this user's tokens (installation administrators).", show_default=False)] = None,
    include_revoked: Annotated[bool, typer.Option("--all", "-a", help="Also list revoked tokens.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many tokens.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List your tokens and the job tokens you issued (or --user's), newest first; never their secrets."""
    settings = load_settings(None, as_json=as_json)

    async def listed(gateway: GatewayClient) -> list[dict[str, Any]]:
        return [t async for t in gateway.tokens(user=user, include_revoked=include_revoked, limit=limit)]

    items = run_sdk(settings, as_json, listed, refused_input=2)
    if as_json:
        return print_json(items)
    if not items:
        console.print("no tokens" + ("" if include_revoked else " (revoked ones are listed with --all)"),
                      highlight=False)
        return
    table = Table("id", "kind", "name / run", "created", "expires", "state", box=None)
    for t in items:
        label = t["name"] if t["kind"] == "user" else f"{t.get('project')}/{t.get('run_id')}"
        state = f"revoked {t.get('revoked_at') or ''}".strip() if t.get("revoked") else "active"
        table.add_row(t["id"], t["kind"], escape(label or "-"), str(t["created_at"]), str(t["expires_at"]), state)
    console.print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (from `lakecache token list`).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke a token by its id: it fails from the next request on. Your own tokens and the job
    tokens you issued; installation administrators any token."""
    settings = load_settings(None, as_json=as_json)
    run_sdk(settings, as_json, lambda gateway: gateway.revoke_token(token_id), refused_input=2)
    if as_json:
        return print_json({"id": token_id, "revoked": True})
    console.print(f"revoked token {escape(token_id)}", highlight=False)
