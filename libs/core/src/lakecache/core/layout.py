"""Where a dataset keeps things under its lake location (``Dataset.lake_url``).

Keys are relative to the dataset's root, so the catalog (which opens the lake at its own
root) and a client (which opens the dataset's URL directly) agree:

* ``_lakecache/objects/sha256/<first two hex>/<sha256>`` — synced content, stored once per
  content hash: a re-sync uploads only hashes not present, and identical files across
  commits (or paths) share one object;
* ``_lakecache/manifests/<commit id>.jsonl.gz`` — immutable commit manifests.

Imported entries keep their bytes where they were: the manifest entry's ``object`` field holds
the full URL (``s3://bucket/key``) and no copy is made.
"""

from __future__ import annotations

import re

RESERVED_PREFIX = "_lakecache/"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def content_key(sha256: str) -> str:
    """Key of the object holding content ``sha256``, relative to the dataset root."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256: {sha256!r}")
    return f"{RESERVED_PREFIX}objects/sha256/{sha256[:2]}/{sha256}"


def manifest_key(commit_id: str) -> str:
    """Key of commit ``commit_id``'s manifest, relative to the dataset root."""
    if not _SHA256.match(commit_id):
        raise ValueError(f"not a commit id: {commit_id!r}")
    return f"{RESERVED_PREFIX}manifests/{commit_id}.jsonl.gz"


def join_url(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended as path segments (``s3://b/p`` + ``x`` → ``s3://b/p/x``)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p.strip("/"))])
