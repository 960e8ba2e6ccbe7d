"""The catalog's problem types, on top of the shared ones (``lakecache.core.runtime.problems``)."""

from __future__ import annotations

from typing import Any

from lakecache.catalog.domain import AmbiguousRef, DatasetInUse, HeadMoved, TagExists
from lakecache.catalog.importing import SourceOutside
from lakecache.catalog.ingest import EmptyCommit
from lakecache.catalog.integrity import ManifestMismatch
from lakecache.catalog.locations import ObjectsOutside
from lakecache.catalog.uploads import ContentMismatch, LengthRequired, UploadTooLarge
from lakecache.core.manifest import UnsafePaths
from lakecache.core.runtime.problems import ProblemType
from lakecache.core.runtime.problems import problem_middleware as _problem_middleware

CATALOG_PROBLEMS = (
    ProblemType(UnsafePaths, 422, "unsafe-paths", "Unsafe paths in the commit"),
    ProblemType(EmptyCommit, 422, "empty-commit", "Empty commit"),
    ProblemType(ObjectsOutside, 422, "objects-outside-locations", "Objects outside the allowed locations"),
    ProblemType(ManifestMismatch, 409, "manifest-mismatch", "Manifest does not match its commit"),
    ProblemType(ContentMismatch, 400, "content-mismatch", "Content does not match its sha256"),
    ProblemType(UploadTooLarge, 413, "payload-too-large", "Payload too large"),
    ProblemType(LengthRequired, 411, "length-required", "Length required"),
    ProblemType(SourceOutside, 403, "source-outside-import-locations", "Source outside the import locations"),
    ProblemType(AmbiguousRef, 400, "ambiguous-ref", "Ambiguous ref"),
    ProblemType(DatasetInUse, 409, "dataset-in-use", "Dataset in use"),
    ProblemType(HeadMoved, 409, "head-moved", "Head moved"),
    ProblemType(TagExists, 409, "tag-exists", "Tag points elsewhere"),
)


def _extensions(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, UnsafePaths):
        return {"errors": [{"path": p.path, "reason": p.reason} for p in exc.problems], "total": exc.total}
    if isinstance(exc, ObjectsOutside):
        return {"errors": [{"path": path, "object": url} for path, url in exc.found], "total": exc.total}
    if isinstance(exc, AmbiguousRef):
        return {"candidates": exc.candidates}
    return {}


problem_middleware = _problem_middleware("catalog", CATALOG_PROBLEMS, _extensions)
