"""``lakecache job run``: one step of a flow — a command run on a cached dataset version.

    lakecache job run --dataset team/images@v3 --site dgx -- python train.py --epochs 3

In order: resolve the reference to one commit; start a run (unless ``--no-track``); cache the
commit at the site, or reuse its copy, and lease it (``lakecache.use``: a miss waits with
progress on stderr); issue the run a job token; run the command with its environment extended
by ``ENVIRONMENT`` below; when it ends, release the lease, end the run (``finished``, ``failed``
or ``killed``, with tag ``lakecache.exit_code``), revoke the job token and exit with the
command's status (128 + N when a signal N ended it).

The command may call ``lakecache.start_run()``: under the job token it logs to this run instead
of starting another (``Run.attached``), and ``lakecache.use(...)`` with ``LAKECACHE_COMMIT_ID``
reads the same copy. Signals: Ctrl-C reaches the command from the terminal (this process
ignores it while the command runs); SIGTERM is passed on to the command, so a scheduler's stop
ends the command first and the run is recorded ``killed``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from lakecache.cli.common import INTERRUPTED, err_console, fail, load_settings, parse_name, run_sdk, short
from lakecache.sdk.gateway import GatewayClient

if TYPE_CHECKING:
    from pathlib import Path

    from lakecache.sdk.refs import DatasetRef
    from lakecache.sdk.settings import ClientSettings
    from lakecache.sdk.tracking import Run

job_app = typer.Typer(help="Run a command on a cached dataset version, tracked as a run.", no_args_is_help=True)


@job_app.callback()
def _group() -> None:
    """Keeps ``run`` a subcommand (Typer folds a one-command app into the command itself)."""

#: What the command finds in its environment, besides everything this process had.
ENVIRONMENT = {
    "LAKECACHE_DATA_DIR": "the copy's read-only directory on the site's volume",
    "LAKECACHE_DATASET": "the dataset, `project/name`",
    "LAKECACHE_COMMIT_ID": "the commit read (64 hex digits)",
    "LAKECACHE_PROJECT": "the dataset's project",
    "LAKECACHE_SITE": "the site",
    "LAKECACHE_API_URL": "the gateway",
    "LAKECACHE_RUN_ID": "the run (not with --no-track)",
    "LAKECACHE_TOKEN": "the run's job token: reads and leases the project's data, logs to this run only "
                       "(not with --no-track: then this process's own token, if it had one in its environment)",
}

RUN_HELP = """Run COMMAND on a cached version of a dataset, as a tracked run.

Resolves --dataset to one commit, starts a run in --experiment, caches the commit at --site (or reuses the copy there: \
a miss waits for the fill, with progress on stderr; --on-miss fail exits 1 instead), holds a lease on the copy while \
COMMAND runs, and records the commit as the run's input (with the site, volume, whether it was a cache hit and the \
time waited). COMMAND gets the copy's path in LAKECACHE_DATA_DIR, the commit in LAKECACHE_COMMIT_ID, and the run \
in LAKECACHE_RUN_ID with a job token in LAKECACHE_TOKEN limited to this run (lakecache.start_run() in COMMAND logs to \
it). \
The run ends finished, failed or killed by COMMAND's exit; the job token is revoked; the exit code is COMMAND's.

Put -- before COMMAND so its options are not taken for this command's."""


@job_app.command("run", help=RUN_HELP + "\n\nCOMMAND's environment adds:\n\n" + "\n\n".join(
    f"{name}: {meaning}" for name, meaning in ENVIRONMENT.items()), context_settings={"allow_interspersed_args": False})
def run_job(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments, after --.",
                                                 show_default=False)],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="project/dataset@ref (ref: a commit id, a tag or "
                                         "latest; default latest).", show_default=False)],
    site: Annotated[str, typer.Option("--site", "-s", help="The site whose volume holds the copy.",
                                      show_default=False)],
    volume: Annotated[str | None, typer.Option("--volume", help="A volume of the site (default: where the copy is "
                                               "ready, else the cacher picks one).", show_default=False)] = None,
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="The run's experiment (created when "
                                            "missing).")] = "Default",
    name: Annotated[str | None, typer.Option("--name", help="The run's name.", show_default=False)] = None,
    params: Annotated[list[str] | None, typer.Option("--param", help="A run parameter KEY=VALUE (repeatable).",
                                                     show_default=False)] = None,
    no_track: Annotated[bool, typer.Option("--no-track", help="Start no run: only cache, lease and run the "
                                           "command.")] = False,
    on_miss: Annotated[str, typer.Option("--on-miss", help="When the copy is not ready: wait for it, or fail.")
                       ] = "wait",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for a missing copy.", min=1)] = 3600,
    token_days: Annotated[int, typer.Option("--token-days", help="Lifetime of the job token, in days (it is "
                                            "revoked when COMMAND ends).", min=1)] = 7,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Project of --dataset when it names none "
                                                "(env LAKECACHE_PROJECT).", show_default=False)] = None,
) -> None:
    """Run a command on a cached dataset version (see ``RUN_HELP``)."""
    if on_miss not in ("wait", "fail"):
        fail(f"--on-miss must be wait or fail, got {on_miss!r}", 2, as_json=False)
    settings = load_settings(project)
    ref = parse_name(dataset, settings)
    run_params = _params(params or [])

    async def resolve(gateway: GatewayClient) -> str:
        return str((await gateway.get_commit(ref.project, ref.name, ref.ref_or_latest))["id"])

    commit_id = run_sdk(settings, False, resolve)
    run = None if no_track else _start(settings, ref, experiment, name, run_params, command)
    status = 1
    try:
        status = _run_on_copy(settings, ref, commit_id, site, volume, on_miss, timeout, token_days, run, command)
    except typer.Exit as exc:
        status = exc.exit_code
        raise
    except KeyboardInterrupt:
        status = INTERRUPTED
        fail("interrupted before the command started", INTERRUPTED, as_json=False)
    finally:
        if run is not None:
            run.set_tag("lakecache.exit_code", status)
            run.finish("finished" if status == 0 else "killed" if status in _KILLED else "failed")
            err_console.print(f"lakecache: run {run.id} ended ({'finished' if status == 0 else 'exit ' + str(status)})",
                              highlight=False)
    raise typer.Exit(status)


