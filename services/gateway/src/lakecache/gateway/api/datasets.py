"""Datasets, commits, refs, entries, diffs and tags: the catalog's API behind the gateway.

Every route names its project in the path (or, to create a dataset, in the body), so the
permission check needs no lookup; listing datasets needs ``?project=`` for the same reason (a
caller sees only the projects it has a role in). Commit uploads stream through unbuffered.
"""

from __future__ import annotations

from lakecache.gateway.api.backends import catalog_models as m
from lakecache.gateway.api.common import API, ProjectName
from lakecache.gateway.auth import Permission
from lakecache.gateway.http.operation import Operation, StreamedBody
from lakecache.gateway.upstream.proxy import CATALOG, proxy

_DATASETS = f"{API}/datasets"
_DATASET = _DATASETS + "/{project}/{name}"
_IN_PATH = "match_info:project"
READ = Permission("datasets:read", project_from=_IN_PATH)
WRITE = Permission("datasets:write", project_from=_IN_PATH)
#: A commit's manifest can be large; the catalog streams and checks it line by line.
MAX_COMMIT_BODY = 4 * 1024**3


class ProjectDatasetsQuery(m.DatasetsQuery):
    project: ProjectName  # required here: the catalog would list every project's datasets


_NDJSON = StreamedBody(
    "application/x-ndjson",
    {"type": "array", "minItems": 1, "items": {"type": "object"},
     "description": "One JSON object per line: a header (parents, message), then one entry per file."},
    "The commit as NDJSON (see docs/catalog.md; `lakecache sync` builds it). The catalog validates each line.",
)


def _op(method: str, path: str, name: str, summary: str, permission: Permission, **declared) -> Operation:
    declared.setdefault("errors", (404,))
    return Operation(method, path, proxy(name, to=CATALOG, stream="streamed_body" in declared), summary, permission,
                     forwarded=True, tag="datasets", **declared)


OPERATIONS = [
    _op("POST", _DATASETS, "create_dataset", "Create a dataset",
        Permission("datasets:write", project_from="body:project"), body=m.NewDataset, response=m.Dataset, status=201,
        errors=(409,)),
    _op("GET", _DATASETS, "list_datasets", "List a project's datasets",
        Permission("datasets:read", project_from="query:project"), query=ProjectDatasetsQuery,
        response=m.DatasetPage, errors=()),
    _op("GET", _DATASET, "show_dataset", "Show a dataset", READ, params=m.DatasetPath, response=m.Dataset),
    _op("PATCH", _DATASET, "update_dataset", "Change a dataset's description or tags", WRITE,
        params=m.DatasetPath, body=m.DatasetChanges, response=m.Dataset),
    _op("DELETE", _DATASET, "delete_dataset", "Delete a dataset",
        Permission("datasets:delete", project_from=_IN_PATH), params=m.DatasetPath, status=204, errors=(404, 409)),
    _op("POST", _DATASET + "/commits", "create_commit", "Commit a new version of a dataset", WRITE,
        params=m.DatasetPath, streamed_body=_NDJSON,
        max_body=MAX_COMMIT_BODY, response=m.CommitCreated, status=201, alternatives=(200,), errors=(404, 409)),
    _op("GET", _DATASET + "/commits", "commit_log", "List a dataset's commits, newest first", READ,
        params=m.DatasetPath, query=m.CommitLogQuery, response=m.CommitPage),
    _op("GET", _DATASET + "/refs/{ref}", "show_ref", "Resolve a ref (commit id, tag, latest)", READ,
        params=m.RefPath, response=m.Commit),
    _op("GET", _DATASET + "/refs/{ref}/entries", "list_entries", "List a commit's files", READ,
        params=m.RefPath, query=m.EntriesQuery, response=m.EntryPage),
    _op("GET", _DATASET + "/diff", "diff_commits", "Compare two commits of a dataset", READ,
        params=m.DatasetPath, query=m.DiffQuery, response=m.Diff),
    _op("GET", _DATASET + "/tags", "list_tags", "List a dataset's tags", READ, params=m.DatasetPath,
        response=m.TagPage),
    _op("PUT", _DATASET + "/tags/{tag}", "put_tag", "Set or move a tag", WRITE, params=m.TagPath, body=m.NewTag,
        response=m.Tag, alternatives=(201,), errors=(404, 409)),
]
