"""The tracker's state: its repositories and the lake its artifacts go to, opened once."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from lakecache.core.ports.docstore import DocumentStore
from lakecache.core.ports.objectstore import ObjectStore
from lakecache.tracker.repositories import (
    ArtifactRepository,
    ExperimentRepository,
    LineageRepository,
    MetricRepository,
    RunRepository,
)
from lakecache.tracker.settings import TrackerSection


@dataclass(frozen=True)
class Tracker:
    experiments: ExperimentRepository
    runs: RunRepository
    metrics: MetricRepository
    lineage: LineageRepository
    artifacts: ArtifactRepository
    lake: ObjectStore
    section: TrackerSection

    @classmethod
    def open(cls, store: DocumentStore, lake: ObjectStore, section: TrackerSection) -> Tracker:
        return cls(ExperimentRepository(store), RunRepository(store), MetricRepository(store),
                   LineageRepository(store), ArtifactRepository(store), lake, section)

    async def create_indexes(self) -> None:
        for repository in (self.experiments, self.runs, self.metrics, self.lineage, self.artifacts):
            await repository.create_indexes()


TRACKER_KEY = web.AppKey("tracker", Tracker)


def tracker_of(request: web.Request) -> Tracker:
    return request.app[TRACKER_KEY]
