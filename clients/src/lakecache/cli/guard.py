"""The last line of defence: whatever a command did not handle becomes one clear message.

Commands turn the failures they expect into messages themselves (``lakecache.cli.common``);
this group wraps every command so that anything else — a network error, a file that vanished,
an answer the client did not expect — still prints one line on stderr (one JSON object with
``--json``) and exits 1, Ctrl-C exits 130, and no traceback reaches the user.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from lakecache.cli.common import INTERRUPTED, fail, validation_text
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
        as_json, command = bool(ctx.meta.get(_JSON)), ctx.meta.get(_COMMAND) or ctx.command_path
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except KeyboardInterrupt:
            fail("interrupted", INTERRUPTED, as_json=as_json)
        except ConfigurationError as exc:
            fail(str(exc), 2, as_json=as_json)
        except ValidationError as exc:  # settings read by a command (e.g. `config show`)
            fail(f"{command}: invalid settings: {validation_text(exc)}", 2, as_json=as_json)
        except LakeCacheError as exc:
            fail(str(exc), 1, as_json=as_json)
        except OSError as exc:
            detail = f"{exc.strerror or exc}{f': {exc.filename!r}' if exc.filename else ''}"
            fail(f"{command} failed: {detail}", 1, as_json=as_json)
        except Exception as exc:  # noqa: BLE001 - the point: one message instead of a traceback
            fail(f"{command} failed unexpectedly ({type(exc).__name__}: {exc}). This may be an answer "
                 "the client did not expect: check that LAKECACHE_API_URL names a LakeCache gateway of this "
                 "version", 1, as_json=as_json)
