"""The catalog's vocabulary: name rules, ref kinds, cursors and the errors people see.

Every error here says what failed, for which input, and what to do; ``problems.py`` turns
them (and the ports' own errors) into RFC 9457 problem documents.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from lakecache.core.errors import Conflict, InvalidArgument, NotFound
from lakecache.core.vocabulary.names import SLUG

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HEX = re.compile(r"^[0-9a-f]+$")
COMMIT_ID = re.compile(r"^[0-9a-f]{64}$")
LATEST = "latest"
MIN_PREFIX = 4
MAX_LABELS = 50
MAX_DESCRIPTION = 10_000


class DatasetInUse(Conflict):
    """Deleting a dataset was refused because cached copies or live leases exist."""


class HeadMoved(Conflict):
    """A commit declared a parent that is no longer the dataset's head."""


class TagExists(Conflict):
    """A tag already points at another commit and ``force`` was not given."""


class AmbiguousRef(InvalidArgument):
    """A commit-id prefix matches several commits."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class Unchanged(Exception):
    """Not an error: the new manifest equals the head's (carried to the API as a 200)."""

    def __init__(self, head: dict[str, Any]) -> None:
        super().__init__("unchanged")
        self.head = head


def _suggest_slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:63].strip("-")
    return slug or "my-dataset"


def check_slug(kind: str, value: object) -> str:
    """``value`` if it is a valid project or dataset name, else ``InvalidArgument``."""
    if not isinstance(value, str) or not SLUG.match(value):
        hint = f" (for example {_suggest_slug(value)!r})" if isinstance(value, str) else ""
        raise InvalidArgument(
            f"{kind} {value!r} is not a valid name: use 1-63 lower-case letters, digits and "
            f"inner dashes{hint}"
        )
    return value


def check_labels(value: object) -> list[str]:
    """A dataset's tags (labels): distinct short words, order kept."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"tags must be a list of strings, got {value!r}")
    bad = [v for v in value if not LABEL.match(v)]
    if bad:
        raise InvalidArgument(
            f"tags {bad!r} are not valid: use 1-64 letters, digits and '.', '_', ':', '-' "
            "(starting with a letter or digit)"
        )
    labels = list(dict.fromkeys(value))
    if len(labels) > MAX_LABELS:
        raise InvalidArgument(f"a dataset has at most {MAX_LABELS} tags, got {len(labels)}")
    return labels


def check_description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"description must be a string, got {value!r}")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidArgument(f"description is {len(value)} characters; the limit is {MAX_DESCRIPTION}")
    return value


def looks_like_commit_prefix(ref: str) -> bool:
    return len(ref) >= MIN_PREFIX and bool(HEX.match(ref))


def check_tag_name(value: str) -> str:
    """A commit tag's name. Hex-only names are refused: ``beef`` could also be a commit prefix,
    and a ref must mean one thing."""
    if value == LATEST:
        raise InvalidArgument("'latest' is reserved: it always means the dataset's head; pick another tag name")
    if not TAG.match(value):
        raise InvalidArgument(
            f"tag {value!r} is not valid: use 1-128 letters, digits and '.', '_', '-' "
            "(starting with a letter or digit), e.g. 'v1.0' or 'golden'"
        )
    if looks_like_commit_prefix(value.lower()):
        raise InvalidArgument(
            f"tag {value!r} looks like a commit id prefix; add a letter outside a-f (e.g. 'v{value}')"
        )
    return value


def check_ref(value: str) -> str:
    if not value or len(value) > 128:
        raise InvalidArgument(f"ref {value!r} is not valid: use 'latest', a tag or a commit id (prefix of ≥ 4 hex)")
    return value


def encode_cursor(value: Any) -> str:
    """An opaque cursor: base64 of the last sort key a page returned."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise InvalidArgument(
            f"cursor {cursor[:40]!r} is not one this API returned; repeat the request without a cursor"
        ) from None


def dataset_not_found(project: str, name: str) -> NotFound:
    return NotFound(
        f"dataset {project}/{name} does not exist (or was deleted); list datasets with "
        f"GET /api/v1/datasets?project={project}"
    )
