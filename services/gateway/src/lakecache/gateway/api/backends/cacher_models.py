"""The gateway's models of the cacher's API contract (``lakecache.cacher.api``, ``docs/cacher.md``).

Inputs accept exactly what a cacher accepts: what they refuse it answers 400 for, and what they
pass it does not refuse for a reason a model can express (a volume path that does not exist on
the cacher's host, a copy that is not ready remain its to say). Responses list every field the
cacher sends. The tests validate real responses of the service against them
(``tests/gateway/test_backend_models.py``) so they cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator

from lakecache.core.contracts.fields import CommitId, Id, Slug
from lakecache.core.vocabulary import copies
from lakecache.core.vocabulary.copies import CopyState
from lakecache.core.vocabulary.eviction import (
    DEFAULT_HIGH_WATERMARK,
    DEFAULT_LOW_WATERMARK,
    MAX_LEASE_SECONDS,
    MAX_TTL_SECONDS,
)
from lakecache.gateway.api.backends import PageSize, Query, omittable, page_size
from lakecache.gateway.api.common import Input, NextCursor
from lakecache.gateway.http.limits import NO_CONTROL

#: Longest volume path: PATH_MAX (4096 bytes with its terminating NUL) on Linux.
MAX_VOLUME_PATH = 4095
SiteName = Annotated[Slug, Field(description="The site: a compute location whose cacher fills its cache volumes.")]
VolumeName = Annotated[Slug, Field(description="A cache volume of the site.")]
#: The largest quota (and capacity) a cacher stores: a signed 64-bit integer.
MAX_QUOTA_BYTES = 2**63 - 1
LeaseSeconds = Annotated[StrictInt, Field(ge=1, le=MAX_LEASE_SECONDS)]


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


# Path variables


class SitePath(Input):
    site: SiteName


class VolumePath(SitePath):
    name: VolumeName


class CopyPath(SitePath):
    project: Slug = Field(description="The project whose copy this is (another project's copy of the same commit "
                                      "is another copy).")
    commit_id: CommitId = Field(description="The commit whose cached copy this is.")


class LeasePath(CopyPath):
    lease_id: Id = Field(description="The lease's id (from acquiring it).")


class QuotaPath(VolumePath):
    project: Slug = Field(description="The project whose quota on the volume this is.")


# Query strings


class CopiesQuery(Query):
    # Names are at most 63 characters; longer ones name nothing (bounded so no URL outgrows a request line).
    volume: str | None = Field(None, max_length=63, description="Only copies on this volume.")
    state: CopyState | None = Field(None, description="Only copies in this state.")
    project: str | None = Field(None, max_length=63, description="Only copies of this project's datasets.")
    limit: PageSize = page_size(100, 1000)
    # The last copy's id (`<site>/<volume>/<project>/<commit>`), so not the gateway's opaque `Cursor`.
    cursor: str | None = Field(None, max_length=256, description="The `next_cursor` of the previous page.")


class CopyQuery(Query):
    volume: VolumeName | None = Field(None, description="The volume holding the copy; by default the one where it "
                                                        "is ready (or the most recently updated).")


class PinQuery(CopyQuery):
    """Which copy to pin or unpin when several volumes of the site hold the commit."""


# JSON bodies


class NewVolume(Input):
    name: VolumeName
    path: str = Field(max_length=MAX_VOLUME_PATH, pattern=r"^/[^\x00-\x1f\x7f]*$",
                      description="Absolute path of an existing directory on the cacher's host that the cacher can "
                                  f"write (e.g. the NFS mount); at most {MAX_VOLUME_PATH} characters, no control "
                                  "characters.")
    capacity_bytes: int | None = Field(None, gt=0, description="Bytes LakeCache may hold on the volume (its "
                                                               "content pool; the filesystem's free space bounds fills "
                                                               "too); null: the filesystem's size, against which its "
                                                               "whole usage counts.")
    ttl_seconds: int | None = Field(None, gt=0, le=MAX_TTL_SECONDS,
                                    description="Unused copies older than this may be evicted (at most "
                                                f"{MAX_TTL_SECONDS} s, ten years); null: the evictor's default "
                                                "(1 day).")
    high_watermark: float | None = Field(None, gt=0, le=1, description="Fraction of capacity that starts eviction; "
                                                                       f"null: {DEFAULT_HIGH_WATERMARK}.")
    low_watermark: float | None = Field(None, gt=0, le=1, description="Fraction of capacity eviction stops at, "
                                                                      "below the high one; null: "
                                                                      f"{DEFAULT_LOW_WATERMARK}.")

    @model_validator(mode="after")
    def _low_below_high(self) -> NewVolume:
        high = DEFAULT_HIGH_WATERMARK if self.high_watermark is None else self.high_watermark
        low = DEFAULT_LOW_WATERMARK if self.low_watermark is None else self.low_watermark
        if low >= high:
            raise ValueError(f"low_watermark ({low}) must be below high_watermark ({high}); unset marks default to "
                             f"{DEFAULT_HIGH_WATERMARK} and {DEFAULT_LOW_WATERMARK}")
        return self


class NewQuota(Input):
    quota_bytes: StrictInt = Field(gt=0, le=MAX_QUOTA_BYTES, description="Bytes the project may be charged on the "
                                   "volume: the distinct content its copies there reference, each content once for "
                                   "the project and in full for every project holding it (ADR 0018).")


class NewLease(Input):
    holder: str | None = Field(None, max_length=200, pattern=NO_CONTROL,
                               description="Who holds it (e.g. a job id; no control characters); empty or null: "
                                           "the caller.")
    ttl_seconds: LeaseSeconds = Field(600, description="Seconds until it expires unless renewed: 1 to "
                                                       f"{MAX_LEASE_SECONDS}.")
    # The cacher reads an empty volume as none given.
    volume: Annotated[VolumeName | None, BeforeValidator(_empty_is_none)] = Field(
        None, description="The volume holding the copy; by default the one where it is ready.")


class LeaseRenewal(Input):
    ttl_seconds: LeaseSeconds = omittable(f"New seconds until it expires: 1 to {MAX_LEASE_SECONDS}; left out, the "
                                          "lease's own.")


# Responses


class FilesystemSpace(BaseModel):
    total_bytes: int = Field(description="Size of the filesystem.")
    free_bytes: int = Field(description="Free for unprivileged writers.")
    used_bytes: int = Field(description="Total minus free.")


class VolumeCopies(BaseModel):
    ready: int = Field(description="Ready copies on the volume.")
    bytes: int = Field(description="Their total size.")


class ProjectQuota(BaseModel):
    site: str = Field(description="The site.")
    volume: str = Field(description="The volume.")
    project: str = Field(description="The project.")
    quota_bytes: int | None = Field(description="What the project may be charged on the volume; null: no quota.")
    charged_bytes: int | None = Field(description="What it is charged: the distinct content its ready copies there "
                                                  "reference (each content once, however many of its copies hold "
                                                  "it); null for a refused volume (not counted).")
    shared_bytes: int | None = Field(description="The part of `charged_bytes` other projects' copies on the volume "
                                                 "reference too (charged to each of them as well; the volume holds "
                                                 "it once).")


class ProjectQuotaPage(BaseModel):
    items: list[ProjectQuota] = Field(description="The project's quota and charge on each volume of the site.")


class Volume(BaseModel):
    site: str = Field(description="The site.")
    name: str = Field(description="The volume.")
    path: str = Field(description="Its directory on the cacher's host.")
    capacity_bytes: int = Field(description="The configured capacity, else the filesystem's size.")
    capacity_configured: bool = Field(description="Whether a capacity was configured.")
    used_bytes: int = Field(description="Used on the filesystem (on a shared filesystem, other data too).")
    cached_bytes: int | None = Field(None, description="What LakeCache holds on the volume (its content pool, each "
                                                       "content once): what a configured capacity bounds; null for a "
                                                       "refused volume (not counted).")
    free_bytes: int = Field(description="What fills may still write: the filesystem's free space and, with a "
                                        "configured capacity, what it leaves after `cached_bytes` and running fills.")
    filesystem: FilesystemSpace = Field(description="What the filesystem reports.")
    copies: VolumeCopies = Field(description="The ready copies it holds.")
    ttl_seconds: int | None = Field(description="Idle time after which copies may be evicted; null: the evictor's "
                                                "default.")
    high_watermark: float | None = Field(description="Fraction of capacity that starts eviction; null: the "
                                                     "evictor's default.")
    low_watermark: float | None = Field(description="Fraction of capacity eviction stops at; null: the evictor's "
                                                    "default.")
    refused: str | None = Field(None, description="Why the cacher does not use the volume (registered before the "
                                                  "volume rules, it breaks them now); null when it is in use.")
    projects: list[ProjectQuota] = Field(default_factory=list, description="Each project with a quota or a charge "
                                         "on the volume, by name: only those whose copies the caller may see "
                                         "(`caches:read`).")


class VolumePage(BaseModel):
    items: list[Volume] = Field(description="The site's volumes by name (one page).")
    next_cursor: NextCursor


class FillProgress(copies.FillProgress):
    """The running fill's progress: every field of the one progress model
    (``lakecache.core.vocabulary.copies.FillProgress``) and no other, so an answer of a cacher
    that names progress otherwise is refused rather than read as zeros."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _every_field(cls, data: Any) -> Any:
        missing = [name for name in cls.model_fields if isinstance(data, dict) and name not in data]
        if missing:
            raise ValueError(f"the progress lacks {', '.join(missing)}")
        return data


