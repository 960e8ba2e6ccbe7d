"""Run events from the bus (``lakecache.runs``) into runs, metric series and lineage.

Every handler is idempotent: a redelivered event changes nothing (metric batches by their
``batch`` key, lineage edges by their content, params keep their first value, tags and the
end state are set to what the event says). An event about a run its project does not have —
its ``run.started`` was never sent, or the run is another project's — cannot succeed on a
retry and is dead-lettered with the reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from lakecache.core.contracts import Event
from lakecache.core.contracts.runs import (
    RunFinished,
    RunInputRecorded,
    RunMetricsLogged,
    RunOutputRecorded,
    RunParamsLogged,
    RunStarted,
    RunTagsSet,
)
from lakecache.core.ports.bus import PoisonMessage
from lakecache.core.ports.docstore import Document
from lakecache.tracker.repositories import ExperimentRepository, LineageRepository, MetricRepository, RunRepository
from lakecache.tracker.repositories.fields import epoch_ms, stored_value
from lakecache.tracker.repositories.lineage import commit_node, run_node

log = logging.getLogger(__name__)


async def _run(runs: RunRepository, event: Event[Any]) -> Document:
    data = event.data
    run = await runs.get(data.project, data.run_id)
    if run is None:
        raise PoisonMessage(f"{event.type} {event.id}: project {data.project!r} has no run {data.run_id!r} "
                            "(its run.started was never sent, or the run is another project's)")
    return run


async def on_run_started(event: Event[RunStarted], runs: RunRepository, experiments: ExperimentRepository) -> None:
    data = event.data
    if data.experiment_id is not None and await experiments.get(data.project, data.experiment_id) is None:
        raise PoisonMessage(f"run.started {event.id}: project {data.project!r} has no experiment "
                            f"{data.experiment_id!r}")
    started = await runs.start(data.project, data.run_id, {
        "experiment_id": data.experiment_id, "experiment": data.experiment, "name": data.name, "user": data.user,
        "start_time": data.start_time or event.time, "tags": data.tags, "host": data.host, "site": data.site,
        "code": {"version": data.code_version, "dirty": data.code_dirty, "source": data.source}})
    if started is None:
        await _run(runs, event)  # a redelivery: fine, unless the id is another project's run


async def on_params_logged(event: Event[RunParamsLogged], runs: RunRepository) -> None:
    run = await _run(runs, event)
    refused = await runs.add_params(run, {key: str(value) for key, value in event.data.params.items()})
    if refused:
        log.warning("run %s keeps the first value of params %s (a param is logged once)", run["_id"],
                    ", ".join(sorted(refused)))


async def on_metrics_logged(event: Event[RunMetricsLogged], runs: RunRepository, metrics: MetricRepository) -> None:
    run = await _run(runs, event)
    data = event.data
    await metrics.add_batch(data.project, data.run_id, data.batch or event.id, data.metrics)
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for point in data.metrics:
        candidate = {"value": stored_value(point.value), "step": point.step, "timestamp": epoch_ms(point.timestamp)}
        held = latest.get(point.key)
        if held is None or (candidate["step"], candidate["timestamp"]) >= (held["step"], held["timestamp"]):
            latest[point.key] = candidate
    await runs.note_latest(run, latest)


async def on_tags_set(event: Event[RunTagsSet], runs: RunRepository) -> None:
    await runs.set_tags(await _run(runs, event), event.data.tags, event.data.deleted)


async def on_run_finished(event: Event[RunFinished], runs: RunRepository) -> None:
    await runs.finish(await _run(runs, event), event.data.status, event.data.end_time or event.time)


async def on_input_recorded(event: Event[RunInputRecorded], runs: RunRepository, lineage: LineageRepository) -> None:
    await _run(runs, event)
    data = event.data
    facts = {"dataset_id": data.dataset_id, "dataset": data.dataset, "commit_id": data.commit_id, "site": data.site,
             "volume": data.volume, "cache_hit": data.cache_hit, "bytes": data.bytes,
             "waited_seconds": data.waited_seconds, "context": data.context}
    await lineage.add(data.project, commit_node(data.commit_id), run_node(data.run_id), "input", facts)


async def on_output_recorded(event: Event[RunOutputRecorded], runs: RunRepository, lineage: LineageRepository) -> None:
    await _run(runs, event)
    data = event.data
    if data.kind == "dataset":
        if data.commit_id is None:
            raise PoisonMessage(f"run.output.recorded {event.id}: a dataset output names its commit_id")
        target = commit_node(data.commit_id)
    else:
        target = f"{data.kind}:{data.uri}"
    facts = {"output_kind": data.kind, "uri": data.uri, "name": data.name, "dataset_id": data.dataset_id,
             "commit_id": data.commit_id, "sha256": data.sha256, "size": data.size}
    await lineage.add(data.project, run_node(data.run_id), target, "output", facts)


HANDLERS = {
    RunStarted: on_run_started,
    RunParamsLogged: on_params_logged,
    RunMetricsLogged: on_metrics_logged,
    RunTagsSet: on_tags_set,
    RunFinished: on_run_finished,
    RunInputRecorded: on_input_recorded,
    RunOutputRecorded: on_output_recorded,
}
