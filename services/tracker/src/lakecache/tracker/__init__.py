"""LakeCache tracker: runs, parameters, metrics and lineage in the document store."""
