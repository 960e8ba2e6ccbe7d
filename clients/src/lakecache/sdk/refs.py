"""Dataset references as people type them: ``project/name``, ``name``, ``name@ref``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakecache.core.errors import InvalidArgument

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: A commit id: 64 lower-case hex digits (``fullmatch``).
COMMIT_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DatasetRef:
    """A dataset (``project``/``name``) and, optionally, one of its refs (commit id, tag, ``latest``)."""

    project: str
    name: str
    ref: str | None = None

    def __str__(self) -> str:
        text = f"{self.project}/{self.name}"
        return f"{text}@{self.ref}" if self.ref else text

    @property
    def ref_or_latest(self) -> str:
        return self.ref or "latest"


def parse_ref(text: str, default_project: str, *, allow_ref: bool = True) -> DatasetRef:
    """Parse ``[project/]name[@ref]``; a missing project is ``default_project``.

    Raises ``InvalidArgument`` with the accepted forms when the text does not fit.
    """
    forms = "use project/name, or name with --project" + (", optionally followed by @ref" if allow_ref else "")
    body, at, ref = text.partition("@")
    if at and not allow_ref:
        raise InvalidArgument(f"{text!r}: a ref (@…) is not accepted here; {forms}")
    if at and not ref:
        raise InvalidArgument(f"{text!r}: empty ref after '@'; {forms} (e.g. @latest or @v1)")
    project, slash, name = body.rpartition("/")
    if not slash:
        project = default_project
    if "/" in project or not _SLUG.match(project) or not _SLUG.match(name):
        raise InvalidArgument(f"{text!r} is not a dataset name: {forms} (letters, digits, '.', '_', '-')")
    return DatasetRef(project, name, ref or None)