class FillFailure(BaseModel):
    reason: str = Field(description="What failed and what to do.")
    retryable: bool = Field(description="Whether requesting the copy again may succeed.")
    failed_paths: list[str] = Field(description="Dataset or volume paths concerned (bounded).")


class Copy(BaseModel):
    site: str = Field(description="The site.")
    volume: str = Field(description="The volume holding it.")
    commit_id: str = Field(description="The commit.")
    project: str = Field(description="The dataset's project.")
    dataset: str = Field(description="The dataset's name.")
    dataset_id: str = Field(description="The dataset's id.")
    state: CopyState = Field(description="requested → filling → ready → evicting → evicted, or failed.")
    path: str | None = Field(description="Where jobs read the commit; only when ready.")
    fill_id: str = Field(description="The current (or last) fill.")
    files: int | None = Field(description="Files in the commit; null until the first fill is done.")
    size_bytes: int | None = Field(description="Bytes of the commit; null until the first fill is done.")
    bytes_fetched: int | None = Field(description="Bytes the fill downloaded.")
    bytes_deduplicated: int | None = Field(description="Bytes the fill found already on the volume.")
    duration_seconds: float | None = Field(description="How long the fill took.")
    progress: FillProgress | None = Field(description="The running fill's progress; null unless requested or filling.")
    error: FillFailure | None = Field(description="Why the last fill failed; null unless failed.")
    generation: int = Field(description="Counts lease and pin changes; evictions are checked against it.")
    pinned: bool = Field(description="Pinned copies are never evicted.")
    leased_until: datetime | None = Field(description="When its last live lease expires; null without one.")
    requested_at: datetime = Field(description="When it was (last) requested.")
    updated_at: datetime = Field(description="When it last changed.")
    ready_at: datetime | None = Field(description="When it (last) became ready.")


class CopyPage(BaseModel):
    items: list[Copy] = Field(description="Copies by id (site, volume, project, commit).")
    next_cursor: NextCursor


class Lease(BaseModel):
    id: str = Field(description="The lease's id: renew or release it with it.")
    holder: str = Field(description="Who holds it.")
    site: str = Field(description="The site.")
    volume: str = Field(description="The volume holding the copy.")
    commit_id: str = Field(description="The commit.")
    ttl_seconds: int = Field(description="Seconds it lasts from each renewal.")
    expires_at: datetime = Field(description="When it stops protecting the copy unless renewed.")
    generation: int = Field(description="The copy's generation after this change.")
