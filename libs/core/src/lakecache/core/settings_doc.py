"""Render ``docs/settings.md`` from the settings models, so the documentation cannot drift.

``python -m lakecache.core.settings_doc > docs/settings.md`` regenerates it; a test fails
when the committed file differs from what the models say.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from lakecache.core.settings import IdentitySection, LakeAccessSettings, LakeCacheSettings

SERVICE_SETTINGS = {
    "catalog": "lakecache.catalog.settings:CatalogSettings",
    "cacher": "lakecache.cacher.settings:CacherSettings",
    "evictor": "lakecache.evictor.settings:EvictorSettings",
    "tracker": "lakecache.tracker.settings:TrackerSettings",
    "gateway": "lakecache.gateway.settings:GatewaySettings",
}

CLIENT_SETTINGS = ("lakecache.sdk.settings", "ClientSettings")

HEADER = """# Settings

Generated from the settings models by `python -m lakecache.core.settings_doc`; do not edit by hand.

Every service reads, highest priority first: command-line options (where a command has
them), environment variables, the TOML file named by `LAKECACHE_CONFIG` (else
`./lakecache.toml` when present), then the defaults below. Service sections nest with a
double underscore in the environment (`LAKECACHE_CATALOG__PORT=9081`) and as a table in
the file (`[catalog]` then `port = 9081`). Secrets are never logged; `lakecache config show`
prints the effective settings with secrets masked.
"""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed (see meaning)"
    value = field.default
    if value is None:
        return "unset"
    return f"`{value}`"


def _rows(model: type[BaseModel], env_prefix: str, toml_prefix: str, skip: Iterable[str] = ()) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip or (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            continue
        env = f"{env_prefix}{name.upper()}"
        rows.append(f"| `{env}` | `{toml_prefix}{name}` | {_default(field)} | {field.description or ''} |")
    return rows


def _table(rows: list[str]) -> list[str]:
    return ["| environment | config file | default | meaning |", "|---|---|---|---|", *rows, ""]


def render() -> str:
    lines = [HEADER, "## Shared by every service", ""]
    lines += _table(_rows(LakeCacheSettings, "LAKECACHE_", ""))
    lines += ["## identity (every service)", "",
              "How services prove whom they act for and check it (see `docs/security.md`).", ""]
    lines += _table(_rows(IdentitySection, "LAKECACHE_IDENTITY__", "[identity] "))
    for service, target in SERVICE_SETTINGS.items():
        module_name, _, class_name = target.partition(":")
        settings_type: type[LakeCacheSettings] = getattr(importlib.import_module(module_name), class_name)
        section = settings_type.model_fields[service].default_factory
        section_type = section if isinstance(section, type) else type(section())
        lines += [f"## {service}", ""]
        lines += _table(_rows(section_type, f"LAKECACHE_{service.upper()}__", f"[{service}] "))
    client = getattr(importlib.import_module(CLIENT_SETTINGS[0]), CLIENT_SETTINGS[1])
    lines += ["## Command line and SDK (`lakecache data …`, `lakecache.sdk`)", "",
              "The client talks only to the gateway (it needs no lake settings or credentials). Below the "
              "environment and the config file it reads the login `lakecache login` stored for this user "
              "(`$XDG_CONFIG_HOME/lakecache/config.toml`: `api_url`, `token`, `project`); "
              "`lakecache config show client` tells where each value came from:", ""]
    lines += _table(_rows(client, "LAKECACHE_", "", skip=LakeAccessSettings.model_fields))
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
