"""``lakecache runs list|show|compare|metrics``: tracked runs, their params and metrics, side by side.

Requests go to the gateway (``LAKECACHE_API_URL``), which forwards reads to the tracker. A run
is one project's: ``--project``, else ``LAKECACHE_PROJECT`` (default ``default``). A run is
named by its id or by a unique prefix of it (at least ``MIN_PREFIX`` characters, as ``runs
list`` shows it), resolved with a search. Exit codes as for ``lakecache data``.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from lakecache.cli.common import JsonOption, console, fail, load_settings, print_json, run_sdk, short
from lakecache.cli.runs_view import (
    SHORT_ID,
    as_float,
    clipped,
    differing,
    input_row,
    key_value_table,
    local_time,
    logged_at,
    mentioned_keys,
    metric_values,
    number,
    output_row,
    pick_columns,
    run_duration,
    run_label,
    short_time,
    sparkline,
    status_text,
)
from lakecache.core.errors import InvalidArgument, NotFound
from lakecache.sdk.errors import GatewayNotFound
from lakecache.sdk.gateway import GatewayClient

runs_app = typer.Typer(
    help="Tracked runs: list and search them (MLflow filter strings), show one, compare several, plot a metric. "
    "RUN_ID is a run's id or a unique prefix of it (at least 4 characters, as `runs list` shows it). Requests go "
    "to the gateway at LAKECACHE_API_URL (default http://127.0.0.1:8080) with the token LAKECACHE_TOKEN. "
    "Exit codes: 0 done, 1 refused or failed (e.g. an unknown run, a filter the tracker cannot read), 2 usage or "
    "configuration error (including no valid token).",
    no_args_is_help=True,
)

ProjectOption = Annotated[str | None, typer.Option(
    "--project", "-p", help="The project of the runs (env LAKECACHE_PROJECT, default 'default').",
    show_default=False)]
RunArgument = Annotated[str, typer.Argument(metavar="RUN_ID", help="A run id, or a unique prefix of one.")]

#: A prefix of a run id at least ``MIN_PREFIX`` long names a run (``runs list`` shows ``SHORT_ID``).
MIN_PREFIX, RUN_ID_LENGTH = 4, 32
#: The gateway searches at most this many experiments at once.
EXPERIMENTS_PER_SEARCH = 100
#: Param and metric columns ``runs list`` shows at most (``--json`` has them all).
PARAM_COLUMNS, METRIC_COLUMNS = 4, 4
#: Series of at most this many points are printed as a table, longer ones as a sparkline.
TABLE_POINTS = 20
_HEX = re.compile(r"^[0-9a-f]+$")


# --- the SDK calls a command makes ------------------------------------------------------------


async def search(gateway: GatewayClient, project: str, experiment_ids: Sequence[str], *, filter: str | None = None,
                 order_by: Sequence[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The runs of the experiments that match ``filter``; experiments beyond the gateway's
    ``EXPERIMENTS_PER_SEARCH`` are searched in further requests (``order_by`` holds within each)."""
    found: list[dict[str, Any]] = []
    for at in range(0, len(experiment_ids), EXPERIMENTS_PER_SEARCH):
        chunk = list(experiment_ids[at:at + EXPERIMENTS_PER_SEARCH])
        found += [r async for r in gateway.search_runs(project, chunk, filter=filter, order_by=order_by,
                                                        limit=None if limit is None else limit - len(found))]
        if limit is not None and len(found) >= limit:
            break
    return found


