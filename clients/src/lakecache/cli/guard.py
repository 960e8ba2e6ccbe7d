"""The last line of defence: whatever a command did not handle becomes one clear message.

Commands turn the failures they expect into messages themselves (``lakecache.cli.common``);
this group wraps every command so that anything else — a network error, a file that vanished,
an answer the client did not expect — still prints one line on stderr (one JSON object with
``--json``) and exits 1, Ctrl-C exits 130, and no traceback reaches the user.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import click
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from lakecache.core.errors import ConfigurationError, LakeCacheError

_JSON, _COMMAND = "lakecache.json", "lakecache.command"


class GuardedGroup(TyperGroup):
    """A command group whose commands never end in a traceback (see the module)."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        # Known before parsing (which consumes ``args``), so that any failure can answer in kind.
        wants_json, words = "--json" in args, list(args)
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[_JSON] = wants_json
        ctx.meta[_COMMAND] = self._command_path(ctx, words)
        return ctx

    def _command_path(self, ctx: Any, words: list[str]) -> str:
        """``lakecache cache request`` from the words typed: the names of the groups and the command."""
        names, command = [ctx.command_path], self
        for word in words:
            found = command.get_command(ctx, word) if hasattr(command, "get_command") else None
            if found is None:
                break
            names.append(word)
            command = found
        return " ".join(names)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except BaseException as exc:  # noqa: BLE001 - the point: one message instead of a traceback
            if not isinstance(exc, Exception | KeyboardInterrupt):
                raise  # SystemExit, GeneratorExit: not failures of the command
            _report(exc, bool(ctx.meta.get(_JSON)), ctx.meta.get(_COMMAND) or ctx.command_path)


def _report(exc: BaseException, as_json: bool, command: str) -> None:
    """Fail with the message ``exc`` deserves (exits)."""
    # Imported only on failure: they load pydantic and the SDK, which ``lakecache version`` does without.
    from pydantic import ValidationError

    from lakecache.cli.common import INTERRUPTED, fail, validation_text

    if isinstance(exc, KeyboardInterrupt):
        fail("interrupted", INTERRUPTED, as_json=as_json)
    if isinstance(exc, ConfigurationError):
        fail(str(exc), 2, as_json=as_json)
    if isinstance(exc, ValidationError):  # settings read by a command (e.g. `config show`)
        fail(f"{command}: invalid settings: {validation_text(exc)}", 2, as_json=as_json)
    if isinstance(exc, LakeCacheError):
        fail(str(exc), 1, as_json=as_json)
    if isinstance(exc, OSError):
        detail = f"{exc.strerror or exc}{f': {exc.filename!r}' if exc.filename else ''}"
        fail(f"{command} failed: {detail}", 1, as_json=as_json)
    fail(f"{command} failed unexpectedly ({type(exc).__name__}: {exc}). This may be an answer "
         "the client did not expect: check that LAKECACHE_API_URL names a LakeCache gateway of this "
         "version", 1, as_json=as_json)


@dataclass(frozen=True)
class Subcommand:
    """A command (group) of ``lakecache`` imported when used: ``attribute`` of ``module`` is a
    Typer app; ``help`` is its line in ``lakecache --help``."""

    name: str
    module: str
    attribute: str
    help: str


class LazyGroup(GuardedGroup):
    """The ``lakecache`` group: its registered subcommands load on first use, so starting the
    command costs only what the command run needs (``lakecache version`` loads no client)."""

    lazy: ClassVar[dict[str, Subcommand]] = {}

    @classmethod
    def register(cls, *subcommands: Subcommand) -> None:
        cls.lazy.update({s.name: s for s in subcommands})

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: Any, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is not None or name not in self.lazy:
            return found
        import typer.main

        spec = self.lazy[name]
        command = typer.main.get_command(getattr(importlib.import_module(spec.module), spec.attribute))
        command.name = name
        self.add_command(command, name)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # The lazy groups' lines come from their registration: listing them imports none.
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name].help))
            else:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
