"""What a project, dataset, site or volume name may be: it appears in topic names, paths on
volumes and URLs, so lower-case letters, digits and inner dashes, 1 to 63 characters."""

from __future__ import annotations

import re

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SLUG = re.compile(SLUG_PATTERN)


def is_slug(value: object) -> bool:
    return isinstance(value, str) and SLUG.match(value) is not None
