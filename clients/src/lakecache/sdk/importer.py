"""Import: commit what already lies under a lake prefix, without copying a byte (lakeFS-style).

The catalog does the work with its own credentials: the source must lie inside one of the
lake locations an installation administrator registered for the project (``lakecache
import-location``). It lists the objects, takes each sha256 from the server's checksum or
reads the object to hash it, and commits entries whose ``object`` is the full URL of the
source key, with its ``etag`` and ``version_id`` so readers can tell if it was replaced. The
client needs no lake credentials and sends one request; it stays open while the catalog hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakecache.sdk.gateway import GatewayClient
from lakecache.sdk.refs import DatasetRef


@dataclass
class ImportResult:
    """What an import committed: counts, and the keys skipped (``_lakecache/`` data, directory markers)."""

    dataset: str
    source: str
    commit: dict[str, Any]
    created: bool
    unchanged: bool
    files: int
    bytes: int
    from_checksum: int
    hashed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return data


def _skipped(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    return [(str(item.get("path")), str(item.get("reason"))) for item in value if isinstance(item, dict)]


async def import_source(gateway: GatewayClient, dataset: DatasetRef, source: str, *, message: str,
                        allow_empty: bool = False) -> ImportResult:
    """Commit every object under ``source`` (``s3://bucket/prefix`` or ``file:///dir`` inside one
    of the project's import locations) to the dataset, paths relative to the prefix, bytes left
    in place.

    Raises ``GatewayError`` subclasses: ``GatewayInvalid`` (or ``GatewayForbidden``) for a
    source outside the import locations, unsafe keys or an empty prefix without ``allow_empty``,
    ``GatewayNotFound`` for an unknown dataset.
    """
    answer = await gateway.import_source(dataset.project, dataset.name, source, message=message,
                                         allow_empty=allow_empty)
    return ImportResult(
        dataset=f"{dataset.project}/{dataset.name}", source=source, commit=answer.get("commit") or {},
        created=bool(answer.get("created")), unchanged=bool(answer.get("unchanged")),
        files=int(answer.get("files") or 0), bytes=int(answer.get("bytes") or 0),
        from_checksum=int(answer.get("from_checksum") or 0), hashed=int(answer.get("hashed") or 0),
        skipped=_skipped(answer.get("skipped")),
    )
