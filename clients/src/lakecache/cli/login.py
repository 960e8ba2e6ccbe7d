"""``lakecache login`` and ``lakecache logout``: keep a gateway, a token and a default project for
this user (``lakecache.sdk.user_config``), so that neither the commands nor the SDK need
``LAKECACHE_API_URL`` or ``LAKECACHE_TOKEN``.

The token is never an argument: arguments are visible to every user of the machine (``ps``,
``/proc/<pid>/cmdline``) and stay in shell histories. It is read from standard input
(``--token-stdin``) or typed at a prompt that does not echo it, checked at the gateway
(``GET /api/v1/me``) before anything is stored, and never printed.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.markup import escape

from lakecache.cli.common import JsonOption, console, err_console, fail, load_settings, print_json, run_async
from lakecache.core.errors import ConfigurationError
from lakecache.sdk.errors import GatewayUnauthenticated
from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.user_config import read_user_config, remove_user_config, user_config_path, write_user_config

# One command each: Typer makes each a plain command, not a group (no completion options: the root has them).
login_app = typer.Typer(add_completion=False)
logout_app = typer.Typer(add_completion=False)

LOGIN_HELP = """Log in to a gateway: check a token there and keep it for this user.

The token is read from standard input with --token-stdin (e.g. `lakecache token create --name laptop | lakecache \
login --token-stdin`), else asked for at a prompt that does not echo it; it is never taken as an argument. It is \
checked with the gateway (GET /api/v1/me) and stored only if the gateway accepts it, with the gateway's URL (and \
--project, if given), in $XDG_CONFIG_HOME/lakecache/config.toml (default ~/.config/lakecache/config.toml), mode \
0600, in a directory of mode 0700; a symbolic link at that path is refused.

Every command and the SDK then use it. Precedence: command-line options, then LAKECACHE_* environment variables \
(LAKECACHE_API_URL, LAKECACHE_TOKEN, LAKECACHE_PROJECT), then ./lakecache.toml or LAKECACHE_CONFIG, then this login, \
then the defaults. The stored token is sent only to the gateway it was stored for. \
`lakecache config show client` shows which value comes from where.

