"""Events the catalog emits about datasets, commits and tags."""

from pydantic import Field

from lakecache.core.contracts.base import EVENTS, EventData
from lakecache.core.contracts.fields import CommitId, Id, NonNegative, Slug


@EVENTS.register
class DatasetCreated(EventData):
    event_type = "lakecache.dataset.created"

    dataset_id: Id
    project: Slug
    name: Slug
    owner: str
    lake_url: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)


@EVENTS.register
class DatasetDeleted(EventData):
    event_type = "lakecache.dataset.deleted"

    dataset_id: Id
    project: Slug
    name: Slug
    deleted_by: str


@EVENTS.register
class CommitCreated(EventData):
    event_type = "lakecache.commit.created"

    dataset_id: Id
    project: Slug
    dataset: Slug
    commit_id: CommitId
    parents: list[CommitId] = Field(default_factory=list)
    message: str = ""
    author: str
    files: NonNegative
    bytes: NonNegative
    manifest_url: str


@EVENTS.register
class TagMoved(EventData):
    event_type = "lakecache.tag.moved"

    dataset_id: Id
    project: Slug
    dataset: Slug
    tag: str
    commit_id: CommitId
    previous_commit_id: CommitId | None = None
    moved_by: str
