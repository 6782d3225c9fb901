"""The cached Kafka distribution formats storage and serves a produce/consume round trip."""

from __future__ import annotations

import asyncio
import subprocess
import tarfile
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from artifact_cache import cached, free_port, pinned, wait_port

LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="%d %p %c{1}: %m%n"/></Console>
  </Appenders>
  <Loggers><Root level="INFO"><AppenderRef ref="out"/></Root></Loggers>
</Configuration>
"""


def kafka_home(tmp_path: Path) -> Path:
    version, scala = pinned("artifacts_kafka_version"), pinned("artifacts_kafka_scala_version")
    tarball = cached("kafka", version) / f"kafka_{scala}-{version}.tgz"
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path, filter="data")
    home = tmp_path / f"kafka_{scala}-{version}"
    assert sorted((home / "libs").glob("kafka_*.jar")), "no Kafka jars under libs/"
    return home


def server_properties(tmp_path: Path, port: int, controller_port: int) -> Path:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(tmp_path / "data"),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    path = tmp_path / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


async def round_trip(port: int, topic: str, payload: bytes) -> bytes:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=f"127.0.0.1:{port}", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    return message.value


def test_cached_kafka_formats_storage_and_round_trips_a_message(tmp_path: Path) -> None:
    home = kafka_home(tmp_path)
    port, controller_port = free_port(), free_port()
    properties = server_properties(tmp_path, port, controller_port)
    (tmp_path / "log4j2.xml").write_text(LOG4J2)
    java = ["java", "-Xmx512m", "-cp", f"{home}/libs/*"]
    cluster_id = (
        subprocess.run(
            [*java, "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    formatted = subprocess.run(
        [
            *java,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(properties),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    assert (tmp_path / "data" / "meta.properties").is_file()
    log = (tmp_path / "kafka.log").open("w")
    broker = subprocess.Popen(
        [
            *java[:2],
            f"-Dkafka.logs.dir={tmp_path}/logs",
            f"-Dlog4j2.configurationFile={tmp_path}/log4j2.xml",
            *java[2:],
            "kafka.Kafka",
            str(properties),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, 90, "Kafka broker")
        payload = uuid.uuid4().bytes
        assert asyncio.run(round_trip(port, f"artifact-{uuid.uuid4().hex[:8]}", payload)) == payload
    finally:
        broker.terminate()
        broker.wait(timeout=30)
        log.close()
    assert "Kafka Server started" in (tmp_path / "kafka.log").read_text()
