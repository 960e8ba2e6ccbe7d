"""The gateway's models of the catalog's API contract (``lakecache.catalog.api``, ``docs/catalog.md``).

Inputs accept exactly what the catalog accepts: what they refuse the catalog answers 400 for,
and what they pass it does not refuse for a reason a model can express (a name already taken,
a ref that does not resolve, a ``lake_url`` outside the project's prefix, an import source
outside the project's import locations remain its to say).
Responses list every field the catalog sends. The tests validate real responses of the
service against them (``tests/gateway/test_backend_models.py``) so they cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from lakecache.core.contracts.fields import CommitId, Slug
from lakecache.gateway.api.backends import PageSize, Query, omittable, page_size
from lakecache.gateway.api.common import Cursor, Input, NextCursor, ProjectName

MAX_LABELS = 50
MAX_CONTENT_BYTES = 5 * 1024**3
LATEST = "latest"
#: A tag name: 1-128 letters, digits and ``. _ -`` starting with a letter or digit, but not 4 or
#: more hex digits only (those read as commit-id prefixes). Alternatives instead of a look-ahead,
#: so every JSON Schema tool can use it: short names, or names with a character outside hex.
TAG_PATTERN = (r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,2}|[G-Zg-z][A-Za-z0-9._-]*"
               r"|[A-Za-z0-9][A-Za-z0-9._-]*[G-Zg-z._-][A-Za-z0-9._-]*)$")


def _few_distinct(labels: list[str]) -> list[str]:
    # The catalog merges repeated labels before it counts them.
    if len(set(labels)) > MAX_LABELS:
        raise ValueError(f"a dataset has at most {MAX_LABELS} distinct tags, got {len(set(labels))}")
    return labels


def _not_latest(name: str) -> str:
    if name == LATEST:
        raise ValueError("'latest' is reserved: it always means the dataset's head")
    return name


DatasetName = Annotated[Slug, Field(description="A dataset's name in its project: 1-63 lower-case letters, digits "
                                                "and inner dashes.")]
Ref = Annotated[str, Field(min_length=1, max_length=128, description="A ref: `latest` (the head), a tag, or a commit "
                                                                     "id or a unique prefix of it (4+ hex digits).")]
TagName = Annotated[str, Field(max_length=128, pattern=TAG_PATTERN, json_schema_extra={"not": {"const": LATEST}},
                               description="A tag: 1-128 letters, digits and `. _ -`, starting with a letter or "
                                           "digit; not `latest`, and not 4 or more hex digits only (e.g. `v1.0`)."),
                    AfterValidator(_not_latest)]
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Labels = Annotated[list[Label], AfterValidator(_few_distinct),
                   Field(description=f"The dataset's labels: 1-64 letters, digits and `. _ : -` each, starting with "
                                     f"a letter or digit; at most {MAX_LABELS} distinct (repeats are merged).")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="A content's sha256: 64 lower-case hex digits.")]
Description = Annotated[str, Field(max_length=10_000, description="What the dataset holds (at most 10000 "
                                                                  "characters).")]

# Path variables


class DatasetPath(Input):
    project: ProjectName
    name: DatasetName


class RefPath(DatasetPath):
    ref: Ref


class TagPath(DatasetPath):
    tag: TagName


class ContentPath(DatasetPath):
    sha256: Sha256


class ImportLocationPath(Input):
    project: ProjectName
    name: Annotated[Slug, Field(description="The import location's name in its project (like a dataset name).")]


# Query strings


class DatasetsQuery(Query):
    project: str | None = Field(None, description="Only this project's datasets.")
    tag: str | None = Field(None, description="Only datasets with this label.")
    q: str | None = Field(None, description="Only datasets whose project, name, description or labels contain this "
                                            "text (case-insensitive).")
    limit: PageSize = page_size(50, 500)
    cursor: Cursor | None = None


class CommitLogQuery(Query):
    ref: Ref = LATEST
    limit: PageSize = page_size(50, 1000)
    cursor: Cursor | None = None


class EntriesQuery(Query):
    prefix: str = Field("", description="Only paths starting with this string (a plain prefix: `train/` or `tr`).")
    start_after: str | None = Field(None, description="Only paths after this one (in the listing's order).")
    cursor: str | None = Field(None, description="The `next_cursor` of the previous page (the last path it "
                                                 "listed); wins over `start_after`.")
    limit: PageSize = page_size(1000, 10_000)
    delimiter: Literal["/"] | None = Field(None, description="`/`: list the directories directly under `prefix` "
                                                             "(in `directories`, with their file counts and sizes) "
                                                             "instead of the files they hold.")


class DiffQuery(Query):
    from_: Ref = Field(alias="from", description="The ref to compare from.")
    to: Ref = Field(description="The ref to compare to.")
    limit: PageSize = page_size(1000, 10_000)
    # Opaque as `Cursor`, but it holds a path (up to 4096 bytes), so it has no fixed bound.
    cursor: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] | None = Field(
        None, description="The `next_cursor` of the previous page.")


# JSON bodies


class NewDataset(Input):
    project: ProjectName
    name: DatasetName
    description: Description = ""
    tags: Labels = Field(default_factory=list)
    lake_url: str | None = Field(None, description="Where the dataset's bytes live: a location under the project's "
                                                   "prefix of the catalog's lake, overlapping no other dataset or "
                                                   "import location; by default `<lake>/<project>/<name>`.")


class DatasetChanges(Input):
    """Only the description and the labels of a dataset change; leave out what stays."""

    description: Description = omittable("The new description.")
    tags: Labels = omittable("The new labels (replacing the old ones).")


class NewTag(Input):
    ref: Ref
    force: StrictBool = Field(False, description="Move the tag if it points at another commit.")


def _distinct_contents(contents: list[DeclaredContent]) -> list[DeclaredContent]:
    # The catalog refuses a content listed twice.
    if len({c.sha256 for c in contents}) != len(contents):
        raise ValueError("list each content (sha256) once")
    return contents


class DeclaredContent(Input):
    sha256: Sha256
    size: int = Field(ge=0, le=MAX_CONTENT_BYTES, description="Its size in bytes (one upload: at most 5 GiB).")


class UploadRequest(Input):
    """The contents a client is about to commit; the catalog says which it lacks and how to upload them."""

    contents: Annotated[list[DeclaredContent], AfterValidator(_distinct_contents)] = Field(
        min_length=1, max_length=1000, description="1 to 1000 distinct contents.")


class NewImport(Input):
    source: str = Field(pattern="://", description="The URL to import (`s3://bucket/prefix`): inside one of the "
                                                   "project's import locations.")
    message: str = Field("", description="The commit message.")
    allow_empty: StrictBool = Field(False, description="Commit even when the source holds no objects.")


class NewImportLocation(Input):
    url: str = Field(description="An absolute `s3://bucket[/prefix]` or `file:///dir` (inside a local lake) URL, "
                                 "overlapping no other project's import location and no dataset's location.")


# The NDJSON lines of a commit upload (``POST …/commits``, not validated by the gateway: it
# streams them). The catalog ignores members it does not know, so these do too.


class CommitHeaderLine(BaseModel):
    """The first line of a commit upload."""

    model_config = ConfigDict(extra="ignore")

    message: str = Field("", description="The commit message.")
    parents: list[CommitId] | None = Field(None, description="null: commit on the current head (or as the first "
                                                             "commit); else the parents, the head first.")
    allow_empty: StrictBool = Field(False, description="Record the commit even with no entries, or entries equal to "
                                                       "the head's.")


class CommitEntryLine(BaseModel):
    """Each further line of a commit upload: one file, in any order."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(description="The file's path in the dataset, `/`-separated and relative. Unsafe paths (`..`, "
                                  "backslashes, control characters, collisions…) refuse the whole commit (422).")
    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The content's sha256 (64 lower-case hex digits).")
    etag: str | None = Field(None, description="The object's ETag in the lake.")
    version_id: str | None = Field(None, description="The object's version in the lake.")
    object: str | None = Field(None, pattern="://", description="The full URL of imported bytes (`s3://bucket/key`); "
                                                                "left out, they are stored by hash.")


