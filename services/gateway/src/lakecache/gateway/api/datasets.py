"""Datasets, commits, refs, entries, diffs, tags, uploads and imports: the catalog's API behind the gateway.

Every route names its project in the path (or, to create a dataset, in the body), so the
permission check needs no lookup; listing datasets needs ``?project=`` for the same reason (a
caller sees only the projects it has a role in). Commit and content uploads stream through
unbuffered. Import locations are registered and removed by installation administrators only.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.payload import AsyncIterablePayload

from lakecache.gateway.api.backends import catalog_models as m
from lakecache.gateway.api.common import API, ProjectName, ProjectPath
from lakecache.gateway.auth import Permission
from lakecache.gateway.http.operation import Operation, StreamedBody
from lakecache.gateway.upstream.forward import forward
from lakecache.gateway.upstream.proxy import CATALOG, proxy
from lakecache.gateway.upstream.services import upstreams_of

_DATASETS = f"{API}/datasets"
_DATASET = _DATASETS + "/{project}/{name}"
_IN_PATH = "match_info:project"
READ = Permission("datasets:read", project_from=_IN_PATH)
WRITE = Permission("datasets:write", project_from=_IN_PATH)
#: A commit's manifest can be large; the catalog streams and checks it line by line.
MAX_COMMIT_BODY = 4 * 1024**3
#: One content uploaded through the gateway (lakes that cannot presign); S3's own limit for one PUT.
MAX_CONTENT_BODY = m.MAX_CONTENT_BYTES
#: An upload plan names up to 1000 contents of ~100 bytes of JSON each.
MAX_UPLOAD_PLAN_BODY = 256 * 1024
_LOCATIONS = API + "/projects/{project}/import-locations"
IMPORTS_ADMIN = Permission("imports:admin")


class ProjectDatasetsQuery(m.DatasetsQuery):
    project: ProjectName  # required here: the catalog would list every project's datasets


_NDJSON = StreamedBody(
    "application/x-ndjson",
    {"type": "array", "minItems": 1, "items": {"type": "object"},
     "description": "One JSON object per line: a header (parents, message), then one entry per file."},
    "The commit as NDJSON (see docs/catalog.md; `lakecache sync` builds it). The catalog validates each line.",
)


_CONTENT = StreamedBody("application/octet-stream", {"type": "string", "format": "binary"},
                        "The content's bytes; the catalog stores them only if they hash to the sha256 in the path.")


class _SizedStream(AsyncIterablePayload):
    """A streamed body with a known length: sent with ``Content-Length``, which the catalog needs."""

    def __init__(self, request: web.Request, size: int) -> None:
        super().__init__(request.content.iter_chunked(1 << 16), content_type="application/octet-stream")
        self._size = size


async def put_content(request: web.Request, params: m.ContentPath) -> web.Response:
    """Forward one content upload, streamed, with its declared length."""
    size = request.content_length
    if size is None:
        raise web.HTTPLengthRequired(text="send the content with a Content-Length header (its size in bytes)")
    return await forward(request, upstreams_of(request).catalog, body=_SizedStream(request, size),
                         content_type=request.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"))


# Marked like a proxy handler to the catalog, so the check that gateway permissions equal the
# services' declared actions covers this route too (``upstream.proxy.forwarded_to``).
vars(put_content).update(vars(proxy("put_content", to=CATALOG)))


def _op(method: str, path: str, name: str, summary: str, permission: Permission, **declared) -> Operation:
    declared.setdefault("errors", (404,))
    handler = declared.pop("handler", None) or proxy(name, to=CATALOG, stream="streamed_body" in declared)
    return Operation(method, path, handler, summary, permission, forwarded=True, tag="datasets", **declared)


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
    _op("POST", _DATASET + "/uploads", "plan_uploads", "Which contents a dataset lacks, and upload URLs for them",
        WRITE, params=m.DatasetPath, body=m.UploadRequest, response=m.UploadPlan, max_body=MAX_UPLOAD_PLAN_BODY),
    _op("PUT", _DATASET + "/contents/{sha256}", "put_content", "Upload one content (lakes without upload URLs)",
        WRITE, params=m.ContentPath, streamed_body=_CONTENT, max_body=MAX_CONTENT_BODY, handler=put_content,
        response=m.ContentStored, status=201, errors=(404, 411)),
    _op("POST", _DATASET + "/imports", "import_source", "Commit what lies under one of the project's import locations",
        WRITE, params=m.DatasetPath, body=m.NewImport, response=m.ImportResult, status=201, alternatives=(200,),
        errors=(404, 409, 422)),
    _op("GET", _LOCATIONS, "list_import_locations", "List a project's import locations", READ,
        params=ProjectPath, response=m.ImportLocationPage, errors=()),
    _op("PUT", _LOCATIONS + "/{name}", "put_import_location", "Register an import location for a project",
        IMPORTS_ADMIN, params=m.ImportLocationPath, body=m.NewImportLocation, response=m.ImportLocation, status=201,
        alternatives=(200,), errors=(409,)),
    _op("DELETE", _LOCATIONS + "/{name}", "delete_import_location", "Remove a project's import location",
        IMPORTS_ADMIN, params=m.ImportLocationPath, status=204),
]
