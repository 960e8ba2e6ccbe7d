"""versitygw, a real S3 server on the POSIX backend, built with `go install`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .proc import ManagedServer, ServerError, cache_dir, fingerprint, free_port, run_build, run_coro, stamp_matches

VERSION = "v1.7.0"
MODULE = "github.com/versity/versitygw/cmd/versitygw"


def binary() -> Path:
    """The server binary; LAKECACHE_VERSITYGW overrides it (e.g. a locally built one)."""
    override = os.environ.get("LAKECACHE_VERSITYGW")
    return Path(override) if override else cache_dir() / "bin" / "versitygw"


def prepare() -> str:
    if os.environ.get("LAKECACHE_VERSITYGW"):
        if not binary().is_file():
            raise ServerError(f"s3: LAKECACHE_VERSITYGW points to {binary()}, which does not exist")
        return f"s3: using {binary()} (LAKECACHE_VERSITYGW)"
    stamp = cache_dir() / "bin" / ".versitygw.stamp"
    expected = fingerprint(MODULE, VERSION)
    if stamp_matches(stamp, expected, binary()):
        return f"s3: versitygw {VERSION} cached at {binary()}"
    binary().parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(binary().parent), "CGO_ENABLED": "0"}
    run_build(["go", "install", f"{MODULE}@{VERSION}"], what="s3: building versitygw", env=env)
    stamp.write_text(expected + "\n")
    return f"s3: built versitygw {VERSION} into {binary()}"


def needs_sidecar(root: Path) -> bool:
    """versitygw keeps object metadata in user xattrs; some filesystems (tmpfs on old
    kernels, overlayfs setups) refuse them, and then a sidecar directory holds it instead."""
    try:
        with tempfile.NamedTemporaryFile(dir=root) as probe:
            os.setxattr(probe.name, "user.lakecache.probe", b"1")
        return False
    except OSError:
        return True


class S3Server(ManagedServer):
    name = "versitygw"
    ready_timeout = 30.0
    access_key = "lakecache-test"
    secret_key = "lakecache-test-secret"
    region = "us-east-1"

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.root = run_dir / "data"
        self.access_log = run_dir / "access.log"

    def _setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {"ROOT_ACCESS_KEY": self.access_key, "ROOT_SECRET_KEY": self.secret_key,
               "VGW_REGION": self.region}
        extra: list[str] = []
        if needs_sidecar(self.root):
            sidecar = self.run_dir / "meta"
            sidecar.mkdir(exist_ok=True)
            extra = ["--sidecar", str(sidecar)]
        # --keep-alive: clients reuse connections as with real S3 (versitygw closes them by
        # default). Requests go to access.log (not stdout) so fault tests can count them.
        return ([str(binary()), "--port", f"127.0.0.1:{self.port}", "--keep-alive", "--quiet",
                 "--access-log", str(self.access_log), "posix", *extra, str(self.root)], env)

    def ready(self) -> bool:
        return run_coro(self._list_buckets)

    def client(self):
        """An aiobotocore S3 client context manager for this server."""
        from aiobotocore.session import get_session

        return get_session().create_client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region)

    async def new_bucket(self, prefix: str) -> str:
        """Create a bucket with a unique name starting with ``prefix``; return its name."""
        import uuid

        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        async with self.client() as s3:
            await s3.create_bucket(Bucket=name)
        return name

    async def logged_requests(self, bucket: str) -> list[str]:
        """The access log's lines so far, complete: the log is written asynchronously, so a HEAD
        of a unique marker key is sent first and the lines are taken once the marker shows up."""
        import contextlib
        import uuid

        from botocore.exceptions import ClientError

        from tests.support.waiting import eventually

        marker = f"marker-{uuid.uuid4().hex}"
        async with self.client() as s3:
            with contextlib.suppress(ClientError):
                await s3.head_object(Bucket=bucket, Key=marker)
        await eventually(lambda: marker in self.access_log.read_text(errors="replace"),
                         message=f"{marker} in the access log")
        return self.access_log.read_text(errors="replace").split(marker, 1)[0].splitlines()

    def lake_settings(self) -> dict[str, str]:
        """The ``s3_*`` settings of a LakeCache service using this server as its lake."""
        return {"s3_endpoint_url": self.endpoint_url, "s3_region": self.region,
                "s3_access_key_id": self.access_key, "s3_secret_access_key": self.secret_key}

    async def _list_buckets(self) -> bool:
        async with self.client() as s3:
            response = await s3.list_buckets()
        return response["ResponseMetadata"]["HTTPStatusCode"] == 200