# Responses


class Dataset(BaseModel):
    id: str = Field(description="The dataset's id (events and lineage refer to it).")
    project: str = Field(description="Its project.")
    name: str = Field(description="Its name in the project.")
    description: str = Field(description="What it holds.")
    tags: list[str] = Field(description="Its labels.")
    owner: str = Field(description="Who created it.")
    lake_url: str = Field(description="Where its bytes and manifests live.")
    created_at: datetime = Field(description="When it was created.")
    updated_at: datetime = Field(description="When it last changed (a commit, a new description…).")
    head: str | None = Field(description="Its latest commit; null before the first.")
    head_files: int | None = Field(None, description="Files in the latest commit; null before the first (and for a "
                                                     "head moved before the catalog recorded it).")
    head_bytes: int | None = Field(None, description="Bytes in the latest commit; null as `head_files`.")
    deleted: bool = Field(description="Always false here: deleted datasets are not shown.")


class DatasetPage(BaseModel):
    items: list[Dataset] = Field(description="Datasets ordered by project and name.")
    next_cursor: NextCursor


class Commit(BaseModel):
    id: str = Field(description="The commit id: sha256 of its entries and parents.")
    dataset_id: str = Field(description="The dataset's id.")
    project: str = Field(description="The dataset's project.")
    dataset: str = Field(description="The dataset's name.")
    parents: list[str] = Field(description="Its parents, the previous head first.")
    message: str = Field(description="The commit message.")
    author: str = Field(description="Who committed.")
    created_at: datetime = Field(description="When it was committed.")
    files: int = Field(description="Number of entries.")
    bytes: int = Field(description="Total size of the entries.")
    manifest_url: str = Field(description="Where its manifest (gzip NDJSON of the entries) lives.")


