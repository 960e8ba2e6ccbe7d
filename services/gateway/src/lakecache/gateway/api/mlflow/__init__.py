"""MLflow's tracking REST API on the gateway, so the ``mlflow`` client works unchanged with
``MLFLOW_TRACKING_URI=<gateway URL>`` and ``MLFLOW_TRACKING_TOKEN=<a LakeCache token>``.

Routes under ``/api/2.0/mlflow/`` and ``/api/2.0/mlflow-artifacts/``, one module per concern:

* ``experiments`` — get-by-name, create, get, search;
* ``runs`` — create, update (end, rename), get, search, metric history, logged models (none);
* ``logs`` — log-metric, log-parameter, set-tag, delete-tag, log-batch, log-inputs;
* ``artifacts`` — upload, list, download.

Each is an operation like the gateway's own (permission, models, OpenAPI entry, tag ``mlflow``)
and works through the gateway's run routes (``lakecache.gateway.api.runs``). Around them:
``ids`` (experiment names ↔ projects, the permission lookups of ids), ``render`` (LakeCache's
runs in MLflow's shapes), ``models`` (MLflow's messages) and ``errors`` (MLflow's error JSON,
``mlflow_error_middleware``). ``docs/gateway.md`` ("MLflow compatibility") says what maps to
what and what is not supported.
"""

from lakecache.gateway.api.mlflow import artifacts, experiments, logs, runs
from lakecache.gateway.api.mlflow.errors import mlflow_error_middleware

OPERATIONS = [*experiments.OPERATIONS, *runs.OPERATIONS, *logs.OPERATIONS, *artifacts.OPERATIONS]

__all__ = ["OPERATIONS", "mlflow_error_middleware"]