async def find_run(gateway: GatewayClient, project: str, text: str) -> dict[str, Any]:
    """The run ``text`` names (its id, or a unique prefix of it), with its inputs and outputs."""
    run_id = text
    if MIN_PREFIX <= len(text) < RUN_ID_LENGTH and _HEX.match(text):
        experiments = [e["id"] for e in await gateway.list_experiments(project)]
        matches = await search(gateway, project, experiments, filter=f"attributes.run_id LIKE '{text}%'",
                               limit=2) if experiments else []
        if not matches:
            raise NotFound(f"project {project!r} has no run whose id starts with {text!r}; "
                           f"`lakecache runs list --project {project}` lists its runs")
        if len(matches) > 1:
            raise InvalidArgument(f"{text!r} starts the ids of several runs of project {project!r} "
                                  f"({', '.join(m['id'] for m in matches)}, …): give more of the id")
        run_id = matches[0]["id"]
    try:
        return await gateway.get_run(project, run_id)
    except GatewayNotFound as exc:
        raise NotFound(f"{exc}; `lakecache runs list --project {project}` lists its runs") from exc


# --- commands ---------------------------------------------------------------------------------


LIST_HELP = """List the runs of the project's experiments, newest first (or in --order-by order).

Without --experiment: the runs of every experiment of the project. --filter takes MLflow's search syntax: clauses \
joined by 'and', such as "metrics.acc > 0.9 and params.lr = '0.1'" (params and tags compare as strings, metrics as \
numbers; attributes: status, run_name, start_time…). The table shows the params and latest metrics the filter or \
ordering names, then those that differ between the runs listed, a few of each; --json prints every run whole."""


