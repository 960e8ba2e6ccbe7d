"""The ``lakecache`` command.

Command groups are imported when they are used (``LazyGroup``): ``lakecache version`` or
``lakecache data ls`` loads neither the service runtime nor the other groups' clients.
"""

from __future__ import annotations

import asyncio
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lakecache.cli.guard import LazyGroup, Subcommand
from lakecache.cli.services import SERVICES, load_service
from lakecache.core.errors import LakeCacheError

app = typer.Typer(
    name="lakecache",
    help="LakeCache: cache versioned datasets from an S3 data lake on your compute sites' volumes.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    cls=LazyGroup,
    # A failure is one line (lakecache.cli.guard), never a traceback.
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
#: The command groups, each imported when it is used: (module, attribute, one-line help).
LazyGroup.register(
    Subcommand("data", "lakecache.cli.data", "data_app", "Datasets and commits: create, sync, import, log, ls, diff, "
               "tag."),
    Subcommand("site", "lakecache.cli.site", "site_app", "A site's cache volumes and copies, and why copies are kept "
               "or evicted."),
    Subcommand("cache", "lakecache.cli.cache", "cache_app", "Cache a dataset version at a site, follow it, list, "
               "pin or evict copies."),
    Subcommand("login", "lakecache.cli.login", "login_app", "Check a token at a gateway and keep both for this user."),
    Subcommand("logout", "lakecache.cli.login", "logout_app", "Forget the stored login (--revoke: revoke its token)."),
    Subcommand("token", "lakecache.cli.tokens", "token_app", "API tokens: create, list, revoke."),
    Subcommand("import-location", "lakecache.cli.import_locations", "import_location_app",
               "The lake locations a project may import from (administrators)."),
    Subcommand("job", "lakecache.cli.job", "job_app", "Run a command on a cached dataset version, tracked as a "
               "run."),
    Subcommand("runs", "lakecache.cli.runs", "runs_app", "Tracked runs: list, show, compare, metrics."),
    Subcommand("lineage", "lakecache.cli.lineage", "lineage_app", "Where a run, a dataset commit or a model came "
               "from and what came of it."),
)

console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory for the embedded default (env LAKECACHE_HOME).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]


def _fail(exc: LakeCacheError) -> None:
    err_console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


def _apply_home(home: Path | None) -> None:
    # Settings are read from the environment by every service; the option is a shortcut.
    if home is not None:
        os.environ["LAKECACHE_HOME"] = str(home)


@app.command()
def up(
    home: HomeOption = None,
    port: Annotated[
        int | None, typer.Option(help="Gateway port (env LAKECACHE_GATEWAY__PORT).", show_default="8080")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run all five services in this process on the embedded defaults (in-memory bus,
    local-directory lake, SQLite stores under --home), bound to 127.0.0.1. Ctrl-C stops."""
    from lakecache.core.runtime import RunningService, run_until_stopped
    from lakecache.core.runtime.standalone import configure_logging

    _apply_home(home)
    if port is not None:
        os.environ["LAKECACHE_GATEWAY__PORT"] = str(port)
    try:
        services = [load_service(name) for name in SERVICES]
        settings = [definition.settings_type() for definition in services]
    except LakeCacheError as exc:
        _fail(exc)
    configure_logging(settings[0].log_level)
    settings[0].home.mkdir(parents=True, exist_ok=True)

    def announce(running: list[RunningService]) -> None:  # noqa: F821 - imported above, in the function
        urls = {r.definition.name: r.base_url for r in running}
        if as_json:
            home_dir = settings[0].home.resolve()
            print(json.dumps({"status": "up", "home": str(home_dir), "services": urls,
                              "admin_token_file": str(home_dir / "admin-token")}), flush=True)
            return
        home_dir = settings[0].home.resolve()
        console.print(f"[bold green]LakeCache is up[/] — gateway {urls['gateway']}  (data in {home_dir})")
        for name, url in urls.items():
            console.print(f"  {name:<8} {url}")
        token = home_dir / "admin-token"
        if token.exists():  # the gateway writes it on its first start (0600); never printed
            console.print(f"Administrator token: {token} (use it as `Authorization: Bearer …` at the gateway)")
        console.print("Press Ctrl-C to stop.")

    try:
        asyncio.run(run_until_stopped(list(zip(services, settings, strict=True)), on_started=announce))
    except LakeCacheError as exc:
        _fail(exc)
    except OSError as exc:  # typically a port already in use
        err_console.print(f"[bold red]error:[/] {exc}. Is another LakeCache running? Choose another port with --port.")
        raise typer.Exit(2) from exc
    if not as_json:
        console.print("LakeCache stopped.")


@app.command()
def run(service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")]) -> None:
    """Run one service in this process (production: one process per service, Kafka bus)."""
    from lakecache.core.runtime.standalone import run_standalone

    try:
        definition = load_service(service)
    except LakeCacheError as exc:
        _fail(exc)
    run_standalone(definition)


@app.command("services")
def list_services(as_json: JsonOption = False) -> None:
    """List the services and what each does."""
    rows = []
    for name in SERVICES:
        try:
            definition = load_service(name)
            rows.append({"name": name, "installed": True, "description": definition.description})
        except LakeCacheError:
            rows.append({"name": name, "installed": False, "description": ""})
    if as_json:
        print(json.dumps(rows))
        return
    for row in rows:
        state = "" if row["installed"] else " [yellow](not installed)[/]"
        console.print(f"[bold]{row['name']:<8}[/] {row['description']}{state}")


@config_app.command("show")
def config_show(
    service: Annotated[str, typer.Argument(
        help="Service whose settings to show, or 'client': the command's and the SDK's, each with where it came "
        "from (environment, config file, login, default).")] = "gateway",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the effective settings of a service (environment + config file), or of the client, secrets masked."""
    _apply_home(home)
    if service == "client":
        from lakecache.cli.client_config import show_client_config
        from lakecache.cli.common import load_settings

        return show_client_config(load_settings(None, as_json=as_json), as_json=as_json)
    try:
        settings = load_service(service).settings_type()
    except LakeCacheError as exc:
        _fail(exc)
    data = settings.redacted()
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        console.print_json(json.dumps(data))


@app.command("version")
def show_version() -> None:
    """Print the installed version."""
    console.print(version("lakecache"))
