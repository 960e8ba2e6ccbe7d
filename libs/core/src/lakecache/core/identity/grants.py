"""Source grants: the catalog's signed word on where one commit's bytes may be read from.

A cache request crosses the bus, which carries no caller identity, and names a project, a
dataset and a commit; the cacher then reads the lake with its own rights. So it must not take
the request's word for where to read (a confused deputy): the gateway asks the catalog, as the
requester, for a grant — which the catalog signs only for a commit of a dataset of that
project — and the cacher verifies it before recording the request, and checks every object a
fill opens against it:

* ``location`` — the dataset's lake location: its manifests and content store are under it;
* ``imports`` — the import locations an installation administrator registered for the project:
  the only other places a commit entry's ``object`` may point;
* ``parents`` — with the manifest's entries, they must give back ``commit_id`` (a manifest
  replaced in the lake is refused by name).

Grants are JWTs of type :data:`~lakecache.core.identity.tokens.SOURCE_GRANT` from ``catalog``
to ``cacher``, valid ``catalog.grant_ttl_seconds`` (an hour by default: a command may wait on
the bus). The cacher keeps the verified grant with the copy, so a fill resumed later still
reads only what the grant allows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from lakecache.core.identity.keys import KeyRing, SigningKey
from lakecache.core.identity.tokens import SOURCE_GRANT, InvalidCredential, sign, verify

GRANT_ISSUER, GRANT_AUDIENCE = "catalog", "cacher"


@dataclass(frozen=True)
class SourceGrant:
    project: str
    dataset: str
    dataset_id: str
    commit_id: str
    parents: list[str]
    location: str
    imports: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceGrant:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def allows(self, url: str) -> bool:
        """Whether ``url`` lies inside the dataset's location or one of the project's import
        locations (compared by path segments: ``s3://b/a`` does not contain ``s3://b/ab``)."""
        return any(url_within(url, root) for root in (self.location, *self.imports))


def mint_grant(key: SigningKey, grant: SourceGrant, *, ttl_seconds: float) -> str:
    return sign(key, SOURCE_GRANT, GRANT_AUDIENCE, {"grant": grant.as_dict()}, ttl_seconds)


def verify_grant(token: str, keys: KeyRing, *, leeway_seconds: float = 5.0) -> SourceGrant:
    """The grant ``token`` carries, or ``InvalidCredential`` saying why it cannot be trusted."""
    verified = verify(token, keys, SOURCE_GRANT, audience=GRANT_AUDIENCE, issuers={GRANT_ISSUER},
                      leeway_seconds=leeway_seconds)
    try:
        grant = SourceGrant.from_dict(verified.claims["grant"])
    except (KeyError, TypeError):
        raise InvalidCredential("the source grant lacks its fields") from None
    if not all(isinstance(v, str) for v in (grant.project, grant.dataset, grant.dataset_id, grant.commit_id,
                                             grant.location)) or not isinstance(grant.parents, list) \
            or not isinstance(grant.imports, list):
        raise InvalidCredential("the source grant's fields have the wrong types")
    return grant


def _segments(url: str) -> tuple[str, str, list[str]] | None:
    parts = urlsplit(url)
    if not parts.scheme or parts.query or parts.fragment:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        return None  # never a location: refuse rather than normalize
    return parts.scheme, parts.netloc, segments


def url_within(url: str, root: str) -> bool:
    """Whether ``url`` is ``root`` or below it, segment by segment (no ``.``/``..`` accepted)."""
    inner, outer = _segments(url), _segments(root)
    if inner is None or outer is None or inner[:2] != outer[:2]:
        return False
    return inner[2][: len(outer[2])] == outer[2]


def urls_overlap(a: str, b: str) -> bool:
    """Whether one of two locations contains the other."""
    return url_within(a, b) or url_within(b, a)
