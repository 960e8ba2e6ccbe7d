"""What every ``lakecache data|site|cache|import-location`` command shares: settings, name
parsing, running the async call with an open ``GatewayClient``, and turning its errors into
messages and exit codes.

Exit codes: 0 done, 1 the operation was refused or failed (message on stderr), 2 wrong
usage or configuration (including no valid token: the message says how to set one), 130
interrupted (Ctrl-C). ``--json`` prints one JSON document on stdout (errors go to stderr as
one JSON object too) and hides progress bars. A failure is always one message, never a
traceback (``lakecache.cli.guard`` catches what the commands do not).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, NoReturn

import aiohttp
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from lakecache.core.errors import ConfigurationError, LakeCacheError
from lakecache.core.manifest import UnsafePaths
from lakecache.sdk.errors import GatewayError, GatewayUnauthenticated
from lakecache.sdk.files import Interrupted
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef, parse_ref
from lakecache.sdk.settings import ClientSettings

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
ProjectOption = Annotated[
    str | None, typer.Option("--project", "-p", help="Project of NAME (env LAKECACHE_PROJECT).", show_default=False)
]
MessageOption = Annotated[str, typer.Option("--message", "-m", help="Commit message.")]
#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def load_settings(project: str | None, *, as_json: bool = False) -> ClientSettings:
    """The client's settings (``project`` overriding ``LAKECACHE_PROJECT``); exit 2 when invalid."""
    try:
        settings = ClientSettings()
    except ValidationError as exc:
        fail(f"invalid client settings: {validation_text(exc)}", 2, as_json=as_json)
    except LakeCacheError as exc:
        fail(f"invalid client settings: {exc}", 2, as_json=as_json)
    return settings.model_copy(update={"project": project}) if project else settings


def validation_text(exc: ValidationError) -> str:
    """A settings or input error on one line: ``field: problem (got value)``, joined by ``;``."""
    return "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']} (got {error.get('input')!r})"
                     for error in exc.errors())


def fail(message: str, code: int, *, as_json: bool, extra: dict[str, Any] | None = None) -> NoReturn:
    """Print ``message`` on stderr (one JSON object with ``--json``) and exit with ``code``."""
    if as_json:
        print(json.dumps({"error": message, **(extra or {})}), file=sys.stderr)
    else:
        err_console.print("[bold red]error:[/] " + escape(message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_name(text: str, settings: ClientSettings, *, allow_ref: bool = True, as_json: bool = False) -> DatasetRef:
    try:
        return parse_ref(text, settings.project, allow_ref=allow_ref)
    except LakeCacheError as exc:
        fail(str(exc), 2, as_json=as_json)


def fail_request(exc: GatewayError, *, as_json: bool, refused_input: int = 1) -> NoReturn:
    """Exit for a refused or failed request: 2 when the token is missing or invalid (a setting
    to fix), ``refused_input`` when the gateway refused an input (400), else 1."""
    code = 2 if isinstance(exc, GatewayUnauthenticated) else refused_input if exc.status == 400 else 1
    fail(str(exc), code, as_json=as_json, extra={"status": exc.status, "errors": exc.errors})


def run_async(work: Coroutine[Any, Any, Any], *, as_json: bool, interrupted: str | Callable[[], str] = "interrupted",
              refused_input: int = 1) -> Any:
    """Run ``work``; every error becomes one message and an exit code (see the module;
    ``interrupted``: the message for Ctrl-C, or a function giving it then; ``refused_input``:
    the code when the gateway refuses an input of the command)."""
    try:
        return asyncio.run(work)
    except (KeyboardInterrupt, Interrupted):
        fail(interrupted() if callable(interrupted) else interrupted, INTERRUPTED, as_json=as_json)
    except UnsafePaths as exc:
        problems = [{"path": p.path, "reason": p.reason} for p in exc.problems]
        fail(str(exc), 1, as_json=as_json, extra={"errors": problems})
    except GatewayError as exc:
        fail_request(exc, as_json=as_json, refused_input=refused_input)
    except ConfigurationError as exc:
        fail(str(exc), 2, as_json=as_json)
    except LakeCacheError as exc:
        fail(str(exc), 1, as_json=as_json)
    except (aiohttp.ClientError, TimeoutError) as exc:
        fail(f"the connection failed ({type(exc).__name__}: {exc or 'no details'}); check the network and "
             "LAKECACHE_API_URL, then run the command again", 1, as_json=as_json)
    except OSError as exc:
        fail(f"{exc.strerror or exc}{f': {exc.filename!r}' if exc.filename else ''}", 1, as_json=as_json)


def run_sdk(settings: ClientSettings, as_json: bool, work: Callable[[GatewayClient], Awaitable[Any]], *,
            interrupted: str | Callable[[], str] = "interrupted", refused_input: int = 1) -> Any:
    """Run ``work`` with an open client; map errors to messages and exit codes (as ``run_async``)."""

    async def main() -> Any:
        async with GatewayClient(settings) as gateway:
            return await work(gateway)

    return run_async(main(), as_json=as_json, interrupted=interrupted, refused_input=refused_input)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def short(commit_id: str | None) -> str:
    return (commit_id or "-")[:12]
