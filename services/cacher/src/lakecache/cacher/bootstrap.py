"""Wires the cacher service's dependencies once, for `lakecache up` and standalone runs."""

from aiohttp import web

from lakecache.cacher import eviction, reads, volumes
from lakecache.cacher.api import CACHER_KEY, ROUTES
from lakecache.cacher.fills import FillRunner
from lakecache.cacher.handlers import HANDLERS, refill_waiting
from lakecache.cacher.problems import problem_middleware
from lakecache.cacher.settings import CacherSettings
from lakecache.cacher.storage import Cacher, refuse_copies_of_old_layout
from lakecache.core.contracts.topics import CACHE_COMMANDS
from lakecache.core.dispatch import dispatcher
from lakecache.core.runtime import Resources, ServiceDefinition, ServiceParts, SubscriptionSpec

RUNNER_KEY = web.AppKey("fill_runner", FillRunner)


async def bootstrap(resources: Resources) -> ServiceParts:
    settings = resources.settings
    cacher = Cacher.open(resources.store, resources.publisher, settings, resources.telemetry.registry, resources.keys)
    await refuse_copies_of_old_layout(cacher)
    await cacher.create_indexes()
    await volumes.register_from_settings(cacher)
    # LakeCache's bytes on each volume, counted before any fill checks its space against them.
    await volumes.count_all(cacher)
    runner = FillRunner(cacher)
    # Crash resume: evictions left half-done finish first (they free space), then fills restart.
    await eviction.resume(cacher, refill_waiting(cacher, runner))
    await runner.resume()

    async def report_volumes() -> None:
        await volumes.report_periodically(cacher)

    async def sample_reads() -> None:
        await reads.sample_periodically(cacher)

    def setup(app: web.Application) -> None:
        app[CACHER_KEY] = cacher
        app[RUNNER_KEY] = runner
        app.middlewares.append(problem_middleware)

    handler = dispatcher(HANDLERS, cacher=cacher, runner=runner)
    return ServiceParts(
        routes=ROUTES,
        subscriptions=[SubscriptionSpec([CACHE_COMMANDS.for_site(cacher.site).name], f"cacher-{cacher.site}", handler)],
        app_setup=setup,
        background=[cacher.outbox.run, report_volumes,
                    *([sample_reads] if cacher.section.read_sampling_seconds > 0 else [])],
        on_shutdown=[runner.close],
    )


SERVICE = ServiceDefinition(
    name="cacher",
    settings_type=CacherSettings,
    bootstrap=bootstrap,
    needs_store=True,
    # Not the runtime's (writable) lake: fills open each source read-only (``Cacher.open_store``).
    needs_lake=False,
    description="Consumes cache commands of its site and fills the site's volumes from the lake.",
)
