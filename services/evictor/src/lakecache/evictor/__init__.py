"""LakeCache evictor: TTL, capacity and lease-aware eviction decisions (a Faust stream processor on Kafka)."""
