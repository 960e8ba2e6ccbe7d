"""Where the tracker keeps runs: one repository per aggregate, each owning its collection,
indexes and document shapes. Handlers and routes call their methods and never see a filter.

Collections (the tracker's own):

* ``experiments`` (``experiments.py``) — named groups of runs in a project.
* ``runs`` (``runs.py``) — a run's state, params, tags, latest metric values, code and place.
* ``metric_buckets`` (``metrics.py``) — metric series, one document per (run, key, batch).
* ``lineage`` (``lineage.py``) — what runs read (commits, with their cache facts) and wrote.
* ``artifacts`` (``artifacts.py``) — files a run stored in the lake, with size and sha256.

Every read names the project as well as the id: a run or experiment of another project is
not found, whatever its id.
"""

from lakecache.tracker.repositories.artifacts import ArtifactRepository
from lakecache.tracker.repositories.experiments import ExperimentRepository
from lakecache.tracker.repositories.lineage import LineageRepository
from lakecache.tracker.repositories.metrics import MetricRepository
from lakecache.tracker.repositories.runs import RunRepository

__all__ = ["ArtifactRepository", "ExperimentRepository", "LineageRepository", "MetricRepository", "RunRepository"]
