"""What every ``lakecache data|site|cache`` command shares: settings, name parsing, an HTTP
session with the token, running the async call, and turning its errors into messages and exit
codes.

Exit codes: 0 done, 1 the operation was refused or failed (message on stderr), 2 wrong
usage or configuration (including no valid token: the message says how to set one).
``--json`` prints one JSON document on stdout (errors go to stderr as JSON too) and hides
progress bars.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn

import aiohttp
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from lakecache.core.errors import ConfigurationError, LakeCacheError
from lakecache.core.manifest import UnsafePaths
from lakecache.sdk.catalog import CatalogClient, CatalogError, CatalogUnauthenticated
from lakecache.sdk.refs import DatasetRef, parse_ref
from lakecache.sdk.settings import ClientSettings

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
ProjectOption = Annotated[
    str | None, typer.Option("--project", "-p", help="Project of NAME (env LAKECACHE_PROJECT).", show_default=False)
]
MessageOption = Annotated[str, typer.Option("--message", "-m", help="Commit message.")]


def load_settings(project: str | None) -> ClientSettings:
    try:
        settings = ClientSettings()
    except (ValidationError, LakeCacheError) as exc:
        fail(f"invalid client settings: {exc}", 2, as_json=False)
    return settings.model_copy(update={"project": project}) if project else settings


def fail(message: str, code: int, *, as_json: bool, extra: dict[str, Any] | None = None) -> NoReturn:
    if as_json:
        print(json.dumps({"error": message, **(extra or {})}), file=sys.stderr)
    else:
        err_console.print("[bold red]error:[/] " + escape(message), highlight=False)
    raise typer.Exit(code)


def parse_name(text: str, settings: ClientSettings, *, allow_ref: bool = True, as_json: bool = False) -> DatasetRef:
    try:
        return parse_ref(text, settings.project, allow_ref=allow_ref)
    except LakeCacheError as exc:
        fail(str(exc), 2, as_json=as_json)


def http_session(settings: ClientSettings, *, stream: bool = False) -> aiohttp.ClientSession:
    """A session sending the token (``ClientSettings.auth_headers``). A ``stream`` (live progress)
    has no overall deadline; it is abandoned after ``request_timeout`` seconds of silence."""
    if stream:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.request_timeout,
                                        sock_read=settings.request_timeout)
    else:
        timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
    return aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json", **settings.auth_headers()})


def fail_request(exc: CatalogError, *, as_json: bool) -> NoReturn:
    """Exit for a refused or failed request: 2 when the token is missing or invalid (a setting
    to fix), else 1."""
    code = 2 if isinstance(exc, CatalogUnauthenticated) else 1
    fail(str(exc), code, as_json=as_json, extra={"status": exc.status, "errors": exc.errors})


def run_sdk(settings: ClientSettings, as_json: bool, work: Callable[[CatalogClient], Awaitable[Any]]) -> Any:
    """Run ``work`` with an open client; map errors to messages and exit codes."""

    async def main() -> Any:
        async with CatalogClient(settings) as catalog:
            return await work(catalog)

    try:
        return asyncio.run(main())
    except UnsafePaths as exc:
        problems = [{"path": p.path, "reason": p.reason} for p in exc.problems]
        fail(str(exc), 1, as_json=as_json, extra={"errors": problems})
    except CatalogError as exc:
        fail_request(exc, as_json=as_json)
    except ConfigurationError as exc:
        fail(str(exc), 2, as_json=as_json)
    except LakeCacheError as exc:
        fail(str(exc), 1, as_json=as_json)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def short(commit_id: str | None) -> str:
    return (commit_id or "-")[:12]


