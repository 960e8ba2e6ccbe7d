"""Apache Kafka 4.1.1, single-node KRaft (broker + controller), from Maven Central jars."""

from __future__ import annotations

import base64
import shutil
import uuid
from pathlib import Path

from .proc import (
    HERE,
    ManagedServer,
    ServerError,
    cache_dir,
    fingerprint,
    free_port,
    port_open,
    run_build,
    run_coro,
    stamp_matches,
)

VERSION = "4.1.1"
POM = HERE / "kafka" / "pom.xml"
LOG4J2 = HERE / "kafka" / "log4j2.yaml"
# Small heap: the test broker holds a few topics; 2-core CI machines run other servers too.
JVM_OPTS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true"]


def home() -> Path:
    return cache_dir() / f"kafka-{VERSION}"


def libs() -> Path:
    return home() / "libs"


def prepare() -> str:
    """Copy the broker's runtime jars into the cache (once per pom change)."""
    stamp = home() / ".stamp"
    expected = fingerprint(VERSION, POM)
    jar = libs() / f"kafka_2.13-{VERSION}.jar"
    if stamp_matches(stamp, expected, jar):
        return f"kafka {VERSION}: cached in {libs()}"
    if shutil.which("java") is None:
        raise ServerError("kafka: java (17+) is not installed")
    shutil.rmtree(libs(), ignore_errors=True)
    run_build(["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
               f"-DoutputDirectory={libs()}", "-DincludeScope=runtime"],
              what="kafka: fetching jars with Maven")
    if not jar.exists():
        raise ServerError(f"kafka: Maven finished but {jar} is missing")
    stamp.write_text(expected + "\n")
    return f"kafka {VERSION}: fetched {len(list(libs().glob('*.jar')))} jars into {libs()}"


def cluster_id() -> str:
    """A KRaft cluster id as Kafka's Uuid prints it (22 chars, URL-safe base64, no '-' first)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class KafkaServer(ManagedServer):
    name = "kafka"
    ready_timeout = 90.0

    def __init__(self, run_dir: Path) -> None:
        super().__init__(run_dir)
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.url = f"kafka://{self.bootstrap}"
        self.config = run_dir / "server.properties"

    @property
    def logs(self) -> list[Path]:
        # server.log is written by log4j; kafka.out catches JVM-level failures.
        return [self.run_dir / "logs" / "server.log", self.log]

    def _setup(self) -> None:
        data = self.run_dir / "data"
        self.config.write_text(
            "process.roles=broker,controller\n"
            "node.id=1\n"
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}\n"
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            "controller.listener.names=CONTROLLER\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            f"log.dirs={data}\n"
            "num.partitions=1\n"
            # As in production: LakeCache's adapters create every topic with the catalog's
            # partitions and retention, so a topic nobody declared is a bug, not a default.
            "auto.create.topics.enable=false\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=1\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "transaction.state.log.num.partitions=1\n"
            "group.initial.rebalance.delay.ms=0\n"
            # Small segments keep the data dir small and make retention tests quick.
            "log.segment.bytes=16777216\n"
        )
        run_build(["java", *JVM_OPTS[:2], *self._logging(), "-cp", f"{libs()}/*",
                   "kafka.tools.StorageTool", "format", "-t", cluster_id(),
                   "-c", str(self.config)],
                  what="kafka: formatting storage", cwd=self.run_dir, timeout=120)

    def _logging(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={LOG4J2}",
                f"-Dkafka.logs.dir={self.run_dir / 'logs'}"]

    def command(self) -> tuple[list[str], dict[str, str]]:
        return (["java", *JVM_OPTS, *self._logging(), "-cp", f"{libs()}/*", "kafka.Kafka",
                 str(self.config)], {})

    def ready(self) -> bool:
        # aiokafka logs every refused connection; wait for the listener quietly first.
        if not port_open(self.port):
            return False
        return run_coro(lambda: _metadata_round_trip(self.bootstrap))


async def _metadata_round_trip(bootstrap: str) -> bool:
    """A real request: fetch cluster metadata and see our broker in it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return len(cluster["brokers"]) >= 1
    finally:
        await admin.close()
