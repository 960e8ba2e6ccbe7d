"""Wires the tracker service's dependencies once, for `lakecache up` and standalone runs."""

from aiohttp import web

from lakecache.core.contracts.topics import RUNS
from lakecache.core.dispatch import dispatcher
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec
from lakecache.tracker.api import ROUTES, TRACKER_KEY, WORKDIR_KEY
from lakecache.tracker.handlers import HANDLERS
from lakecache.tracker.problems import problem_middleware
from lakecache.tracker.settings import TrackerSettings
from lakecache.tracker.storage import Tracker


async def bootstrap(resources: Resources) -> ServiceParts:
    settings = resources.settings
    assert isinstance(settings, TrackerSettings)
    workdir = settings.home.resolve() / "tmp" / "tracker"
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tracker = Tracker.open(resources.store, resources.lake, settings.tracker)
    await tracker.create_indexes()

    def setup(app: web.Application) -> None:
        app[TRACKER_KEY] = tracker
        app[WORKDIR_KEY] = workdir
        app.middlewares.append(problem_middleware)

    handler = dispatcher(HANDLERS, runs=tracker.runs, experiments=tracker.experiments, metrics=tracker.metrics,
                         lineage=tracker.lineage)
    return ServiceParts(routes=ROUTES, subscriptions=[SubscriptionSpec([RUNS.name], "tracker", handler)],
                        app_setup=setup)


SERVICE = ServiceDefinition(
    name="tracker",
    settings_type=TrackerSettings,
    bootstrap=bootstrap,
    needs_store=True,
    needs_lake=True,
    description="Runs, parameters, metrics, artifacts and lineage in the document store and the lake.",
)