#: Exit codes of a command ended by Ctrl-C or SIGTERM.
_KILLED = (INTERRUPTED, 128 + signal.SIGTERM)


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            fail(f"--param {pair!r}: expected KEY=VALUE", 2, as_json=False)
        params[key] = value
    return params


def _start(settings: ClientSettings, ref: DatasetRef, experiment: str, name: str | None, params: dict[str, str],
           command: list[str]) -> Run:
    from lakecache.sdk.errors import GatewayError
    from lakecache.sdk.tracking import start_run

    try:
        return start_run(project=ref.project, experiment=experiment, name=name, params=params, settings=settings,
                         tags={"lakecache.command": " ".join(command)[:500]}, start_timeout=30)
    except GatewayError as exc:
        fail(f"{exc}; the run could not be started (run without a run with --no-track)",
             2 if exc.status == 401 else 1, as_json=False)
    except ValueError as exc:
        fail(str(exc), 2, as_json=False)


def _run_on_copy(settings: ClientSettings, ref: DatasetRef, commit_id: str, site: str, volume: str | None,
                 on_miss: str, timeout: float, token_days: int, run: Run | None, command: list[str]) -> int:
    from lakecache.sdk.errors import CopyFillFailed, CopyNotReady, CopyWaitTimeout, GatewayError
    from lakecache.sdk.use import use

    holder = f"lakecache job run ({'run ' + run.id if run else command[0]})"
    try:
        with use(f"{ref.project}/{ref.name}@{commit_id}", site=site, volume=volume, timeout=timeout,
                 on_miss=on_miss,  # type: ignore[arg-type] - checked by the command
                 settings=settings, run=run, holder=holder) as root:
            return _run_command(settings, ref, commit_id, site, root, run, token_days, command)
    except (CopyNotReady, CopyWaitTimeout, CopyFillFailed) as exc:
        fail(str(exc), 1, as_json=False)
    except GatewayError as exc:
        fail(str(exc), 2 if exc.status == 401 else 1, as_json=False)


def _run_command(settings: ClientSettings, ref: DatasetRef, commit_id: str, site: str, root: Path, run: Run | None,
                 token_days: int, command: list[str]) -> int:
    env = dict(os.environ)
    env.update(LAKECACHE_DATA_DIR=str(root), LAKECACHE_DATASET=f"{ref.project}/{ref.name}",
               LAKECACHE_COMMIT_ID=commit_id, LAKECACHE_PROJECT=ref.project, LAKECACHE_SITE=site,
               LAKECACHE_API_URL=settings.gateway_url)
    token_id = None
    if run is not None:
        expires = datetime.now(UTC) + timedelta(days=token_days)
        issued: dict[str, Any] = run_sdk(settings, False, lambda g: g.issue_job_token(run.project, run.id, expires))
        token_id = issued["id"]
        env.update(LAKECACHE_RUN_ID=run.id, LAKECACHE_TOKEN=issued["token"])
    err_console.print(f"lakecache: {escape(str(ref))} = {short(commit_id)} at {escape(str(root))}"
                      + (f"; run {run.id}" if run else ""), highlight=False)
    try:
        return _wait_for(command, env)
    finally:
        if token_id is not None:
            run_sdk(settings, False, lambda g: g.revoke_token(token_id))


def _wait_for(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` to its end and return its exit status (128 + N for signal N)."""
    try:
        child = subprocess.Popen(command, env=env)  # noqa: S603 - running the user's command is the point
    except OSError as exc:
        fail(f"could not run {command[0]!r}: {exc.strerror or exc}", 127 if isinstance(exc, FileNotFoundError)
             else 126, as_json=False)
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends Ctrl-C to the command too
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    try:
        status = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
    sys.stdout.flush()
    return 128 - status if status < 0 else status
