"""LakeCache gateway: the authenticated HTTP entry point for the CLI, the dashboard and the SDK."""