Exit codes: 0 logged in, 1 the gateway could not be reached, 2 the token was refused or the input is wrong (nothing \
stored)."""


def _read_token(token_stdin: bool, as_json: bool) -> str:
    if token_stdin:
        token = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        token = typer.prompt("Token", hide_input=True, err=True).strip()
    else:
        fail("no token: pass --token-stdin to read it from standard input, or run the command in a terminal to "
             "type it at a prompt", 2, as_json=as_json)
    if not token:
        fail("no token was given; nothing was stored", 2, as_json=as_json)
    return token


def _who(me: dict[str, Any]) -> str:
    if me.get("kind") == "job":
        return f"the job token of run {me.get('run_id')} in project {me.get('project')}"
    roles = ", ".join(f"{p}: {r}" for p, r in (me.get("roles") or {}).items()) or "no project roles yet"
    admin = ", installation administrator" if me.get("global_admin") else ""
    return f"user {me.get('name')} ({roles}{admin})"


def _overridden(gateway: str) -> list[str]:
    """What in the environment takes precedence over the login just stored."""
    notes = []
    if os.environ.get("LAKECACHE_TOKEN"):
        notes.append("LAKECACHE_TOKEN is set and is used instead of the stored token; unset it to use the login")
    env_url = os.environ.get("LAKECACHE_API_URL")
    if env_url and env_url.rstrip("/") != gateway:
        notes.append(f"LAKECACHE_API_URL={env_url} is set and is used instead; the stored token is not sent there")
    return notes


@login_app.command("login", help=LOGIN_HELP)
def login(
    gateway: Annotated[str | None, typer.Option(
        "--gateway", help="The gateway's base URL (default: LAKECACHE_API_URL, else the configured one, else "
        "http://127.0.0.1:8080).", show_default=False)] = None,
    token_stdin: Annotated[bool, typer.Option(
        "--token-stdin", help="Read the token from the first line of standard input.")] = False,
    project: Annotated[str | None, typer.Option(
        "--project", "-p", help="Also store a default project for names given without PROJECT/.",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Log in (see ``LOGIN_HELP``)."""
    path = user_config_path()
    if path is None:
        fail("no home directory to keep the login in: set XDG_CONFIG_HOME or HOME", 2, as_json=as_json)
    if gateway is not None and not gateway.startswith(("http://", "https://")):
        fail(f"--gateway must be an http:// or https:// URL, got {gateway!r}", 2, as_json=as_json)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        # Early, to spare typing a token; the write checks again, safely (see user_config).
        fail(f"the login file {path} is a symbolic link or not a regular file, and it is never followed; remove it "
             "and log in again. Nothing was stored", 2, as_json=as_json)
    url = (gateway or load_settings(None, as_json=as_json).api_url).rstrip("/")
    token = _read_token(token_stdin, as_json)
    # Exactly what this command was given, read from no source (neither LAKECACHE_TOKEN nor the
    # login file, which may be the broken one this login replaces).
    check = ClientSettings.model_construct(api_url=url, token=SecretStr(token))

    async def whoami() -> dict[str, Any]:
        async with GatewayClient(check) as client:
            return await client.me()

    me = run_async(_refused_as_config(whoami(), url), as_json=as_json)
    try:
        previous = read_user_config(path)
    except ConfigurationError:
        previous = {}  # replaced below; writing refuses what must not be replaced (a symbolic link)
    values = {"api_url": url, "token": token, "project": project or previous.get("project")}
    try:
        write_user_config({k: v for k, v in values.items() if v}, path)
    except ConfigurationError as exc:
        fail(f"{exc}; nothing was stored", 2, as_json=as_json)
    except OSError as exc:
        fail(f"cannot store the login in {path}: {exc.strerror or exc}; nothing was stored", 1, as_json=as_json)
    notes = _overridden(url)
    if as_json:
        return print_json({"gateway": url, "config_file": str(path), "project": values["project"],
                           "identity": me, "notes": notes})
    console.print(f"Logged in to {escape(url)} as {escape(_who(me))}.", highlight=False)
    console.print(f"Token {escape(str(me.get('token_id') or ''))} stored in {escape(str(path))} (mode 0600).",
                  highlight=False, soft_wrap=True)
    for note in notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


async def _refused_as_config(work: Any, url: str) -> Any:
    """A refused token at login: what it means here (the generic hint names LAKECACHE_TOKEN)."""
    try:
        return await work
    except GatewayUnauthenticated as exc:
        raise ConfigurationError(f"the gateway at {url} refused the token ({exc.detail or exc.title}); nothing was "
                                 "stored. Check that it was copied whole and has not expired or been revoked") from None


@logout_app.command("logout")
def logout(
    revoke: Annotated[bool, typer.Option(
        "--revoke", help="Also revoke the stored token at the gateway, so no copy of it works anywhere.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Forget the login `lakecache login` stored (the file is removed); with --revoke, revoke its
    token at the gateway first."""
    path = user_config_path()
    if path is None:
        fail("no home directory, so no login to remove", 2, as_json=as_json)
    revoked = None
    if revoke:
        stored = read_user_config(path)
        if not stored.get("token") or not stored.get("api_url"):
            fail(f"no stored token to revoke in {path}", 1, as_json=as_json)
        settings = ClientSettings(api_url=stored["api_url"], token=stored["token"])

        async def revoke_own() -> str:
            async with GatewayClient(settings) as client:
                token_id = str((await client.me())["token_id"])
                await client.revoke_token(token_id)
                return token_id

        revoked = run_async(revoke_own(), as_json=as_json)
    removed = remove_user_config(path)
    if as_json:
        return print_json({"config_file": str(path), "removed": removed, "revoked": revoked})
    if revoked:
        console.print(f"Revoked token {revoked}.", highlight=False)
    console.print(f"Logged out: removed {escape(str(path))}." if removed else f"Not logged in ({escape(str(path))} "
                  "does not exist).", highlight=False, soft_wrap=True)
    if os.environ.get("LAKECACHE_TOKEN"):
        err_console.print("[yellow]note:[/] LAKECACHE_TOKEN is still set in this environment", highlight=False)
