"""``lakecache config show client``: the command's and the SDK's own settings, each with the source
it came from (environment, config file, login, default), the token masked.

pydantic-settings merges its sources without recording which one gave a value, so each source
is asked again here, in the order ``ClientSettings`` uses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_settings import (
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)
from rich.markup import escape
from rich.table import Column, Table

from lakecache.cli.common import console, print_json
from lakecache.core.settings import config_file
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.user_config import UserConfigSource, read_user_config, same_gateway, user_config_path

MASK = "********"


def _label(source: Any, name: str) -> str:
    if isinstance(source, EnvSettingsSource):
        return f"environment (LAKECACHE_{name.upper()})"
    if isinstance(source, TomlConfigSettingsSource):
        return f"config file {config_file()}"
    return "option" if isinstance(source, InitSettingsSource) else type(source).__name__


def origins(settings: ClientSettings) -> dict[str, str]:
    """Where each field of ``settings`` came from."""
    sources = ClientSettings.settings_customise_sources(
        ClientSettings, InitSettingsSource(ClientSettings, {}), EnvSettingsSource(ClientSettings),
        DotEnvSettingsSource(ClientSettings), SecretsSettingsSource(ClientSettings))
    found: dict[str, str] = {}
    for source in sources:
        if isinstance(source, UserConfigSource):
            # Its token counts only for the gateway it was stored for (see user_config).
            login = read_user_config()
            if not same_gateway(settings.api_url, login.get("api_url")):
                login.pop("token", None)
            given = {name: f"login {user_config_path()}" for name in login}
        else:
            given = {name: _label(source, name) for name in source()}
        for name, label in given.items():
            if name in ClientSettings.model_fields:
                found.setdefault(name, label)
    for name in ClientSettings.model_fields:
        found.setdefault(name, "default")
    if settings.token is None:
        admin = settings.home / "admin-token"
        found["token"] = f"administrator token file {admin}" if settings.bearer_token() else "none"
    return found


def show_client_config(settings: ClientSettings, *, as_json: bool) -> None:
    """Print the client's settings, each with its source; the token masked."""
    values = settings.model_dump(mode="json")
    values["token"] = MASK if settings.bearer_token() else None
    where = origins(settings)
    login_file = user_config_path()
    if as_json:
        return print_json({"settings": values, "sources": where,
                           "login_file": str(login_file) if login_file else None})
    # Paths are long: folded over lines, never cut short.
    table = Table("setting", Column("value", overflow="fold"), Column("from", overflow="fold"), box=None)
    for name, value in values.items():
        table.add_row(name, escape("-" if value is None else str(value)), escape(where.get(name, "default")))
    console.print(table)
    if isinstance(login_file, Path):
        console.print(f"login file: {escape(str(login_file))}" + ("" if login_file.exists() else " (none)"),
                      highlight=False, soft_wrap=True)