class CommitCreated(BaseModel):
    """201 with the new commit, or 200 with the head when the entries equal the head's."""

    commit: Commit = Field(description="The new commit, or the unchanged head.")
    created: bool = Field(description="Whether a commit was recorded.")
    unchanged: bool = Field(False, description="Sent (true) only when the entries equal the head's.")


class CommitPage(BaseModel):
    items: list[Commit] = Field(description="Commits along first parents, newest first.")
    next_cursor: NextCursor


class Entry(BaseModel):
    path: str = Field(description="The file's path in the dataset.")
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="The content's sha256.")
    etag: str | None = Field(None, description="The object's ETag (left out when unknown).")
    version_id: str | None = Field(None, description="The object's version (left out when unknown).")
    object: str | None = Field(None, description="The URL of imported bytes (left out for bytes stored by hash).")


class Directory(BaseModel):
    path: str = Field(description="The directory, ending with `/`.")
    files: int = Field(description="Files under it, at any depth.")
    bytes: int = Field(description="Their total size.")


class EntryPage(BaseModel):
    commit: str = Field(description="The commit the ref resolved to.")
    items: list[Entry] = Field(description="Entries in path order (with `delimiter`: only those directly under "
                                           "`prefix`).")
    directories: list[Directory] | None = Field(None, description="Sent only with `delimiter`: the directories "
                                                                  "directly under `prefix`, in path order.")
    next_cursor: NextCursor


class PathChange(BaseModel):
    kind: Literal["added", "removed", "changed"] = Field(description="`changed`: same path, other content.")
    path: str = Field(description="The path that differs.")
    old_size: int | None = Field(description="Its size in `from`; null when added.")
    new_size: int | None = Field(description="Its size in `to`; null when removed.")


class DiffSummary(BaseModel):
    added: int = Field(description="Paths only in `to` (the whole diff, not this page).")
    removed: int = Field(description="Paths only in `from`.")
    changed: int = Field(description="Paths in both with other content.")


class Diff(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    from_: str = Field(alias="from", description="The commit `from` resolved to.")
    to: str = Field(description="The commit `to` resolved to.")
    items: list[PathChange] = Field(description="Differences in path order.")
    summary: DiffSummary = Field(description="Counts over the whole diff.")
    next_cursor: NextCursor


class Tag(BaseModel):
    name: str = Field(description="The tag.")
    commit: str = Field(description="The commit it points at.")
    dataset_id: str = Field(description="The dataset's id.")
    updated_at: datetime = Field(description="When it was set or last moved.")
    moved_by: str = Field(description="Who set or last moved it.")


class TagPage(BaseModel):
    items: list[Tag] = Field(description="Every tag of the dataset, by name (one page).")
    next_cursor: NextCursor



class Upload(BaseModel):
    method: Literal["PUT"] = Field(description="The HTTP method of the upload.")
    url: str | None = Field(description="A presigned URL (send the bytes there, with `headers`); null: upload them "
                                        "to `PUT …/contents/{sha256}` of this API instead.")
    headers: dict[str, str] = Field(description="Headers to send exactly as given (they are part of the signature).")
    expires_at: datetime | None = Field(description="When the URL stops working (null without a URL).")


class UploadItem(BaseModel):
    sha256: str = Field(description="The content's sha256.")
    size: int = Field(description="Its size in bytes.")
    present: bool = Field(description="Whether the dataset's content store already holds it.")
    upload: Upload | None = Field(description="How to upload it; null when present.")


class UploadPlan(BaseModel):
    items: list[UploadItem] = Field(description="One per declared content, in the request's order.")


class ContentStored(BaseModel):
    sha256: str = Field(description="The content's sha256.")
    size: int = Field(description="Its size in bytes.")
    created: bool = Field(description="False when the dataset already held it.")


class SkippedObject(BaseModel):
    path: str = Field(description="The key under the source.")
    reason: str = Field(description="Why it was not imported.")


class ImportResult(BaseModel):
    """201 with the new commit, or 200 with the head when the source's objects equal the head's."""

    commit: Commit = Field(description="The new commit, or the unchanged head.")
    created: bool = Field(description="Whether a commit was recorded.")
    unchanged: bool = Field(description="Whether the entries equal the head's.")
    files: int = Field(description="Objects imported.")
    bytes: int = Field(description="Their total size.")
    from_checksum: int = Field(description="Objects whose sha256 came from the server's checksum.")
    hashed: int = Field(description="Objects the catalog read to hash them.")
    skipped: list[SkippedObject] = Field(description="Keys not imported (LakeCache's own data, directory markers).")


class ImportLocation(BaseModel):
    name: str = Field(description="Its name in the project.")
    url: str = Field(description="The location (canonical form).")
    created_at: datetime = Field(description="When it was registered.")
    created_by: str = Field(description="Who registered it.")


class ImportLocationPage(BaseModel):
    items: list[ImportLocation] = Field(description="The project's import locations, by name (one page).")
    next_cursor: NextCursor
