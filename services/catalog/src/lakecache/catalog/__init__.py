"""LakeCache catalog: datasets and immutable, content-addressed commits in the lake; emits commit events."""