@runs_app.command("list", help=LIST_HELP)
def list_runs(
    experiment: Annotated[list[str] | None, typer.Option(
        "--experiment", "-e", help="Only runs of this experiment (its name); repeat for several.",
        show_default=False)] = None,
    filter_: Annotated[str | None, typer.Option(
        "--filter", "-f", help="MLflow filter string, e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\".",
        show_default=False)] = None,
    order_by: Annotated[list[str] | None, typer.Option(
        "--order-by", "-o", help="e.g. \"metrics.acc DESC\" or \"start_time\"; repeat to break ties. Default: "
        "newest start first.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, max=50_000, help="At most this many runs.")] = 100,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    settings = load_settings(project, as_json=as_json)

    async def work(gateway: GatewayClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if experiment:
            chosen = []
            for name in dict.fromkeys(experiment):
                found = await gateway.experiment_by_name(settings.project, name)
                if found is None:
                    raise NotFound(f"project {settings.project!r} has no experiment {name!r}")
                chosen.append(found)
        else:
            chosen = await gateway.list_experiments(settings.project)
        runs = await search(gateway, settings.project, [e["id"] for e in chosen], filter=filter_,
                            order_by=order_by, limit=limit) if chosen else []
        return chosen, runs

    experiments, runs = run_sdk(settings, as_json, work)
    if as_json:
        return print_json(runs)
    if not runs:
        where = "no experiments" if not experiments else "no runs" + (" match the filter" if filter_ else "")
        console.print(f"{where} in project {settings.project}", highlight=False)
        return
    first = mentioned_keys(filter_, *(order_by or []))
    param_keys, more_params = pick_columns([r.get("params") or {} for r in runs], "params", first, PARAM_COLUMNS)
    metric_keys, more_metrics = pick_columns([metric_values(r) for r in runs], "metrics", first, METRIC_COLUMNS)
    several = len({r.get("experiment_id") for r in runs}) > 1
    both = set(param_keys) & set(metric_keys)  # a key logged as both (e.g. lr) keeps its kind in the header
    fixed = {"no_wrap": True}
    table = Table(Column("run", **fixed), "name", *(["experiment"] if several else []), Column("status", **fixed),
                  Column("start", **fixed), Column("duration", **fixed),
                  *(Column(escape(f"params.{k}" if k in both else k), header_style="cyan", overflow="ellipsis")
                    for k in param_keys),
                  *(Column(escape(f"metrics.{k}" if k in both else k), header_style="magenta", justify="right")
                    for k in metric_keys),
                  box=None, pad_edge=False, collapse_padding=True)
    for run in runs:
        params, metrics = run.get("params") or {}, metric_values(run)
        table.add_row(run["id"][:SHORT_ID], escape(clipped(run.get("name") or "")),
                      *([escape(clipped(run.get("experiment")))] if several else []), status_text(run.get("status")),
                      short_time(run.get("start_time")), run_duration(run),
                      *(escape(clipped(params.get(k), 16)) for k in param_keys),
                      *(number(metrics.get(k)) for k in metric_keys))
    console.print(table)
    legend = [f"params: {', '.join(param_keys)}" if param_keys else "", f"latest metrics: {', '.join(metric_keys)}"
              if metric_keys else "", f"{more_params} more params and {more_metrics} more metrics in `lakecache runs "
              "show RUN_ID` or --json" if more_params or more_metrics else ""]
    if any(legend):
        console.print(f"[dim]{escape(' · '.join(part for part in legend if part))}[/]", highlight=False)


@runs_app.command("show")
def show(run_id: RunArgument, project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Show a run: what it logged, what it read and what it wrote.

    Status, times, code version (commit, dirty or clean), host and site; params, tags, latest
    metrics; the dataset commits it read (site/volume, cache hit or miss, bytes, time waited)
    and the models, artifacts and dataset commits it wrote.
    """
    settings = load_settings(project, as_json=as_json)
    run = run_sdk(settings, as_json, lambda gateway: find_run(gateway, settings.project, run_id))
    if as_json:
        return print_json(run)
    code = run.get("code") or {}
    version = short(code.get("version")) if code.get("version") else "-"
    if code.get("dirty"):
        version += " (dirty: uncommitted changes)"
    elif code.get("dirty") is False:
        version += " (clean)"
    facts = [
        ("run", run["id"]), ("name", run.get("name") or "-"),
        ("experiment", f"{run.get('experiment') or '-'} ({run.get('experiment_id')})"),
        ("status", run.get("status") or "-"), ("user", run.get("user") or "-"),
        ("started", local_time(run.get("start_time"))), ("ended", local_time(run.get("end_time"))),
        ("duration", run_duration(run)), ("code", version), ("source", code.get("source") or "-"),
        ("host", run.get("host") or "-"), ("site", run.get("site") or "-"),
    ]
    console.print(key_value_table(facts), highlight=False)
    sections = [
        ("params", sorted((run.get("params") or {}).items()), ()),
        ("tags", sorted((run.get("tags") or {}).items()), ()),
        ("metrics (latest)", [(k, number(m.get("value")), m.get("step"))
                              for k, m in sorted((run.get("metrics") or {}).items())], ("key", "value", "step")),
        ("inputs", [input_row(run["project"], i) for i in run.get("inputs") or []],
         ("dataset@commit", "site/volume", "cache", "bytes", "waited", "context")),
        ("outputs", [output_row(o) for o in run.get("outputs") or []],
         ("kind", "name", "what", "size", "sha256")),
    ]
    for title, rows, headers in sections:
        console.print(f"\n[bold]{title}[/]" + ("" if rows else ": none"), highlight=False)
        if rows:
            console.print(key_value_table(rows, *headers), highlight=False)


@runs_app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID", help="Two or more runs (ids or prefixes).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare runs side by side: their params and latest metrics, differences marked ≠.

    --json prints {runs, params: {key: {run id: value}}, metrics: {key: {run id: value}},
    different: {params, metrics}}; a run without the key has null.
    """
    settings = load_settings(project, as_json=as_json)
    if len(run_ids) < 2:
        fail("compare needs two or more runs", 2, as_json=as_json)

    async def work(gateway: GatewayClient) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(find_run(gateway, settings.project, r) for r in run_ids)))

    runs = run_sdk(settings, as_json, work)
    ids = [r["id"] for r in runs]
    if len(set(ids)) < len(ids):
        fail(f"compare needs different runs; {', '.join(run_ids)} name only {len(set(ids))}", 2, as_json=as_json)
    values = {"params": [r.get("params") or {} for r in runs], "metrics": [metric_values(r) for r in runs]}
    tables = {kind: {key: {run_id: row.get(key) for run_id, row in zip(ids, rows, strict=True)}
                     for key in sorted({k for row in rows for k in row})} for kind, rows in values.items()}
    different = {kind: differing(table) for kind, table in tables.items()}
    if as_json:
        return print_json({"runs": [{k: r.get(k) for k in ("id", "name", "status", "experiment")} for r in runs],
                           **tables, "different": different})
    table = Table("", "key", *(escape(run_label(r)) for r in runs), box=None)
    for kind, rows in tables.items():
        table.add_row("", f"[bold]{kind}[/]")
        for key, by_run in rows.items():
            differs = key in different[kind]
            cells = [number(v) if kind == "metrics" else escape(clipped(v, 20)) for v in by_run.values()]
            table.add_row("[yellow]≠[/]" if differs else "", escape(key),
                          *(f"[bold yellow]{c}[/]" if differs else c for c in cells))
    console.print(table, highlight=False)
    console.print(f"≠ {len(different['params'])} params and {len(different['metrics'])} metrics differ",
                  highlight=False)


@runs_app.command("metrics")
def metrics(
    run_id: RunArgument,
    key: Annotated[str, typer.Argument(help="The metric, e.g. loss.")],
    min_step: Annotated[int | None, typer.Option(help="From this step on.", show_default=False)] = None,
    max_step: Annotated[int | None, typer.Option(help="Up to this step.", show_default=False)] = None,
    max_points: Annotated[int | None, typer.Option(
        min=2, help="Thin the range to about this many points, keeping peaks and troughs (default: every point).",
        show_default=False)] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a metric's history: a sparkline (a table for a short series), first, last, min, max.

    --json prints {run_id, key, points: [{step, value, timestamp}], downsampled, total}.
    """
    settings = load_settings(project, as_json=as_json)
    if min_step is not None and max_step is not None and min_step > max_step:
        fail(f"--min-step {min_step} is after --max-step {max_step}", 2, as_json=as_json)

    async def work(gateway: GatewayClient) -> tuple[dict[str, Any], dict[str, Any]]:
        run = await find_run(gateway, settings.project, run_id)
        if key not in (run.get("metrics") or {}):
            logged = ", ".join(sorted(run.get("metrics") or {})) or "none"
            raise NotFound(f"run {run['id']} has no metric {key!r} (its metrics: {logged})")
        return run, await gateway.metric_history(settings.project, run["id"], key, min_step=min_step,
                                                 max_step=max_step, max_points=max_points)

    run, history = run_sdk(settings, as_json, work, refused_input=2)
    points = history.get("points") or []
    if as_json:
        return print_json({"run_id": run["id"], "key": key, "points": points,
                           "downsampled": bool(history.get("downsampled")), "total": history.get("total", len(points))})
    steps = f", steps {points[0]['step']}–{points[-1]['step']}" if points else ""
    thinned = f" (thinned from {history['total']})" if history.get("downsampled") and history.get("total") else ""
    console.print(f"[bold]{escape(key)}[/] of run {escape(run_label(run))}: {len(points)} points{thinned}{steps}",
                  highlight=False)
    if not points:
        console.print("no points in that step range", highlight=False)
        return
    values = [as_float(p["value"]) for p in points]
    if len(points) <= TABLE_POINTS:
        console.print(key_value_table(((p["step"], number(p["value"]), logged_at(p.get("timestamp")))
                                        for p in points), "step", "value", "logged at"), highlight=False)
    else:
        console.print(sparkline(values), highlight=False)
    finite = [(v, p["step"]) for v, p in zip(values, points, strict=True) if math.isfinite(v)]
    summary = [("first", number(points[0]["value"]), points[0]["step"]),
               ("last", number(points[-1]["value"]), points[-1]["step"])]
    if finite:
        low, high = min(finite), max(finite, key=lambda pair: (pair[0], -pair[1]))
        summary += [("min", number(low[0]), low[1]), ("max", number(high[0]), high[1])]
    console.print("   ".join(f"{name} {value} (step {step})" for name, value, step in summary), highlight=False)
